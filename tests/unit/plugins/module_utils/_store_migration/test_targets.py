"""The file target of method=direct on a temporary directory: glance_store's layout, partial copies."""
from __future__ import annotations

import os

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.targets import (
    FileTarget,
    open_target,
)

IMAGE = "0b5e7c1a-4c7e-4f7e-9a4e-2f0c1d2e3f40"


@pytest.fixture
def target(tmp_path):
    return FileTarget("fast", str(tmp_path) + "/")  # glance-api.conf's datadirs often end with "/"


def test_a_copy_is_a_partial_file_until_committed_then_glance_stores_layout(target, tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    writer = target.writer(IMAGE, 11)
    writer.write(b"image bytes")
    assert os.listdir(tmp_path) == [f"{IMAGE}.partial"] and not target.exists(IMAGE)
    assert target.partials() == [IMAGE]
    writer.commit()
    assert synced == [f"{tmp_path}/{IMAGE}.partial", str(tmp_path)]  # the bytes before the rename, then it
    assert os.listdir(tmp_path) == [IMAGE] and target.exists(IMAGE) and target.partials() == []
    with target.reader(IMAGE) as stream:
        assert stream.read() == b"image bytes"
    assert target.location(IMAGE) == f"file://{tmp_path}/{IMAGE}"  # glance_store's os.path.join


def test_a_file_that_appears_during_the_write_is_never_replaced(target, tmp_path):
    writer = target.writer(IMAGE, 11)
    writer.write(b"ours")
    (tmp_path / IMAGE).write_bytes(b"someone else's")
    with pytest.raises(StorageConflictError, match="appeared while it was written; it is kept"):
        writer.commit()
    writer.cancel()
    assert (tmp_path / IMAGE).read_bytes() == b"someone else's" and target.partials() == []


def test_a_partial_left_by_a_killed_commit_is_dropped_not_truncated_into_the_copy(target, tmp_path):
    (tmp_path / IMAGE).write_bytes(b"committed")
    os.link(tmp_path / IMAGE, tmp_path / f"{IMAGE}.partial")  # killed between the link and the unlink
    target.finish(IMAGE)
    assert os.listdir(tmp_path) == [IMAGE] and (tmp_path / IMAGE).read_bytes() == b"committed"
    os.link(tmp_path / IMAGE, tmp_path / f"{IMAGE}.partial")
    target.writer(IMAGE, 11).cancel()  # a new write unlinks the old partial: the inode it shares keeps its bytes
    assert os.listdir(tmp_path) == [IMAGE] and (tmp_path / IMAGE).read_bytes() == b"committed"
    target.remove(IMAGE)
    assert os.listdir(tmp_path) == []


def test_finishing_a_copy_leaves_another_runs_partial_alone(target, tmp_path):
    (tmp_path / IMAGE).write_bytes(b"committed")
    other = target.writer(IMAGE, 11)  # another run of the image, writing its own partial now
    other.write(b"in flight")
    target.finish(IMAGE)
    assert sorted(os.listdir(tmp_path)) == [IMAGE, f"{IMAGE}.partial"]
    other.cancel()


def test_partials_are_listed_and_dropped_once(target, tmp_path):
    (tmp_path / f"{IMAGE}.partial").write_bytes(b"half")
    (tmp_path / "other").write_bytes(b"not a partial")
    (tmp_path / "dir.partial").mkdir()
    assert target.partials() == [IMAGE]
    target.delete_partial(IMAGE)
    with pytest.raises(StorageNotFoundError):
        target.delete_partial(IMAGE)  # another run removed it first
    assert sorted(os.listdir(tmp_path)) == ["dir.partial", "other"]
    assert target.removal_hint(IMAGE) == f"rm {tmp_path}/{IMAGE}"


def test_a_datadir_not_on_this_host_or_not_writable_is_refused_in_one_line(tmp_path, monkeypatch):
    with pytest.raises(InvalidInputError, match=f"^target_store: fast's filesystem_store_datadir {tmp_path}/no "
                       "is not a directory on this host; method=direct writes a file store only on the host"):
        FileTarget("fast", str(tmp_path / "no"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere
    with pytest.raises(InvalidInputError, match="is not writable by this user; run the module as the user Glance"):
        FileTarget("fast", str(tmp_path))


def conf_of(text: str) -> GlanceApiConf:
    return GlanceApiConf("/etc/glance/glance-api.conf", lambda _path: text)


def test_the_datadir_comes_from_the_target_stores_section(tmp_path):
    target = open_target("fast", "file", conf_of(f"[fast]\nfilesystem_store_datadir = {tmp_path}\n"), {})
    assert target.location(IMAGE) == f"file://{tmp_path}/{IMAGE}" and str(tmp_path) in target.where
    spread = conf_of(f"[fast]\nfilesystem_store_datadirs = {tmp_path}:100\nfilesystem_store_datadirs = /b:200\n")
    with pytest.raises(InvalidInputError, match="^target_store: fast spreads images over 2 filesystem_store_datadirs"):
        open_target("fast", "file", spread, {})
