"""Store migration: the plan (pure), the executor against a fake Glance, and the module's result."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import CloudRequestError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.executor import (
    BUG_FIX,
    Migrator,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.options import (
    METADATA,
    MigrationOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    CONFIRM,
    COPY,
    DONE,
    FINISH,
    GONE,
    OUTSIDE,
    RETRY,
    UNCONFIRMED,
    UNTAGGED,
    WAIT,
    Selection,
    classify,
    in_shard,
    plan_migration,
    recheck,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import (
    ALREADY_DONE,
    FAILED,
    MIGRATED,
    SKIPPED,
    MigrationResult,
)


def image(stores="swift", **extra):
    values = {"id": str(uuid.uuid4()), "name": "img", "size": 10, "status": "active",
              "stores": stores, "os_hash_algo": "sha512", "os_hash_value": "h",
              "owner": "p1", "visibility": "private"}
    values.update(extra)
    return values


NO_PREFIX = StoreMatcher([], [])  # no store's prefix is known: an untagged location may be anywhere


@pytest.mark.parametrize("stores, extra, expected", [
    ("swift", {}, COPY),
    ("swift,ceph", {}, FINISH),
    ("ceph", {}, DONE),
    ("fast", {}, OUTSIDE),
    ("swift", {"os_glance_importing_to_stores": "ceph"}, WAIT),
    ("swift", {"os_glance_failed_import": "ceph"}, RETRY),
    ("ceph", {UNCONFIRMED: "ceph"}, CONFIRM),  # a run was stopped before Glance's download confirmed it
    ("ceph", {UNCONFIRMED: "other"}, DONE),  # another migration's
])
def test_classify_reads_the_state_from_glance(stores, extra, expected):
    assert classify(image(stores, **extra), "swift", "ceph", NO_PREFIX)[0] == expected


def test_untagged_source_location_is_refused_but_other_stores_untagged_are_not():
    untagged = {"url": "swift+config://ref1/glance/x", "metadata": {}}
    elsewhere = {"url": "file:///srv/images/x", "metadata": {}}
    matcher = StoreMatcher([StorePrefix("swift", "swift+config://ref1/glance/", "config"),
                            StorePrefix("fast", "file:///srv/images", "config")], ["swift", "fast"])
    action, reason = classify(image("", locations=[untagged]), "swift", "ceph", matcher)
    assert action == UNTAGGED and "glance_location_backfill" in reason
    # an untagged location nothing matches might be the source: refused too
    assert classify(image("", locations=[elsewhere]), "swift", "ceph", NO_PREFIX)[0] == UNTAGGED
    # unless it surely is in no store: then an image outside the source is left alone
    unknown = {"url": "gridfs://legacy/x", "metadata": {}}
    assert classify(image("fast", locations=[unknown]), "swift", "ceph", matcher)[0] == OUTSIDE
    assert classify(image("swift", locations=[elsewhere]), "swift", "ceph", matcher)[0] == COPY


def test_shards_cover_every_image_exactly_once():
    ids = [str(uuid.uuid4()) for _count in range(500)]
    shards = [{i for i in ids if in_shard(i, index, 3)} for index in range(3)]
    assert set().union(*shards) == set(ids)
    assert sum(len(s) for s in shards) == len(ids)
    assert all(len(s) > 100 for s in shards)  # and roughly even


def test_selection_filters_client_side_too():
    selection = Selection(name_pattern="cirros-*", owner="p1", min_size=5, max_size=20,
                          visibility="private")
    assert selection.accepts(image(name="cirros-0.6"))
    assert not selection.accepts(image(name="ubuntu"))
    assert not selection.accepts(image(name="cirros-1", size=30))
    assert not selection.accepts(image(name="cirros-1", owner="p2"))
    assert not selection.accepts(image(name="cirros-1", status="queued"))
    assert selection.listing_filters() == {"status": "active", "owner": "p1", "visibility": "private",
                                           "size_min": "5", "size_max": "20"}


def test_plan_keeps_order_applies_limit_and_sorts_out_done_and_untagged():
    images = [image(), image("ceph"), image(), image(""), image(),
              image("", locations=[{"url": "swift://x", "metadata": {}}])]
    plan = plan_migration(images, Selection(), "swift", "ceph", NO_PREFIX, limit=2)
    assert [t.image_id for t in plan.planned] == [images[0]["id"], images[2]["id"]]
    assert [t.image_id for t in plan.over_limit] == [images[4]["id"]]
    assert plan.done == 1 and len(plan.untagged) == 1
    assert plan.bytes_planned == 20


def test_each_named_image_left_out_is_reported_with_why():
    planned, done, deactivated, elsewhere, other_name = (
        image(), image("ceph"), image(status="deactivated"), image("fast"), image(name="tools"))
    named = [planned, done, deactivated, elsewhere, other_name]
    selection = Selection(image_ids=tuple(i["id"] for i in named) + ("no-such-id",), name_pattern="img")
    plan = plan_migration(named + [image()], selection, "swift", "ceph", NO_PREFIX, None)
    assert [t.image_id for t in plan.planned] == [planned["id"]] and plan.done == 1
    assert list(plan.skipped) == [
        {"id": deactivated["id"], "reason": "status is deactivated, not active (the status option)"},
        {"id": elsewhere["id"], "reason": "no copy in swift"},
        {"id": other_name["id"], "reason": "name 'tools' does not match name_pattern 'img'"},
        {"id": "no-such-id", "reason": "Glance lists no such image to these credentials "
                                       "(deleted, or not theirs to see)"},
    ]


def test_without_image_ids_nothing_is_reported_as_skipped():
    plan = plan_migration([image(status="deactivated"), image("fast")], Selection(), "swift", "ceph",
                          NO_PREFIX, None)
    assert plan.skipped == () and plan.planned == ()


class FakeGlance:
    """Glance's image state machine as far as copy-image and store deletes go."""

    def __init__(self, images, copy_fails=0, target_file=None):
        self.images = {i["id"]: dict(i) for i in images}
        self.copy_fails = copy_fails
        self.target_file = target_file
        self.calls = []

    def image(self, image_id):
        found = self.images.get(image_id)
        return dict(found) if found else None

    def start_import(self, image_id, method, stores, all_must_succeed):
        self.calls.append(("import", image_id))
        found = self.images[image_id]
        if self.copy_fails:
            self.copy_fails -= 1
            found["os_glance_failed_import"] = stores[0]
            return
        found["os_glance_failed_import"] = ""
        found["stores"] += "," + stores[0]
        found["locations"] = [{"url": "swift://x", "metadata": {"store": "swift"}},
                              {"url": f"file://{self.target_file}", "metadata": {"store": stores[0]}}]

    def latest_task(self, image_id):
        return {"status": "failure", "message": "Task failed due to Internal Error"}

    def delete_from_store(self, store, image_id):
        self.calls.append(("delete", store, image_id))
        found = self.images[image_id]
        found["stores"] = ",".join(s for s in found["stores"].split(",") if s != store)


