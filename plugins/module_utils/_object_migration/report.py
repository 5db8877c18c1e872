# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Swift-to-S3 object migration reports, built as the objects' outcomes arrive.

An account may hold millions of objects: every outcome is counted, but only the first
``max_details`` of each list are kept, so memory does not grow with the object count.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import Progress
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.result import ObjectResult, Outcome

ALREADY_MIGRATED = "already migrated: same source ETag and size"


class ObjectReport:
    """Counts and bytes of every outcome ``add``-ed; details of the first ``cap`` of each list."""

    def __init__(self, buckets: dict[str, str], bucket_created: dict[str, bool], cap: int):
        self._cap = cap
        none_yet = {"objects": 0, **dict.fromkeys(Outcome.ALL, 0)}
        self.counts = {**none_yet, "source_deleted": 0, "segments_kept": 0, "unsupported_metadata": 0}
        self.containers = {c: {"container": c, "bucket": bucket, "bucket_created": bucket_created[c], **none_yet,
                               "bytes": 0}
                           for c, bucket in buckets.items()}
        self.bytes = {"bytes_planned": 0, "bytes_sent": 0, "bytes_read": 0, "bytes_resumed": 0}
        self._bytes_total = self._bytes_done = 0  # of every object seen, and of those with a current copy
        self.lists: dict[str, list[dict[str, Any]]] = {
            "objects": [], "already_migrated": [], "conflicts": [], "failures": [], "unsupported_metadata": []}

    def add(self, outcome: ObjectResult) -> None:
        self.counts["objects"] += 1
        self.counts[outcome.outcome] += 1
        self.counts["source_deleted"] += outcome.source_deleted
        self.counts["segments_kept"] += len(outcome.segments_kept)
        self.counts["unsupported_metadata"] += bool(outcome.unsupported)
        entry = self.containers[outcome.container]
        entry["objects"] += 1
        entry[outcome.outcome] += 1
        if outcome.outcome in (Outcome.COPIED, Outcome.PLANNED):
            entry["bytes"] += outcome.size
            self.bytes["bytes_planned"] += outcome.size
        self.bytes["bytes_sent"] += outcome.bytes_sent
        self.bytes["bytes_read"] += outcome.bytes_read
        self.bytes["bytes_resumed"] += outcome.bytes_resumed
        self._bytes_total += outcome.size
        self._bytes_done += outcome.size if outcome.outcome in (Outcome.COPIED, Outcome.ALREADY_DONE) else 0
        if outcome.outcome in (Outcome.COPIED, Outcome.PLANNED, Outcome.CONFLICT, Outcome.FAILED):
            self._keep("objects", outcome.detail)
        if outcome.outcome == Outcome.ALREADY_DONE:
            self._keep("already_migrated", lambda: {**outcome.detail(), "reason": outcome.reason or ALREADY_MIGRATED})
        if outcome.outcome == Outcome.CONFLICT:
            self._keep("conflicts", outcome.detail)
        if outcome.outcome == Outcome.FAILED:
            self._keep("failures", outcome.detail)
        if outcome.unsupported:
            self._keep("unsupported_metadata", lambda: {"container": outcome.container, "name": outcome.name,
                                                        "headers": dict(outcome.unsupported)})

    def _keep(self, name: str, detail) -> None:
        if len(self.lists[name]) < self._cap:
            self.lists[name].append(detail())

    def result(self, elapsed: float) -> dict[str, Any]:
        """The counts, per container, bytes and lists; ``changed`` is the caller's to add."""
        return {
            "counts": self.counts,
            "containers": list(self.containers.values()),
            **self.bytes,
            **self.lists,
            "duration_seconds": round(elapsed, 3),
            "mb_per_second": round(self.bytes["bytes_read"] / 1e6 / elapsed, 1) if elapsed else 0.0,
            "objects_per_second": round(self.counts["objects"] / elapsed, 1) if elapsed else 0.0,
            "progress": self.progress(elapsed).output(),
        }

    def progress(self, elapsed: float) -> Progress:
        """Objects are the unit; a conflict is neither done nor left (a person decides it)."""
        counts = self.counts
        return Progress("objects", total=counts["objects"],
                        done=counts[Outcome.COPIED] + counts[Outcome.ALREADY_DONE], failed=counts[Outcome.FAILED],
                        left=counts[Outcome.LEFT] + counts[Outcome.FAILED] + counts[Outcome.PLANNED],
                        seconds=elapsed, bytes_total=self._bytes_total, bytes_done=self._bytes_done,
                        moved=counts[Outcome.COPIED], bytes_moved=self.bytes["bytes_sent"])
