# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a store migration plan with ``method=direct``: bytes go store to store, not through Glance.

Per image: stream the source copy from its store into the target store (a ``targets`` class: rbd,
file or swift) in glance_store's own layout, hashing on the way; read the target back and hash it; only then register the location
(through the database, or the API where Glance tags it right); then remove the source copy
through Glance, and confirm Glance serves the image by downloading and hashing it.

A killed run leaves at most an uncommitted partial target copy, which the next run removes before
writing again, or a committed target copy that is not registered yet, which the next run reads
back and registers only if its bytes are the image's. Partial copies whose Glance image is gone
are listed by ``orphans`` and removed by ``remove_orphans``; a committed copy whose image was
deleted during the copy is removed by the run that wrote it, and a location is only inserted
while its image is active.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageBusyError,
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import GlanceDatabase
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import image_stores, tagged_locations
from ansible_collections.storeops.openstack.plugins.module_utils._storage.locations import parse_location
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.executor import (
    SOURCE,
    Migrator,
    StepFailed,
    hash_stream,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    COPY,
    RETRY,
    WAIT,
    PlannedImage,
    Selection,
    in_shard,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import (
    ALREADY_DONE,
    IN_PROGRESS,
    MIGRATED,
    SKIPPED,
    Outcome,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.targets import (
    WRITABLE_TARGETS,
    DirectTarget,
)

DATABASE, API = "database", "api"  # how a new location is registered
READABLE_SOURCES = ("swift", "file", "rbd")  # the store types this host reads a copy from
_IMAGE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEGMENT_NUMBER = re.compile(r"[0-9]{5,}")  # glance_store's swift segments: <object>-00001, ...


class DatabaseRegistrar:
    """Registers a location with an INSERT of its row: Glance's API cannot tag every store's URL."""

    route = DATABASE

    def __init__(self, database: GlanceDatabase):
        self._database = database

    def register(self, image_id: str, url: str, store: str) -> bool:
        """Whether the image has the location now (added, or by another run meanwhile): not an image
        deleted (or no longer active) meanwhile."""
        with self._database.session("location registration") as session, session.transaction():
            return session.insert_location(image_id, url, {"store": store})


class ApiRegistrar:
    """Registers a location with a PATCH add; Glance re-derives the store tag, which is checked."""

    route = API

    def __init__(self, glance: GlanceClient):
        self._glance = glance

    def register(self, image_id: str, url: str, store: str) -> bool:
        """True: Glance refuses a location of a deleted image itself (the PATCH fails)."""
        image = self._glance.patch(image_id, [{"op": "add", "path": "/locations/-",
                                               "value": {"url": url, "metadata": {"store": store}}}])
        tags = [(loc.get("metadata") or {}).get("store") for loc in image.get("locations") or []
                if loc.get("url") == url]
        if tags != [store]:
            raise StepFailed(f"Glance registered the new location tagged {tags or 'with nothing'}, not {store}",
                             "run glance_location_backfill with fix_mismatched, or use backend=database")
        return True


def check_direct_stores(detailed: list[dict], source: str, target: str, conf, backend: str) -> None:
    """method=direct's needs of the stores (``detailed``: Glance's store details, ``conf`` the
    GlanceApiConf or None, ``backend`` the registration route), checked before anything is
    planned: InvalidInputError when unmet."""
    stores = {store["id"]: store for store in detailed}
    source_type, target_type = stores[source].get("type"), stores[target].get("type")
    if target_type not in WRITABLE_TARGETS:
        raise InvalidInputError(f"target_store: method=direct writes {', '.join(WRITABLE_TARGETS)} stores "
                                f"only, and {target} is a {target_type} store; use method=copy-image")
    scheme = {"file": "file://", "swift": "swift+config://"}.get(target_type)
    if scheme and backend == API:
        raise InvalidInputError(f"backend: Glance's API refuses {scheme} locations, so the copies in the "
                                f"{target_type} store {target} are registered through the database only; "
                                "use backend=database")
    if source_type not in READABLE_SOURCES:
        raise InvalidInputError(f"source_store: method=direct reads {', '.join(READABLE_SOURCES)} stores only, "
                                f"and {source} is a {source_type} store; use method=copy-image")
    if conf is None:
        raise InvalidInputError("method=direct needs glance_api_conf: it names the stores' pools "
                                "and credentials; give the glance-api.conf Glance itself reads")
    if target_type == "swift":
        conf.swift_layout(target)  # what a direct write does not mirror is refused here
    if target_type == "rbd":
        pool, served = conf.rbd_pool(target), (stores[target].get("properties") or {}).get("pool")
        if served and served != pool:
            raise InvalidInputError(f"glance_api_conf: its {target} store names pool {pool}, but Glance "
                                    f"reports pool {served}; give the glance-api.conf Glance itself reads")


def _swift_object(url: str) -> tuple[str, str, str] | None:
    """parse_location's answer for a swift location; None for any other (an http or s3 one, say)."""
    return parse_location(url) if url.startswith("swift") else None


def _conflict(err: StorageConflictError) -> StepFailed:
    return StepFailed(str(err), "find out what wrote them and remove them, then re-run; the source copy is untouched")


class DirectMigrator(Migrator):
    """The copy-image executor with the copy itself done here; ``target`` holds the target store's
    copies, ``registrar`` is a DatabaseRegistrar or ApiRegistrar."""

    def __init__(self, glance, options, matcher, journal, target: DirectTarget, registrar, **kwargs):
        super().__init__(glance, options, matcher, journal, **kwargs)
        self.target = target
        self.registrar = registrar
        # ``concurrency`` copies at a time; an image whose copy is verified and registered leaves its
        # lane before its source copy is deleted, so the next copy overlaps that wait on the source store
        self._copy_lanes = threading.BoundedSemaphore(options.concurrency)
        self._lane = threading.local()

    def workers(self) -> int:
        return 2 * self.options.concurrency  # as many copying, and as many deleting their source copy

    def _migrate(self, item: PlannedImage) -> Outcome | PlannedImage:
        """The image's outcome; or the image itself, unstarted, when the run's time was up by the
        time a copy lane came free."""
        with self._copy_lane():
            if not self.in_budget():
                return item
            return super()._migrate(item)

    @contextmanager
    def _copy_lane(self):
        self._copy_lanes.acquire()
        self._lane.held = True
        try:
            yield
        finally:
            self._leave_copy_lane()

    def _leave_copy_lane(self) -> None:
        if getattr(self._lane, "held", False):
            self._lane.held = False
            self._copy_lanes.release()

    def _remove_source_copy(self, image: dict[str, Any]) -> None:
        self._leave_copy_lane()
        super()._remove_source_copy(image)

    def _apply(self, item: PlannedImage, image: dict[str, Any] | None) -> Outcome:
        if item.action == WAIT:
            raise StepFailed(f"Glance is copying it into {self.options.target} with copy-image now",
                             "re-run later; that copy is not disturbed", outcome=IN_PROGRESS)
        if item.action not in (COPY, RETRY):  # done, skipped, or registered already: as copy-image
            return super()._apply(item, image)
        self._check_target_location(item.image_id)
        copied, written = self._write_target(item, image)
        image, registered = self._register(item.image_id, written)
        return self._finish(item, image, copied, read_back=True, registered=registered)

    def _finish(self, item: PlannedImage, image: dict[str, Any], copied: int, read_back: bool = False,
                registered: bool = False) -> Outcome:
        outcome = super()._finish(item, image, copied, read_back)
        if registered and outcome.outcome == ALREADY_DONE:  # an earlier run's copy, registered by this one
            outcome = replace(outcome, outcome=MIGRATED, reason=f"{outcome.reason}; location registered")
        return outcome

    # -- steps ------------------------------------------------------------------------------

    def _expected(self, item: PlannedImage, image: dict[str, Any]) -> tuple[str, str, int]:
        algo, value = image.get("os_hash_algo"), image.get("os_hash_value")
        if not algo or not value:
            raise StepFailed("the image has no os_hash_value, so the direct copy cannot be verified",
                             "use method=copy-image for this image")
        if item.hash_value and value != item.hash_value:
            raise StepFailed("os_hash_value changed during the migration",
                             "find out who changed the image; nothing was removed")
        return algo, value, image.get("size") or 0

    def _write_target(self, item: PlannedImage, image: dict[str, Any]) -> tuple[int, bool]:
        """The target copy written, read back, verified and finished in glance_store's layout; the
        bytes copied, and whether this run wrote it (not an earlier run)."""
        began, name = self.clock(), item.image_id
        algo, expected, size = self._expected(item, image)
        if self.target.exists(name):  # an earlier run committed it and was stopped before registering
            if self._read_back(name, algo) != (expected, size):
                raise StepFailed(
                    f"an unregistered copy {name} in the {self.options.target} store holds other bytes "
                    "than the image's os_hash_value; it is not a finished copy of this collection's",
                    f"find out what wrote it, remove it ({self.target.removal_hint(name)}), "
                    "then re-run; the source copy is untouched")
            self._finish_target(name)
            self._record(name, "write", "an earlier run's verified copy found", self.clock() - began)
            return 0, False
        source_url = self._source_location(image)
        kind, container, path = parse_location(source_url)
        try:
            with self._driver(kind, container, SOURCE).reader(path) as stream, \
                    self.target.writer(name, size) as writer:
                try:
                    got = hash_stream(stream, algo, writer.write)
                    if got != (expected, size):
                        raise StepFailed(
                            f"the {self.options.source} copy's {algo} or size ({got[1]} bytes) does not match "
                            "the image's os_hash_value; nothing was registered and the source copy is kept",
                            f"the {self.options.source} copy is corrupt: restore it from a backup or "
                            "re-upload the image")
                    writer.commit()
                except BaseException:
                    writer.cancel()
                    raise
        except StorageConflictError as err:  # another writer's objects where the copy goes: kept
            if self.target.exists(name) and self._read_back(name, algo) == (expected, size):
                raise StepFailed("another run committed a verified copy of this image while this one wrote it",
                                 "re-run later: that run registers it", outcome=IN_PROGRESS) from None
            raise _conflict(err) from None
        except StorageBusyError as err:
            raise StepFailed(f"{err}: another run is copying this image now",
                             "re-run later: this run wrote nothing of it", outcome=IN_PROGRESS) from None
        if self._read_back(name, algo) != (expected, size):
            self.target.remove(name)  # written by this run, unregistered: the source copy is kept
            raise StepFailed(f"the {self.options.target} copy read back differs from what was written; "
                             "it was removed and the source copy kept", "check the target store, then re-run")
        self._finish_target(name)
        self._record(name, "write", f"{size} bytes written and read back", self.clock() - began)
        return size, True

    def _finish_target(self, name: str) -> None:
        try:
            self.target.finish(name)
        except StorageConflictError as err:  # another writer's copy took the name meanwhile: kept
            raise _conflict(err) from None

    def _read_back(self, name: str, algo: str) -> tuple[str, int]:
        with self.target.reader(name) as stream:
            return hash_stream(stream, algo)

    def _source_location(self, image: dict[str, Any]) -> str:
        urls = [loc["url"] for loc in tagged_locations(image, self.options.source)]
        if not urls:
            raise StepFailed(f"Glance shows no location tagged {self.options.source} to these credentials",
                             "use admin credentials, with show_multiple_locations in Glance")
        return urls[0]

    def _check_target_location(self, image_id: str) -> None:
        """Before anything is written: Glance reads only locations under its own target prefix
        (``rbd://fsid/pool/`` or ``file://datadir`` of glance-api.conf), and target_access may
        name another cluster."""
        url = self.target.location(image_id)
        store, why = self.matcher.best(url)
        if store != self.options.target:
            why = why or f"it is under the {store} store's prefix"
            raise StepFailed(
                f"the copy's location {url} is not under glance-api.conf's {self.options.target} store "
                f"({why}), so Glance could not read it; nothing was written",
                self.target.access_fix)

    def _register(self, image_id: str, written: bool) -> tuple[dict[str, Any], bool]:
        """The image with its target location, and whether this run registered that location;
        ``written``: this run wrote the target image."""
        began, url = self.clock(), self.target.location(image_id)
        image = self.glance.image(image_id)
        if image is None:
            raise self._image_gone(image_id, written)
        registered = not any(loc.get("url") == url for loc in image.get("locations") or [])
        if registered:
            if not self.registrar.register(image_id, url, self.options.target):
                raise self._image_gone(image_id, written)
            image = self.glance.image(image_id)
        if image is None or self.options.target not in image_stores(image):
            raise StepFailed(f"Glance does not list {self.options.target} after the registration",
                             "re-run; the target copy is verified and registered once")
        self._record(image_id, "register", f"via {self.registrar.route}" if registered else "registered already",
                     self.clock() - began)
        return image, registered

    def _remove_source_bytes(self, image: dict[str, Any]) -> str:
        """A swift source copy in glance_store's layout (``<id>``, a DLO manifest over ``<id>-00001``...):
        its manifest goes first, so Glance never serves a partial image (without it, Glance reads the
        next location: the verified target), then its segments in bulk; Glance's own delete goes
        segment by segment, manifest last. Only the names glance_store gives an image's copy are
        deleted. Anything else (an SLO, a location added by hand or with credentials in its URL) is
        left to Glance, as with copy-image."""
        url = self._source_location(image)
        kind, container, name = parse_location(url)
        if (kind != SwiftDriver.kind or name != image["id"] or not url.startswith("swift+config://")
                or self.matcher.best(url)[0] != self.options.source):
            return ""
        self._check_source_removable(image["id"], url)
        driver = self._driver(kind, container, SOURCE)
        try:
            headers = driver.head(name)
        except StorageNotFoundError:  # removed by an earlier run, stopped before its segments
            headers = {}
        if headers.get("X-Static-Large-Object", "").lower() == "true":
            return ""
        prefix = headers.get("X-Object-Manifest")
        if prefix and prefix != f"{container}/{name}-":
            raise StepFailed(f"the {self.options.source} copy's manifest names the segments {prefix}, not "
                             f"glance_store's {container}/{name}-; nothing was deleted (Glance would delete "
                             "every object under that prefix)", "find out what set that manifest; the target "
                             "copy is verified and registered")
        if headers:
            driver.delete_only(name)
        segments = [entry["name"] for entry in driver.listing(f"{name}-")
                    if _SEGMENT_NUMBER.fullmatch(entry["name"][len(name) + 1:])]
        driver.delete_many(segments)
        return f"swift object{' (gone already)' if not headers else ''} and {len(segments)} segment(s) deleted here"

    def _check_source_removable(self, image_id: str, url: str) -> None:
        """Read again just before the source's bytes go, as Glance's own delete checks only after
        them: the image active, the target copy registered and tagged, and no other location
        naming the same object (two swift stores over one container)."""
        image = self.glance.image(image_id) or {}
        target_url = self.target.location(image_id)
        if image.get("status") != "active" or target_url not in [
                loc["url"] for loc in tagged_locations(image, self.options.target)]:
            raise StepFailed(f"the image is {image.get('status') or 'gone'} or no longer lists its {self.options.target} "
                             "copy; the source copy was kept", "check the image in Glance, then re-run")
        source_object = parse_location(url)
        if any(_swift_object(loc["url"]) == source_object
               for loc in image.get("locations") or [] if loc.get("url") != url):
            raise StepFailed(f"another location of the image names the same swift object as the "
                             f"{self.options.source} copy; deleting it would delete that one's bytes: kept",
                             "give the two stores separate containers; remove the duplicate location "
                             "through the database only")

    def _image_gone(self, name: str, written: bool) -> StepFailed:
        """The image was deleted (or left active) during the copy: its unregistered target copy
        would leak, so the one this run wrote is removed; an earlier run's is only reported."""
        if not written:
            return StepFailed(
                "the image was deleted or deactivated during the migration; an earlier run's unregistered "
                f"copy {name} in {self.target.where} is kept (this run did not write it)",
                f"if the image is gone for good: {self.target.removal_hint(name)}")
        self.target.remove(name)
        self._record(name, "discard", "the image was deleted during the copy: this run's copy removed", 0.0)
        return StepFailed("the image was deleted or deactivated during the copy; the copy this run wrote "
                          "was removed, nothing was registered", "nothing to do", outcome=SKIPPED)

    # -- a killed run's leftovers -----------------------------------------------------------

    def orphans(self, selection: Selection) -> tuple[str, ...]:
        """Partial target copies of ``selection``'s shard whose Glance image no longer exists:
        shard runs go on at once, each removes its own shard's."""
        # only image-id names: another user of the pool or directory may name its own objects anything
        return tuple(name for name in self.target.partials()
                     if _IMAGE_ID.fullmatch(name) and in_shard(name, selection.shard_index, selection.shard_count)
                     and self.glance.image(name) is None)

    def remove_orphans(self, names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        removed, kept = [], []
        for name in names:
            try:
                self.target.delete_partial(name)
            except StorageNotFoundError:  # another run of this shard removed it first
                self._record(name, "orphan", "partial target copy already gone", 0.0)
                continue
            except Exception as err:  # pylint: disable=broad-except
                # one leftover that cannot go must not stop the migration: it is reported
                why = redact_text(f"{type(err).__name__}: {err}")
                kept.append(f"{name}: {why}")
                self._record(name, "orphan", "partial target copy not removed", 0.0, why)
                continue
            removed.append(name)
            self._record(name, "orphan", "partial target copy of a deleted image removed", 0.0)
        return tuple(removed), tuple(kept)
