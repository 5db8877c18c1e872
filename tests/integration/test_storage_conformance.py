"""One conformance suite for every storage driver, each against its real back end on the local cloud."""
from __future__ import annotations

import hashlib
import os
import uuid

import openstack
import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    SourceMismatchError,
    StorageBusyError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import multipart_etag
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import RbdDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.s3 import PartLayout, S3Account, WriteOptions
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftAccount

MIB = 2**20


@pytest.fixture(params=["file", "rbd", "swift", "s3"])
def driver(request, cloud, tmp_path):
    kind, tag = request.param, uuid.uuid4().hex[:8]
    if kind == "file":
        made = FileDriver(str(tmp_path / "store"))
    elif kind == "rbd":
        made = RbdDriver(cloud["ceph"]["rbd_pool"], cloud["ceph"]["conf"])
    elif kind == "swift":
        made = SwiftAccount(openstack.connect(cloud=cloud["admin_cloud"]), segment_size=2 * MIB).container(
            f"conformance-{tag}")
        made.ensure_container()
    else:
        rgw = cloud["ceph"]["rgw"]
        made = S3Account.connect(rgw["endpoint"], rgw["s3_access_key"], rgw["s3_secret_key"],
                                 part_size=5 * MIB).bucket(f"conformance-{tag}")
        made.create_bucket()
    made.test_prefix = f"t{tag}-"  # rbd shares its pool with Glance: keep to our own names
    yield made
    for item in list(made.list(made.test_prefix)):
        made.delete(item.path)
    made.close()


def write(driver, path, data, chunk=MIB):
    writer = driver.writer(path)
    for start in range(0, len(data), chunk):
        writer.write(data[start:start + chunk])
    writer.commit()


def read(driver, path, offset=0):
    with driver.reader(path, offset) as stream:
        parts = []
        while True:
            chunk = stream.read(MIB)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)


@pytest.mark.parametrize("size", [0, 1, MIB + 1, 11 * MIB + 7])
def test_round_trip_at_several_sizes(driver, size):
    data = os.urandom(size)
    path = f"{driver.test_prefix}obj-{size}"
    write(driver, path, data)
    assert driver.stat(path).size == size
    assert hashlib.sha256(read(driver, path)).digest() == hashlib.sha256(data).digest()


def test_reader_from_offsets(driver):
    data = os.urandom(3 * MIB + 5)
    path = f"{driver.test_prefix}offsets"
    write(driver, path, data)
    for offset in (0, 1, MIB, len(data) - 1, len(data)):
        assert read(driver, path, offset) == data[offset:]


def test_interrupted_writer_resumes_where_it_stopped(driver):
    data = os.urandom(12 * MIB)
    path = f"{driver.test_prefix}resumed"
    first = driver.writer(path)
    first.write(data[:6 * MIB])
    first.close()  # the run is interrupted here
    with pytest.raises(StorageNotFoundError):
        driver.stat(path)  # nothing visible before the commit
    second = driver.writer(path, resume=True)
    assert 0 < second.size <= 6 * MIB
    second.write(data[second.size:])
    second.commit()
    assert read(driver, path) == data


@pytest.mark.parametrize("driver", ["file", "rbd"], indirect=True)  # swift and s3 writers take no lock
def test_a_partial_another_writer_holds_is_left_alone_and_a_closed_ones_is_replaced(driver):
    data = os.urandom(3 * MIB)
    path = f"{driver.test_prefix}held"
    first = driver.writer(path)
    first.write(data[:MIB])
    for resume in (False, True):  # another run's writer, fresh or resuming
        with pytest.raises(StorageBusyError, match="another"):
            driver.writer(path, resume=resume)
    first.write(data[MIB:2 * MIB])
    first.close()  # its process gone: the partial is free
    second = driver.writer(path)
    assert second.size == 0
    second.write(data)
    second.commit()
    assert read(driver, path) == data


