"""glance_image's executor (and one whole run: plan, act, result) against a small fake Glance."""
from __future__ import annotations

import hashlib
import itertools
import time

import pytest

from image_files import write_qcow2
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError, StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import image_stores
from ansible_collections.storeops.openstack.plugins.module_utils._image import executor as _image_exec
from ansible_collections.storeops.openstack.plugins.module_utils._storage import locations as _locations
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import (
    ImageExecutor,
    Lease,
    LeaseRenewer,
    Settings,
    Source,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import PENDING_KEY, RETIRED_KEY
from ansible_collections.storeops.openstack.plugins.module_utils._image.catalogue import collect
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ImageRequest, ensure_image
from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import Create, Desired, Plan, Yield

CREATED = "2026-12-01T12:00:01Z"


class FakeGlance:
    """Glance in memory: uploads and imports finish at once, and Glance hashes what it stored.

    ``corrupt`` makes the stored bytes differ from those sent; a ``rival`` run's image appears
    when this run creates its own.
    """

    def __init__(self, stores=("fast", "ceph"), corrupt=False, rival=None):
        self.images, self.store_ids, self.corrupt, self.rival = {}, list(stores), corrupt, rival
        self.changes, self.staged, self.patches = [], {}, []
        self._ids = itertools.count(1)

    def stores(self):
        return [{"id": store} for store in self.store_ids]

    def stores_detail(self):  # "ceph" is an rbd store, the others file stores
        return [{"id": store, "type": "rbd", "properties": {"pool": "images"}} if store == "ceph"
                else {"id": store, "type": "file", "properties": {}} for store in self.store_ids]

    @staticmethod
    def import_methods():
        return ["glance-direct", "web-download", "copy-image"]

    def images_where(self, **filters):
        return [dict(i) for i in self.images.values() if all(i.get(k) == v for k, v in filters.items())]

    def image(self, image_id):
        found = self.images.get(image_id)
        return dict(found) if found else None

    def create_image(self, attributes):
        image_id = attributes.get("id") or f"img-{next(self._ids)}"
        self.images[image_id] = {"id": image_id, "owner": "p1", "status": "queued", "tags": [],
                                 "created_at": CREATED, "updated_at": CREATED, **attributes}
        self.changes.append(("create", image_id))
        if self.rival:
            self.images[self.rival["id"]] = self.rival
        return dict(self.images[image_id])

    def upload(self, image_id, body, store):
        self._store(image_id, _read(body), [store])

    def stage(self, image_id, body):
        self.staged[image_id] = _read(body)

    def start_import(self, image_id, method, stores, _all_stores_must_succeed):
        self.changes.append((method["name"], image_id, tuple(stores)))
        if method["name"] == "glance-direct":
            self._store(image_id, self.staged.pop(image_id), stores)
        elif method["name"] == "copy-image":
            image = self.images[image_id]
            image["stores"] = ",".join([*image_stores(image), *stores])

    def _store(self, image_id, data, stores):
        stored = data + b"!" if self.corrupt else data
        self.images[image_id].update(status="active", size=len(stored), stores=",".join(stores),
                                     os_hash_algo="sha512", os_hash_value=hashlib.sha512(stored).hexdigest())

    def patch(self, image_id, operations):
        image = self.images[image_id]
        for operation in operations:
            key = operation["path"][1:].replace("~1", "/").replace("~0", "~")
            if operation["op"] == "remove":
                image.pop(key, None)
            else:
                image[key] = operation["value"]
        self.changes.append(("patch", image_id))
        self.patches.append((image_id, operations))
        return dict(image)

    def delete_image(self, image_id):
        self.changes.append(("delete", image_id))
        self.images.pop(image_id, None)

    def delete_from_store(self, store, image_id):
        self.changes.append(("delete_from_store", image_id, store))
        image = self.images[image_id]
        image["stores"] = ",".join(s for s in image_stores(image) if s != store)


def _read(body):
    chunks = []
    while chunk := body.read(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def request(**overrides):
    values = dict(name="cirros", image_id=None, owner="p1", owner_given=False, state="present",
                  stores=["fast"], all_stores=False, all_stores_must_succeed=True, disk_format="raw",
                  container_format="bare", fields={"visibility": "public"}, tags=None, properties={},
                  properties_exact=False, on_content_change="fail", lifecycle=Lifecycle(), upload_method="auto",
                  lease_seconds=60, timeout=5, sharing=None)
    values.update(overrides)
    return ImageRequest(**values)


def desired():
    return Desired(name="cirros", owner="p1", image_id=None, has_content=True, stores=["fast"],
                   fields={}, tags=None, properties={}, disk_format="raw", container_format="bare")


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    monkeypatch.setattr(_image_exec, "SETTLE_SECONDS", 0)


@pytest.fixture(name="image_file")
def fixture_image_file(tmp_path):
    path = tmp_path / "cirros.img"
    path.write_bytes(b"image bytes" * 1000)
    return str(path)


def run(glance, image_file, check_mode=False, **overrides):
    return ensure_image(glance, request(**overrides), Source(filename=image_file), check_mode).as_result(True)


def test_a_new_image_is_created_uploaded_verified_and_published(image_file):
    glance = FakeGlance()
    result = run(glance, image_file)
    assert list(glance.images) == ["img-1"]  # the lease image is gone
    image = glance.images["img-1"]
    assert result["changed"] is True and result["actions"] == [{"action": "create", "stores": ["fast"]}]
    assert glance.changes == [("create", image["id"]), ("create", "img-2"), ("patch", image["id"]),
                              ("delete", "img-2")]
    assert image["visibility"] == "public" and image["os_hidden"] is False and PENDING_KEY not in image
    with open(image_file, "rb") as handle:
        assert image["owner_specified.openstack.sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert result["verified_by"] == "os_hash_value" and result["store_outcomes"] == {"fast": "uploaded"}
    assert result["image"]["id"] == image["id"] and result["diff"]["before"] == {}
    assert result["diff"]["after"]["stores"] == ["fast"]


def test_several_stores_are_staged_once_and_imported_into_all(image_file):
    glance = FakeGlance()
    result = run(glance, image_file, stores=["fast", "ceph"])
    assert ("glance-direct", "img-1", ("fast", "ceph")) in glance.changes
    assert result["store_outcomes"] == {"fast": "imported", "ceph": "imported"}
    assert image_stores(glance.images["img-1"]) == ["fast", "ceph"]


def test_a_hash_mismatch_leaves_no_image_published_or_pending(image_file):
    glance = FakeGlance(corrupt=True)
    with pytest.raises(StoreOpsError, match="differs from the file's; the new image was deleted"):
        run(glance, image_file)
    assert glance.images == {} and ("delete", "img-1") in glance.changes  # created, then deleted
    assert [change for change in glance.changes if change[0] == "patch"] == []


def test_an_image_complete_in_all_stores_changes_nothing(image_file):
    glance = FakeGlance()
    run(glance, image_file, stores=["fast", "ceph"])
    before = list(glance.changes)
    again = run(glance, image_file, stores=["fast", "ceph"])
    assert again["changed"] is False and again["actions"] == [] and "diff" not in again
    assert glance.changes == before and again["identified_by"] == "os_hash_value"


def test_check_mode_returns_the_plan_and_changes_nothing(image_file):
    glance = FakeGlance()
    result = run(glance, image_file, check_mode=True, stores=["fast", "ceph"])
    assert glance.changes == [] and result["changed"] is True
    assert result["actions"] == [{"action": "create", "stores": ["fast", "ceph"]}]
    assert result["diff"]["after"]["stores"] == ["fast", "ceph"] and result["image"] is None


def test_a_missing_store_is_copied_and_metadata_patched(image_file):
    glance = FakeGlance()
    run(glance, image_file)
    result = run(glance, image_file, stores=["fast", "ceph"], tags=["gold"])
    assert [a["action"] for a in result["actions"]] == ["copy", "update_metadata"]
    assert result["store_outcomes"] == {"ceph": "copied"} and result["image"]["tags"] == ["gold"]
    assert result["diff"]["before"]["stores"] == ["fast"] and result["diff"]["after"]["stores"] == ["fast", "ceph"]


def test_exact_properties_check_mode_diff_shows_the_removal_and_a_rerun_changes_nothing(image_file):
    glance = FakeGlance()
    run(glance, image_file, properties={"os_distro": "cirros", "os_version": "0.6"})
    preview = run(glance, image_file, check_mode=True, properties={"os_distro": "cirros"},
                  properties_exact=True)
    assert preview["diff"]["before"]["properties"] == {"os_distro": "cirros", "os_version": "0.6"}
    assert preview["diff"]["after"]["properties"] == {"os_distro": "cirros"}
    assert run(glance, image_file, properties={"os_distro": "cirros"}, properties_exact=True)["changed"] is True
    assert run(glance, image_file, properties={"os_distro": "cirros"}, properties_exact=True)["changed"] is False


def test_replace_publishes_the_new_image_and_retires_the_old(image_file, tmp_path):
    glance = FakeGlance()
    run(glance, image_file)
    other = tmp_path / "other.img"
    other.write_bytes(b"other bytes")
    result = ensure_image(glance, request(on_content_change="replace"), Source(filename=str(other)),
                          False).as_result(False)
    assert [a["action"] for a in result["actions"]] == ["create", "retire"]
    old, new = glance.images["img-1"], glance.images[result["image"]["id"]]
    assert old[RETIRED_KEY] == "cirros" and old["name"].startswith("cirros.retired-") and old["os_hidden"]
    assert new["name"] == "cirros" and new["storeops.openstack.replaces"] == "img-1"


def test_absent_deletes_a_store_copy_then_the_image(image_file):
    glance = FakeGlance()
    run(glance, image_file, stores=["fast", "ceph"])
    result = run(glance, image_file, state="absent", stores=["ceph"])
    assert result["actions"] == [{"action": "delete_store_copy", "image_id": "img-1", "store": "ceph"}]
    assert result["store_outcomes"] == {"ceph": "removed"} and result["image"]["stores"] == ["fast"]
    result = run(glance, image_file, state="absent", stores=None)
    assert result["actions"] == [{"action": "delete", "image_id": "img-1"}] and result["image"] is None
    assert glance.images == {}


def test_a_run_that_loses_deletes_only_its_own_image_and_adopts_the_winner(image_file):
    winner = {"id": "theirs", "name": "cirros", "owner": "p1", "status": "active",
              "created_at": "2026-12-01T12:00:00Z"}
    glance = FakeGlance(rival=winner)
    executor = ImageExecutor(glance, desired(), Source(filename=image_file),
                             Settings(5, True, Lease(60), "direct", poll_interval=0))
    adopt = Plan(image=winner)
    result = executor.converge(Plan((Create(("fast",)),)), lambda: adopt)
    assert [c for c in glance.changes if c[0] == "delete"] == [("delete", "img-1"), ("delete", "img-2")]
    assert result.image is winner and result.steps == (Yield("theirs", "img-1"),)
    assert result.changed is False and result.notes


class RivalDuringUpload(FakeGlance):
    """A rival run's image that Glance lists only once this run's upload began."""

    def __init__(self, rival, clock):
        super().__init__()
        self._hidden_rival, self.clock, self.upload_started = rival, clock, None

    def upload(self, image_id, body, store):
        self.upload_started = self.clock.now
        self.images[self._hidden_rival["id"]] = self._hidden_rival
        super().upload(image_id, body, store)


class FakeClock:
    """``time`` for the executor: sleeping moves the clock on at once."""

    def __init__(self):
        self.now = 100.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_upload_does_not_wait_to_settle_but_the_check_after_it_does(image_file, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_image_exec, "time", clock)
    monkeypatch.setattr(_image_exec, "SETTLE_SECONDS", 1.1)
    older = {"id": "theirs", "name": "cirros", "owner": "p1", "status": "active",
             "created_at": "2026-12-01T12:00:01Z"}
    glance = RivalDuringUpload(older, clock)
    executor = ImageExecutor(glance, desired(), Source(filename=image_file),
                             Settings(5, True, Lease(60), "direct", poll_interval=0))
    result = executor.converge(Plan((Create(("fast",)),)), lambda: Plan(image=older))
    assert glance.upload_started == 100.0  # no second spent before the bytes go out
    assert clock.now >= 101.1  # the check after the upload came a settled second after creating
    assert result.steps == (Yield("theirs", "img-1"),) and "img-1" not in glance.images


def test_the_renewer_patches_the_lease_while_the_run_works():
    glance = FakeGlance()
    glance.images["mine"] = {"id": "mine"}
    with LeaseRenewer(glance, "mine", Lease(8)):
        time.sleep(2.3)  # renewed every 2 s
    assert len(glance.patches) == 1
    (image_id, [operation]), = glance.patches
    assert image_id == "mine" and operation["path"] == f"/{PENDING_KEY}" and operation["op"] == "replace"
    assert operation["value"].startswith("run ") and " lease 8s until " in operation["value"]


class LifecycleGlance(FakeGlance):
    """Adds deactivation, and rbd locations on every image."""

    def image_action(self, image_id, action):
        self.changes.append((action, image_id))
        self.images[image_id]["status"] = "deactivated" if action == "deactivate" else "active"

    def image(self, image_id):
        found = super().image(image_id)
        if found:
            found["locations"] = [{"url": f"rbd://fsid/images/{image_id}/snap", "metadata": {}}]
        return found


class FakeRbd:
    def __init__(self, clones, error=None):
        self.asked, self._clones, self._error, self.closed = [], clones, error, 0

    def clones(self, path, fsid=None):
        self.asked.append((path, fsid))
        if self._error:
            raise self._error
        return self._clones

    def close(self):
        self.closed += 1


def replace_with(glance, tmp_path, lifecycle):
    other = tmp_path / "other.img"
    other.write_bytes(b"other bytes")
    return ensure_image(glance, request(on_content_change="replace", lifecycle=lifecycle),
                        Source(filename=str(other)), False).as_result(False)


def test_deactivate_policy_deactivates_before_renaming(image_file, tmp_path):
    glance = LifecycleGlance()
    run(glance, image_file)
    result = replace_with(glance, tmp_path, Lifecycle(retire="deactivate"))
    assert result["actions"][1] == {"action": "retire", "image_id": "img-1", "policy": "deactivate"}
    assert glance.changes.index(("deactivate", "img-1")) < len(glance.changes) - 1
    assert glance.images["img-1"]["status"] == "deactivated" and glance.images["img-1"]["os_hidden"]


@pytest.mark.parametrize("clones, kept", [(["vms/disk-1"], True), ([], False)])
def test_delete_policy_keeps_a_version_whose_rbd_snapshot_has_clones(image_file, tmp_path, monkeypatch,
                                                                     clones, kept):
    glance, rbd = LifecycleGlance(), FakeRbd(clones)
    opened = []
    monkeypatch.setattr(_locations, "open_driver", lambda kind, pool, access: opened.append(pool) or rbd)
    run(glance, image_file)
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert opened == ["images"] and rbd.asked == [("img-1@snap", "fsid")] and rbd.closed == 1
    assert [a["action"] for a in result["actions"]][-1] == ("keep_old_version" if kept else "delete_old_version")
    assert ("img-1" in glance.images) is kept


def fake_rbd(monkeypatch, rbd):
    opened = []
    monkeypatch.setattr(_locations, "open_driver", lambda kind, pool, access: opened.append(pool) or rbd)
    return opened


def test_a_version_in_no_rbd_store_is_deleted_though_glance_hides_its_locations(image_file, tmp_path,
                                                                                monkeypatch):
    glance, rbd = FakeGlance(), FakeRbd([])
    opened = fake_rbd(monkeypatch, rbd)
    run(glance, image_file)  # in "fast", a file store
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert result["actions"][-1]["action"] == "delete_old_version" and "img-1" not in glance.images
    assert opened == []


@pytest.mark.parametrize("error, kept", [(None, False), (StoreOpsError("rbd store: permission denied"), True)])
def test_a_version_in_an_rbd_store_is_checked_in_the_stores_pool(image_file, tmp_path, monkeypatch, error, kept):
    glance, rbd = FakeGlance(), FakeRbd([], error)
    opened = fake_rbd(monkeypatch, rbd)
    run(glance, image_file, stores=["ceph"])
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert opened == ["images"] and rbd.asked == [("img-1@snap", None)]
    assert result["actions"][-1]["action"] == ("keep_old_version" if kept else "delete_old_version")
    assert ("img-1" in glance.images) is kept
    if kept:
        assert "permission denied" in result["actions"][-1]["reason"]


def test_a_version_in_two_rbd_stores_with_hidden_locations_is_kept(image_file, tmp_path, monkeypatch):
    glance = FakeGlance(stores=("fast", "ceph", "ceph2"))
    glance.stores_detail = lambda: [{"id": s, "type": "rbd", "properties": {"pool": "images"}}
                                    for s in ("fast", "ceph", "ceph2")]
    fake_rbd(monkeypatch, FakeRbd([]))
    run(glance, image_file, stores=["ceph", "ceph2"])
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert result["actions"][-1]["action"] == "keep_old_version" and "img-1" in glance.images
    assert "ceph, ceph2" in result["actions"][-1]["reason"]


def test_a_location_on_another_cluster_is_kept(image_file, tmp_path, monkeypatch):
    glance = LifecycleGlance()
    fake_rbd(monkeypatch, FakeRbd([], StoreOpsError("rbd store: img-1@snap is on cluster fsid, "
                                                    "ceph_access reaches other")))
    run(glance, image_file)
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert result["actions"][-1]["action"] == "keep_old_version" and "img-1" in glance.images


def test_a_version_with_unknown_store_types_is_kept(image_file, tmp_path):
    glance = FakeGlance()

    def forbidden():
        raise _image_exec.NotAuthorizedError("Glance refused GET /info/stores/detail (HTTP 403)", status_code=403)

    glance.stores_detail = forbidden
    run(glance, image_file)
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert result["actions"][-1]["action"] == "keep_old_version" and "img-1" in glance.images


def test_a_version_protected_or_unretired_since_planning_is_kept(image_file, tmp_path, monkeypatch):
    glance = FakeGlance()
    run(glance, image_file)
    original = glance.image

    def changed_meanwhile(image_id):  # another client protects it between the plan and the delete
        found = original(image_id)
        return found and {**found, "protected": True} if image_id == "img-1" else found

    monkeypatch.setattr(glance, "image", changed_meanwhile)
    result = replace_with(glance, tmp_path, Lifecycle(retire="delete"))
    assert result["actions"][-1] == {"action": "keep_old_version", "image_id": "img-1", "reason": "protected"}
    assert "img-1" in glance.images


def test_absent_refuses_an_image_whose_rbd_snapshot_has_clones(image_file, monkeypatch):
    glance = LifecycleGlance()
    fake_rbd(monkeypatch, FakeRbd(["vms/disk-1"]))
    run(glance, image_file, stores=["fast", "ceph"])
    with pytest.raises(InvalidInputError, match=r"not deleted: .*clones \(vms/disk-1\)"):
        run(glance, image_file, state="absent", stores=None)
    assert "img-1" in glance.images


def test_collection_retires_only_this_catalogues_images_it_no_longer_lists(image_file):
    glance = FakeGlance()
    for name, catalogue in (("kept", "a"), ("dropped", "a"), ("theirs", "b"), ("unmarked", None)):
        run(glance, image_file, name=name, catalogue=catalogue)
    before = {i: dict(image) for i, image in glance.images.items()}
    planned = collect(glance, "a", ["kept"], ["p1"], Lifecycle(), {}, check_mode=True).as_result()
    assert glance.images == before and planned["changed"]
    dropped = next(i for i, image in glance.images.items() if image["name"] == "dropped")
    assert planned["actions"] == [{"name": "dropped", "action": "retire", "image_id": dropped, "policy": "hide"}]
    assert collect(glance, "a", ["kept"], ["p1"], Lifecycle(), {}, check_mode=False).as_result() == planned
    assert glance.images[dropped][RETIRED_KEY] == "dropped" and glance.images[dropped]["os_hidden"]
    assert {image["name"] for image in glance.images.values()} >= {"kept", "theirs", "unmarked"}
    again = collect(glance, "a", ["kept"], ["p1"], Lifecycle(), {}, check_mode=False).as_result()
    assert again == {"changed": False, "actions": [], "failures": [], "retired": []}


def test_collection_leaves_other_owners_pending_and_retired_images(image_file):
    glance = FakeGlance()
    run(glance, image_file, name="kept", catalogue="a")
    for image_id, extra in (("foreign", {"owner": "p2"}), ("pending", {PENDING_KEY: "run x lease 60s until z"}),
                            ("retired", {RETIRED_KEY: "old"})):
        glance.images[image_id] = {"id": image_id, "name": f"{image_id}-name", "owner": "p1",
                                   "storeops.openstack.catalogue": "a", **extra}
    before = {i: dict(image) for i, image in glance.images.items()}
    result = collect(glance, "a", ["kept"], ["p1"], Lifecycle(retire="delete"), {}, check_mode=False).as_result()
    assert result["actions"] == [] and glance.images == before


@pytest.mark.parametrize("failing_call", ["patch", "image"])  # the retirement, or the fresh read before it
def test_collection_goes_on_past_an_image_that_fails_and_reports_it(image_file, monkeypatch, failing_call):
    glance = FakeGlance()
    for name in ("first", "second"):
        run(glance, image_file, name=name, catalogue="a")
    first = next(i for i, image in glance.images.items() if image["name"] == "first")
    original = getattr(glance, failing_call)

    def failing(image_id, *args):
        if image_id == first:
            raise StoreOpsError("Glance said 500")
        return original(image_id, *args)

    monkeypatch.setattr(glance, failing_call, failing)
    result = collect(glance, "a", ["other"], ["p1"], Lifecycle(), {}, check_mode=False).as_result()
    assert result["failed"] and result["failures"] == [{"name": "first", "image_id": first, "msg": "Glance said 500"}]
    assert glance.images[first]["name"] == "first" and RETIRED_KEY in next(
        image for image in glance.images.values() if image.get(RETIRED_KEY) == "second")


def test_an_unsafe_file_is_refused_before_anything_is_sent(tmp_path):
    glance, path = FakeGlance(), tmp_path / "bad.qcow2"
    write_qcow2(path, backing_file=b"/etc/shadow")
    with pytest.raises(InvalidInputError, match="unsafe qcow2"):
        ensure_image(glance, request(disk_format="detect"), Source(filename=str(path)), False)
    assert glance.changes == [] and glance.images == {}


def test_glances_virtual_size_must_be_the_inspectors(image_file, monkeypatch):
    glance = FakeGlance()
    original = glance._store
    monkeypatch.setattr(glance, "_store", lambda image_id, data, stores: (
        original(image_id, data, stores), glance.images[image_id].update(virtual_size=1)))
    with pytest.raises(StoreOpsError, match="virtual_size of the stored image is 1"):
        run(glance, image_file)
    assert [i for i in glance.images.values() if i["name"] == "cirros"] == []


def test_collection_with_no_names_is_refused(image_file):
    glance = FakeGlance()
    run(glance, image_file, name="listed", catalogue="a")
    before = {i: dict(image) for i, image in glance.images.items()}
    with pytest.raises(InvalidInputError, match="names: empty"):
        collect(glance, "a", [], ["p1"], Lifecycle(retire="delete"), {}, check_mode=False)
    assert glance.images == before


def test_collection_takes_the_images_of_every_owner_it_is_given(image_file):
    glance = FakeGlance()
    run(glance, image_file, name="theirs", catalogue="a")
    glance.images["img-1"]["owner"] = "p2"  # an entry that set owner: p2
    result = collect(glance, "a", ["kept"], ["p1", "p2"], Lifecycle(), {}, check_mode=False).as_result()
    assert result["retired"] == ["img-1"] and glance.images["img-1"][RETIRED_KEY] == "theirs"
