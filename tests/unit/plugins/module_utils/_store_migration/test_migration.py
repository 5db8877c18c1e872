"""Store migration: the plan (pure) and the executor's decisions, against a fake Glance."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import CloudRequestError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.executor import (
    ALREADY_DONE,
    FAILED,
    METADATA,
    MIGRATED,
    MigrationOptions,
    Migrator,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    COPY,
    DONE,
    FINISH,
    NO_STORE,
    OUTSIDE,
    RETRY,
    UNTAGGED,
    WAIT,
    Selection,
    classify,
    in_shard,
    plan_migration,
)


def image(stores="swift", **extra):
    values = {"id": str(uuid.uuid4()), "name": "img", "size": 10, "status": "active",
              "stores": stores, "os_hash_algo": "sha512", "os_hash_value": "h",
              "owner": "p1", "visibility": "private"}
    values.update(extra)
    return values


def no_prefix(url):
    return None


@pytest.mark.parametrize("stores, extra, expected", [
    ("swift", {}, COPY),
    ("swift,ceph", {}, FINISH),
    ("ceph", {}, DONE),
    ("fast", {}, OUTSIDE),
    ("swift", {"os_glance_importing_to_stores": "ceph"}, WAIT),
    ("swift", {"os_glance_failed_import": "ceph"}, RETRY),
])
def test_classify_reads_the_state_from_glance(stores, extra, expected):
    assert classify(image(stores, **extra), "swift", "ceph", no_prefix)[0] == expected


def test_untagged_source_location_is_refused_but_other_stores_untagged_are_not():
    untagged = {"url": "swift+config://ref1/glance/x", "metadata": {}}
    elsewhere = {"url": "file:///srv/images/x", "metadata": {}}
    store_of = {"swift+config://ref1/glance/x": "swift", "file:///srv/images/x": "fast"}.get
    action, reason = classify(image("", locations=[untagged]), "swift", "ceph", store_of)
    assert action == UNTAGGED and "glance_location_backfill" in reason
    # an untagged location nothing matches might be the source: refused too
    assert classify(image("", locations=[elsewhere]), "swift", "ceph", no_prefix)[0] == UNTAGGED
    # unless it surely is in no store: then an image outside the source is left alone
    unknown = {"url": "gridfs://legacy/x", "metadata": {}}
    assert classify(image("fast", locations=[unknown]), "swift", "ceph", lambda url: NO_STORE)[0] == OUTSIDE
    assert classify(image("swift", locations=[elsewhere]), "swift", "ceph", store_of)[0] == COPY


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
    plan = plan_migration(images, Selection(), "swift", "ceph", no_prefix, limit=2)
    assert [t.image_id for t in plan.tasks] == [images[0]["id"], images[2]["id"]]
    assert [t.image_id for t in plan.over_limit] == [images[4]["id"]]
    assert plan.done == 1 and len(plan.untagged) == 1
    assert plan.bytes_planned == 20


def test_each_named_image_left_out_is_reported_with_why():
    planned, done, deactivated, elsewhere, other_name = (
        image(), image("ceph"), image(status="deactivated"), image("fast"), image(name="tools"))
    named = [planned, done, deactivated, elsewhere, other_name]
    selection = Selection(image_ids=tuple(i["id"] for i in named) + ("no-such-id",), name_pattern="img")
    plan = plan_migration(named + [image()], selection, "swift", "ceph", no_prefix, None)
    assert [t.image_id for t in plan.tasks] == [planned["id"]] and plan.done == 1
    assert plan.skipped == [
        {"id": deactivated["id"], "reason": "status is deactivated, not active (the status option)"},
        {"id": elsewhere["id"], "reason": "no copy in swift"},
        {"id": other_name["id"], "reason": "name 'tools' does not match name_pattern 'img'"},
        {"id": "no-such-id", "reason": "Glance lists no such image to these credentials "
                                       "(deleted, or not theirs to see)"},
    ]


def test_without_image_ids_nothing_is_reported_as_skipped():
    plan = plan_migration([image(status="deactivated"), image("fast")], Selection(), "swift", "ceph",
                          no_prefix, None)
    assert plan.skipped == [] and plan.tasks == []


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
    return Migrator(glance, MigrationOptions(**values), no_prefix, None, **extra)


def tasks_for(glance, source="swift"):
    return plan_migration(glance.images.values(), Selection(), source, "ceph", no_prefix, None).tasks


@pytest.fixture
def content(tmp_path):
    data = b"image bytes" * 100
    path = tmp_path / "copy"
    path.write_bytes(data)
    return path, len(data), hashlib.sha512(data).hexdigest()


def test_data_verified_before_the_source_copy_is_removed(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    outcomes, unstarted = migrator(glance).run(tasks_for(glance))
    assert [o.outcome for o in outcomes] == [MIGRATED] and not unstarted
    assert [c[0] for c in glance.calls] == ["import", "delete"]
    assert next(iter(glance.images.values()))["stores"] == "ceph"


def test_bad_target_copy_is_removed_and_the_source_kept(content):
    path, size, _digest = content
    glance = FakeGlance([image(size=size, os_hash_value="0" * 128)], target_file=path)
    outcomes, _unstarted = migrator(glance).run(tasks_for(glance))
    assert outcomes[0].outcome == FAILED and "source kept" in outcomes[0].reason
    assert glance.calls[-1][:2] == ("delete", "ceph")
    assert next(iter(glance.images.values()))["stores"] == "swift"


def test_failed_copy_is_retried_once_then_reported(content):
    path, size, digest = content
    once = FakeGlance([image(size=size, os_hash_value=digest)], copy_fails=1, target_file=path)
    assert migrator(once).run(tasks_for(once))[0][0].outcome == MIGRATED
    twice = FakeGlance([image(size=size, os_hash_value=digest)], copy_fails=2, target_file=path)
    outcome = migrator(twice).run(tasks_for(twice))[0][0]
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
    outcome = migrator(glance).run(tasks_for(glance))[0][0]
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
    outcome = migrator(glance).run(tasks_for(glance))[0][0]
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
    outcome = migrator(glance).run(tasks_for(glance))[0][0]
    assert outcome.outcome == MIGRATED
    assert [c[0] for c in glance.calls] == ["import-500", "import", "delete"]


def test_time_budget_stops_starting_new_images(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest) for _count in range(5)], target_file=path)
    ticks = iter(range(0, 1000, 10))
    outcomes, unstarted = migrator(glance, clock=lambda: next(ticks), max_duration=25,
                                   concurrency=1).run(tasks_for(glance))
    assert outcomes and unstarted and len(outcomes) + len(unstarted) == 5
    assert all(o.outcome == MIGRATED for o in outcomes)


def test_rerun_finds_nothing_to_copy(content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    migrator(glance).run(tasks_for(glance))
    glance.calls.clear()
    assert tasks_for(glance) == []
    kept = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    migrator(kept, delete_source=False).run(tasks_for(kept))
    outcomes, _unstarted = migrator(kept, delete_source=False, verify=METADATA).run(tasks_for(kept))
    assert [o.outcome for o in outcomes] == [ALREADY_DONE]


def test_every_step_is_journaled(tmp_path, content):
    path, size, digest = content
    glance = FakeGlance([image(size=size, os_hash_value=digest)], target_file=path)
    journal = JsonlJournal(str(tmp_path / "j" / "run.jsonl"), {"journal": "test"})
    Migrator(glance, MigrationOptions("swift", "ceph", poll_interval=0), no_prefix, journal).run(
        tasks_for(glance))
    journal.close()
    lines = [json.loads(line) for line in (tmp_path / "j" / "run.jsonl").read_text().splitlines()]
    assert [entry.get("step") for entry in lines] == [None, "copy", "wait", "verify",
                                                      "remove_source", "result"]
    assert (tmp_path / "j" / "run.jsonl").stat().st_mode & 0o777 == 0o600
