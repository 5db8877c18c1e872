"""The file driver on a temporary directory: the driver interface without a cloud."""
from __future__ import annotations

import os

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageBusyError,
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.locations import open_driver, parse_location


def test_a_written_object_is_visible_only_once_committed(tmp_path):
    driver = FileDriver(str(tmp_path))
    writer = driver.writer("a/b")
    writer.write(b"12345")
    with pytest.raises(StorageNotFoundError, match=f"file store: no object 'a/b' in {tmp_path}"):
        driver.stat("a/b")
    assert list(driver.list()) == []  # a partial object is not listed
    writer.commit()
    assert driver.stat("a/b").size == 5


def test_an_interrupted_writer_resumes_after_what_it_wrote(tmp_path):
    driver = FileDriver(str(tmp_path))
    first = driver.writer("obj")
    first.write(b"abc")
    first.close()
    second = driver.writer("obj", resume=True)
    assert second.size == 3
    second.write(b"def")
    second.commit()
    with driver.reader("obj", offset=2) as stream:
        assert stream.read() == b"cdef"


def test_put_and_the_listing_in_path_order_after_a_marker(tmp_path):
    driver = FileDriver(str(tmp_path))
    for path in ("x-b", "x/a", "x-a", "y"):
        driver.put(path, path.encode())
    assert [item.path for item in driver.list("x")] == ["x-a", "x-b", "x/a"]
    assert [item.path for item in driver.list("x", marker="x-a")] == ["x-b", "x/a"]


def test_a_cancelled_writer_leaves_nothing(tmp_path):
    driver = FileDriver(str(tmp_path))
    writer = driver.writer("obj")
    writer.write(b"abc")
    writer.cancel()
    assert list(tmp_path.iterdir()) == []


def test_paths_never_leave_the_root(tmp_path):
    driver = FileDriver(str(tmp_path / "root"))
    for path in ("../outside", "", "a/../../b"):
        with pytest.raises(InvalidInputError):
            driver.stat(path)


def test_delete_of_a_missing_object_is_not_found(tmp_path):
    driver = FileDriver(str(tmp_path))
    driver.put("obj", b"x")
    driver.delete("obj")
    with pytest.raises(StorageNotFoundError):
        driver.delete("obj")


def test_a_file_location_opens_a_file_driver_on_its_directory(tmp_path):
    (tmp_path / "image-id").write_bytes(b"image")
    kind, container, path = parse_location(f"file://{tmp_path}/image-id")
    assert (kind, container, path) == ("file", str(tmp_path), "image-id")
    with open_driver(kind, container, {}).reader(path) as stream:
        assert stream.read() == b"image"


def test_rbd_locations_name_pool_and_snapshot():
    assert parse_location("rbd://fsid/images/abc/snap") == ("rbd", "images", "abc@snap")
    with pytest.raises(InvalidInputError, match="use verification=metadata"):
        parse_location("s3://key:secret@rgw/bucket/abc")


def test_swift_locations_name_container_and_object_and_need_the_store_credentials():
    assert parse_location("swift+http://swift/v1/AUTH_x/glance/abc") == ("swift", "glance", "abc")
    assert parse_location("swift+config://ref1/glance/abc") == ("swift", "glance", "abc")
    with pytest.raises(InvalidInputError, match="without the swift store's credentials"):
        open_driver("swift", "glance", {})


def test_a_fresh_writer_unlinks_a_dead_writers_partial_not_truncates_it(tmp_path):
    """A run killed inside an exclusive commit, between the link and the unlink, leaves the partial
    a link to the committed file: a fresh writer must not empty the committed copy through it."""
    driver = FileDriver(str(tmp_path))
    (tmp_path / "obj").write_bytes(b"committed")
    os.link(tmp_path / "obj", tmp_path / "obj.partial")
    fresh = driver.writer("obj", exclusive=True)
    fresh.write(b"new")
    assert (tmp_path / "obj").read_bytes() == b"committed"
    with pytest.raises(StorageConflictError):
        fresh.commit()
    fresh.cancel()
    assert (tmp_path / "obj").read_bytes() == b"committed" and not (tmp_path / "obj.partial").exists()


def test_a_partial_whose_writer_is_alive_is_never_written_or_dropped(tmp_path):
    driver = FileDriver(str(tmp_path))
    live = driver.writer("obj")
    live.write(b"abc")
    for resume in (False, True):
        with pytest.raises(StorageBusyError, match=r"obj\.partial is being written by another process"):
            driver.writer("obj", resume=resume)
    live.write(b"def")
    live.commit()
    with driver.reader("obj") as stream:
        assert stream.read() == b"abcdef"
