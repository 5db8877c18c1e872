# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a store migration did to each image, and what the module returns: the run's or, in check
mode, the plan's.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import Progress
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.options import MigrationOptions
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    MigrationPlan,
    PlannedImage,
)

MIGRATED, ALREADY_DONE, SKIPPED, FAILED, IN_PROGRESS = (
    "migrated", "already_done", "skipped", "failed", "in_progress")
LEFT_FOR_LATER = (FAILED, IN_PROGRESS)  # outcomes a later run picks up where this one stopped


@dataclass(frozen=True)
class Outcome:
    item: PlannedImage
    outcome: str
    reason: str = ""
    fix: str = ""
    bytes_copied: int = 0
    seconds: float = 0.0
    bug: str = ""        # set only for an exception no layer expected: its type,
    traceback: str = ""  # and where it came from

    def detail(self) -> dict[str, Any]:
        optional = {"reason": self.reason, "fix": self.fix, "bug": self.bug, "traceback": self.traceback}
        return {"id": self.item.image_id, "name": self.item.name, "size": self.item.size,
                "outcome": self.outcome, "seconds": round(self.seconds, 2),
                **{key: value for key, value in optional.items() if value}}


@dataclass(frozen=True)
class MigrationResult:
    """A run's outcomes, or (``ran`` false: check mode, or nothing to do) only its plan."""

    options: MigrationOptions
    plan: MigrationPlan
    ran: bool = False
    outcomes: tuple[Outcome, ...] = ()
    unstarted: tuple[PlannedImage, ...] = ()  # what the time budget left for a later run
    seconds: float = 0.0
    journal: dict[str, str] = field(default_factory=dict)  # ``journal`` (its path) once written, ``journal_url``
    orphans: tuple[str, ...] = ()             # a killed run's leftovers: removed, or (not ran) to remove
    orphans_kept: tuple[str, ...] = ()        # "<name>: why" of each that could not be removed

    @classmethod
    def of_plan(cls, options: MigrationOptions, plan: MigrationPlan,
                orphans: tuple[str, ...] = ()) -> MigrationResult:
        return cls(options, plan, unstarted=plan.planned, orphans=orphans)

    @property
    def changed(self) -> bool:
        if self.orphans:
            return True
        if not self.ran:
            return bool(self.plan.planned)
        return any(outcome.outcome == MIGRATED for outcome in self.outcomes)

    @property
    def remaining(self) -> list[PlannedImage]:
        left = [outcome.item for outcome in self.outcomes if outcome.outcome in LEFT_FOR_LATER]
        return left + list(self.unstarted) + list(self.plan.over_limit)

    @property
    def bytes_copied(self) -> int:
        return sum(outcome.bytes_copied for outcome in self.outcomes)

    def counts(self) -> dict[str, int]:
        plan = self.plan
        counts = {"selected": len(plan.planned) + len(plan.over_limit) + plan.done + len(plan.untagged),
                  "planned": len(plan.planned), MIGRATED: 0, ALREADY_DONE: plan.done,
                  SKIPPED: len(plan.skipped), FAILED: 0, IN_PROGRESS: 0, "untagged": len(plan.untagged),
                  "remaining": len(self.remaining)}
        for outcome in self.outcomes:
            counts[outcome.outcome] += 1
        return counts

    def progress(self) -> Progress:
        """Images are the unit; the total counts the untagged ones too (a backfill makes them movable)."""
        plan, counts = self.plan, self.counts()
        moved = [outcome.item for outcome in self.outcomes if outcome.outcome in (MIGRATED, ALREADY_DONE)]
        every = (*plan.planned, *plan.over_limit, *plan.untagged)
        return Progress("images", total=counts["selected"], done=plan.done + len(moved), failed=counts[FAILED],
                        left=counts["selected"] - plan.done - len(moved), seconds=self.seconds,
                        bytes_total=plan.bytes_done + sum(item.size for item in every),
                        bytes_done=plan.bytes_done + sum(item.size for item in moved),
                        moved=counts[MIGRATED], bytes_moved=self.bytes_copied)

    def failure(self) -> str | None:
        """The module's failure message when an image failed, else None."""
        failed = [outcome for outcome in self.outcomes if outcome.outcome == FAILED]
        if not failed:
            return None
        first = failed[0]
        return (f"{len(failed)} of {len(self.outcomes)} images failed to migrate; first: "
                f"{first.item.image_id}: {first.reason} (fix: {first.fix})")

    def output(self, notes: list[str], max_details: int) -> dict[str, Any]:
        """The module's result; each list holds at most ``max_details`` images."""
        plan, options, copied = self.plan, self.options, self.bytes_copied
        output = {
            "changed": self.changed,
            "source_store": options.source, "target_store": options.target,
            "verification": options.verify, "delete_source": options.delete_source,
            "method": options.method, "route": options.route,
            "counts": self.counts(),
            "bytes_planned": plan.bytes_planned, "bytes_copied": copied,
            "plan": [item.summary() for item in plan.planned[:max_details]],
            "images": [outcome.detail() for outcome in self.outcomes[:max_details]],
            "skipped": list(plan.skipped[:max_details]),
            "untagged": [item.summary() for item in plan.untagged[:max_details]],
            "remaining": [item.image_id for item in self.remaining[:max_details]],
            "duration_seconds": round(self.seconds, 3),
            "mb_per_second": round(copied / 1e6 / self.seconds, 1) if self.seconds else 0.0,
            "notes": notes + [f"orphan not removed: {kept}" for kept in self.orphans_kept],
            "orphans": list(self.orphans),
            "progress": self.progress().output(),
        }
        output.update(self.journal)
        return output
