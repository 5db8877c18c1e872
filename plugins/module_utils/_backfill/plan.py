# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Location backfill: the plan for each location (pure), the run's report, and its journal.

Glance re-derives every location's store on a PATCH of ``/locations`` with its own first-match
rule, so the api back end can only ever write Glance's pick: locations where that pick is wrong
are planned as skipped (the database back end is the only way to write the right store).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import (
    CORRECT,
    MISSING,
    MISTAGGED,
    UNMATCHED,
    StoreMatcher,
    Verdict,
)

API, DATABASE = "api", "database"
JOURNAL_KIND = "storeops.openstack.glance_location_backfill"

WRITE, LEAVE, SKIP = "write", "leave", "skip"


def journaled_location(entry: dict[str, Any], location_id: Any, url: str) -> bool:
    """Is this location (its database id and URL) the one a journal entry recorded?

    Entries name the location by id (the api back end has none: then by URL) and by its
    redacted URL; journals of version 1 carried an unsalted sha256 of the whole URL instead,
    which gave away weak credentials to a guess, and are still read.
    """
    if "url_hash" in entry:
        return entry["url_hash"] == "sha256:" + hashlib.sha256(url.encode()).hexdigest()
    if entry.get("location_id") is not None and entry["location_id"] != location_id:
        return False
    return entry["url"] == redact_text(url)


@dataclass(frozen=True)
class LocationPlan:
    image_id: str
    url: str
    before: dict[str, Any]
    verdict: Verdict
    action: str
    after: dict[str, Any] | None = None
    reason: str = ""

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


def plan_location(matcher: StoreMatcher, image_id: str, url: str, metadata: dict[str, Any],
                  fix_mismatched: bool, backend: str) -> LocationPlan:
    current = metadata.get("store") or None
    verdict = matcher.judge(url, current)
    if verdict.category in (UNMATCHED, CORRECT):
        return LocationPlan(image_id, url, metadata, verdict, LEAVE)
    if verdict.category == MISTAGGED and not fix_mismatched:
        return LocationPlan(image_id, url, metadata, verdict, LEAVE,
                            reason="tagged with another store; fix_mismatched is false")
    if backend == API:
        # A PATCH keeps the tag sent only where Glance's own rule finds no store at all.
        if verdict.glance_pick not in (None, verdict.best):
            return LocationPlan(
                image_id, url, metadata, verdict, SKIP,
                reason=f"Glance's API re-derives {verdict.glance_pick} here, not "
                       f"{verdict.best}; only backend=database can write it")
    return LocationPlan(image_id, url, metadata, verdict, WRITE,
                        after={**metadata, "store": verdict.best})


@dataclass
class Report:
    """Counts of every category and action, and the first ``max_details`` of each kind."""

    max_details: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("images_scanned", "locations_scanned", CORRECT, MISSING, MISTAGGED, UNMATCHED,
         "glance_would_get_wrong", "planned_writes", "skipped", "written", "rederived",
         "conflicts", "failed"), 0))
    details: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    diff_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    diff_after: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, plan: LocationPlan) -> None:
        self.counts["locations_scanned"] += 1
        self.counts[plan.verdict.category] += 1
        self.counts["glance_would_get_wrong"] += plan.verdict.glance_would_get_wrong
        if plan.action == WRITE:
            self.counts["planned_writes"] += 1
            self._keep(self.details, plan.detail())
            if len(self.diff_before) < self.max_details or plan.image_id in self.diff_before:
                key = redact_text(plan.url)
                self.diff_before.setdefault(plan.image_id, {})[key] = plan.before
                self.diff_after.setdefault(plan.image_id, {})[key] = plan.after
        elif plan.action == SKIP:
            self.counts["skipped"] += 1
            self._keep(self.problems, plan.detail())
        elif plan.verdict.category == UNMATCHED:
            self._keep(self.unmatched, plan.detail())

    def problem(self, kind: str, plan: LocationPlan, reason: str) -> None:
        self.counts[kind] += 1
        self._keep(self.problems, {**plan.detail(), "outcome": kind, "reason": reason})

    def _keep(self, bucket: list, item: dict) -> None:
        if len(bucket) < self.max_details:
            bucket.append(item)


class Journal:
    """A line per written location (before and after), after a header naming the back end."""

    def __init__(self, path: str, backend: str):
        self._journal = JsonlJournal(path, {"journal": JOURNAL_KIND, "version": 2, "backend": backend})
        self.path = path

    def record(self, plan: LocationPlan, location_id: Any = None) -> None:
        self._journal.write({"image_id": plan.image_id, "location_id": location_id, "url": plan.url,
                             "before": plan.before, "after": plan.after})

    @property
    def written(self) -> bool:
        return self._journal.written

    def close(self) -> None:
        self._journal.close()


JOURNAL_CHUNK = 500  # entries read back at a time by undo


def read_journal(path: str, chunk: int = JOURNAL_CHUNK) -> Iterator[dict[str, Any]]:
    """The journal's entries, newest first (undo replays backwards), in bounded memory.

    The whole file is checked before this returns, so an entry cut short (a run killed while
    writing it) fails before anything is restored; the checking pass notes where every
    ``chunk``-th entry starts, and the entries are then read back chunk by chunk from the end.
    """
    starts = _index_journal(path, chunk)
    return _entries_newest_first(path, starts, chunk)


def _index_journal(path: str, chunk: int) -> list[int]:
    starts, count, offset = [], 0, 0
    try:
        with open(path, "rb") as handle:
            if not _is_header(handle.readline()):
                raise InvalidInputError(f"journal: {path} is not a glance_location_backfill journal")
            offset = handle.tell()
            for number, line in enumerate(handle, start=2):
                if _journal_entry(path, number, line) is not None:
                    if count % chunk == 0:
                        starts.append(offset)
                    count += 1
                offset += len(line)
    except OSError as err:
        raise InvalidInputError(f"journal: cannot read {path} ({err.strerror})") from None
    return starts


def _is_header(line: bytes) -> bool:
    try:
        header = json.loads(line)
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("journal") == JOURNAL_KIND


_ENTRY_KEYS = {"image_id", "url", "before", "after"}


def _journal_entry(path: str, number: int, line: bytes) -> dict[str, Any] | None:
    """The entry of a line after the first; None for a blank line or a repeated header."""
    if not line.strip():
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict) and "journal" in entry:
        return None
    if not isinstance(entry, dict) or not _ENTRY_KEYS <= entry.keys():
        raise InvalidInputError(
            f"journal: line {number} of {path} is cut short or is no backfill entry (was the "
            "run killed while writing it?); nothing was restored: remove that line if it is "
            "the last one, or give the journal as the run wrote it")
    return entry


def _entries_newest_first(path: str, starts: list[int], chunk: int) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for start in reversed(starts):
            handle.seek(start)
            entries: list[dict[str, Any]] = []
            while len(entries) < chunk:
                line = handle.readline()
                if not line:
                    break
                entry = _journal_entry(path, 0, line)
                if entry is not None:
                    entries.append(entry)
            yield from reversed(entries)
