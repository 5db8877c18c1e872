"""The maintenance report's summary of stage results."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.filter.maintenance_summary import maintenance_summary

CATALOG = {"changed": 1, "failed": 1, "images": [
    {"name": "cirros", "changed": True, "actions": [{"action": "create"}],
     "store_outcomes": {"fast": "uploaded", "ceph": "copied"}, "image": {"size": 4000},
     "invocation": {"module_args": {"filename": "planted-in-the-invocation"}}},
    {"name": "tools", "changed": False},
    {"name": "broken", "failed": True, "msg": "filename: no such file"},
]}
MIGRATION = {"source_store": "swift", "target_store": "ceph", "bytes_copied": 1000,
             "counts": {"migrated": 1, "already_done": 2, "failed": 0, "remaining": 0},
             "images": [{"id": "i1", "name": "a", "outcome": "migrated", "reason": "verified"}],
             "untagged": [], "left_after_run": 0, "mb_per_second": 1.5}


def test_stages_report_changes_failures_with_fixes_and_bytes():
    summary = maintenance_summary({"catalog": CATALOG, "migration": MIGRATION, "backfill": None},
                                  durations={"catalog": 2.345})
    catalog, migration = summary["stages"]
    assert catalog["status"] == "failed" and catalog["changed"] == 1
    assert catalog["changes"] == ["cirros: create (ceph copied, fast uploaded)"]
    assert catalog["failures"][0]["what"] == "broken" and catalog["failures"][0]["fix"]
    assert catalog["bytes_moved"] == 4000 and catalog["duration_seconds"] == 2.3
    assert migration["status"] == "changed" and migration["bytes_moved"] == 1000
    assert summary["totals"] == {"changed": 2, "bytes_moved": 5000, "remaining": 1, "failed": 1}
    assert summary["nothing_left_to_do"] is False
    assert "planted-in-the-invocation" not in repr(summary)  # only chosen fields, never the invocation
    assert "invocation" not in repr(summary)


def test_a_converged_run_has_nothing_left_to_do():
    quiet = {"catalog": {"changed": 0, "failed": 0, "images": [{"name": "cirros", "changed": False}]},
             "backfill": {"counts": {"written": 0, "skipped": 0, "failed": 0}},
             "migration": {**MIGRATION, "counts": {"migrated": 0, "already_done": 3}, "images": [],
                           "bytes_copied": 0},
             "verify": {"untagged_locations": 0, "images_left_in_source_store": 0},
             "report": None}
    summary = maintenance_summary(quiet)
    assert [s["status"] for s in summary["stages"]] == ["unchanged"] * 4
    assert summary["nothing_left_to_do"] is True


def test_verification_findings_need_attention_and_switched_off_stages_show():
    summary = maintenance_summary({"backfill": {"skipped": True}, "verify": {"untagged_locations": 3}})
    backfill, verify = summary["stages"]
    assert backfill["status"] == "skipped"
    assert verify["status"] == "attention" and verify["remaining"] == 3
    assert summary["nothing_left_to_do"] is False


def test_a_migration_that_left_out_named_images_is_summarised_not_switched_off():
    # glance_store_migrate's ``skipped`` is a list of images; only a skipped task's is True
    left_out = {**MIGRATION, "skipped": [{"id": "i9", "reason": "no copy in swift"}]}
    migration, = maintenance_summary({"migration": left_out})["stages"]
    assert migration["status"] == "changed" and migration["changed"] == 1


def test_the_summary_is_redacted_like_a_module_result():
    # a failure Ansible reports itself (a template error, a timeout) never went through a module
    catalog = {"images": [{"name": "web", "failed": True,
                           "msg": "Request to https://alice:pa55@mirror/x.img?X-Amz-Signature=516 timed out"}]}
    summary = maintenance_summary({"catalog": catalog})
    assert summary["stages"][0]["failures"][0]["error"] == \
        "Request to https://***@mirror/x.img?X-Amz-Signature=*** timed out"


def test_store_changes_count_the_catalogue_uploads_and_the_migration_totals():
    # the migration's images list holds only the first max_details: the totals are what count
    migration = {**MIGRATION, "delete_source": True, "bytes_copied": 3_000_000_000,
                 "counts": {"migrated": 3}}
    summary = maintenance_summary({"catalog": CATALOG, "migration": migration})
    unknown = {"images_before": None, "bytes_before": None, "images_after": None, "bytes_after": None}
    assert summary["stores"] == [
        {"store": "ceph", "images_added": 4, "bytes_added": 3_000_004_000, "images_removed": 0, "bytes_removed": 0,
         **unknown},
        {"store": "fast", "images_added": 1, "bytes_added": 4000, "images_removed": 0, "bytes_removed": 0, **unknown},
        {"store": "swift", "images_added": 0, "bytes_added": 0, "images_removed": 3, "bytes_removed": 3_000_000_000,
         **unknown},
    ]


def test_stores_carry_their_images_and_bytes_before_and_after_next_to_the_runs_changes():
    migration = {**MIGRATION, "delete_source": True, "bytes_copied": 300, "counts": {"migrated": 3}}
    before = [{"id": "swift", "images": 5, "bytes": 500}, {"id": "ceph", "images": 1, "bytes": 10},
              {"id": "fast", "images": 0, "bytes": 0}]
    after = [{"id": "swift", "images": 2, "bytes": 200}, {"id": "ceph", "images": 4, "bytes": 310},
             {"id": "fast", "images": 0, "bytes": 0}, {"id": "new", "images": 1, "bytes": 7}]
    stores = {store["store"]: store for store in
              maintenance_summary({"migration": migration}, stores_before=before, stores_after=after)["stores"]}
    assert list(stores) == ["ceph", "fast", "new", "swift"]  # every store read, not only those touched
    assert stores["swift"] == {"store": "swift", "images_added": 0, "bytes_added": 0, "images_removed": 3,
                               "bytes_removed": 300, "images_before": 5, "bytes_before": 500,
                               "images_after": 2, "bytes_after": 200}
    assert (stores["ceph"]["images_added"], stores["ceph"]["images_before"], stores["ceph"]["images_after"]) == (3, 1, 4)
    assert (stores["fast"]["images_before"], stores["fast"]["images_after"], stores["fast"]["images_added"]) == (0, 0, 0)
    # a store enabled during the run: nothing before it existed, its reading after
    assert (stores["new"]["images_before"], stores["new"]["bytes_before"],
            stores["new"]["images_after"], stores["new"]["bytes_after"]) == (0, 0, 1, 7)


def test_a_reading_not_taken_is_unknown_not_zero():
    after = [{"id": "ceph", "images": 4, "bytes": 310}]
    store, = maintenance_summary({}, stores_after=after)["stores"]
    assert (store["images_before"], store["bytes_before"], store["images_after"], store["bytes_after"]) == \
        (None, None, 4, 310)


def test_a_migration_that_keeps_its_source_removes_nothing_and_a_quiet_run_has_no_stores():
    kept = maintenance_summary({"migration": {**MIGRATION, "delete_source": False}})["stores"]
    assert [(s["store"], s["images_added"], s["images_removed"]) for s in kept] == [("ceph", 1, 0)]
    assert maintenance_summary({"migration": {**MIGRATION, "counts": {"migrated": 0}}})["stores"] == []


def test_the_catalogues_garbage_collection_is_a_change():
    catalog = {**CATALOG, "images": CATALOG["images"][:2], "gc": {"retired": ["old-1"], "changed": True}}
    stage, = maintenance_summary({"catalog": catalog})["stages"]
    assert stage["status"] == "changed"
    assert stage["changes"] == ["cirros: create (ceph copied, fast uploaded)",
                                "retired (no longer in the catalogue): old-1"]


def test_a_failed_catalogue_entry_adds_nothing_to_its_stores():
    broken = {"name": "half", "failed": True, "changed": True, "msg": "boom", "actions": [{"action": "create"}],
              "store_outcomes": {"fast": "uploaded"}, "image": {"size": 4000}}
    summary = maintenance_summary({"catalog": {"images": [broken]}})
    assert summary["stores"] == [] and summary["totals"]["bytes_moved"] == 0


def test_an_empty_msg_still_says_failed():
    summary = maintenance_summary({"catalog": {"images": [{"name": "x", "failed": True, "msg": ""}]},
                                   "backfill": {"failed": True, "msg": ""}})
    assert [stage["failures"][0]["error"] for stage in summary["stages"]] == ["failed", "failed"]


def test_the_object_migration_stage_shows_copies_failures_conflicts_and_what_is_left():
    objects = {"changed": True, "failed": True, "msg": "1 of 4 objects failed", "bytes_sent": 300,
               "counts": {"objects": 4, "copied": 2, "already_done": 0, "failed": 1, "conflict": 1},
               "failures": [{"container": "c", "name": "o3", "reason": "read error", "fix": "run again"}],
               "conflicts": [{"bucket": "b", "name": "o4", "reason": "not our copy"}],
               "journals": ["/j/1.jsonl", "/j/2.jsonl"], "left_after_run": 1, "mb_per_second": 1.5}
    summary = maintenance_summary({"objects": objects, "verify": {}})
    (stage, _verify) = summary["stages"]
    assert (stage["name"], stage["title"], stage["status"], stage["changed"]) == ("objects", "Object migration", "failed", 2)
    assert stage["failures"] == [{"what": "object c/o3", "error": "read error", "fix": "run again"}]
    assert stage["skipped"] == [{"what": "key b/o4", "why": "not our copy"}]
    assert (stage["bytes_moved"], stage["remaining"], stage["journal"]) == (300, 1, "/j/2.jsonl")
    assert stage["summary"] == "4 objects: 2 copied, 0 already done, 1 failed, 1 in conflict, 1 left"
    assert summary["totals"]["remaining"] == 1 and summary["stores"] == []


def test_locations_a_budget_left_untagged_are_left_in_the_backfill_stage():
    (stage,) = maintenance_summary({"backfill": {"counts": {"written": 2, "left": 3, "skipped": 1}}})["stages"]
    assert (stage["changed"], stage["remaining"]) == (2, 4)
