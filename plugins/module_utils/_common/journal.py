# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Append-only JSON Lines journals (mode 0600) that survive a killed run, and their shipment.

The file is created on the first entry, so a run that changes nothing leaves none behind; every
entry is flushed at once, and redacted on its way in. Entries may come from several worker threads.

A journal with a ``Shipment`` also sends what its file gained, one object per flush (every
``every_entries`` entries or ``every_seconds`` seconds, and at close), to a store that outlives
the host (``journal_url``): the objects, in name order, hold the file's bytes, so a killed run
leaves all but its last seconds there. A failed shipment is a warning, never a failed step:
the local file stays whole, and the next shipment tries the same object again. An object this
run did not write at a name is never replaced: shipping stops there, with a warning.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StorageConflictError
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact, redact_text

SHIP_EVERY_ENTRIES = 100
SHIP_EVERY_SECONDS = 10.0
SEQUENCE_DIGITS = 8  # zero-padded, so that listing order is reading order


_STAMP, _COMPACT_STAMP = "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ"  # the first is also Glance's time format


def utc_stamp(compact: bool = False, when: datetime | None = None) -> str:
    """``when`` (a UTC time; default now) as Glance writes times, or ``compact`` for file and image names."""
    return (when or datetime.now(timezone.utc)).strftime(_COMPACT_STAMP if compact else _STAMP)


