# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Append-only JSON Lines journals (mode 0600) that survive a killed run.

The file is created on the first entry, so a run that changes nothing leaves none behind; every
entry is flushed at once, and redacted on its way in. Entries may come from several worker threads.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact


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


class JsonlJournal:
    def __init__(self, path: str, header: dict[str, Any]):
        self.path = path
        self._header = header
        self._handle = None
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            if self._handle is None:
                os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._handle = os.fdopen(descriptor, "a")
                self._append({**self._header, "started": utc_stamp()})
            self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(redact(entry), sort_keys=True) + "\n")
        self._handle.flush()  # a killed run still leaves every step it made on record

    @property
    def written(self) -> bool:
        return self._handle is not None

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
