# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backfill or undo run found and did, and the module result made of it.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import (
    ALREADY_RESTORED,
    CONFLICT,
    MISSING_LOCATION,
    RESTORE,
    SKIP,
    WRITE,
    BackfillPlanner,
    LocationPlan,
    Page,
    UndoStep,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import Progress
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import (
    CORRECT,
    MISSING,
    MISTAGGED,
    UNMATCHED,
)

WRITTEN, REDERIVED, CONFLICTS, FAILED = "written", "rederived", "conflicts", "failed"


@dataclass(frozen=True)
class WriteOutcome:
    """How one planned write ended; ``landed`` ones changed the location and are journaled."""

    plan: LocationPlan
    kind: str
    reason: str = ""

    @property
    def landed(self) -> bool:
        return self.kind in (WRITTEN, REDERIVED)


@dataclass
class Report:
    """Counts of every category and action, and the first ``max_details`` of each kind."""

    max_details: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("images_scanned", "locations_scanned", CORRECT, MISSING, MISTAGGED, UNMATCHED,
         "glance_would_get_wrong", "planned_writes", "left", "skipped", WRITTEN, REDERIVED,
         CONFLICTS, FAILED), 0))
    details: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    diff_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    diff_after: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal: str | None = None  # the journal's path, once something was written to it
    journal_url: str | None = None  # where it was shipped, once all of it was
    seconds: float = 0.0
    _images: set[str] = field(default_factory=set, repr=False)
    _planned_images: set[str] = field(default_factory=set, repr=False)
    _left_images: set[str] = field(default_factory=set, repr=False)     # the budget did not start them
    _failed_images: set[str] = field(default_factory=set, repr=False)

    def add_page(self, page: Page, plans: tuple[LocationPlan, ...], left: frozenset[str] = frozenset()) -> None:
        """The page's plans; the writes of the images in ``left`` are left for a later run."""
        self._images.update(page.image_ids)
        self.counts["images_scanned"] = len(self._images)
        for plan in plans:
            self.add(plan, plan.image_id in left)

    def add(self, plan: LocationPlan, left: bool = False) -> None:
        self.counts["locations_scanned"] += 1
        self.counts[plan.verdict.category] += 1
        self.counts["glance_would_get_wrong"] += plan.verdict.glance_would_get_wrong
        if plan.action == WRITE and left:
            self.counts["left"] += 1
            self._left_images.add(plan.image_id)
        elif plan.action == WRITE:
            self._planned_images.add(plan.image_id)
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

    def add_outcome(self, outcome: WriteOutcome) -> None:
        if outcome.kind == WRITTEN:
            self.counts[WRITTEN] += 1
        else:
            self.problem(outcome.kind, outcome.plan, outcome.reason)

    def problem(self, kind: str, plan: LocationPlan, reason: str) -> None:
        self.counts[kind] += 1
        if kind in (FAILED, CONFLICTS):  # a later run plans them again
            self._failed_images.add(plan.image_id)
        self._keep(self.problems, {**plan.detail(), "outcome": kind, "reason": reason})

    def _keep(self, bucket: list, item: dict) -> None:
        if len(bucket) < self.max_details:
            bucket.append(item)

    def progress(self, check_mode: bool) -> Progress:
        """Images are the unit: an image is done once none of its locations needs a write."""
        unfinished = self._left_images | (self._planned_images if check_mode else self._failed_images)
        finished = set() if check_mode else self._planned_images - self._failed_images
        return Progress("images", total=len(self._images), done=len(self._images - unfinished),
                        failed=len(self._failed_images), left=len(unfinished), seconds=self.seconds,
                        moved=len(finished))


def backfill_result(report: Report, planner: BackfillPlanner, notes: list[str], check_mode: bool,
                    diff: bool) -> dict[str, Any]:
    """The module's result: check mode reports the plan, a real run what it wrote."""
    changed = report.counts["planned_writes" if check_mode else WRITTEN] > 0
    result = {
        "changed": changed,
        "backend": planner.backend,
        "counts": report.counts,
        "details": report.details,
        "unmatched": report.unmatched,
        "problems": report.problems,
        "notes": notes,
        "store_prefixes": [{"store": p.store, "url_prefix": redact_text(p.prefix), "source": p.source}
                           for p in planner.matcher.prefixes],
        "duration_seconds": round(report.seconds, 3),
        "images_per_second": (round(report.counts["images_scanned"] / report.seconds, 1)
                              if report.seconds else None),
        "progress": report.progress(check_mode).output(),
    }
    if report.journal is not None:
        result["journal"] = report.journal
    if report.journal_url is not None:
        result["journal_url"] = report.journal_url
    if changed and diff:
        result["diff"] = {"before": report.diff_before, "after": report.diff_after}
    return result


_UNDO_COUNTS = {RESTORE: "restored", ALREADY_RESTORED: "already_restored", CONFLICT: "conflicts",
                MISSING_LOCATION: "missing"}
_UNDO_REASONS = {CONFLICT: "changed since the run; left as is", MISSING_LOCATION: "location no longer exists"}


@dataclass
class UndoReport:
    """Counts of what undo did with the journal's entries, and the first ``max_details`` problems."""

    max_details: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_UNDO_COUNTS.values(), 0))
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: UndoStep, action: str | None = None) -> None:
        """``action`` overrides the step's when acting on it turned out otherwise."""
        action = action or step.action
        self.counts[_UNDO_COUNTS[action]] += 1
        if action in _UNDO_REASONS and len(self.problems) < self.max_details:
            self.problems.append({"image_id": step.entry["image_id"], "url": step.entry["url"],
                                  "reason": _UNDO_REASONS[action]})

    def module_result(self) -> dict[str, Any]:
        return {"changed": self.counts["restored"] > 0, "counts": self.counts, "problems": self.problems,
                "details": [], "unmatched": []}