def migrator(glance, clock=None, **options):
    values = {"source": "swift", "target": "ceph", "poll_interval": 0, **options}
    extra = {"clock": clock} if clock else {}
    return Migrator(glance, MigrationOptions(**values), NO_PREFIX, None, **extra)


def plan_for(glance, limit=None):
    return plan_migration(glance.images.values(), Selection(), "swift", "ceph", NO_PREFIX, limit)


@pytest.fixture
def content(tmp_path):
    data = b"image bytes" * 100
    path = tmp_path / "copy"
    path.write_bytes(data)
    return path, len(data), hashlib.sha512(data).hexdigest()


def test_data_verified_before_the_source_copy_is_removed(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    result = migrator(glance).run(plan_for(glance))
    assert [o.outcome for o in result.outcomes] == [MIGRATED] and not result.unstarted
    assert [c[0] for c in glance.calls] == ["import", "delete"]
    assert next(iter(glance.images.values()))["stores"] == "ceph"


def test_bad_target_copy_is_removed_and_the_source_kept(content):
    path, size, _digest = content
    glance = FakeGlance([image(size=size, os_hash_value="0" * 128)], target_file=path)
    outcome = migrator(glance).run(plan_for(glance)).outcomes[0]
    assert outcome.outcome == FAILED and "source kept" in outcome.reason
    assert glance.calls[-1][:2] == ("delete", "ceph")
    assert next(iter(glance.images.values()))["stores"] == "swift"


def test_failed_copy_is_retried_once_then_reported(content):
    path, size, digest = content
    once = FakeGlance([image(size=size, os_hash_value=digest)], copy_fails=1, target_file=path)
    assert migrator(once).run(plan_for(once)).outcomes[0].outcome == MIGRATED
    twice = FakeGlance([image(size=size, os_hash_value=digest)], copy_fails=2, target_file=path)
    outcome = migrator(twice).run(plan_for(twice)).outcomes[0]
    assert outcome.outcome == FAILED and "failed twice" in outcome.reason
    assert [c[0] for c in twice.calls] == ["import", "import"]  # never a delete


def test_a_copy_glance_refused_for_its_hash_is_not_retried(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], copy_fails=1, target_file=path)
    # the image shows the failure while its task is still failing; only then is the reason there
    tasks = iter([{"status": "processing", "message": ""},
                  {"status": "failure", "message": "os_hash_value of uploaded data is different "
                                                   "from current value set on the image."}])
    glance.latest_task = lambda image_id: next(tasks)
    outcome = migrator(glance).run(plan_for(glance)).outcomes[0]
    assert outcome.outcome == FAILED and "does not match" in outcome.reason
    assert "restore it" in outcome.fix
    assert [c[0] for c in glance.calls] == ["import"]


