# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a glance_image plan against Glance.

A new image is created private, hidden and pending; the pending marker is a lease naming this
run, renewed by a thread on a data-less lease image beside it while the bytes go in (never on the
image itself: a PATCH rewrites the whole image row, racing Glance's own status and hash writes).
The image is published (requested visibility, ``os_hidden`` false, marker removed, source hashes
recorded) in one PATCH only after Glance's hash of the stored bytes matched the source's. Any
failure deletes it; a run killed before that leaves a marked image whose lease expires, and the
next run deletes it before retrying.

Overlapping runs: a plan that meets another run's live lease waits for it and plans again; a run
that created its image lists again and yields to a rival (``plan.rival``): it deletes its
own image, waits for the winner and plans again, so they converge on the winner's image.

Each step of a plan has one handler here; ``converge`` returns an ``ExecutionResult``.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
    NotAuthorizedError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.hashing import HashingReader
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import csv_stores, image_stores
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import GLANCE_SNAPSHOT, RbdDriver
from ansible_collections.storeops.openstack.plugins.module_utils._image import steps
from ansible_collections.storeops.openstack.plugins.module_utils._image.activation import (
    Deactivate,
    Reactivate,
    apply_activation,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.formats import Inspection
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    CATALOGUE_KEY,
    DEACTIVATE,
    RETIRED_KEY,
    retire_operations,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.members import UpdateMembers, apply_members
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import (
    LEASE_FOR_KEY,
    LEASE_OF_KEY,
    MD5_KEY,
    OS_HASH,
    PENDING_KEY,
    REPLACES_KEY,
    SHA256_KEYS,
    is_pending,
    lease_live,
    lease_marker,
    leases_by_image,
    metadata_patch,
    pending_images,
    rival,
    upload_method,
)

DIRECT, GLANCE_DIRECT = "direct", "glance-direct"
READ_BACK, GLANCE_ONLY = "read back through Glance", "glance only"
# Glance's created_at has whole seconds: listing this long after creating makes every image not
# yet seen younger than one's own (see plan.rival). The upload runs in the meantime: only the
# check after it must wait that long, the one before it merely spares an upload already lost.
SETTLE_SECONDS = 1.1
MAX_ROUNDS = 10
_UNREAD = object()  # the store details not asked for yet


@dataclass
class Source:
    filename: str | None = None
    url: str | None = None
    checksum: tuple[str, str] | None = None               # (algorithm, hex) as given
    hashes: dict[str, str] = field(default_factory=dict)  # known: the checksum, or all once read
    read: bool = False
    inspection: Inspection | None = None                  # the file's format, before a create

    def __post_init__(self):
        if self.checksum:
            self.hashes = dict([self.checksum])

    def learn(self, hashes: dict[str, str], uploaded: bool = False) -> None:
        """Hashes of the bytes actually read; they must match the checksum given."""
        if self.checksum and hashes.get(self.checksum[0]) not in (None, self.checksum[1]):
            algo = self.checksum[0]
            raise (StoreOpsError if uploaded else InvalidInputError)(
                f"checksum: the {'file' if self.filename else 'image'}'s {algo} is {hashes[algo]}, "
                f"not {self.checksum[1]}{'; the new image was deleted' if uploaded else ''}")
        self.hashes, self.read = {**self.hashes, **hashes}, True

    @property
    def identity(self) -> str | None:
        algo = next((a for a in ("sha256", "sha512") if a in self.hashes), None)
        return f"{algo}:{self.hashes[algo]}" if algo else None


@dataclass(frozen=True)
class Lease:
    seconds: int
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def marker(self) -> str:
        return lease_marker(self.run_id, self.seconds, utc_now())


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Kept(Exception):
    """A retired version is not deleted after all; ``step`` says why."""

    def __init__(self, step: steps.KeepOldVersion):
        super().__init__(step.reason)
        self.step = step


class _PlanAgain(Exception):
    """Another run's image decides what this run does: wait for its lease, then plan again."""

    def __init__(self, wait_for: str | None = None):
        super().__init__(wait_for)
        self.wait_for = wait_for


class LeaseRenewer:
    """Renews a lease image's marker on a thread while the run works on the image it keeps alive."""

    def __init__(self, glance: GlanceClient, image_id: str, lease: Lease):
        self._glance, self._image_id, self._lease = glance, image_id, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)

    def _renew(self) -> None:
        while not self._stop.wait(self._lease.seconds / 4):
            try:
                self._glance.patch(self._image_id, [
                    {"op": "replace", "path": f"/{PENDING_KEY}", "value": self._lease.marker()}])
            except StoreOpsError:
                return  # the image is gone or failed: the upload itself reports why

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Settings:
    timeout: int
    all_stores_must_succeed: bool
    lease: Lease
    upload_method: str = "auto"       # as requested; the concrete one is chosen on create
    new_owner: str | None = None
    poll_interval: float = 1.0
    consumer: GlanceClient | None = None  # accept_as: the member project's own connection
    ceph_access: dict[str, Any] = field(default_factory=dict)  # to check rbd clones before deleting


@dataclass(frozen=True)
class ExecutionResult:
    """What a run did: its steps in order (with waits and yields) and the image it left."""

    steps: tuple[steps.Step, ...]
    image: dict[str, Any] | None
    store_outcomes: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    verified_by: str | None = None

    @property
    def changed(self) -> bool:
        return any(step.changes for step in self.steps)


def _not_deletable_version(image: dict[str, Any]) -> str | None:
    """Why a version planned for deletion must stay after all, from a fresh read of it."""
    if image.get("protected"):
        return "protected"
    if is_pending(image):
        return "it is pending (another run's upload) since it was planned"
    if not image.get(RETIRED_KEY):
        return "it is no longer a retired version"
    return None


def _locations():
    """The storage drivers' module, imported on first use: only deleting a version checks rbd
    clones, and every driver's import is on each run's start otherwise."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.storeops.openstack.plugins.module_utils._storage import locations
    return locations


def lease_images(glance: GlanceClient, name: str) -> list[dict[str, Any]]:
    # created hidden and never published (the renewer patches only the marker): one listing, not two
    return glance.images_where(os_hidden=True, **{LEASE_FOR_KEY: name})


class ImageExecutor:
    def __init__(self, glance: GlanceClient, desired: steps.Desired, source: Source, settings: Settings):
        self.glance, self.desired, self.source, self.settings = glance, desired, source, settings
        self._method: str | None = None
        self._done: list[steps.Step] = []
        self._store_outcomes: dict[str, str] = {}
        self._notes: list[str] = []
        self._warnings: list[str] = []
        self._verified_by: str | None = None
        self._drivers: dict[str, Any] = {}  # rbd pool -> driver, for clone checks
        self._stores: Any = _UNREAD
        self._apply: dict[type, Callable[[Any, dict[str, Any] | None], dict[str, Any] | None]] = {
            steps.Wait: self._wait,
            steps.DeleteLeftover: self._delete_other,
            steps.DeleteOldVersion: self._delete_old_version,
            steps.KeepOldVersion: self._keep,
            steps.Delete: self._delete,
            steps.Create: self._create,
            steps.Retire: self._retire,
            steps.Copy: self._copy_step,
            steps.UpdateMetadata: self._update_metadata,
            steps.DeleteStoreCopy: self._delete_store_copy,
            UpdateMembers: lambda step, image: apply_members(self.glance, settings.consumer, step, image),
            Reactivate: lambda step, image: apply_activation(self.glance, step, image),
            Deactivate: lambda step, image: apply_activation(self.glance, step, image),
        }

    def converge(self, plan: steps.Plan, plan_next: Callable[[], steps.Plan]) -> ExecutionResult:
        """Carry out ``plan``, and fresh plans while other runs interfere, until one finishes."""
        try:
            for round_number in range(MAX_ROUNDS):
                plan = plan_next() if round_number else plan
                try:
                    image = self.run(plan)
                except _PlanAgain as again:  # this run's own image and lease are gone by now
                    if again.wait_for:
                        self._wait_for_lease(again.wait_for)
                    continue
                return ExecutionResult(tuple(self._done), image, dict(self._store_outcomes),
                                       tuple(self._notes), tuple(self._warnings), self._verified_by)
        finally:
            self._close_drivers()
        raise StoreOpsError(f"name: other runs kept changing the images named {self.desired.name!r}; "
                            "run again")

    def run(self, plan: steps.Plan) -> dict[str, Any] | None:
        """Apply the plan's steps in order; returns the image they left."""
        image = plan.image
        for step in plan.steps:
            try:
                image = self._apply[type(step)](step, image)
            except _Kept as kept:
                step = kept.step
            self._done.append(step)
        return image

    def _wait(self, step: steps.Wait, _image):
        self._done.append(step)
        raise _PlanAgain(wait_for=step.image_id)

    def _delete_other(self, step: steps.DeleteLeftover, image):
        self.glance.delete_image(step.image_id)
        return image

    def _keep(self, _step: steps.KeepOldVersion, image):
        return image

    def _delete_old_version(self, step: steps.DeleteOldVersion, image):
        """Deleted only if the fresh read still shows a retired, unprotected version and no rbd
        clone hangs on its snapshot: Glance would delete the other stores' copies before it
        found the clones and refused."""
        reason = self._delete_checked(step.image_id, old_version=True)
        if reason:
            raise _Kept(steps.KeepOldVersion(step.image_id, reason))
        return image

    def _delete(self, step: steps.Delete, _image):
        reason = self._delete_checked(step.image_id, old_version=False)
        if reason:
            raise InvalidInputError(f"state: image {step.image_id} was not deleted: {reason}")
        return None

    def _delete_checked(self, image_id: str, old_version: bool) -> str | None:
        """Delete the image unless something forbids it; returns why not, or None.

        An rbd snapshot whose clones cannot be checked forbids an old version's delete; for
        ``state: absent`` only when the image is in several stores (in one store, Glance's own
        refusal comes before any data is lost).
        """
        image = self.glance.image(image_id)
        if image is None:
            return None
        if old_version:
            reason = _not_deletable_version(image)
            if reason:
                return reason
        clones, unknowable = self._rbd_clones(image)
        if clones:
            return clones
        if unknowable and (old_version or len(image_stores(image)) > 1):
            return unknowable
        self.glance.delete_image(image_id)
        return None

    def _rbd_clones(self, image: dict[str, Any]) -> tuple[str | None, str | None]:
        """``(clones found, why they cannot be checked)`` for the image's rbd snapshots."""
        snapshots = self._rbd_snapshots(image)
        if isinstance(snapshots, str):
            return None, snapshots
        for fsid, pool, path in snapshots:
            try:
                clones = self._rbd_driver(pool).clones(path, fsid)
            except StoreOpsError as err:
                return None, f"rbd clones cannot be checked ({err}); give ceph_access"
            if clones:
                return f"its rbd snapshot {pool}/{path} has clones ({', '.join(clones)})", None
        return None, None

    def _rbd_snapshots(self, image: dict[str, Any]) -> list[tuple[str | None, str, str]] | str:
        """``[(fsid or None, pool, image@snap)]`` of the image's rbd copies, or why they are unknown.

        Locations when Glance shows them (it hides them by default); else the pool from the
        details of the image's rbd stores, which only an admin may read.
        """
        held = image_stores(image)
        if not held and not image.get("locations") and not image.get("direct_url"):
            return []  # never filled: no bytes anywhere
        store_types = self._store_types()
        if store_types is None and not image.get("locations"):
            return "the stores' types are not visible (admin only), so rbd clones cannot be checked"
        rbd_stores = [s for s in held if (store_types or {}).get(s, ("", ""))[0] == RbdDriver.kind]
        urls = [location["url"] for location in image.get("locations") or []]
        if not urls and image.get("direct_url") and len(held) <= 1:
            urls = [image["direct_url"]]
        if urls:
            parse_location = _locations().parse_location
            snapshots = []
            for url in urls:
                if url.startswith("rbd://"):
                    fsid = url[len("rbd://"):].split("/", 1)[0]
                    _kind, pool, path = parse_location(url)
                    snapshots.append((fsid, pool, path))
            return snapshots
        if len(rbd_stores) > 1:
            return (f"it is in rbd stores {', '.join(rbd_stores)} and Glance does not show its "
                    "locations, so which cluster holds which copy is unknown")
        return [(None, store_types[store][1], f"{image['id']}@{GLANCE_SNAPSHOT}") for store in rbd_stores]

    def _store_types(self) -> dict[str, tuple[str, str]] | None:
        """``{store: (type, rbd pool)}`` from Glance's store details; None when not visible."""
        if self._stores is _UNREAD:
            try:
                detail = self.glance.stores_detail()
            except (CloudRequestError, NotAuthorizedError):  # admin only by Glance's default policy
                self._stores = None
            else:
                self._stores = {s["id"]: (s.get("type") or "", (s.get("properties") or {}).get("pool") or "")
                                for s in detail}
        return self._stores

    def _rbd_driver(self, pool: str):
        """One connection per pool for the whole run, closed when ``converge`` ends."""
        if pool not in self._drivers:
            self._drivers[pool] = _locations().open_driver(RbdDriver.kind, pool, self.settings.ceph_access)
        return self._drivers[pool]

    def _close_drivers(self) -> None:
        while self._drivers:
            self._drivers.popitem()[1].close()

    def _copy_step(self, step: steps.Copy, _image):
        return self._copy(step.image_id, list(step.stores))

    def _update_metadata(self, step: steps.UpdateMetadata, _image):
        return self.glance.patch(step.image_id, list(step.operations))

    def _delete_store_copy(self, step: steps.DeleteStoreCopy, _image):
        self.glance.delete_from_store(step.store, step.image_id)
        self._store_outcomes[step.store] = "removed"
        return self.glance.image(step.image_id)

    # -- other runs -------------------------------------------------------------------------

    def _wait_for_lease(self, image_id: str) -> None:
        """Until the pending image is published, deleted, or its lease expired."""
        desired, timeout = self.desired, self.settings.timeout
        deadline = time.monotonic() + timeout
        while True:
            image = self.glance.image(image_id)
            if image is None or not is_pending(image):
                return
            lease = leases_by_image(lease_images(self.glance, desired.name), desired).get(image_id)
            if not lease_live(image, utc_now(), lease):
                return
            if time.monotonic() > deadline:
                raise StoreOpsError(
                    f"name: image {image_id} ({desired.name}) is still being uploaded by another run after "
                    f"{timeout}s ({(lease or image).get(PENDING_KEY)}); run again later or "
                    "raise timeout")
            time.sleep(self.settings.poll_interval)

    def _yield_to_rival(self, mine: str, replaces: str | None) -> None:
        desired = self.desired
        images = self.glance.images_where(name=desired.name)
        # leases only decide between pending images: with none but this run's, none are read
        others = [i for i in pending_images(images, desired) if i["id"] != mine]
        winner = rival(images, desired, mine, replaces, utc_now(),
                       lease_images(self.glance, desired.name) if others else [])
        if winner is None:
            return
        self.glance.delete_image(mine)
        self._done.append(steps.Yield(image_id=winner["id"], withdrawn=mine))
        self._notes.append(f"another run's image {winner['id']} won over this run's {mine}, which "
                           "was deleted; this run went on from the winner's")
        raise _PlanAgain(wait_for=winner["id"] if is_pending(winner) else None)

    # -- a new image ------------------------------------------------------------------------

    def _create(self, step: steps.Create, _image) -> dict[str, Any]:
        desired, source, settings = self.desired, self.source, self.settings
        # chosen (and maybe refused) before anything is made; Glance is asked only where it decides
        self._method = upload_method(self.glance.import_methods, bool(source.url),
                                     settings.upload_method, len(step.stores))
        attributes = {"name": desired.name, "disk_format": desired.disk_format,
                      "container_format": desired.container_format, "visibility": "private",
                      "os_hidden": True, PENDING_KEY: settings.lease.marker()}
        if desired.image_id:
            attributes["id"] = desired.image_id
        if settings.new_owner:
            attributes["owner"] = settings.new_owner
        if step.replaces:
            attributes[REPLACES_KEY] = step.replaces
        image = self.glance.create_image(attributes)
        settled = time.monotonic() + SETTLE_SECONDS
        lease = None
        try:
            lease = self.glance.create_image(self._lease_attributes(image["id"]))
            self._yield_to_rival(image["id"], step.replaces)
            with LeaseRenewer(self.glance, lease["id"], settings.lease):
                image, hashes = self._fill(image["id"], list(step.stores))
                hashes = self._verify(image, hashes)
            time.sleep(max(0.0, settled - time.monotonic()))
            self._yield_to_rival(image["id"], step.replaces)
            final = replace(
                desired,
                fields=dict(desired.fields, visibility=desired.fields.get("visibility") or "private"),
                properties={**desired.properties, **self._hash_properties(hashes)})
            image = self.glance.patch(image["id"], metadata_patch(image, final, publish=True))
        except _PlanAgain:
            raise  # the image was deleted when this run yielded
        except BaseException:
            self.glance.delete_image(image["id"])  # never leave a half-made image behind
            raise
        finally:
            if lease:
                self.glance.delete_image(lease["id"])
        missing = [s for s in step.stores if s not in image_stores(image)]
        if missing:
            image = self._copy(image["id"], missing)
        return image

    def _lease_attributes(self, image_id: str) -> dict[str, Any]:
        attributes = {"name": f"storeops-lease-{image_id}", "disk_format": "raw",
                      "container_format": "bare", "visibility": "private", "os_hidden": True,
                      PENDING_KEY: self.settings.lease.marker(), LEASE_OF_KEY: image_id,
                      LEASE_FOR_KEY: self.desired.name}
        if self.desired.catalogue:  # a catalogue run lists its images by this mark: leases too
            attributes[CATALOGUE_KEY] = self.desired.catalogue
        if self.settings.new_owner:
            attributes["owner"] = self.settings.new_owner
        return attributes

    def _fill(self, image_id: str, stores: list[str]):
        source, all_must = self.source, self.settings.all_stores_must_succeed
        if source.url:
            self.glance.start_import(image_id, {"name": "web-download", "uri": source.url}, stores, all_must)
            return self._wait_for_stores(image_id, stores, first_import=True), {}
        with HashingReader(source.filename) as reader:
            if self._method == DIRECT:
                self.glance.upload(image_id, reader, stores[0] if stores else None)
                image = self.glance.image(image_id)
                if stores:
                    self._store_outcomes[stores[0]] = "uploaded"
            else:
                self.glance.stage(image_id, reader)
            hashes = reader.hexdigests()
        if self._method == GLANCE_DIRECT:
            self.glance.start_import(image_id, {"name": "glance-direct"}, stores, all_must)
            image = self._wait_for_stores(image_id, stores, first_import=True)
        return image, hashes

    def _verify(self, image: dict[str, Any], hashes: dict[str, str]) -> dict[str, str]:
        """Glance's bytes against the source's; returns the hashes the source is known by."""
        algo, value = image.get("os_hash_algo"), image.get("os_hash_value")
        if not hashes:  # web-download: Glance fetched the bytes, this run never saw them
            return self._verify_fetched(image)
        self.source.learn(hashes, uploaded=True)
        inspected = self.source.inspection
        if inspected and image.get("virtual_size") not in (None, inspected.virtual_size):
            raise StoreOpsError(f"Glance's virtual_size of the stored image is {image['virtual_size']}, "
                                f"the file's {inspected.disk_format} header says {inspected.virtual_size}; "
                                "the new image was deleted")
        if algo not in hashes:
            self._notes.append(f"Glance hashes with {algo}, which is not computed locally: "
                               "verified by size only")
            if image.get("size") != os.path.getsize(self.source.filename):
                raise StoreOpsError("Glance stored a different number of bytes than the file has; "
                                    "the new image was deleted")
            self._verified_by = "size"
        elif value != hashes[algo]:
            raise StoreOpsError(f"Glance's {algo} of the stored image differs from the file's; "
                                "the new image was deleted")
        else:
            self._verified_by = OS_HASH
        return hashes

    def _verify_fetched(self, image: dict[str, Any]) -> dict[str, str]:
        algo, value, source = image.get("os_hash_algo"), image.get("os_hash_value"), self.source
        if not source.checksum:
            self._verified_by = GLANCE_ONLY
            self._warnings.append(f"url: no checksum given, so nothing but Glance vouches for the bytes "
                                  f"it fetched into image {image['id']}; give checksum to verify them")
            return {}
        if source.checksum[0] == algo and value:
            if value.lower() != source.checksum[1]:
                raise StoreOpsError(f"checksum: Glance's {algo} of what it fetched from url is {value}, "
                                    f"not {source.checksum[1]}; the new image was deleted")
            self._verified_by = OS_HASH
            return dict(source.hashes)
        digests = {name: hashlib.new(name) for name in ("sha256", "sha512")}
        for chunk in self.glance.download(image["id"]):
            for digest in digests.values():
                digest.update(chunk)
        source.learn({name: digest.hexdigest() for name, digest in digests.items()}, uploaded=True)
        self._verified_by = READ_BACK
        return dict(source.hashes)

    @staticmethod
    def _hash_properties(hashes: dict[str, str]) -> dict[str, str]:
        properties = {SHA256_KEYS[0]: hashes["sha256"]} if hashes.get("sha256") else {}
        if hashes.get("md5"):
            properties[MD5_KEY] = hashes["md5"]
        return properties

    # -- stores -----------------------------------------------------------------------------

    def _copy(self, image_id: str, stores: list[str]) -> dict[str, Any]:
        try:
            self.glance.start_import(image_id, {"name": "copy-image"}, stores,
                                     self.settings.all_stores_must_succeed)
        except CloudRequestError as err:
            if err.status_code != 409:
                raise
            self._notes.append(f"image {image_id}: another import holds Glance's lock; waited for it")
        return self._wait_for_stores(image_id, stores, first_import=False)

    def _wait_for_stores(self, image_id: str, stores: list[str], first_import: bool) -> dict[str, Any]:
        """Poll until every store holds the image or failed; record each store's outcome."""
        timeout = self.settings.timeout
        deadline = time.monotonic() + timeout
        verb = "imported" if first_import else "copied"
        while True:
            image = self.glance.image(image_id)
            if image is None or image.get("status") in ("killed", "deleted"):
                raise StoreOpsError(f"image {image_id} was {image and image.get('status') or 'deleted'} "
                                    "during its import")
            held, failed = image_stores(image), csv_stores(image.get("os_glance_failed_import"))
            pending = [s for s in stores if s not in held and s not in failed]
            if not pending and image.get("status") == "active":
                break
            if time.monotonic() > deadline:
                for store in pending:
                    self._store_outcomes[store] = f"timed out after {timeout}s"
                break
            time.sleep(self.settings.poll_interval)
        for store in stores:
            if store in held:
                self._store_outcomes.setdefault(store, verb)
            elif store in failed:
                self._store_outcomes[store] = "failed (os_glance_failed_import)"
        not_there = [s for s in stores if s not in held]
        if not_there and (self.settings.all_stores_must_succeed or len(not_there) == len(stores)):
            raise StoreOpsError(
                f"image {image_id}: not in store(s) {', '.join(not_there)} "
                f"({'; '.join(self._store_outcomes.get(s, 'failed') for s in not_there)})")
        return image

    def _retire(self, step: steps.Retire, image):
        if step.policy == DEACTIVATE:  # first: a run killed after it retires the image again
            self.glance.image_action(step.image_id, "deactivate")
        self.glance.patch(step.image_id, retire_operations(self.desired.name, step.policy, utc_now()))
        return image