def parse_utc_stamp(value: str | None) -> datetime | None:
    """The UTC time of a non-compact ``utc_stamp`` (so of a Glance time too); None for anything else."""
    try:
        return datetime.strptime(value or "", _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def journal_path(directory: str, kind: str) -> str:
    """A new journal's path: named after the module, the time of the run and the process."""
    return os.path.join(os.path.expanduser(directory), f"{kind}-{utc_stamp(compact=True)}-{os.getpid()}.jsonl")


def run_id(path: str) -> str:
    """The run a journal's file belongs to, as its shipped objects' folder is named."""
    return os.path.basename(path)[:-len(".jsonl")] if path.endswith(".jsonl") else os.path.basename(path)


def shipped_object(run: str, sequence: int) -> str:
    """The name of a run's ``sequence``-th shipped object (``<prefix>/<run id>/00000000.jsonl``)."""
    return f"{run}/{sequence:0{SEQUENCE_DIGITS}d}.jsonl"


@dataclass(frozen=True)
class Shipment:
    """Where and how often a journal ships: ``put(name, data)`` stores one whole object durably where
    none is, or finds these very bytes there (an earlier attempt's that seemed to fail), and raises
    StorageConflictError for any other object at ``name``.

    ``run`` is the objects' folder (``<prefix>/<run id>``), ``url`` the same as a URL for results
    and for ``mode: undo``, ``warn`` tells the module's user of a failed shipment.
    """

    put: Callable[[str, bytes], None]
    run: str
    url: str
    warn: Callable[[str], None]
    every_entries: int = SHIP_EVERY_ENTRIES
    every_seconds: float = SHIP_EVERY_SECONDS
    clock: Callable[[], float] = time.monotonic


class JsonlJournal:
    """A journal file; with a ``shipment``, also sent on as it grows.

    ``ship_on_write=False`` leaves the shipping to ``ship_due()``, for a writer whose entries
    come inside a database transaction that must not wait on the network.
    """

    def __init__(self, path: str, header: dict[str, Any], shipment: Shipment | None = None,
                 ship_on_write: bool = True):
        self.path = path
        self._header = header
        self._handle = None
        self._lock = threading.Lock()
        self._shipment = shipment
        self._ship_on_write = ship_on_write
        self._ship_lock = threading.Lock()  # one shipment at a time, in sequence order
        self._size = 0          # bytes in the file
        self._shipped = 0       # bytes of it already shipped
        self._unshipped = 0     # entries written since the last shipment
        self._sequence = 0      # the next shipped object's
        self._tried: tuple[int, int] | None = None  # end and entries of a failed attempt: a retry sends the same bytes
        self._refused = False   # an object not this run's holds the next name: nothing more ships
        self._next_try = 0.0    # after a failed shipment, the next is only tried this late
        self._failures = 0
        self._last_shipped = 0.0

    def write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            if self._handle is None:
                os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._handle = os.fdopen(descriptor, "a")
                self._size = self._shipped = os.fstat(descriptor).st_size
                if self._shipment is not None:
                    self._last_shipped = self._shipment.clock()
                self._append({**self._header, "started": utc_stamp()})
            self._append(entry)
            self._unshipped += 1
        if self._ship_on_write:
            self.ship_due()

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(redact(entry), sort_keys=True) + "\n"  # ASCII: as many bytes as characters
        self._handle.write(line)
        self._handle.flush()  # a killed run still leaves every step it made on record
        self._size += len(line)

    @property
    def written(self) -> bool:
        return self._handle is not None

    def result_fields(self) -> dict[str, str]:
        """What a result says of the journal: its local path as ``journal``, once written, and the
        run's ``journal_url`` once all of it was shipped (else a warning said what is missing)."""
        if not self.written:
            return {}
        fields = {"journal": self.path}
        if self._shipment is not None and self._shipped == self._size:
            fields["journal_url"] = self._shipment.url
        return fields

    def ship_due(self) -> None:
        """Ship what the file gained, if ``every_entries`` entries or ``every_seconds`` seconds came since."""
        self._ship(final=False)

    def _ship(self, final: bool) -> None:
        shipment = self._shipment
        if shipment is None:
            return
        # a writer never waits on another's shipment: that one ships, or the next entry's does
        if not self._ship_lock.acquire(blocking=final):  # pylint: disable=consider-using-with
            return
        try:
            self._ship_locked(shipment, final)
        finally:
            self._ship_lock.release()

    def _ship_locked(self, shipment: Shipment, final: bool) -> None:
        """The shipments due (or, ``final``, all that is left), under the shipping lock."""
        while not self._refused and self._ship_one(shipment, final):
            pass

    def _ship_one(self, shipment: Shipment, final: bool) -> bool:
        """One object, if due; whether it was shipped."""
        with self._lock:
            start, end, entries = self._shipped, self._size, self._unshipped
        now = shipment.clock()
        due = entries >= shipment.every_entries or now - self._last_shipped >= shipment.every_seconds
        if end == start or not (final or (due and now >= self._next_try)):
            return False
        if self._tried is not None:  # the object may be there already: only the same bytes can match it
            end, entries = self._tried
        name = shipped_object(shipment.run, self._sequence)
        with open(self.path, "rb") as handle:  # flushed: what other threads append lies beyond ``end``
            handle.seek(start)
            data = handle.read(end - start)
        try:
            shipment.put(name, data)
        except StorageConflictError:
            self._refused = True
            shipment.warn(f"journal_url: {shipment.url} already holds {name}, which this run did not write; "
                          f"it was kept and nothing more is shipped: the whole journal is in {self.path}, "
                          "keep it (or give another journal_url)")
            return False
        except Exception as err:  # pylint: disable=broad-except
            # the data step goes on: the local file is whole, and the next shipment tries these bytes again
            self._tried = (end, entries)
            self._next_try = shipment.clock() + shipment.every_seconds
            self._failures += 1
            if self._failures == 1 or final:  # one warning while it goes on failing, one at the end
                reason = redact_text(str(err)) or type(err).__name__
                shipment.warn(f"journal_url: shipping {name} failed ({reason}); the whole journal is in "
                              f"{self.path}: copy it to {shipment.url} before this host's files go")
            return False
        self._sequence += 1
        self._tried = None
        self._last_shipped = shipment.clock()
        with self._lock:
            self._shipped = end
            self._unshipped -= entries
        return True

    def close(self) -> None:
        with self._lock:
            if self._handle is None:
                return
            self._handle.close()
        self._ship(final=True)
