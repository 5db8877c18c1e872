# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backfill's journal: written by a run that changes something, read back by undo.

JSON Lines, mode 0600: a header naming the back end, then a line per written location (its
metadata before and after). Undo reads it newest first, in bounded memory, after checking it whole.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal, Shipment
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text

if TYPE_CHECKING:
    from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import LocationPlan

JOURNAL_KIND = "storeops.openstack.glance_location_backfill"


class Journal:
    """A line per written location (before and after), after a header naming the back end.

    With a ``shipment`` and ``ship_on_write=False`` (the database back end, whose lines come
    inside a page's transaction), it ships only when told, by ``ship_due()`` after a commit.
    """

    def __init__(self, path: str, backend: str, shipment: Shipment | None = None, ship_on_write: bool = True):
        self._journal = JsonlJournal(path, {"journal": JOURNAL_KIND, "version": 2, "backend": backend},
                                     shipment, ship_on_write)
        self.path = path

    def record(self, plan: LocationPlan) -> None:
        self._journal.write({"image_id": plan.image_id, "location_id": plan.location_id, "url": plan.url,
                             "before": plan.before, "after": plan.after})

    @property
    def written(self) -> bool:
        return self._journal.written

    def ship_due(self) -> None:
        self._journal.ship_due()

    def result_fields(self) -> dict[str, str]:
        return self._journal.result_fields()

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
