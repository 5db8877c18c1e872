# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a store migration plan: copy-image, wait, verify, and only then remove the source copy.

Each image is rechecked against Glance before its first step, so the plan's view can be stale
without harm. A target copy that fails data verification is removed (the source copy is
still there); a source copy is removed only after its target copy was verified. One image's
failure does not stop the others; an exception no layer expected is recorded as a bug, with its
traceback, in the image's outcome and in the journal.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import translate_sdk_error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    StoreOpsError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import (
    JsonlJournal,
    Shipment,
    utc_stamp,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import as_finished
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import (
    csv_stores,
    image_stores,
    tagged_locations,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import CHUNK
from ansible_collections.storeops.openstack.plugins.module_utils._storage.locations import open_driver, parse_location
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.options import (
    DATA,
    DOWNLOAD,
    MigrationOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    ACTIONS,
    CONFIRM,
    COPY,
    DONE,
    FINISH,
    RETRY,
    UNCONFIRMED,
    MigrationPlan,
    PlannedImage,
    Selection,
    recheck,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import (
    ALREADY_DONE,
    FAILED,
    IN_PROGRESS,
    MIGRATED,
    SKIPPED,
    MigrationResult,
    Outcome,
)

SOURCE, TARGET = "source", "target"  # whose access opens a store's driver
JOURNAL_KIND = "storeops.openstack.glance_store_migrate"
PAGE_SIZE = 200
# Glance's copy-image compares the copied bytes with os_hash_value and fails with this
_HASH_REFUSED = "os_hash_value of uploaded data is different"
TASK_SETTLE_SECONDS = 60
START_ATTEMPTS = 3
RERUN_FIX = "re-run: the next run picks the image up where this one stopped"
BUG_FIX = ("this is a bug in storeops.openstack: report it with the traceback; a source copy is only "
           "removed after its target copy was verified, and the next run picks the image up again")


def selected_images(glance: GlanceClient, selection: Selection) -> Iterator[dict[str, Any]]:
    """The listing the plan is made from, oldest first."""
    if selection.image_ids:  # listed whatever their state: each one left out is reported
        return glance.iter_images_by_id(list(selection.image_ids), PAGE_SIZE)
    return glance.iter_images(PAGE_SIZE, **selection.listing_filters())


def open_journal(path: str, options: MigrationOptions, shipment: Shipment | None = None) -> JsonlJournal:
    """The run's journal; its file appears with the first step."""
    return JsonlJournal(path, {"journal": JOURNAL_KIND, "version": 1, "source": options.source,
                               "target": options.target, "verification": options.verify}, shipment)


def hash_stream(stream, algo: str, sink: Callable[[bytes], None] | None = None) -> tuple[str, int]:
    """(hex digest, size) of what ``stream`` reads, each chunk handed to ``sink`` on the way."""
    digest, size = hashlib.new(algo), 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return digest.hexdigest(), size
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)


class _ChunkStream:
    """An iterator of byte chunks read as a stream (``read`` hands out one chunk a call)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks

    def read(self, _size: int = -1) -> bytes:
        for chunk in self._chunks:
            if chunk:  # an empty chunk is no end of the stream
                return chunk
        return b""


class StepFailed(StoreOpsError):
    """One image's migration stopped; ``fix`` says what the operator can do."""

    def __init__(self, message: str, fix: str = "", outcome: str = FAILED):
        super().__init__(message)
        self.fix = fix
        self.outcome = outcome


class Migrator:
    def __init__(self, glance: GlanceClient, options: MigrationOptions, matcher: StoreMatcher,
                 journal: JsonlJournal | None, clock: Callable[[], float] = time.monotonic):
        self.in_budget: Callable[[], bool] = lambda: True  # the time budget of the run going on
        self.glance = glance
        self.options = options
        self.matcher = matcher
        self.journal = journal
        self.clock = clock
        self._drivers: dict[tuple, Any] = {}
        self._drivers_lock = threading.Lock()

    # -- the run ----------------------------------------------------------------------------

    def run(self, plan: MigrationPlan, orphans: tuple[str, ...] = ()) -> MigrationResult:
        """Remove the ``orphans``, then apply the plan's items in order, ``concurrency`` at a
        time, within the time budget."""
        started, budget = self.clock(), self.options.max_duration
        removed, kept = self.remove_orphans(orphans)
        queue = iter(plan.planned)

        def in_budget() -> bool:
            return budget is None or self.clock() - started < budget

        self.in_budget = in_budget
        try:
            ended = tuple(as_finished(self._migrate, queue, self.workers(), in_budget, name="image"))
        finally:
            self._close_drivers()
        outcomes = tuple(end for end in ended if isinstance(end, Outcome))
        given_back = tuple(end for end in ended if isinstance(end, PlannedImage))
        return MigrationResult(self.options, plan, ran=True, outcomes=outcomes,
                               # out of time: what is queued, or was handed back unstarted, stays for the next run
                               unstarted=given_back + tuple(queue),
                               seconds=self.clock() - started,
                               journal=self.journal.result_fields() if self.journal else {},
                               orphans=removed, orphans_kept=kept)

    def workers(self) -> int:
        """Images taken on at once."""
        return self.options.concurrency

    def _migrate(self, item: PlannedImage) -> Outcome:
        began = self.clock()
        try:
            outcome = self._apply(*self._recheck(item))
        except StepFailed as err:
            outcome = Outcome(item, err.outcome, redact_text(str(err)), err.fix)
        except Exception as err:  # pylint: disable=broad-except
            # one image's surprise must not stop the others: the run reports it
            known = known_error(err, translate_sdk_error)
            if known is None:
                report = bug_report(err)
                outcome = Outcome(item, FAILED, report["reason"], BUG_FIX,
                                  bug=report["bug"], traceback=report["traceback"])
            else:
                outcome = Outcome(item, FAILED, redact_text(str(known)), RERUN_FIX)
        outcome = replace(outcome, seconds=self.clock() - began)
        self._record(item.image_id, "result", outcome.outcome, outcome.seconds, outcome.reason,
                     bug=outcome.bug, traceback=outcome.traceback)
        return outcome

    def _recheck(self, item: PlannedImage) -> tuple[PlannedImage, dict[str, Any] | None]:
        """The item brought up to Glance's state now, and that state: the plan may be stale."""
        image = self.glance.image(item.image_id)
        now = recheck(item, image, self.options.source, self.options.target, self.matcher)
        if now.action != item.action:
            self._record(item.image_id, "recheck", f"{now.action}, not {item.action} as planned", 0.0, now.reason)
        return now, image

    def _apply(self, item: PlannedImage, image: dict[str, Any] | None) -> Outcome:
        """The item's step and every one after it, to the source copy's removal."""
        if item.action == DONE:
            return Outcome(item, ALREADY_DONE, item.reason)
        if item.action not in ACTIONS:  # gone, untagged or outside since the plan
            return Outcome(item, SKIPPED, item.reason)
        if item.action == CONFIRM:
            return self._confirm_stopped_run(item)
        copied = 0
        if item.action in (COPY, RETRY):
            self._start_copy(item.image_id, item.action)
            copied = item.size
        if item.action != FINISH:
            image = self._wait_for_target(item.image_id, retried=item.action == RETRY)
        return self._finish(item, image, copied)

    def _finish(self, item: PlannedImage, image: dict[str, Any], copied: int, read_back: bool = False) -> Outcome:
        """Verify the target copy (``read_back``: its data was already read back by this run),
        then remove the source copy (when asked to)."""
        self._verify(image, item, read_back)
        if not self.options.delete_source or self.options.source not in image_stores(image):
            outcome = Outcome(item, MIGRATED if copied else ALREADY_DONE, "verified", bytes_copied=copied)
        else:
            if self.options.verify == DOWNLOAD:  # owed from now on, whatever stops this run
                self._mark_unconfirmed(item.image_id, image)
            self._remove_source_copy(image)
            outcome = Outcome(item, MIGRATED, f"verified ({self.options.verify}); source copy removed",
                              bytes_copied=copied)
        unconfirmed = self._confirm_download(item) if self.options.verify == DOWNLOAD else ""
        return replace(outcome, reason=f"{outcome.reason}; {unconfirmed}") if unconfirmed else outcome

    def _confirm_download(self, item: PlannedImage) -> str:
        """verification=download: Glance serves the image, downloaded through it and hashed; or
        why that was not done. The target's bytes were already proven (against os_hash_value, so
        the image has one), so a failure here says so loudly and changes nothing."""
        if not self.options.delete_source:
            return "download not confirmed: Glance may serve the kept source copy, which proves nothing"
        self._download(item.image_id)
        return ""

    def _download(self, image_id: str) -> None:
        """The image downloaded through Glance and hashed, then its UNCONFIRMED mark removed."""
        began = self.clock()
        image = self.glance.image(image_id) or {}
        algo, expected = image.get("os_hash_algo"), image.get("os_hash_value")
        got = hash_stream(_ChunkStream(self.glance.download(image_id)), algo)
        if got != (expected, image.get("size")):
            raise StepFailed(
                f"Glance serves other bytes ({got[1]} bytes) than os_hash_value after the migration, though "
                f"the {self.options.target} copy was verified (stores: {image.get('stores')})",
                "read Glance's log for this image; the target copy is verified and registered")
        if UNCONFIRMED in image:
            self.glance.patch(image_id, [{"op": "remove", "path": f"/{UNCONFIRMED}"}])
        self._record(image_id, "download", "Glance serves the verified bytes", self.clock() - began)

    def _mark_unconfirmed(self, image_id: str, image: dict[str, Any]) -> None:
        began = self.clock()
        self.glance.patch(image_id, [{"op": "replace" if UNCONFIRMED in image else "add",
                                      "path": f"/{UNCONFIRMED}", "value": self.options.target}])
        self._record(image_id, "mark", f"{UNCONFIRMED}={self.options.target}", self.clock() - began)

    def _confirm_stopped_run(self, item: PlannedImage) -> Outcome:
        """An image an earlier run moved and was stopped before Glance's download confirmed it."""
        if self.options.verify != DOWNLOAD:
            return Outcome(item, ALREADY_DONE, item.reason,
                           "re-run with verification=download to confirm what Glance serves")
        self._download(item.image_id)
        return Outcome(item, MIGRATED, "download through Glance confirmed, which a stopped run had not")

    def orphans(self, selection: Selection) -> tuple[str, ...]:
        """Target objects a killed run left for images Glance no longer has, of ``selection``'s
        shard: copy-image leaves none of this collection's (Glance cleans up its own)."""
        return ()

    def remove_orphans(self, names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Remove what ``orphans`` listed: (the names removed, "<name>: why" of each kept)."""
        return (), ()

    # -- steps ------------------------------------------------------------------------------

    def _start_copy(self, image_id: str, step: str) -> None:
        began = self.clock()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self.glance.start_import(image_id, {"name": "copy-image"}, [self.options.target], True)
                outcome = "started"
                break
            except CloudRequestError as err:
                if err.status_code == 409:
                    outcome = "already held by another import (409): waiting for it"
                    break
                # Glance's database deadlocks under concurrent imports (HTTP 500). Asking again is
                # safe: either the copy starts, or one did start and its lock answers 409.
                if err.status_code is None or err.status_code < 500 or attempt == START_ATTEMPTS:
                    raise
                time.sleep(self.options.poll_interval * attempt)
        self._record(image_id, step, outcome, self.clock() - began)

    def _wait_for_target(self, image_id: str, retried: bool) -> dict[str, Any]:
        target = self.options.target
        began = self.clock()
        deadline = began + self.options.copy_timeout
        while True:
            image = self.glance.image(image_id)
            if image is None or image.get("status") != "active":
                raise StepFailed(f"image became {image and image.get('status') or 'deleted'} "
                                 "while it was being copied", "check the image in Glance")
            if target in image_stores(image):
                self._record(image_id, "wait", "copied", self.clock() - began)
                return image
            importing = target in csv_stores(image.get("os_glance_importing_to_stores"))
            if target in csv_stores(image.get("os_glance_failed_import")) and not importing:
                why = self._failure_reason(image_id)
                if retried or _HASH_REFUSED in why:
                    raise self._copy_failed(image_id, why)
                self._record(image_id, "wait", "copy failed; retrying once", self.clock() - began, why)
                self._start_copy(image_id, "retry")
                retried = True
            elif self.clock() > deadline:
                raise StepFailed(f"still copying into {target} after {self.options.copy_timeout:.0f}s",
                                 "re-run later: the copy goes on in Glance and is not started twice",
                                 outcome=IN_PROGRESS)
            time.sleep(self.options.poll_interval)

    def _failure_reason(self, image_id: str) -> str:
        """Glance's message for a failed copy. The image shows the failure before its task
        has finished failing, and only a finished task carries the message."""
        deadline = self.clock() + TASK_SETTLE_SECONDS
        while True:
            task = self.glance.latest_task(image_id)
            if task is None or task.get("status") in ("failure", "success") or self.clock() > deadline:
                return redact_text((task or {}).get("message") or "no reason given")
            time.sleep(self.options.poll_interval)

    def _copy_failed(self, image_id: str, why: str) -> StepFailed:
        source, target = self.options.source, self.options.target
        if _HASH_REFUSED in why:
            return StepFailed(
                f"Glance refused the copy into {target}: the {source} copy's data does not match "
                f"the image's os_hash_value ({why})",
                f"the {source} copy is corrupt: restore it from a backup or re-upload the image; "
                f"Glance leaves the refused copy in {target} (named {image_id}; for rbd with its "
                "protected snapshot): remove it before migrating this image again")
        return StepFailed(f"copy-image into {target} failed twice "
                          f"(os_glance_failed_import; Glance's task says: {why})",
                          f"read Glance's log for image {image_id}; the {source} copy is untouched")

    def _verify(self, image: dict[str, Any], item: PlannedImage, read_back: bool = False) -> None:
        began = self.clock()
        target = self.options.target
        if target not in image_stores(image):
            raise StepFailed(f"{target} is not in the image's stores", "re-run")
        if item.hash_value and image.get("os_hash_value") != item.hash_value:
            raise StepFailed("os_hash_value changed during the migration",
                             "find out who changed the image; nothing was removed")
        locations = image.get("locations")
        tagged = tagged_locations(image, target)
        if locations is not None and not tagged:
            raise StepFailed(f"no location is tagged with {target}", "run glance_location_backfill")
        if self.options.verify in (DATA, DOWNLOAD) and not read_back:  # a second read would prove nothing new
            self._verify_data(image, item, tagged)
        self._record(item.image_id, "verify", f"{self.options.verify} ok", self.clock() - began)

    def _verify_data(self, image: dict[str, Any], item: PlannedImage, tagged: list[dict]) -> None:
        if not tagged:
            raise StepFailed("verification=data needs the image's locations, which Glance does not show "
                             "to these credentials", "use admin credentials, or verification=metadata")
        algo, expected = image.get("os_hash_algo"), image.get("os_hash_value")
        if not algo or not expected:
            raise StepFailed("the image has no os_hash_value to verify against",
                             "verification=metadata, or re-upload the image")
        digest, size = self._hash_location(tagged[0]["url"], algo)
        if digest == expected and size == image.get("size"):
            return
        # the source copy is still there: drop the bad copy so a later run copies afresh
        self.glance.delete_from_store(self.options.target, item.image_id)
        self._record(item.image_id, "verify", "data mismatch: target copy removed", 0.0)
        raise StepFailed(
            f"the {self.options.target} copy's {algo} or size ({size} bytes) differs from the "
            f"image's os_hash_value; the target copy was removed and the source kept",
            f"check the {self.options.source} copy's data (it may be corrupt): "
            "restore it from a backup or re-upload the image")

    def _hash_location(self, url: str, algo: str) -> tuple[str, int]:
        kind, container, path = parse_location(url)
        with self._driver(kind, container).reader(path) as stream:
            return hash_stream(stream, algo)

    def _driver(self, kind: str, container: str, role: str = TARGET):
        """The driver of a container of the source or the target store, with that store's access:
        an rbd source may be another cluster than the target."""
        # one connection per store and back end, shared by the workers (librados is thread-safe)
        access = self.options.source_access if role == SOURCE else self.options.access
        with self._drivers_lock:
            if (role, kind, container) not in self._drivers:
                self._drivers[role, kind, container] = open_driver(kind, container, access or {})
            return self._drivers[role, kind, container]

    def _close_drivers(self) -> None:
        for driver in self._drivers.values():
            driver.close()

    def _remove_source_copy(self, image: dict[str, Any]) -> None:
        """The source copy's location removed through Glance, which deletes what is left of its bytes."""
        began, image_id = self.clock(), image["id"]
        removed_here = self._remove_source_bytes(image)
        self.glance.delete_from_store(self.options.source, image_id)  # 404: another run's removal
        after = self.glance.image(image_id)
        if after is None or self.options.source in image_stores(after):
            raise StepFailed(f"Glance still lists {self.options.source} after the delete",
                             "re-run; the target copy is verified")
        self._record(image_id, "remove_source", "removed", self.clock() - began, removed_here)

    def _remove_source_bytes(self, image: dict[str, Any]) -> str:
        """Delete the verified image's source bytes ahead of Glance, where that is faster; what was
        deleted, for the journal. copy-image leaves it all to Glance."""
        return ""

    def _record(self, image_id: str, step: str, outcome: str, seconds: float, detail: str = "",
                **extra: str) -> None:
        if self.journal is None:
            return
        entry = {"image": image_id, "step": step, "outcome": outcome, "seconds": round(seconds, 3),
                 "time": utc_stamp()}
        if detail:
            entry["detail"] = detail
        entry.update({key: value for key, value in extra.items() if value})
        self.journal.write(entry)
