"""The executor with the api back end, on a fake Glance that re-derives tags the way Glance does."""
from __future__ import annotations

import threading
import time

import pytest
from keystoneauth1 import exceptions as ksa_exceptions

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.executor import ApiBackend, backfill
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import Journal, read_journal
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import BackfillPlanner
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.result import Report
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import Shipment
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix

PREFIXES = [StorePrefix("fast", "file:///srv/images", "config"),
            StorePrefix("cheap", "file:///srv/images2", "config"),
            StorePrefix("swift", "swift+http://svc:key@ks/v3/glance/", "config")]
PLANNER = BackfillPlanner(StoreMatcher(PREFIXES, ["fast", "cheap", "swift"]), fix_mismatched=True, backend="api")


class FakeGlance:
    """Images with locations; a PATCH of /locations keeps a tag only where Glance's rule finds none."""

    def __init__(self, images, failing=(), rederive_to=None):
        self.images = images
        self.failing = set(failing)
        self.rederive_to = rederive_to or {}
        self.patched = []
        self._lock = threading.Lock()

    def iter_images(self, page_size):
        yield from self.images

    def iter_images_by_id(self, image_ids, page_size):
        yield from (image for image in self.images if image["id"] in image_ids)

    def patch(self, image_id, operations):
        with self._lock:
            self.patched.append(image_id)
        if image_id in self.failing:
            raise CloudRequestError(f"Glance refused PATCH /images/{image_id} (HTTP 409)")
        (operation,) = operations
        assert operation["op"] == "replace" and operation["path"] == "/locations"
        locations = [{"url": loc["url"], "metadata": {**loc["metadata"],
                                                      "store": self.rederive_to.get(loc["url"], loc["metadata"].get("store"))}}
                     for loc in operation["value"]]
        image = next(image for image in self.images if image["id"] == image_id)
        image["locations"] = locations
        return image


def image(image_id, *urls_and_stores):
    return {"id": image_id, "locations": [{"url": url, "metadata": {"store": store} if store else {}}
                                          for url, store in urls_and_stores]}


def run(glance, tmp_path, image_ids=None, check_mode=False, page_size=2):
    journal = None if check_mode else Journal(str(tmp_path / "j.jsonl"), "api")
    return backfill(ApiBackend(glance, page_size, concurrency=2), PLANNER, image_ids, Report(10), journal)


def test_writes_one_patch_per_image_with_its_whole_locations_and_journals_them(tmp_path):
    glance = FakeGlance([
        image("a", ("file:///srv/images/a", None), ("cinder://x/a", None)),
        image("b", ("file:///srv/images/b", "fast")),                       # already right
        image("c", ("swift+http://svc:key@ks/v3/glance/c", None)),
        {"id": "d", "locations": []},
    ])
    report = run(glance, tmp_path)
    assert sorted(glance.patched) == ["a", "c"]
    assert report.counts["images_scanned"] == 4 and report.counts["written"] == 2
    assert report.counts["unmatched"] == 1 and report.counts["correct"] == 1
    entries = list(read_journal(report.journal))
    assert sorted(e["image_id"] for e in entries) == ["a", "c"]
    assert all(e["location_id"] is None for e in entries)
    assert "key@" not in open(report.journal).read()


def test_a_tag_glance_re_derives_is_journaled_and_reported(tmp_path):
    url = "file:///srv/images/a"
    report = run(FakeGlance([image("a", (url, None))], rederive_to={url: "cheap"}), tmp_path)
    assert report.counts["written"] == 0 and report.counts["rederived"] == 1
    assert report.problems[0]["reason"] == "Glance re-derived cheap; only backend=database can set fast"
    assert [e["image_id"] for e in read_journal(report.journal)] == ["a"]  # it did change


def test_a_failed_patch_is_one_items_problem_and_the_run_goes_on(tmp_path):
    glance = FakeGlance([image(name, (f"file:///srv/images/{name}", None)) for name in "abc"], failing={"b"})
    report = run(glance, tmp_path)
    assert (report.counts["written"], report.counts["failed"]) == (2, 1)
    assert report.problems[0]["image_id"] == "b" and "HTTP 409" in report.problems[0]["reason"]
    assert sorted(e["image_id"] for e in read_journal(report.journal)) == ["a", "c"]


def test_check_mode_plans_and_sends_nothing(tmp_path):
    glance = FakeGlance([image("a", ("file:///srv/images/a", None)), image("b", ("file:///srv/images2/b", None))])
    report = run(glance, tmp_path, check_mode=True)
    assert glance.patched == [] and report.journal is None
    # Glance's first-match rule tags images2 as fast: the api back end skips it
    assert (report.counts["planned_writes"], report.counts["skipped"]) == (1, 1)
    assert report.diff_after == {"a": {"file:///srv/images/a": {"store": "fast"}}}


def test_only_the_given_images(tmp_path):
    glance = FakeGlance([image(name, (f"file:///srv/images/{name}", None)) for name in "abc"])
    report = run(glance, tmp_path, image_ids=["b"])
    assert glance.patched == ["b"] and report.counts["images_scanned"] == 1