def test_paged_listing_with_prefix_collisions(driver):
    names = [f"{driver.test_prefix}{name}" for name in ("x", "x-a", "x-b", "xsuffix", "y")]
    for name in names:
        write(driver, name, name.encode())
    listed = [item.path for item in driver.list(driver.test_prefix, page_size=2)]
    assert listed == sorted(names)
    assert [i.path for i in driver.list(f"{driver.test_prefix}x-", page_size=1)] == names[1:3]
    after = [i.path for i in driver.list(f"{driver.test_prefix}x", marker=names[1], page_size=2)]
    assert after == names[2:4]


def test_delete_and_not_found_errors_name_the_backend(driver):
    path = f"{driver.test_prefix}gone"
    write(driver, path, b"bytes")
    driver.delete(path)
    for operation in (driver.stat, driver.reader, driver.delete):
        with pytest.raises(StorageNotFoundError) as caught:
            operation(path)
        assert str(caught.value).startswith(f"{driver.kind} store: no object")


def test_put_writes_one_whole_object_per_call(driver):
    paths = [f"{driver.test_prefix}journal/{number:08d}" for number in (1, 2)]
    for number, path in enumerate(paths):
        driver.put(path, b"flush %d" % number)
    assert [read(driver, path) for path in paths] == [b"flush 0", b"flush 1"]
    assert [item.path for item in driver.list(f"{driver.test_prefix}journal/")] == paths


# -- S3 parts whose MD5 is known before they are read (a segment's ETag): streamed, S3 checks them

def streamed_layout(pieces, md5s=None):
    md5s = md5s or [hashlib.md5(piece).digest() for piece in pieces]
    return PartLayout(5 * MIB, sizes=tuple(len(piece) for piece in pieces), md5s=tuple(md5s))


@pytest.mark.parametrize("driver", ["s3"], indirect=True)
def test_streamed_parts_land_as_their_known_md5s(driver):
    pieces = [os.urandom(6 * MIB), os.urandom(5 * MIB), os.urandom(MIB + 3)]
    layout = streamed_layout(pieces)
    path = f"{driver.test_prefix}streamed"
    writer = driver.multipart_writer(path, layout, WriteOptions())
    data = b"".join(pieces)
    for start in range(0, len(data), MIB):
        writer.write(data[start:start + MIB])
    writer.commit()
    assert read(driver, path) == data
    assert driver.stat(path).etag == multipart_etag(layout.md5s) == multipart_etag(writer.part_md5s())


@pytest.mark.parametrize("driver", ["s3"], indirect=True)
def test_a_streamed_part_unlike_its_md5_is_refused_by_s3(driver):
    pieces = [os.urandom(5 * MIB), os.urandom(5 * MIB)]
    path = f"{driver.test_prefix}baddigest"
    writer = driver.multipart_writer(path, streamed_layout(pieces, [hashlib.md5(pieces[0]).digest(),
                                                                    hashlib.md5(b"other").digest()]), WriteOptions())
    writer.write(pieces[0])
    with pytest.raises(SourceMismatchError, match="part 2 does not have MD5"):
        writer.write(pieces[1])
    writer.cancel()
    assert driver.pending_upload(path) is None


@pytest.mark.parametrize("driver", ["s3"], indirect=True)
def test_a_streamed_part_cut_short_is_dropped_and_the_upload_resumes_before_it(driver):
    pieces = [os.urandom(5 * MIB), os.urandom(5 * MIB)]
    path = f"{driver.test_prefix}cutshort"
    first = driver.multipart_writer(path, streamed_layout(pieces), WriteOptions())
    first.write(pieces[0] + pieces[1][:MIB])
    first.close()  # interrupted inside part 2: it must not wait for bytes that never come
    second = driver.multipart_writer(path, streamed_layout(pieces), WriteOptions(), resume=True)
    assert second.upload_id == first.upload_id and second.size == 5 * MIB
    second.write(pieces[1])
    second.commit()
    assert read(driver, path) == b"".join(pieces)
