# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which images a store migration touches, and what each needs next (pure functions).

The state of a migration lives in Glance: an image's ``stores``, ``os_glance_importing_to_stores``
and ``os_glance_failed_import`` say what the next step is, so a run killed at any point is
picked up by the next one without a local state file. The plan is frozen ``PlannedImage`` items;
the executor applies them, after ``recheck`` has brought each one up to Glance's state then.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, replace
from typing import Any, Iterable

from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import csv_stores, image_stores

# What an image needs next, in the order a migration moves through them.
COPY = "copy"            # in the source only: copy-image into the target
RETRY = "retry"          # the last copy into the target failed: copy once more
WAIT = "wait"            # Glance is copying it into the target now
FINISH = "finish"        # in both stores: verify the target copy, then remove the source copy
CONFIRM = "confirm"      # in the target only, Glance's download never confirmed (a run was stopped)
DONE = "done"            # in the target only: nothing left to do
UNTAGGED = "untagged"    # a location in the source store without a store tag: refused
OUTSIDE = "outside"      # no copy in the source store: not part of this migration
GONE = "gone"            # deleted since the listing (found by ``recheck`` only)

ACTIONS = (COPY, RETRY, WAIT, FINISH, CONFIRM)
# the image property that verification=download sets to the target store before the source copy's
# removal, and removes once Glance served the verified bytes: a run stopped in between is seen
UNCONFIRMED = "storeops_download_unconfirmed"


@dataclass(frozen=True)
class Selection:
    """Which images the run considers; ``None`` means no restriction."""

    image_ids: tuple[str, ...] | None = None
    name_pattern: str | None = None
    owner: str | None = None
    visibility: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    status: str = "active"
    shard_index: int = 0
    shard_count: int = 1

    def listing_filters(self) -> dict[str, str]:
        """The part Glance's image list filters server-side."""
        filters = {"status": self.status}
        for key, value in (("owner", self.owner), ("visibility", self.visibility),
                           ("size_min", self.min_size), ("size_max", self.max_size)):
            if value is not None:
                filters[key] = str(value)
        return filters

    def accepts(self, image: dict[str, Any]) -> bool:
        return self.rejection(image) is None

    def rejection(self, image: dict[str, Any]) -> str | None:
        """Why the image is not selected, or None. Everything is checked client-side: the
        listing filters are re-checked on purpose."""
        size = image.get("size") or 0
        checks = (
            (self.image_ids is None or image["id"] in self.image_ids, "not in image_ids"),
            (image.get("status") == self.status,
             f"status is {image.get('status')}, not {self.status} (the status option)"),
            (self.name_pattern is None or fnmatch.fnmatchcase(image.get("name") or "", self.name_pattern),
             f"name {image.get('name')!r} does not match name_pattern {self.name_pattern!r}"),
            (self.owner is None or image.get("owner") == self.owner,
             f"owner is {image.get('owner')}, not {self.owner}"),
            (self.visibility is None or image.get("visibility") == self.visibility,
             f"visibility is {image.get('visibility')}, not {self.visibility}"),
            (self.min_size is None or size >= self.min_size, f"size {size} is below min_size"),
            (self.max_size is None or size <= self.max_size, f"size {size} is above max_size"),
            (in_shard(image["id"], self.shard_index, self.shard_count),
             f"in another shard than shard_index {self.shard_index} of {self.shard_count}"),
        )
        return next((why for passed, why in checks if not passed), None)


def in_shard(image_id: str, index: int, count: int) -> bool:
    """A stable split: the same image always falls in the same shard, on any host."""
    return int(hashlib.sha256(image_id.encode()).hexdigest()[:16], 16) % count == index


