# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What glance_image must do, computed from the images Glance has and the one asked for (pure).

Only images owned by the run's project (or ``owner``) are considered: an admin lists every
project's images, and another project's image is never adopted, changed or deleted.

Identity is content. Glance's own ``os_hash_value`` decides whenever the run knows that hash
(it read the file, or the checksum is a sha512); with only a sha256 known, the sha256 recorded
where openstacksdk records it (``owner_specified.openstack.sha256``) identifies the image.

Runs for the same name may overlap. A new image carries a pending marker naming its run and the
expiry of a lease, which the run renews on a lease image of its own while it works; another run
waits for a live lease, deletes only an expired one, and after creating its own image yields to an
older rival (see ``rival``).

The plan it returns is made of the frozen steps of ``steps.py``.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import parse_utc_stamp, utc_stamp
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import image_stores
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    RETIRED_KEY,
    Lifecycle,
    foreign_catalogue,
    refuse_foreign,
    versions_to_delete,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.properties import json_pointer, user_properties
from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import (
    Copy,
    Create,
    Delete,
    DeleteLeftover,
    DeleteOldVersion,
    DeleteStoreCopy,
    Desired,
    KeepOldVersion,
    Plan,
    Retire,
    Step,
    UpdateMetadata,
    Wait,
)

SHA256_KEYS = ("owner_specified.openstack.sha256", "owner_specified.shade.sha256")
MD5_KEY = "owner_specified.openstack.md5"
# Marks an image this module created and has not published yet; the value is the lease.
PENDING_KEY = "storeops.openstack.pending"
# A lease image (data-less, hidden) keeps a pending image alive: the run renews the lease there,
# never on the pending image, because a PATCH saves the whole image row and would undo the
# status, size and hash Glance writes meanwhile. Its properties name the image and the name.
LEASE_OF_KEY = "storeops.openstack.lease_of"
LEASE_FOR_KEY = "storeops.openstack.lease_for"
# On a replacing image: the id of the image it replaces, so a later run can finish the retire.
REPLACES_KEY = "storeops.openstack.replaces"
# The URL a web-download image came from: its identity when no checksum is given.
SOURCE_URL_KEY = "storeops.openstack.source_url"
SIMPLE_FIELDS = ("visibility", "min_disk", "min_ram", "protected")

SAME, DIFFERENT, UNKNOWN = "same", "different", "unknown"
OS_HASH = "os_hash_value"
DEFAULT_LEASE_SECONDS = 60  # also the lease of a marker written before leases existed ("true")
_LEASE = re.compile(r"^run (?P<run>\S+) lease (?P<seconds>\d+)s until (?P<until>\S+)$")


def identify(image: dict[str, Any], hashes: dict[str, str]) -> tuple[str, str | None]:
    """``(SAME | DIFFERENT | UNKNOWN, what decided)`` for the source's known ``hashes``.

    Glance's own hash of the stored bytes comes first; the recorded sha256 is a property anyone
    who can edit the image can set, so it decides only when the run knows nothing Glance computed.
    """
    algo, value = image.get("os_hash_algo"), image.get("os_hash_value")
    if value and algo in hashes:
        return (SAME if value.lower() == hashes[algo] else DIFFERENT), OS_HASH
    if "sha256" in hashes:
        for key in SHA256_KEYS:
            if image.get(key):
                return (SAME if image[key].lower() == hashes["sha256"] else DIFFERENT), key
    if "md5" in hashes and image.get("checksum"):  # Glance's legacy md5 of the stored bytes
        return (SAME if image["checksum"].lower() == hashes["md5"] else DIFFERENT), "checksum"
    return UNKNOWN, None


def lease_marker(run_id: str, seconds: int, now: datetime) -> str:
    until = utc_stamp(when=now + timedelta(seconds=seconds))
    return f"run {run_id} lease {seconds}s until {until}"


def lease_run(image: dict[str, Any]) -> str | None:
    match = _LEASE.match(str(image.get(PENDING_KEY) or ""))
    return match.group("run") if match else None


