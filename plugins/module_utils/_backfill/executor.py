# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Location backfill and undo, acted out: read a page, plan it, apply the plan, journal it.

The back end (Glance's API or Glance's database) reads the pages and applies the writes; the
one executor in between, ``backfill``, is the same for both. In check mode it plans only.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import itertools
import time
from contextlib import closing
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Protocol

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import Journal
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import (
    CONFLICT,
    RESTORE,
    WRITE,
    BackfillPlanner,
    Location,
    LocationPlan,
    Page,
    plan_undo,
)
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.result import (
    CONFLICTS,
    FAILED,
    REDERIVED,
    WRITTEN,
    Report,
    UndoReport,
    WriteOutcome,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import translate_sdk_error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StoreOpsError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import as_finished
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import (
    GlanceDatabase,
    GlanceDatabaseSession,
    MetadataChange,
)


# applies a page's plans: the outcome of each write (the other plans give context, as the API needs)
Apply = Callable[[tuple[LocationPlan, ...]], Iterable[WriteOutcome]]


class Backend(Protocol):
    """Where locations are read and written: ``ApiBackend`` or ``DatabaseBackend``."""

    def pages(self, image_ids: list[str] | None) -> Iterator[tuple[Page, Apply]]:
        """Each page with what applies its plans (for the database, inside the page's transaction)."""


def backfill(backend: Backend, planner: BackfillPlanner, image_ids: list[str] | None, report: Report,
             journal: Journal | None, budget: SliceBudget | None = None) -> Report:
    """Every page planned into ``report``; without a journal (check mode) nothing is written.

    A page's landed writes are journaled before the back end reads on (for the database, before
    the page's transaction commits), so a run killed at any point leaves nothing unrecorded.
    The ``budget`` decides, image by image as its page is planned, which images' writes start;
    the others are counted as left, and the pages are still read to the end so the count is
    whole (a later run finds them untagged again).
    """
    started = time.monotonic()
    budget = budget or SliceBudget()
    try:
        with closing(backend.pages(image_ids)) as pages:
            for page, apply in pages:
                plans = planner.plan(page)
                writing = dict.fromkeys(plan.image_id for plan in plans if plan.action == WRITE)
                starting = set(budget.take_each(writing))
                report.add_page(page, plans, frozenset(writing) - starting)
                plans = tuple(plan for plan in plans if plan.action != WRITE or plan.image_id in starting)
                if journal is not None and any(plan.action == WRITE for plan in plans):
                    for outcome in apply(plans):
                        if outcome.landed:
                            journal.record(outcome.plan)
                        report.add_outcome(outcome)
    except Exception as err:  # pylint: disable=broad-except
        if journal is None or not journal.written:
            raise
        journal.close()  # its last shipment first, so that the error can name where all of it went
        known = _with_journal(err, journal)
        if known is err:
            raise
        raise known from err
    finally:
        if journal is not None:
            journal.close()
        report.seconds = time.monotonic() - started
    if journal is not None and journal.written:
        report.journal = journal.path
        report.journal_url = journal.result_fields().get("journal_url")
    return report


def _with_journal(err: Exception, journal: Journal) -> StoreOpsError:
    """``err`` as an expected failure that names the journal, so what did land can still be undone."""
    known = known_error(err, translate_sdk_error)
    if known is None:  # a bug stops the run too, but the journal of what landed must not be lost
        report = bug_report(err)
        known = StoreOpsError(f"{report['reason']} (a bug: please report it with its traceback)",
                              bug=report["bug"], traceback=report["traceback"])
    for key, value in journal.result_fields().items():
        known.details.setdefault(key, value)
    return known


class ApiBackend:
    """Reads images page by page; writes one PATCH per image, reads the result back."""

    def __init__(self, glance: GlanceClient, page_size: int, concurrency: int):
        self.glance = glance
        self.page_size = page_size
        self.concurrency = concurrency

    def pages(self, image_ids: list[str] | None) -> Iterator[tuple[Page, Apply]]:
        images = (self.glance.iter_images_by_id(image_ids, self.page_size) if image_ids
                  else self.glance.iter_images(self.page_size))
        while True:
            chunk = list(itertools.islice(images, self.page_size))
            if not chunk:
                return
            if any("locations" not in image for image in chunk):
                raise InvalidInputError(
                    "backend: Glance does not show image locations to these credentials "
                    "(show_multiple_locations off, or not admin); use backend=database")
            yield Page(tuple(image["id"] for image in chunk), tuple(
                Location(image["id"], location["url"], location.get("metadata") or {})
                for image in chunk for location in image["locations"])), self.apply

    def apply(self, plans: tuple[LocationPlan, ...]) -> Iterator[WriteOutcome]:
        """One PATCH of ``/locations`` per image with a write, ``concurrency`` at a time."""
        plans_of_image: dict[str, list[LocationPlan]] = {}
        for plan in plans:
            plans_of_image.setdefault(plan.image_id, []).append(plan)
        writing = (image_plans for image_plans in plans_of_image.values()
                   if any(plan.action == WRITE for plan in image_plans))
        for outcomes in as_finished(self._write, writing, self.concurrency, name="backfill"):
            yield from outcomes

    def _write(self, plans: list[LocationPlan]) -> list[WriteOutcome]:
        value = [{"url": p.url, "metadata": p.after if p.action == WRITE else p.before} for p in plans]
        writes = [plan for plan in plans if plan.action == WRITE]
        try:  # Glance takes /locations only whole
            stored = self.glance.patch(plans[0].image_id,
                                       [{"op": "replace", "path": "/locations", "value": value}])
        except Exception as err:  # pylint: disable=broad-except
            # one image's failure must not stop the others: their landed writes still get journaled
            known = known_error(err, translate_sdk_error)
            reason = bug_report(err)["reason"] if known is None else str(known)
            return [WriteOutcome(plan, FAILED, reason) for plan in writes]
        stored_stores = {loc["url"]: (loc.get("metadata") or {}).get("store")
                         for loc in stored.get("locations", [])}
        return [_api_outcome(plan, stored_stores.get(plan.url)) for plan in writes]


def _api_outcome(plan: LocationPlan, got: str | None) -> WriteOutcome:
    if got == plan.after["store"]:
        return WriteOutcome(plan, WRITTEN)
    return WriteOutcome(plan, REDERIVED,
                        f"Glance re-derived {got}; only backend=database can set {plan.after['store']}")


class DatabaseBackend:
    """Glance's ``image_locations`` table: keyset pages by id, one transaction per page.

    Each page comes with what applies its plans inside that page's transaction, which commits
    when the next page is asked for; each update only applies if the row's metadata is still
    what was read (a concurrent change wins). ``after_commit`` runs between two transactions
    (the journal ships there: a transaction never waits on the network).
    """

    def __init__(self, database: GlanceDatabase, batch_size: int, after_commit: Callable[[], None] = lambda: None):
        self.database = database
        self.batch_size = batch_size
        self.after_commit = after_commit

    def pages(self, image_ids: list[str] | None) -> Iterator[tuple[Page, Apply]]:
        after_id = 0
        with self.database.session("backfill") as session:
            while True:
                with session.transaction():
                    rows = session.location_page(after_id, self.batch_size, image_ids)
                    yield Page(tuple(dict.fromkeys(row.image_id for row in rows)), tuple(
                        Location(row.image_id, row.url, row.metadata, row.id, row.raw_metadata)
                        for row in rows)), partial(_apply_in, session)
                self.after_commit()
                if len(rows) < self.batch_size:
                    return
                after_id = rows[-1].id


def _apply_in(session: GlanceDatabaseSession, plans: tuple[LocationPlan, ...]) -> list[WriteOutcome]:
    """The page's writes in ``session``'s open transaction: WRITTEN, or CONFLICTS where the row changed."""
    writes = [plan for plan in plans if plan.action == WRITE]
    landed = session.update_metadata([
        MetadataChange(plan.location_id, plan.location.version, plan.after) for plan in writes])
    return [WriteOutcome(plan, WRITTEN) if plan.location_id in landed
            else WriteOutcome(plan, CONFLICTS, "changed by someone else since it was read")
            for plan in writes]


def undo(database: GlanceDatabase, entries: Iterable[dict[str, Any]], image_ids: list[str] | None,
         batch_size: int, report: UndoReport, check_mode: bool) -> UndoReport:
    """Put back each journaled location's metadata, newest first, if it is still as written.

    ``batch_size`` entries at a time, each batch one SELECT and its own short transaction,
    so Glance's own writes never wait for more than one batch.
    """
    wanted = (entry for entry in entries if not image_ids or entry["image_id"] in image_ids)
    with database.session("undo") as session:
        while True:
            batch = list(itertools.islice(wanted, batch_size))
            if not batch:
                return report
            with session.transaction():
                rows = session.image_locations([entry["image_id"] for entry in batch])
                for step in plan_undo(batch, rows):
                    if step.action == RESTORE and not check_mode and not session.update_metadata([step.change]):
                        report.add(step, CONFLICT)  # changed between our read and write
                    else:
                        report.add(step)