def classify(image: dict[str, Any], source: str, target: str, matcher: StoreMatcher) -> tuple[str, str]:
    """(next step, why) for one image; ``matcher`` tells the store of an untagged location.

    An untagged location that may be in the source store is refused; one in another store, or
    surely in none, is no business of this migration.
    """
    stores = image_stores(image)
    untagged = [loc for loc in image.get("locations") or []
                if not (loc.get("metadata") or {}).get("store")
                and matcher.may_be_in(loc.get("url") or "", source)]
    if untagged:
        return UNTAGGED, ("a location has no store tag (copy-image needs tagged sources): run "
                          "glance_location_backfill first, or the role with "
                          "store_migration_backfill_first")
    if source not in stores:
        if target in stores and image.get(UNCONFIRMED) == target:
            return CONFIRM, (f"in {target} only, but a run was stopped before Glance's download "
                             f"confirmed it ({UNCONFIRMED})")
        if target in stores:
            return DONE, f"in {target} only"
        return OUTSIDE, f"no copy in {source}"
    if target in stores:
        return FINISH, f"in {source} and {target}"
    if target in csv_stores(image.get("os_glance_importing_to_stores")):
        return WAIT, f"Glance is copying it into {target}"
    if target in csv_stores(image.get("os_glance_failed_import")):
        return RETRY, f"the last copy into {target} failed"
    return COPY, f"in {source} only"


@dataclass(frozen=True)
class PlannedImage:
    """One image of the plan: its next step (``action``) and why."""

    image_id: str
    name: str
    size: int
    action: str
    reason: str
    hash_algo: str | None
    hash_value: str | None  # as planned: a copy is verified against it

    def summary(self) -> dict[str, Any]:
        return {"id": self.image_id, "name": self.name, "size": self.size, "action": self.action,
                "reason": self.reason}


@dataclass(frozen=True)
class MigrationPlan:
    planned: tuple[PlannedImage, ...]     # what the run will do, in order
    done: int                             # already migrated (only counted: there may be very many)
    untagged: tuple[PlannedImage, ...]    # refused
    over_limit: tuple[PlannedImage, ...]  # left for a later run by ``limit``
    # images named in image_ids that the run leaves out, each with why
    skipped: tuple[dict[str, str], ...] = ()
    bytes_done: int = 0                   # of the images already migrated

    @property
    def bytes_planned(self) -> int:
        return sum(item.size for item in self.planned)


def plan_migration(images: Iterable[dict[str, Any]], selection: Selection, source: str,
                   target: str, matcher: StoreMatcher, limit: int | None) -> MigrationPlan:
    """The run's plan over the listed images, in listing order (oldest first).

    Each image named in ``selection.image_ids`` that is not planned, done or refused is in
    ``skipped`` with the reason, including those the listing did not return.
    """
    planned: list[PlannedImage] = []
    untagged: list[PlannedImage] = []
    over_limit: list[PlannedImage] = []
    skipped: list[dict[str, str]] = []
    done = bytes_done = 0
    named = selection.image_ids is not None
    listed: set[str] = set()
    for image in images:
        listed.add(image["id"])
        rejection = selection.rejection(image)
        action, reason = (OUTSIDE, rejection) if rejection else classify(image, source, target, matcher)
        if action == OUTSIDE:
            if named and image["id"] in selection.image_ids:
                skipped.append({"id": image["id"], "reason": reason})
            continue
        item = PlannedImage(image["id"], image.get("name") or "", image.get("size") or 0, action, reason,
                            image.get("os_hash_algo"), image.get("os_hash_value"))
        if action == DONE:
            done += 1
            bytes_done += item.size
        elif action == UNTAGGED:
            untagged.append(item)
        elif limit is not None and len(planned) >= limit:
            over_limit.append(item)
        else:
            planned.append(item)
    unlisted = "Glance lists no such image to these credentials (deleted, or not theirs to see)"
    for image_id in dict.fromkeys(selection.image_ids or ()):
        if image_id not in listed:
            skipped.append({"id": image_id, "reason": unlisted})
    return MigrationPlan(tuple(planned), done, tuple(untagged), tuple(over_limit), tuple(skipped), bytes_done)


def recheck(item: PlannedImage, image: dict[str, Any] | None, source: str, target: str,
            matcher: StoreMatcher) -> PlannedImage:
    """The item's step for Glance's state now (``image``, None when deleted), its planned hash kept.

    The plan may be hours old when an image's turn comes: another run may have copied it, or a
    copy may have failed since.
    """
    if image is None:
        return replace(item, action=GONE, reason="deleted since the listing")
    action, reason = classify(image, source, target, matcher)
    return replace(item, action=action, reason=reason)