def lease_live(image: dict[str, Any], now: datetime, lease: dict[str, Any] | None = None) -> bool:
    """Whether the run that made this pending image may still be working on it.

    Live while the marker (of the image, or of its lease image) has an expiry ahead, or while
    either changed less than a lease ago: Glance's upload ends by saving the properties it read
    when the upload began, which can put an older marker back, but it moves ``updated_at``.
    """
    return any(_marker_live(item, now) for item in (image, lease) if item)


def _marker_live(item: dict[str, Any], now: datetime) -> bool:
    match = _LEASE.match(str(item.get(PENDING_KEY) or ""))
    seconds = int(match.group("seconds")) if match else DEFAULT_LEASE_SECONDS
    until = parse_utc_stamp(match.group("until")) if match else None
    changed = parse_utc_stamp(item.get("updated_at"))
    return bool((until and now < until) or (changed and now < changed + timedelta(seconds=seconds)))


def leases_by_image(leases: list[dict[str, Any]], desired: Desired) -> dict[str, dict[str, Any]]:
    """The lease images of this name, by the id of the pending image each keeps alive."""
    return {i[LEASE_OF_KEY]: i for i in owned(leases, desired)
            if i.get(LEASE_FOR_KEY) == desired.name and i.get(LEASE_OF_KEY)}


def orphan_leases(images: list[dict[str, Any]], leases: list[dict[str, Any]], desired: Desired,
                  now: datetime) -> list[str]:
    """Expired lease images whose pending image is gone or published (a run died in between)."""
    pending = {i["id"] for i in pending_images(images, desired)}
    return sorted(lease["id"] for target, lease in leases_by_image(leases, desired).items()
                  if target not in pending and not _marker_live(lease, now))


def is_pending(image: dict[str, Any]) -> bool:
    return bool(image.get(PENDING_KEY))


def is_retired(image: dict[str, Any], name: str) -> bool:
    return image.get(RETIRED_KEY) == name


def owned(images: list[dict[str, Any]], desired: Desired) -> list[dict[str, Any]]:
    """The owner's images, less those another catalogue manages."""
    return [i for i in images if i.get("owner") == desired.owner
            and not foreign_catalogue(i, desired.catalogue)]


def foreign_count(images: list[dict[str, Any]], desired: Desired) -> int:
    return len({i["id"] for i in images if i.get("owner") != desired.owner})


def _named(images: list[dict[str, Any]], desired: Desired) -> list[dict[str, Any]]:
    return [i for i in owned(images, desired) if i.get("name") == desired.name]


def pending_images(images: list[dict[str, Any]], desired: Desired) -> list[dict[str, Any]]:
    """Pending images of this name, oldest first."""
    return sorted((i for i in _named(images, desired) if is_pending(i) and i["id"] != desired.image_id),
                  key=_age)


def _age(image: dict[str, Any]) -> tuple[str, str]:
    return image.get("created_at") or "", image["id"]


def _published(images: list[dict[str, Any]], desired: Desired) -> list[dict[str, Any]]:
    return [i for i in _named(images, desired) if not is_pending(i) and not is_retired(i, desired.name)]


def unfinished_replaces(images: list[dict[str, Any]], desired: Desired) -> list[str]:
    """Published images another published image replaces: a replace died before retiring them."""
    published = _published(images, desired)
    ids = {i["id"] for i in published}
    return sorted({i[REPLACES_KEY] for i in published if i.get(REPLACES_KEY) in ids})


def rival(images: list[dict[str, Any]], desired: Desired, mine: str, replaced: str | None,
          now: datetime, leases: list[dict[str, Any]] = ()) -> dict[str, Any] | None:
    """The image a run that created ``mine`` must yield to (delete its own, wait), or None.

    A published image other than the one being replaced wins: another run finished first. Among
    live pending images the oldest wins (``created_at``, then id). Runs list again at least a
    second after creating, and ``created_at`` has whole seconds, so an image a run does not see
    yet is younger than its own and loses to it: every run picks the same winner.
    """
    stale = set(unfinished_replaces(images, desired)) | {replaced, mine}
    published = [i for i in _published(images, desired) if i["id"] not in stale]
    if published:
        return min(published, key=_age)
    by_image = leases_by_image(list(leases), desired)
    contenders = [i for i in pending_images(images, desired)
                  if i["id"] == mine or lease_live(i, now, by_image.get(i["id"]))]
    winner = min(contenders, key=_age, default=None)
    return None if winner is None or winner["id"] == mine else winner