def test_an_import_lock_is_waited_on_not_duplicated(content):
    path, size, digest = content
    held = image(size=size, os_hash_value=digest)
    glance = FakeGlance([held], target_file=path)

    def conflict(image_id, *args):
        glance.calls.append(("import", image_id))
        raise CloudRequestError("locked", status_code=409)

    real_image = glance.image
    polls = []

    def image_finishing_the_other_copy(image_id):
        polls.append(image_id)
        if len(polls) == 3:  # the other import finishes meanwhile
            FakeGlance.start_import(glance, image_id, {}, ["ceph"], True)
        return real_image(image_id)

    glance.start_import, glance.image = conflict, image_finishing_the_other_copy
    outcome = migrator(glance).run(plan_for(glance)).outcomes[0]
    assert outcome.outcome == MIGRATED
    assert [c[0] for c in glance.calls].count("import") == 2  # ours (409) and the other one


def test_a_glance_server_error_on_starting_the_copy_is_asked_again(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    real_start = glance.start_import
    answers = iter([CloudRequestError("deadlock", status_code=500), None])

    def deadlock_once(*args):
        error = next(answers)
        if error:
            glance.calls.append(("import-500",))
            raise error
        real_start(*args)

    glance.start_import = deadlock_once
    outcome = migrator(glance).run(plan_for(glance)).outcomes[0]
    assert outcome.outcome == MIGRATED
    assert [c[0] for c in glance.calls] == ["import-500", "import", "delete"]


def test_time_budget_stops_starting_new_images(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest) for _count in range(5)], target_file=path)
    ticks = iter(range(0, 1000, 10))
    result = migrator(glance, clock=lambda: next(ticks), max_duration=25, concurrency=1).run(plan_for(glance))
    assert result.outcomes and result.unstarted and len(result.outcomes) + len(result.unstarted) == 5
    assert all(o.outcome == MIGRATED for o in result.outcomes)
    assert [o.item.image_id for o in result.outcomes] + [i.image_id for i in result.unstarted] == list(glance.images)
    assert [call[0] for call in glance.calls].count("import") == len(result.outcomes)  # the rest untouched
    assert result.output([], 100)["remaining"] == [i.image_id for i in result.unstarted]


