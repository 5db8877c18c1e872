"""swift_object_migrate's report: every outcome counted, only the first max_details kept."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.report import ObjectReport
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.result import ObjectResult, Outcome


def test_outcomes_beyond_the_cap_are_counted_not_kept():
    report = ObjectReport({"a": "bucket-a", "b": "bucket-b"}, {"a": True, "b": False}, cap=3)
    for number in range(1000):
        outcome = [Outcome.COPIED, Outcome.ALREADY_DONE, Outcome.FAILED][number % 3]
        report.add(ObjectResult("a" if number % 2 else "b", f"o{number}", "bucket", outcome, size=10,
                                bytes_read=10 if outcome == Outcome.COPIED else 0, unsupported={"x-delete-at": "1"}))
    result = report.result(elapsed=2.0)
    assert result["counts"] == {"objects": 1000, "copied": 334, "already_done": 333, "planned": 0, "conflict": 0,
                                "failed": 333, "left": 0, "source_deleted": 0, "segments_kept": 0, "unsupported_metadata": 1000}
    assert [len(result[name]) for name in ("objects", "already_migrated", "failures", "unsupported_metadata")] \
        == [3, 3, 3, 3]
    assert [o["name"] for o in result["objects"]] == ["o0", "o2", "o3"]  # the first copied or failed
    assert result["already_migrated"][0]["reason"] == "already migrated: same source ETag and size"
    assert result["bytes_read"] == 3340 and result["bytes_planned"] == 3340
    assert result["objects_per_second"] == 500.0
    assert [(c["container"], c["objects"], c["bucket_created"]) for c in result["containers"]] == \
        [("a", 500, True), ("b", 500, False)]


def test_progress_counts_the_whole_job_in_objects_and_bytes():
    report = ObjectReport({"a": "bucket-a"}, {"a": False}, cap=3)
    for outcome, size, sent in [(Outcome.COPIED, 100, 100), (Outcome.ALREADY_DONE, 50, 0), (Outcome.LEFT, 30, 0),
                                (Outcome.FAILED, 20, 5), (Outcome.CONFLICT, 7, 0)]:
        report.add(ObjectResult("a", outcome, "bucket-a", outcome, size=size, bytes_sent=sent))
    assert report.result(elapsed=2.0)["progress"] == {
        "unit": "objects", "total": 5, "done": 2, "failed": 1, "left": 2, "seconds": 2.0,
        "bytes_total": 207, "bytes_done": 150, "moved": 1, "bytes_moved": 105}
