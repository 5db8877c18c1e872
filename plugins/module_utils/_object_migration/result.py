# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one object's migration came to: its outcome, the bytes moved, and what happened to its source.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import PLAIN


class Outcome:
    """What became of one object: ``ObjectResult.outcome`` is one of these."""

    COPIED = "copied"
    ALREADY_DONE = "already_done"  # its copy was current
    PLANNED = "planned"  # check mode: it would be copied
    CONFLICT = "conflict"  # someone else wrote its key
    FAILED = "failed"
    LEFT = "left"  # to be copied, but the run's limit or max_duration did not start it
    ALL = (COPIED, ALREADY_DONE, PLANNED, CONFLICT, FAILED, LEFT)


@dataclass(frozen=True)
class ObjectResult:
    container: str
    name: str
    bucket: str
    outcome: str
    size: int = 0
    kind: str = PLAIN
    bytes_sent: int = 0
    bytes_read: int = 0
    bytes_resumed: int = 0
    upload_id: str | None = None
    md5: str | None = None
    source_deleted: bool = False
    proof: str = ""
    segments_kept: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""
    fix: str = ""
    traceback: str = ""  # set only for a bug: an exception no layer expected
    unsupported: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def detail(self) -> dict[str, Any]:
        detail = {"container": self.container, "name": self.name, "bucket": self.bucket,
                  "outcome": self.outcome, "size": self.size, "kind": self.kind}
        if self.outcome == Outcome.COPIED:
            detail.update(md5=self.md5, bytes_sent=self.bytes_sent, bytes_resumed=self.bytes_resumed,
                          seconds=round(self.seconds, 3))
        optional = {"upload_id": self.upload_id, "source_deleted": self.source_deleted,
                    "proof": self.proof, "reason": self.reason, "fix": self.fix, "traceback": self.traceback,
                    "segments_kept": [{"segment": name, "reason": why} for name, why in self.segments_kept.items()],
                    "unsupported_metadata": dict(self.unsupported)}
        detail.update({key: value for key, value in optional.items() if value})
        return detail