def test_rerun_finds_nothing_to_copy(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    migrator(glance).run(plan_for(glance))
    glance.calls.clear()
    assert plan_for(glance).planned == ()
    kept = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    migrator(kept, delete_source=False).run(plan_for(kept))
    result = migrator(kept, delete_source=False, verify=METADATA).run(plan_for(kept))
    assert [o.outcome for o in result.outcomes] == [ALREADY_DONE]


def test_every_step_is_journaled(tmp_path, content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    journal = JsonlJournal(str(tmp_path / "j" / "run.jsonl"), {"journal": "test"})
    Migrator(glance, MigrationOptions("swift", "ceph", poll_interval=0), NO_PREFIX, journal).run(
        plan_for(glance))
    journal.close()
    lines = [json.loads(line) for line in (tmp_path / "j" / "run.jsonl").read_text().splitlines()]
    assert [entry.get("step") for entry in lines] == [None, "copy", "wait", "verify",
                                                      "remove_source", "result"]
    assert (tmp_path / "j" / "run.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_bug_in_one_image_is_recorded_as_a_bug_and_the_others_go_on(tmp_path, content):
    path, size, digest = content
    broken, fine = image(size=size, os_hash_value=digest), image(size=size, os_hash_value=digest)
    glance = FakeGlance([broken, fine], target_file=path)
    real_delete = glance.delete_from_store

    def delete_with_a_bug(store, image_id):
        if image_id == broken["id"]:
            raise TypeError("unexpected at swift+http://glance:s3cret@ks/v1/glance")
        real_delete(store, image_id)

    glance.delete_from_store = delete_with_a_bug
    journal = JsonlJournal(str(tmp_path / "run.jsonl"), {"journal": "test"})
    result = Migrator(glance, MigrationOptions("swift", "ceph", poll_interval=0, concurrency=1), NO_PREFIX,
                      journal).run(plan_for(glance))
    journal.close()
    outcomes = {o.item.image_id: o for o in result.outcomes}
    assert outcomes[fine["id"]].outcome == MIGRATED
    bug = outcomes[broken["id"]]
    assert (bug.outcome, bug.bug, bug.fix) == (FAILED, "TypeError", BUG_FIX)
    assert bug.reason == "TypeError: unexpected at swift+http://***@ks/v1/glance"
    assert bug.traceback.startswith("Traceback (most recent call last)")
    assert "delete_with_a_bug" in bug.traceback and "s3cret" not in bug.traceback
    assert glance.images[broken["id"]]["stores"] == "swift,ceph"  # verified copy, source kept
    entry = next(json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()
                 if '"result"' in line and broken["id"] in line)
    assert (entry["outcome"], entry["bug"]) == (FAILED, "TypeError")
    assert "delete_with_a_bug" in entry["traceback"] and "s3cret" not in json.dumps(entry)
    assert result.failure() == (f"1 of 2 images failed to migrate; first: {broken['id']}: {bug.reason} "
                                f"(fix: {BUG_FIX})")
    output = result.output([], 100)
    assert output["remaining"] == [broken["id"]] and output["counts"]["failed"] == 1
    assert next(i for i in output["images"] if i["id"] == broken["id"])["bug"] == "TypeError"


def test_each_image_is_rechecked_against_glance_before_its_first_step(tmp_path, content):
    path, size, digest = content
    copied_meanwhile, deleted, as_planned = (image(size=size, os_hash_value=digest) for _count in range(3))
    glance = FakeGlance([copied_meanwhile, deleted, as_planned], target_file=path)
    plan = plan_for(glance)
    assert [item.action for item in plan.planned] == [COPY, COPY, COPY]
    FakeGlance.start_import(glance, copied_meanwhile["id"], {}, ["ceph"], True)  # another run's copy
    del glance.images[deleted["id"]]
    glance.calls.clear()
    journal = JsonlJournal(str(tmp_path / "run.jsonl"), {"journal": "test"})
    result = Migrator(glance, MigrationOptions("swift", "ceph", poll_interval=0, concurrency=1), NO_PREFIX,
                      journal).run(plan)
    journal.close()
    assert [(o.item.image_id, o.outcome) for o in result.outcomes] == [
        (copied_meanwhile["id"], MIGRATED), (deleted["id"], SKIPPED), (as_planned["id"], MIGRATED)]
    assert result.outcomes[1].reason == "deleted since the listing"
    assert ("import", copied_meanwhile["id"]) not in glance.calls  # finished, not copied again
    assert result.outcomes[0].bytes_copied == 0 and result.bytes_copied == size
    rechecks = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()
                if '"recheck"' in line]
    assert [(entry["image"], entry["outcome"]) for entry in rechecks] == [
        (copied_meanwhile["id"], "finish, not copy as planned"), (deleted["id"], "gone, not copy as planned")]


def test_recheck_keeps_the_planned_hash():
    planned = plan_migration([image()], Selection(), "swift", "ceph", NO_PREFIX, None).planned[0]
    now = recheck(planned, {**image("swift,ceph"), "id": planned.image_id, "os_hash_value": "other"},
                  "swift", "ceph", NO_PREFIX)
    assert (now.action, now.hash_value) == (FINISH, "h")
    assert recheck(planned, None, "swift", "ceph", NO_PREFIX).action == GONE


def test_check_mode_result_is_the_plan():
    images = [image(size=3), image(size=4), image("ceph"), image("", locations=[{"url": "swift://x", "metadata": {}}])]
    plan = plan_migration(images, Selection(image_ids=tuple(i["id"] for i in images) + ("gone",)),
                          "swift", "ceph", NO_PREFIX, limit=1)
    output = MigrationResult.of_plan(MigrationOptions("swift", "ceph"), plan).output(["a note"], 1)
    assert output["changed"] is True and "journal" not in output
    assert output["counts"] == {"selected": 4, "planned": 1, "migrated": 0, "already_done": 1, "skipped": 1,
                                "failed": 0, "in_progress": 0, "untagged": 1, "remaining": 2}
    assert [item["id"] for item in output["plan"]] == [images[0]["id"]]
    assert output["remaining"] == [images[0]["id"]]  # max_details caps every list
    assert (output["bytes_planned"], output["bytes_copied"], output["images"]) == (3, 0, [])
    assert (output["source_store"], output["verification"], output["notes"]) == ("swift", "data", ["a note"])
    assert MigrationResult.of_plan(MigrationOptions("swift", "ceph"), plan_for(FakeGlance([]))).changed is False


def test_progress_of_a_slice_counts_the_whole_migration(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest) for _count in range(3)] + [image("ceph", size=7)],
                        target_file=path)
    progress = migrator(glance).run(plan_for(glance, limit=1)).output([], 10)["progress"]
    assert {key: progress[key] for key in ("unit", "total", "done", "failed", "left")} == \
        {"unit": "images", "total": 4, "done": 2, "failed": 0, "left": 2}
    assert (progress["bytes_total"], progress["bytes_done"], progress["bytes_moved"]) == (3 * size + 7, size + 7, size)
