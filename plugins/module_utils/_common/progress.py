# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs in bounded slices: what one slice may start (``limit``, ``max_duration``), and its progress.

A slice starts at most ``limit`` items and none once ``max_duration`` has passed; what it does not
start is left for the next slice, which finds it again in Glance's or S3's state. Every slice
returns a ``progress`` of the whole job (totals included), so a role looping over slices can
print one line per slice without adding anything up itself but the rate.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, TypeVar

Item = TypeVar("Item")

LEFT_REASON = "left for a later run (limit or max_duration)"


class SliceBudget:
    """At most ``limit`` items start, and none after ``max_duration`` seconds (either may be None).

    Safe to share between worker threads: ``take`` decides and counts under one lock.
    """

    def __init__(self, limit: int | None = None, max_duration: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.max_duration = max_duration
        self._clock = clock
        self._started = clock()
        self._taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Whether one more item may start now; if so it is counted against ``limit``."""
        with self._lock:
            if self.limit is not None and self._taken >= self.limit:
                return False
            if self.max_duration is not None and self._clock() - self._started >= self.max_duration:
                return False
            self._taken += 1
            return True

    def take_each(self, items: Iterable[Item]) -> list[Item]:
        """The items, in order, that may start (each counted)."""
        return [item for item in items if self.take()]


@dataclass(frozen=True)
class Progress:
    """Where the whole job stands after one slice: the line a role prints is made of it.

    ``total`` counts every item selected, done or not; ``done`` those needing nothing more
    (before this slice or by it); ``left`` those a later slice still has to do (failed ones
    included, they are tried again); ``moved`` those this slice finished. Bytes are None where
    the job moves none (the backfill).
    """

    unit: str
    total: int
    done: int
    failed: int
    left: int
    seconds: float
    bytes_total: int | None = None
    bytes_done: int | None = None
    moved: int = 0        # items this slice finished: with bytes_moved, the rate is made of it
    bytes_moved: int = 0  # by this slice

    def output(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}