def test_hidden_locations_stop_the_run_with_the_fix_and_keep_the_journal_of_what_landed(tmp_path):
    glance = FakeGlance([image("a", ("file:///srv/images/a", None)), image("b", ("file:///srv/images/b", None)),
                         {"id": "c"}])
    with pytest.raises(InvalidInputError, match="use backend=database") as raised:
        run(glance, tmp_path)
    assert raised.value.details["journal"] == str(tmp_path / "j.jsonl")
    assert sorted(e["image_id"] for e in read_journal(raised.value.details["journal"])) == ["a", "b"]


def test_a_stopped_run_ships_its_journal_before_the_error_names_where_it_went(tmp_path):
    glance = FakeGlance([image("a", ("file:///srv/images/a", None)), image("b", ("file:///srv/images/b", None)),
                         {"id": "c"}])
    shipped = {}
    shipment = Shipment(put=lambda name, data: shipped.update({name: data}), run="j/run",
                        url="swift://journals/j/run", warn=print, every_entries=100)
    journal = Journal(str(tmp_path / "j.jsonl"), "api", shipment)
    with pytest.raises(InvalidInputError, match="use backend=database") as raised:
        backfill(ApiBackend(glance, 2, concurrency=2), PLANNER, None, Report(10), journal)
    assert raised.value.details["journal_url"] == "swift://journals/j/run"  # all of it: the last flush went
    assert shipped == {"j/run/00000000.jsonl": (tmp_path / "j.jsonl").read_bytes()}


class SlowAndBrokenGlance(FakeGlance):
    """``b`` fails at once with an error no translator knows; ``a`` lands 0.2 s later."""

    def patch(self, image_id, operations):
        if image_id == "b":
            raise ConnectionError("connection reset by swift+http://svc:key@ks/v3")
        time.sleep(0.2)
        return super().patch(image_id, operations)


def test_a_write_that_lands_while_another_fails_unexpectedly_is_journaled(tmp_path):
    glance = SlowAndBrokenGlance([image(name, (f"file:///srv/images/{name}", None)) for name in "ab"])
    report = run(glance, tmp_path)
    assert [e["image_id"] for e in read_journal(report.journal)] == ["a"]
    assert (report.counts["written"], report.counts["failed"]) == (1, 1)
    (problem,) = report.problems
    assert problem["image_id"] == "b" and problem["reason"].startswith("ConnectionError: connection reset")
    assert "key@" not in problem["reason"]


def test_an_sdk_error_of_one_patch_is_that_images_one_line_failure(tmp_path):
    class RefusingGlance(FakeGlance):
        def patch(self, image_id, operations):
            raise ksa_exceptions.ConnectFailure("Unable to establish connection to http://glance:9292")

    report = run(RefusingGlance([image("a", ("file:///srv/images/a", None))]), tmp_path)
    assert report.problems[0]["reason"].startswith("cannot reach the cloud: Unable to establish")


@pytest.mark.parametrize("failure", [ksa_exceptions.ConnectFailure("Unable to establish connection"),
                                     KeyError("a bug")])
def test_any_error_that_stops_the_run_names_the_journal_of_what_landed(tmp_path, failure):
    class BreaksAfterTheFirstPage(FakeGlance):
        def iter_images(self, page_size):
            yield from self.images[:2]
            raise failure

    glance = BreaksAfterTheFirstPage([image(name, (f"file:///srv/images/{name}", None)) for name in "abc"])
    with pytest.raises(StoreOpsError) as raised:
        run(glance, tmp_path)
    assert raised.value.details["journal"] == str(tmp_path / "j.jsonl")
    assert sorted(e["image_id"] for e in read_journal(raised.value.details["journal"])) == ["a", "b"]


def test_slices_of_a_limit_converge_to_one_runs_end_state_and_count_what_is_left(tmp_path):
    def images():
        return [image(name, (f"file:///srv/images/{name}", None)) for name in "abcde"]
    whole = FakeGlance(images())
    run(whole, tmp_path)
    sliced, slices = FakeGlance(images()), []
    while not slices or slices[-1].left:
        journal = Journal(str(tmp_path / f"slice{len(slices)}.jsonl"), "api")
        report = backfill(ApiBackend(sliced, 2, concurrency=2), PLANNER, None, Report(10), journal, SliceBudget(limit=2))
        slices.append(report.progress(check_mode=False))
        assert len(slices) <= 3
    assert [(p.total, p.done, p.left) for p in slices] == [(5, 2, 3), (5, 4, 1), (5, 5, 0)]
    assert sliced.images == whole.images


def test_a_spent_time_budget_writes_nothing_and_leaves_every_image_counted(tmp_path):
    glance = FakeGlance([image(name, (f"file:///srv/images/{name}", None)) for name in "abc"])
    clock = iter([0.0, 5.0, 5.0, 5.0, 5.0])
    report = backfill(ApiBackend(glance, 2, concurrency=2), PLANNER, None, Report(10),
                      Journal(str(tmp_path / "j.jsonl"), "api"), SliceBudget(max_duration=1, clock=lambda: next(clock)))
    assert glance.patched == [] and report.counts["left"] == 3 and report.counts["planned_writes"] == 0
    assert report.progress(check_mode=False).left == 3 and report.journal is None
