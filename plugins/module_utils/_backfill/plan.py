# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Location backfill and its undo: the plans, pure functions of what was read, page by page.

Glance re-derives every location's store on a PATCH of ``/locations`` with its own first-match
rule, so the api back end can only ever write Glance's pick: locations where that pick is wrong
are planned as skipped (the database back end is the only way to write the right store).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import journaled_location
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import (
    LocationRow,
    MetadataChange,
    parse_metadata,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import (
    CORRECT,
    MISTAGGED,
    UNMATCHED,
    StoreMatcher,
    Verdict,
)

API, DATABASE = "api", "database"

WRITE, LEAVE, SKIP = "write", "leave", "skip"
RESTORE, ALREADY_RESTORED, CONFLICT, MISSING_LOCATION = "restore", "already_restored", "conflict", "missing"


@dataclass(frozen=True)
class Location:
    """A location as a back end read it; ``version`` is what a conditional write compares."""

    image_id: str
    url: str
    metadata: dict[str, Any]
    location_id: int | None = None  # the database's row id; the api has none
    version: str | None = None


@dataclass(frozen=True)
class Page:
    """One page a back end read: its images (also those without locations) and their locations."""

    image_ids: tuple[str, ...]
    locations: tuple[Location, ...]


@dataclass(frozen=True)
class LocationPlan:
    location: Location
    verdict: Verdict
    action: str
    after: dict[str, Any] | None = None
    reason: str = ""

    @property
    def image_id(self) -> str:
        return self.location.image_id

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def before(self) -> dict[str, Any]:
        return self.location.metadata

    @property
    def location_id(self) -> int | None:
        return self.location.location_id

    def detail(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "url": redact_text(self.url),
            "category": self.verdict.category,
            "current_store": self.verdict.current,
            "matched_store": self.verdict.best,
            "glance_would_tag": self.verdict.glance_pick,
            "action": self.action,
            "reason": self.reason or self.verdict.reason,
        }


def plan_location(matcher: StoreMatcher, location: Location, fix_mismatched: bool,
                  backend: str) -> LocationPlan:
    metadata = location.metadata
    verdict = matcher.judge(location.url, metadata.get("store") or None)
    if verdict.category in (UNMATCHED, CORRECT):
        return LocationPlan(location, verdict, LEAVE)
    if verdict.category == MISTAGGED and not fix_mismatched:
        return LocationPlan(location, verdict, LEAVE,
                            reason="tagged with another store; fix_mismatched is false")
    if backend == API:
        # A PATCH keeps the tag sent only where Glance's own rule finds no store at all.
        if verdict.glance_pick not in (None, verdict.best):
            return LocationPlan(
                location, verdict, SKIP,
                reason=f"Glance's API re-derives {verdict.glance_pick} here, not "
                       f"{verdict.best}; only backend=database can write it")
    return LocationPlan(location, verdict, WRITE, after={**metadata, "store": verdict.best})


@dataclass(frozen=True)
class BackfillPlanner:
    """What a run asked for: the store matcher, whether to fix wrong tags, and the back end."""

    matcher: StoreMatcher
    fix_mismatched: bool
    backend: str

    def plan(self, page: Page) -> tuple[LocationPlan, ...]:
        return tuple(plan_location(self.matcher, location, self.fix_mismatched, self.backend)
                     for location in page.locations)


@dataclass(frozen=True)
class UndoStep:
    """What undo does with one journal entry; a ``change`` only for ``RESTORE``."""

    entry: dict[str, Any]
    action: str
    change: MetadataChange | None = None


def plan_undo(entries: Iterable[dict[str, Any]], rows: Iterable[LocationRow]) -> tuple[UndoStep, ...]:
    """Put back each entry's ``before`` where the location still holds its ``after``.

    Entries come newest first: one that restores a location changes what an older entry of the
    same location finds there.
    """
    rows_of_image: dict[str, list[LocationRow]] = {}
    for row in rows:
        rows_of_image.setdefault(row.image_id, []).append(row)
    raw = {row.id: row.raw_metadata for image_rows in rows_of_image.values() for row in image_rows}
    steps = []
    for entry in entries:
        match = next((row for row in rows_of_image.get(entry["image_id"], [])
                      if journaled_location(entry, row.id, row.url)), None)
        if match is None:
            steps.append(UndoStep(entry, MISSING_LOCATION))
            continue
        current = parse_metadata(raw[match.id])
        if current == entry["before"]:
            steps.append(UndoStep(entry, ALREADY_RESTORED))
        elif current != entry["after"]:
            steps.append(UndoStep(entry, CONFLICT))
        else:
            change = MetadataChange(match.id, raw[match.id], entry["before"])
            steps.append(UndoStep(entry, RESTORE, change))
            raw[match.id] = change.written
    return tuple(steps)
