"""The direct-path executor on fakes: a file source, an in-memory rbd-like target, a fake Glance."""
from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageBusyError,
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import Writer
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.direct import (
    ApiRegistrar,
    DirectMigrator,
    StepFailed,
    check_direct_stores,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.options import (
    DIRECT,
    DOWNLOAD,
    METADATA,
    MigrationOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    UNCONFIRMED,
    Selection,
    plan_migration,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import (
    ALREADY_DONE,
    FAILED,
    IN_PROGRESS,
    MIGRATED,
    SKIPPED,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.targets import (
    DirectTarget,
    FileTarget,
)

NO_PREFIX = StoreMatcher([], [])
# glance-api.conf's prefixes: the fake target's URLs (rbd://fsid/images/...) are the ceph store's
CEPH_PREFIX = StoreMatcher([StorePrefix("ceph", "rbd://fsid/images/", "config")], ["ceph", "swift"])


class _Reader:
    def __init__(self, data: bytes):
        self._data, self._at = data, 0

    def read(self, size=-1):
        chunk = self._data[self._at:self._at + size]
        self._at += len(chunk)
        return chunk

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Writer(Writer):
    def __init__(self, target, name):
        self._target, self._name = target, name
        target.partial[name] = bytearray()

    def write(self, data):
        self._target.partial[self._name] += data

    def commit(self):
        self._target.images[self._name] = bytes(self._target.partial.pop(self._name))

    def cancel(self):
        self._target.partial.pop(self._name, None)


class FakeRbd(DirectTarget):
    """The rbd target: committed images, uncommitted partial ones, protected snapshots."""

    where, access_fix = "rbd pool images", "give target_access the ceph.conf"

    def __init__(self, rot=False):
        self.images, self.partial, self.snapped, self.reads = {}, {}, set(), []
        self.rot = rot  # what is read back differs from what was written

    def exists(self, image_id):
        return image_id in self.images

    def writer(self, image_id, size):
        return _Writer(self, image_id)

    def reader(self, image_id):
        """A committed copy as RbdTarget reads it; also the rbd driver the data verification reads
        a location's ``image@snap`` with."""
        read = f"{image_id}@snap" if image_id in self.snapped else image_id
        self.reads.append(read)
        data = self.images[read.partition("@")[0]]
        return _Reader(data[:-1] + b"?" if self.rot else data)

    def location(self, image_id):
        return f"rbd://fsid/images/{image_id}/snap"

    def finish(self, image_id):
        self.snapped.add(image_id)

    def remove(self, image_id):
        self.snapped.discard(image_id)
        self.images.pop(image_id, None)

    def removal_hint(self, image_id):
        return f"rbd rm images/{image_id}"

    def partials(self):
        return sorted(self.partial)

    def delete_partial(self, image_id):
        if self.partial.pop(image_id, None) is None:
            raise StorageNotFoundError(image_id, backend="rbd", path=image_id)


class FakeGlance:
    def __init__(self, images):
        self.images = {i["id"]: i for i in images}
        self.calls = []

    def image(self, image_id):
        found = self.images.get(image_id)
        return dict(found) if found else None

    def delete_from_store(self, store, image_id):
        self.calls.append(("delete", store))
        found = self.images[image_id]
        found["stores"] = ",".join(s for s in found["stores"].split(",") if s != store)
        found["locations"] = [loc for loc in found["locations"] if loc["metadata"]["store"] != store]

    def download(self, image_id):
        self.calls.append(("download",))
        if self.served is None:  # the run is stopped here
            raise ConnectionError("Glance went away")
        yield self.served

    def patch(self, image_id, operations):
        """Image properties only, with Glance's JSON-patch rules: add refuses an existing one."""
        found = self.images[image_id]
        for operation in operations:
            name = operation["path"].lstrip("/")
            assert (name in found) == (operation["op"] != "add"), operation
            if operation["op"] == "remove":
                del found[name]
            else:
                found[name] = operation["value"]
        return dict(found)


class FakeRegistrar:
    route = "database"

    def __init__(self, glance):
        self.glance = glance
        self.registered = []

    def register(self, image_id, url, store):
        found = self.glance.images.get(image_id)
        if found is None or found["status"] != "active":  # as the conditional INSERT
            return False
        self.registered.append(url)
        found["stores"] += "," + store
        found["locations"].append({"url": url, "metadata": {"store": store}})
        return True


@pytest.fixture
def setup(tmp_path):
    data = b"image bytes " * 100_000  # over one read chunk
    image_id = str(uuid.uuid4())
    (tmp_path / image_id).write_bytes(data)
    glance = FakeGlance([{"id": image_id, "name": "img", "size": len(data), "status": "active",
                          "stores": "swift", "os_hash_algo": "sha512",
                          "os_hash_value": hashlib.sha512(data).hexdigest(),
                          "locations": [{"url": f"file://{tmp_path}/{image_id}",
                                         "metadata": {"store": "swift"}}]}])
    glance.served = data
    return glance, image_id, data


def run(glance, target, registrar=None, matcher=CEPH_PREFIX, store="ceph", **options):
    options = MigrationOptions(source="swift", target=store, poll_interval=0, method=DIRECT, **options)
    migrator = DirectMigrator(glance, options, matcher, None, target, registrar or FakeRegistrar(glance))
    migrator._drivers[("target", "rbd", "images")] = target  # the verification reads the target through it
    plan = plan_migration(glance.images.values(), Selection(), "swift", store, matcher, None)
    return migrator, migrator.run(plan).outcomes


def test_bytes_written_verified_registered_before_the_source_is_removed(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    _migrator, outcomes = run(glance, target, verify=DOWNLOAD)
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert target.images == {image_id: data} and target.partial == {} and target.snapped == {image_id}
    assert target.reads == [image_id]  # read back once, not again by the data verification
    assert glance.images[image_id]["stores"] == "ceph"
    assert glance.calls == [("delete", "swift"), ("download",)]  # confirmed after the removal


def test_verification_data_proves_the_bytes_by_the_read_back_and_downloads_nothing(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    _migrator, outcomes = run(glance, target)
    assert [o.outcome for o in outcomes] == [MIGRATED] and "download" not in outcomes[0].reason
    assert target.images == {image_id: data} and target.reads == [image_id]
    assert glance.calls == [("delete", "swift")]


def test_corrupt_source_is_refused_nothing_written_or_registered(setup):
    glance, image_id, _data = setup
    glance.images[image_id]["os_hash_value"] = "0" * 128
    target, registrar = FakeRbd(), FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar)
    assert outcomes[0].outcome == FAILED and "does not match the image's os_hash_value" in outcomes[0].reason
    assert target.images == {} and target.partial == {} and registrar.registered == []
    assert glance.calls == []  # the source copy is kept


def test_a_target_that_reads_back_wrong_is_removed_and_never_registered(setup):
    glance, _image_id, _data = setup
    target, registrar = FakeRbd(rot=True), FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar)
    assert outcomes[0].outcome == FAILED and "read back differs" in outcomes[0].reason
    assert target.images == {} and registrar.registered == [] and glance.calls == []


def test_a_killed_runs_committed_copy_is_verified_and_registered_not_written_again(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    target.images[image_id] = data  # committed, then killed before the snapshot and registration
    migrator, outcomes = run(glance, target)
    assert outcomes[0].outcome == MIGRATED and outcomes[0].bytes_copied == 0
    assert target.snapped == {image_id} and glance.images[image_id]["stores"] == "ceph"


def test_a_location_outside_the_target_stores_prefix_is_never_written_nor_registered(setup):
    glance, _image_id, _data = setup
    target, registrar = FakeRbd(), FakeRegistrar(glance)
    other_cluster = StoreMatcher([StorePrefix("ceph", "rbd://other-fsid/images/", "config")], ["ceph", "swift"])
    _migrator, outcomes = run(glance, target, registrar, matcher=other_cluster)
    assert outcomes[0].outcome == FAILED and "is not under glance-api.conf's ceph store" in outcomes[0].reason
    assert target.images == {} and target.partial == {} and registrar.registered == [] and glance.calls == []


def test_registering_an_earlier_runs_copy_is_a_change_though_the_source_is_kept(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    target.images[image_id] = data  # committed by a killed run, not registered
    _migrator, outcomes = run(glance, target, delete_source=False, verify=DOWNLOAD)
    assert outcomes[0].outcome == MIGRATED and "location registered" in outcomes[0].reason
    assert "download not confirmed: Glance may serve the kept source copy" in outcomes[0].reason
    assert glance.images[image_id]["stores"] == "swift,ceph" and glance.calls == []  # nor downloaded
    _migrator, outcomes = run(glance, target, delete_source=False, verify=DOWNLOAD)
    assert outcomes[0].outcome == ALREADY_DONE  # the re-run changes nothing


class DeletedDuringTheCopy(FakeRbd):
    """The image is deleted in Glance once the copy is committed, before its registration."""

    def __init__(self, glance, deactivate=False):
        super().__init__()
        self.glance, self.deactivate = glance, deactivate

    def finish(self, image_id):
        super().finish(image_id)
        if self.deactivate:  # the registrar sees it, Glance's image read just before did not
            self.glance.images[image_id]["status"] = "deactivated"
        else:
            self.glance.images.pop(image_id)


@pytest.mark.parametrize("deactivate", [False, True])
def test_an_image_deleted_during_the_copy_leaves_no_copy_behind(setup, deactivate):
    glance, _image_id, _data = setup
    target, registrar = DeletedDuringTheCopy(glance, deactivate), FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar)
    assert outcomes[0].outcome == SKIPPED and "the copy this run wrote was removed" in outcomes[0].reason
    assert target.images == {} and target.snapped == set() and registrar.registered == []
    assert glance.calls == []


def test_a_killed_runs_snapshot_not_its_head_is_what_is_verified(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    target.images[image_id] = data
    target.snapped.add(image_id)  # killed after the snapshot, before the registration
    _migrator, outcomes = run(glance, target)
    assert outcomes[0].outcome == MIGRATED and target.reads == [f"{image_id}@snap"]


def test_an_unregistered_target_with_other_bytes_is_left_alone(setup):
    glance, image_id, _data = setup
    target = FakeRbd()
    target.images[image_id] = b"someone else's"
    _migrator, outcomes = run(glance, target)
    assert outcomes[0].outcome == FAILED and "holds other bytes" in outcomes[0].reason
    assert target.images[image_id] == b"someone else's" and glance.calls == []


def test_a_run_stopped_before_the_download_is_confirmed_by_the_next_one_only(setup):
    glance, image_id, data = setup
    target = FakeRbd()
    glance.served = None  # stopped after the source copy's removal, before Glance's download
    _migrator, outcomes = run(glance, target, verify=DOWNLOAD)
    assert outcomes[0].outcome == FAILED and glance.images[image_id]["stores"] == "ceph"
    assert glance.images[image_id][UNCONFIRMED] == "ceph"  # set before the removal
    glance.served, glance.calls = data, []
    _migrator, outcomes = run(glance, target, verify=DOWNLOAD)
    assert [o.outcome for o in outcomes] == [MIGRATED] and "download through Glance confirmed" in outcomes[0].reason
    assert glance.calls == [("download",)] and UNCONFIRMED not in glance.images[image_id]
    _migrator, outcomes = run(glance, target, verify=DOWNLOAD)
    assert outcomes == () and glance.calls == [("download",)]  # no more downloads once confirmed


def test_an_unconfirmed_image_is_reported_by_a_run_that_does_not_download(setup):
    glance, image_id, _data = setup
    glance.served = None
    run(glance, FakeRbd(), verify=DOWNLOAD)
    glance.calls = []
    _migrator, outcomes = run(glance, FakeRbd())  # verification=data
    assert outcomes[0].outcome == ALREADY_DONE and UNCONFIRMED in outcomes[0].reason
    assert "verification=download" in outcomes[0].fix and glance.calls == []
    assert glance.images[image_id][UNCONFIRMED] == "ceph"


def test_a_wrong_download_is_reported_loudly_after_the_verified_move(setup):
    glance, image_id, _data = setup
    glance.served = b"other"
    _migrator, outcomes = run(glance, FakeRbd(), verify=DOWNLOAD)
    assert outcomes[0].outcome == FAILED and "Glance serves other bytes" in outcomes[0].reason
    assert glance.images[image_id]["stores"] == "ceph"


def test_an_image_without_os_hash_value_is_finished_by_metadata_without_a_download(setup):
    glance, image_id, data = setup
    found = glance.images[image_id]
    del found["os_hash_value"], found["os_hash_algo"]
    found["stores"] = "swift,ceph"  # copied and registered earlier; the source copy is still there
    found["locations"].append({"url": f"rbd://fsid/images/{image_id}/snap", "metadata": {"store": "ceph"}})
    _migrator, outcomes = run(glance, FakeRbd(), verify=METADATA)
    assert outcomes[0].outcome == MIGRATED and "download" not in outcomes[0].reason, outcomes
    assert glance.calls == [("delete", "swift")]


def test_a_copy_image_in_flight_is_not_disturbed(setup):
    glance, image_id, _data = setup
    glance.images[image_id]["os_glance_importing_to_stores"] = "ceph"
    target = FakeRbd()
    _migrator, outcomes = run(glance, target)
    assert outcomes[0].outcome == IN_PROGRESS and target.images == {} and target.partial == {}


def _orphan_setup(glance, image_id, count=6):
    gone = sorted(str(uuid.uuid4()) for _image in range(count))
    target = FakeRbd()
    target.partial.update({name: bytearray() for name in [*gone, image_id, "not-an-image"]})
    migrator = DirectMigrator(glance, MigrationOptions("swift", "ceph"), CEPH_PREFIX, None,
                              target, FakeRegistrar(glance))
    return migrator, target, gone


def test_only_image_id_partials_of_deleted_images_are_orphans(setup):
    glance, image_id, _data = setup
    migrator, target, gone = _orphan_setup(glance, image_id)
    assert migrator.orphans(Selection()) == tuple(gone)  # the live image's partial is not one
    assert migrator.remove_orphans(tuple(gone)) == (tuple(gone), ())
    assert sorted(target.partial) == sorted([image_id, "not-an-image"])


def test_shard_runs_each_take_their_own_orphans(setup):
    glance, image_id, _data = setup
    migrator, _target, gone = _orphan_setup(glance, image_id, count=20)
    shards = [migrator.orphans(Selection(shard_index=n, shard_count=3)) for n in range(3)]
    assert sorted(name for shard in shards for name in shard) == gone
    assert all(shards) and not set(shards[0]) & set(shards[1])


class FlakyRbd(FakeRbd):
    def delete_partial(self, image_id):
        if image_id == self.broken:
            raise OSError("rbd: image busy")
        super().delete_partial(image_id)


def test_an_orphan_gone_already_or_not_removable_does_not_stop_the_others(setup):
    glance, image_id, _data = setup
    migrator, target, gone = _orphan_setup(glance, image_id, count=3)
    migrator.target = flaky = FlakyRbd()
    flaky.partial, flaky.broken = target.partial, gone[1]
    del flaky.partial[gone[0]]  # another run of this shard removed it after the listing
    removed, kept = migrator.remove_orphans(tuple(gone))
    assert removed == (gone[2],) and kept == (f"{gone[1]}: OSError: rbd: image busy",)
    assert sorted(flaky.partial) == sorted([gone[1], image_id, "not-an-image"])


class PatchingGlance:
    def __init__(self, tag):
        self.tag = tag

    def patch(self, image_id, operations):
        url = operations[0]["value"]["url"]
        return {"locations": [{"url": url, "metadata": {"store": self.tag}}]}


def test_the_api_route_checks_the_tag_glance_wrote():
    ApiRegistrar(PatchingGlance("ceph")).register("id", "rbd://f/p/id/snap", "ceph")
    with pytest.raises(StepFailed, match="tagged \\['other'\\], not ceph"):
        ApiRegistrar(PatchingGlance("other")).register("id", "rbd://f/p/id/snap", "ceph")


class PoolConf:
    def rbd_pool(self, store):
        return "images"


STORES = [{"id": "swift", "type": "swift"}, {"id": "old-ceph", "type": "rbd"}, {"id": "s3", "type": "s3"},
          {"id": "ceph", "type": "rbd", "properties": {"pool": "images"}}]


@pytest.mark.parametrize("source", ["swift", "old-ceph"])
def test_swift_and_rbd_sources_pass_the_direct_checks(source):
    check_direct_stores(STORES, source, "ceph", PoolConf(), "database")


@pytest.mark.parametrize("detailed, source, target, message", [
    (STORES, "s3", "ceph", "^source_store: method=direct reads swift, file, rbd stores only, and s3 is a s3 store"),
    (STORES, "ceph", "s3", "^target_store: method=direct writes rbd, file, swift stores only, and s3 is a s3 store"),
    ([*STORES[:3], {"id": "ceph", "type": "rbd", "properties": {"pool": "volumes"}}], "swift", "ceph",
     "^glance_api_conf: its ceph store names pool images, but Glance reports pool volumes"),
])
def test_direct_refuses_what_it_cannot_read_or_glance_would_not(detailed, source, target, message):
    with pytest.raises(InvalidInputError, match=message):
        check_direct_stores(detailed, source, target, PoolConf(), "database")


def test_an_rbd_source_is_read_with_its_own_access(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("ansible_collections.storeops.openstack.plugins.module_utils._store_migration."
                        "executor.open_driver", lambda kind, container, access: opened.append(access) or kind)
    options = MigrationOptions("old-ceph", "ceph", access={"ceph_conf": "/target.conf"},
                               source_access={"ceph_conf": "/source.conf"})
    migrator = DirectMigrator(None, options, CEPH_PREFIX, None, FakeRbd(), None)
    migrator._driver("rbd", "images", "source")
    migrator._driver("rbd", "images")
    assert opened == [{"ceph_conf": "/source.conf"}, {"ceph_conf": "/target.conf"}]


@pytest.fixture
def file_target(tmp_path):
    datadir = tmp_path / "fast"
    datadir.mkdir()
    matcher = StoreMatcher([StorePrefix("fast", f"file://{datadir}", "config")], ["fast", "swift"])
    return FileTarget("fast", str(datadir)), datadir, matcher


def test_a_file_target_is_written_read_back_and_registered_in_glance_stores_layout(setup, file_target):
    glance, image_id, data = setup
    target, datadir, matcher = file_target
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar, matcher, store="fast", verify=DOWNLOAD)
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert os.listdir(datadir) == [image_id] and (datadir / image_id).read_bytes() == data
    assert registrar.registered == [f"file://{datadir}/{image_id}"] and glance.images[image_id]["stores"] == "fast"
    assert glance.calls == [("delete", "swift"), ("download",)]
    _migrator, outcomes = run(glance, target, registrar, matcher, store="fast")
    assert outcomes == () and registrar.registered == [f"file://{datadir}/{image_id}"]  # nothing left to do


def test_a_foreign_file_at_the_images_path_is_refused_and_kept(setup, file_target):
    glance, image_id, _data = setup
    target, datadir, matcher = file_target
    (datadir / image_id).write_bytes(b"someone else's")
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar, matcher, store="fast")
    assert outcomes[0].outcome == FAILED and "holds other bytes" in outcomes[0].reason
    assert f"remove it (rm {datadir}/{image_id})" in outcomes[0].fix
    assert (datadir / image_id).read_bytes() == b"someone else's" and os.listdir(datadir) == [image_id]
    assert registrar.registered == [] and glance.calls == []


def test_a_file_target_partial_of_a_deleted_image_is_an_orphan(setup, file_target):
    glance, image_id, _data = setup
    target, datadir, matcher = file_target
    gone = str(uuid.uuid4())
    for name in (gone, image_id):
        (datadir / f"{name}.partial").write_bytes(b"half")
    migrator = DirectMigrator(glance, MigrationOptions("swift", "fast"), matcher, None, target, FakeRegistrar(glance))
    assert migrator.orphans(Selection()) == (gone,)
    assert migrator.remove_orphans((gone,)) == ((gone,), ())
    assert os.listdir(datadir) == [f"{image_id}.partial"]


def test_a_file_target_is_registered_through_the_database_only():
    stores = [*STORES, {"id": "fast", "type": "file"}]
    check_direct_stores(stores, "swift", "fast", PoolConf(), "database")
    with pytest.raises(InvalidInputError, match="^backend: Glance's API refuses file:// locations, so the copies "
                       "in the file store fast are registered through the database only; use backend=database$"):
        check_direct_stores(stores, "swift", "fast", PoolConf(), "api")


def test_a_killed_runs_committed_file_is_verified_registered_and_its_partial_link_dropped(setup, file_target):
    glance, image_id, data = setup
    target, datadir, matcher = file_target
    (datadir / image_id).write_bytes(data)
    os.link(datadir / image_id, datadir / f"{image_id}.partial")  # killed inside the commit
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target, registrar, matcher, store="fast")
    assert outcomes[0].outcome == MIGRATED and outcomes[0].bytes_copied == 0, outcomes
    assert os.listdir(datadir) == [image_id] and registrar.registered == [f"file://{datadir}/{image_id}"]


class FakeSwiftSource:
    """Glance's swift container as its source driver: objects with headers; every delete recorded in
    ``log``, which the fake Glance's calls share, so the order of the steps shows."""

    def __init__(self, log):
        self.objects, self.log = {}, log

    def head(self, name):
        if name not in self.objects:
            raise StorageNotFoundError(name, backend="swift", path=name)
        return self.objects[name][1]

    def reader(self, name):
        prefix = self.objects[name][1].get("X-Object-Manifest", "").partition("/")[2]
        if not prefix:
            return _Reader(self.objects[name][0])
        return _Reader(b"".join(data for key, (data, _h) in sorted(self.objects.items()) if key.startswith(prefix)))

    def delete_only(self, name):
        self.log.append(("swift delete", name))
        self.objects.pop(name, None)

    def listing(self, prefix):
        return [{"name": key} for key in sorted(self.objects) if key.startswith(prefix)]

    def delete_many(self, names):
        self.log.append(("swift bulk delete", tuple(names)))
        for name in names:
            self.objects.pop(name)

    def close(self):
        pass


def swift_setup(setup, manifest=None, slo=False, name=None, source=None):
    """The setup's image as glance_store stores it in swift: a DLO manifest over three segments
    (``manifest``: another prefix than glance_store's) and a zero-byte object of another tool under
    that prefix; ``name``: the location's object, if not the image id."""
    glance, image_id, data = setup
    name = name or image_id
    source = source or FakeSwiftSource(glance.calls)
    third = len(data) // 3 + 1
    for number in range(3):
        source.objects[f"{name}-{number + 1:05d}"] = (data[number * third:(number + 1) * third], {})
    source.objects[f"{name}-notes"] = (b"", {})
    if slo:  # its own segments, wherever the manifest lists them
        source.objects[name] = (data, {"X-Static-Large-Object": "True"})
    else:
        source.objects[name] = (b"", {"X-Object-Manifest": manifest or f"glance/{name}-"})
    glance.images[image_id]["locations"] = [{"url": f"swift+config://ref1/glance/{name}",
                                             "metadata": {"store": "swift"}}]
    return glance, image_id, source


# glance-api.conf's prefixes of both stores: a swift location is the swift store's own
BOTH_PREFIXES = StoreMatcher([StorePrefix("ceph", "rbd://fsid/images/", "config"),
                              StorePrefix("swift", "swift+config://ref1/glance/", "config")], ["ceph", "swift"])


def run_from_swift(glance, source, target, concurrency=1):
    options = MigrationOptions(source="swift", target="ceph", poll_interval=0, method=DIRECT, concurrency=concurrency)
    migrator = DirectMigrator(glance, options, BOTH_PREFIXES, None, target, FakeRegistrar(glance))
    migrator._drivers[("target", "rbd", "images")] = target
    migrator._drivers[("source", "swift", "glance")] = source
    recorded = []
    migrator._record = lambda image_id, step, outcome, seconds, detail="", **extra: recorded.append((step, detail))
    plan = plan_migration(glance.images.values(), Selection(), "swift", "ceph", BOTH_PREFIXES, None)
    return migrator.run(plan).outcomes, dict(recorded)


def test_a_swift_source_loses_its_manifest_first_then_its_numbered_segments_in_bulk(setup):
    glance, image_id, source = swift_setup(setup)
    outcomes, steps = run_from_swift(glance, source, FakeRbd())
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    segments = tuple(f"{image_id}-{number:05d}" for number in (1, 2, 3))
    # the manifest before its segments: Glance reads the target, never a partial image
    assert glance.calls == [("swift delete", image_id), ("swift bulk delete", segments), ("delete", "swift")]
    assert sorted(source.objects) == [f"{image_id}-notes"]  # not glance_store's naming: another tool's, kept
    assert steps["remove_source"] == "swift object and 3 segment(s) deleted here"


def test_a_run_killed_between_the_manifest_and_its_segments_deletes_the_rest_on_the_rerun(setup):
    glance, image_id, source = swift_setup(setup)
    target = FakeRbd()
    run_from_swift(glance, source, target)
    # the state a kill after the manifest's delete leaves: segments, Glance still listing swift
    glance_after, _id, source = swift_setup(setup)
    del source.objects[image_id]
    glance_after.images[image_id].update(stores="swift,ceph", locations=[
        *glance_after.images[image_id]["locations"], {"url": target.location(image_id), "metadata": {"store": "ceph"}}])
    glance_after.calls.clear()
    outcomes, steps = run_from_swift(glance_after, source, target)
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert sorted(source.objects) == [f"{image_id}-notes"]
    assert glance_after.images[image_id]["stores"] == "ceph"
    assert steps["remove_source"] == "swift object (gone already) and 3 segment(s) deleted here"


def test_a_forged_manifest_prefix_deletes_nothing_it_names(setup):
    image_id = setup[1]
    glance, image_id, source = swift_setup(setup, manifest=f"glance/{image_id}")  # lists <id>.bak too
    source.objects[f"{image_id}.bak"] = (b"", {})  # zero bytes: the image reads the same
    before = sorted(source.objects)
    outcomes, _steps = run_from_swift(glance, source, FakeRbd())
    assert [o.outcome for o in outcomes] == [FAILED], outcomes
    assert f"names the segments glance/{image_id}, not glance_store's" in outcomes[0].reason
    assert sorted(source.objects) == before and glance.calls == []  # nothing deleted, by us or Glance
    assert glance.images[image_id]["stores"] == "swift,ceph"  # the verified target stays registered


def test_a_source_object_another_location_names_too_is_never_deleted(setup):
    """Two swift stores over one container: the target's location names the source's object."""
    glance, image_id, source = swift_setup(setup)
    glance.images[image_id]["locations"].append({"url": f"swift+config://ref2/glance/{image_id}",
                                                 "metadata": {"store": "backup"}})
    before = sorted(source.objects)
    outcomes, _steps = run_from_swift(glance, source, FakeRbd())
    assert [o.outcome for o in outcomes] == [FAILED] and "names the same swift object" in outcomes[0].reason
    assert sorted(source.objects) == before and glance.calls == []


@pytest.mark.parametrize("how", ["slo", "hand-added location"])
def test_what_glance_store_did_not_write_is_left_to_glance(setup, how):
    glance, image_id, source = swift_setup(setup, slo=how == "slo",
                                           name="shared-object" if how != "slo" else None)
    outcomes, _steps = run_from_swift(glance, source, FakeRbd())
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert glance.calls == [("delete", "swift")]


class _SlowSwiftSource(FakeSwiftSource):
    """Its bulk deletes wait (up to a few seconds) for the target to start writing ``next_image``."""

    def __init__(self, log, target, next_image):
        super().__init__(log)
        self.target, self.next_image, self.overlapped = target, next_image, []

    def delete_many(self, names):
        waited = 0.0
        while self.next_image not in self.target.partial and self.next_image not in self.target.images and waited < 3:
            time.sleep(0.01)
            waited += 0.01
        self.overlapped.append(waited < 3)
        super().delete_many(names)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_the_next_copy_starts_while_a_verified_images_source_copy_is_deleted(setup, concurrency):
    glance, first, data = setup
    second = str(uuid.uuid4())
    glance.images[second] = {**glance.images[first], "id": second, "locations": []}
    target = FakeRbd()
    source = _SlowSwiftSource(glance.calls, target, second)
    swift_setup(setup, source=source)
    swift_setup((glance, second, data), source=source)
    outcomes, _steps = run_from_swift(glance, source, target, concurrency=concurrency)
    assert sorted(o.outcome for o in outcomes) == [MIGRATED, MIGRATED], outcomes
    assert source.overlapped[0] is True  # the first image's segments went while the second was copied
    assert glance.images[first]["stores"] == glance.images[second]["stores"] == "ceph"


class _RivalRbd(FakeRbd):
    """Another run of the same image at work: its partial held (``busy``), or its copy committed
    while this run wrote (``committed``)."""

    def __init__(self, rival, data=None):
        super().__init__()
        self.rival, self.data = rival, data

    def writer(self, image_id, size):
        if self.rival == "busy":
            raise StorageBusyError(f"rbd store: images/{image_id}.partial is being written by another client now")
        writer = super().writer(image_id, size)

        def commit():
            self.images[image_id] = self.data  # the other run's rename came first
            raise StorageConflictError(f"rbd store: images/{image_id} appeared while it was written")
        writer.commit = commit
        return writer


@pytest.mark.parametrize("rival", ["busy", "committed"])
def test_another_run_copying_the_same_image_is_left_to_finish_it(setup, rival):
    glance, image_id, data = setup
    target = _RivalRbd(rival, data)
    _migrator, outcomes = run(glance, target)
    assert [o.outcome for o in outcomes] == [IN_PROGRESS], outcomes
    assert "another run" in outcomes[0].reason and outcomes[0].fix.startswith("re-run later")
    assert glance.images[image_id]["stores"] == "swift" and glance.calls == []  # nothing registered or removed
    assert target.partial == {}  # this run's own partial dropped, the other's copy kept
    assert target.images == ({image_id: data} if rival == "committed" else {})


def test_an_image_waiting_for_a_copy_lane_when_time_is_up_is_left_unstarted(setup):
    glance, first, data = setup
    others = [str(uuid.uuid4()) for _number in range(2)]
    for image_id in others:
        glance.images[image_id] = {**glance.images[first], "id": image_id}
    now = [0.0]

    class _SlowTarget(FakeRbd):
        def writer(self, image_id, size):
            now[0] = 100.0  # the first copy uses up the run's time
            return super().writer(image_id, size)

    target = _SlowTarget()
    options = MigrationOptions(source="swift", target="ceph", poll_interval=0, method=DIRECT, concurrency=1,
                               max_duration=10)
    migrator = DirectMigrator(glance, options, CEPH_PREFIX, None, target, FakeRegistrar(glance),
                              clock=lambda: now[0])
    migrator._drivers[("target", "rbd", "images")] = target
    plan = plan_migration(glance.images.values(), Selection(), "swift", "ceph", CEPH_PREFIX, None)
    result = migrator.run(plan)
    assert [(o.item.image_id, o.outcome) for o in result.outcomes] == [(plan.planned[0].image_id, MIGRATED)]
    assert [item.image_id for item in result.unstarted] == [item.image_id for item in plan.planned[1:]]
    assert sorted(target.images) == [plan.planned[0].image_id]  # nothing else copied


def test_a_location_this_host_cannot_parse_does_not_stop_the_source_removal(setup):
    glance, image_id, source = swift_setup(setup)
    glance.images[image_id]["locations"].append({"url": "http://mirror.example/image", "metadata": {"store": "http"}})
    outcomes, steps = run_from_swift(glance, source, FakeRbd())
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert steps["remove_source"] == "swift object and 3 segment(s) deleted here"