def choose_image(images: list[dict[str, Any]], desired: Desired) -> dict[str, Any] | None:
    """The one current image under this name (or id); several is an error naming them."""
    if desired.image_id:
        chosen = next((i for i in images if i["id"] == desired.image_id), None)
        if chosen and chosen.get("owner") != desired.owner:
            raise InvalidInputError(f"id: image {chosen['id']} belongs to project {chosen.get('owner')}, "
                                    f"not {desired.owner}; give owner to manage it")
        return chosen
    replaced = unfinished_replaces(images, desired)
    current = [i for i in _published(images, desired) if i["id"] not in replaced]
    if len(current) > 1:
        ids = ", ".join(sorted(i["id"] for i in current))
        raise InvalidInputError(f"name: {len(current)} images are named {desired.name!r} ({ids}); "
                                "give id to choose one")
    return current[0] if current else None


def metadata_patch(image: dict[str, Any], desired: Desired, publish: bool) -> list[dict[str, Any]]:
    """JSON-patch operations that make the image's metadata what is asked (none if it is).

    With ``desired.properties_exact`` the user properties it does not name are removed in the
    same patch (see ``properties.py`` for what is never removed).
    """
    operations = []

    def put(path: str, value: Any) -> None:
        key = path[1:]
        operations.append({"op": "replace" if key in image else "add", "path": path, "value": value})

    for key in SIMPLE_FIELDS:
        wanted = desired.fields.get(key)
        if wanted is not None and image.get(key) != wanted:
            put(f"/{key}", wanted)
    if desired.tags is not None and sorted(image.get("tags", [])) != sorted(desired.tags):
        put("/tags", sorted(set(desired.tags)))
    for key, value in desired.properties.items():
        if image.get(key) != value:
            put(json_pointer(key), value)
    if desired.properties_exact:
        operations += [{"op": "remove", "path": json_pointer(key)}
                       for key in sorted(user_properties(image)) if key not in desired.properties]
    if publish and image.get("os_hidden"):
        put("/os_hidden", False)
    if publish and image.get(PENDING_KEY):
        operations.append({"op": "remove", "path": f"/{PENDING_KEY}"})
    return operations


def prunes_versions(images: list[dict[str, Any]], desired: Desired, relation: str | None,
                    lifecycle: Lifecycle) -> bool:
    """Whether ``plan_present`` looks at the retired versions: only a plan that retires one (a
    replace, or one a killed run left unfinished) prunes them, or any plan with an age limit."""
    return (relation == DIFFERENT or bool(unfinished_replaces(images, desired))
            or lifecycle.delete_after_days is not None)


def plan_present(images: list[dict[str, Any]], desired: Desired, relation: str | None,
                 on_content_change: str, lifecycle: Lifecycle, now: datetime,
                 leases: list[dict[str, Any]] = ()) -> Plan:
    """``relation`` is identify() of the chosen image, or None without content.

    A live pending image (another run's upload) makes the whole plan a wait; plan again after it.
    An image of this name that another catalogue manages is refused, never shadowed.
    """
    for image in images:
        if image.get("name") == desired.name and image.get("owner") == desired.owner:
            refuse_foreign(image, desired.catalogue)
    steps: list[Step] = []
    pending = pending_images(images, desired)
    current = choose_image(images, desired)
    refuse_foreign(current, desired.catalogue)  # chosen by id, it may have any name
    by_image = leases_by_image(list(leases), desired)
    live = [i for i in pending if lease_live(i, now, by_image.get(i["id"]))]
    if live:
        return Plan((Wait(live[0]["id"], lease_run(live[0])),), current)
    for image in pending:
        steps.append(DeleteLeftover(image["id"], image.get("status")))
        if image["id"] in by_image:
            steps.append(DeleteLeftover(by_image[image["id"]]["id"], "lease"))
    steps += [DeleteLeftover(lease_id, "lease")
              for lease_id in orphan_leases(images, list(leases), desired, now)]
    retiring = unfinished_replaces(images, desired)
    steps += [Retire(image_id, lifecycle.retire) for image_id in retiring]
    if current is None:
        if not desired.has_content:
            raise InvalidInputError(
                f"name: no image {desired.image_id or desired.name!r} exists and neither filename "
                "nor url was given to create it")
        steps.append(Create(tuple(desired.stores)))
        return Plan(tuple(steps), current)
    if relation == DIFFERENT:
        if on_content_change == "fail":
            raise InvalidInputError(
                f"image {current['id']} ({desired.name}) has other content than the source; set "
                "on_content_change: replace to upload the new content and retire the old image")
        steps += [Create(tuple(desired.stores), replaces=current["id"]),
                  Retire(current["id"], lifecycle.retire)]
        retiring = [current["id"], *retiring]
    else:
        missing = [s for s in desired.stores if s not in image_stores(current)]
        if missing:
            steps.append(Copy(current["id"], tuple(missing)))
        operations = metadata_patch(current, desired, publish=False)
        if operations:
            steps.append(UpdateMetadata(current["id"], tuple(operations)))
    by_id = {i["id"]: i for i in images}
    older = sorted((i for i in owned(images, desired)
                    if is_retired(i, desired.name) and i["id"] not in retiring), key=_age, reverse=True)
    if prunes_versions(images, desired, relation, lifecycle):
        delete, kept = versions_to_delete([by_id[i] for i in retiring], older, lifecycle, now)
        steps += [DeleteOldVersion(image_id) for image_id in delete]
        steps += [KeepOldVersion(image_id, reason) for image_id, reason in kept]
    return Plan(tuple(steps), current)


def plan_absent(images: list[dict[str, Any]], desired: Desired, stores: list[str] | None) -> Plan:
    current = choose_image(images, desired)
    refuse_foreign(current, desired.catalogue)
    if current is None:
        return Plan()
    if stores:
        held = image_stores(current)
        remove = [s for s in stores if s in held]
        if remove and len(remove) == len(held):
            raise InvalidInputError(
                f"stores: removing {', '.join(remove)} would delete the last copy of image "
                f"{current['id']}; use state: absent without stores to delete the image")
        return Plan(tuple(DeleteStoreCopy(current["id"], store) for store in remove), current)
    if current.get("protected"):
        raise InvalidInputError(f"image {current['id']} is protected; set protected: false first")
    return Plan((Delete(current["id"]),), current)


def target_stores(listed: list[dict[str, Any]], requested: list[str] | None, all_stores: bool,
                  for_upload: bool) -> list[str]:
    """The stores the image must be in, checked against what the cloud lists."""
    writable = [s["id"] for s in listed if str(s.get("read-only")).lower() != "true"]
    if all_stores:
        return writable
    requested = requested or []
    known = [s["id"] for s in listed]
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise InvalidInputError(f"stores: unknown store {', '.join(unknown)}; this cloud has "
                                f"{', '.join(known)}")
    read_only = [s for s in requested if s not in writable]
    if read_only and for_upload:
        raise InvalidInputError(f"stores: {', '.join(read_only)} is read-only and cannot hold an "
                                "uploaded or copied image")
    return requested


def upload_method(methods: Callable[[], list[str]], has_url: bool, requested: str, store_count: int) -> str:
    """The concrete method for a new image's bytes: direct, glance-direct or web-download.

    ``auto`` stages once and imports into every store (glance-direct) when there are several and
    the cloud enables it; otherwise it PUTs into the first store and copy-image does the rest.
    ``methods`` (the cloud's import methods: a request) is called only when they decide.
    """
    if not has_url and (requested == "direct" or (requested == "auto" and store_count < 2)):
        return "direct"
    enabled = methods()
    if has_url:
        if "web-download" not in enabled:
            raise InvalidInputError("url: this cloud does not enable the web-download import "
                                    "method; use filename instead")
        return "web-download"
    if requested == "glance-direct" and "glance-direct" not in enabled:
        raise InvalidInputError("upload_method: this cloud does not enable glance-direct; use auto "
                                "or direct")
    if requested == "auto":
        return "glance-direct" if "glance-direct" in enabled else "direct"
    return requested


def predicted_image(plan: Plan, desired: Desired) -> dict[str, Any] | None:
    """The image as the plan would leave it (check mode's diff)."""
    image = dict(plan.image) if plan.image else None
    for step in plan.steps:
        image = step.predict(image, desired)
    return image
