"""The swift target of method=direct on a small fake Swift: glance_store's layout, partial copies, other writers' objects."""
from __future__ import annotations

import hashlib
from urllib.parse import unquote

import pytest
from requests.structures import CaseInsensitiveDict
from test_direct import FakeRegistrar, run, setup  # noqa: F401  pylint: disable=import-error,unused-import

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf, SwiftLayout
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.direct import (
    check_direct_stores,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import (
    ALREADY_DONE,
    FAILED,
    MIGRATED,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.targets import (
    MARKER,
    SwiftTarget,
)

IMAGE = "0b5e7c1a-4c7e-4f7e-9a4e-2f0c1d2e3f40"
OTHER = "7d1f3a2b-0000-4000-8000-000000000001"


class _Raw:
    def __init__(self, body):
        self._body, self._at = body, 0

    def read(self, size=None, decode_content=True):
        size = len(self._body) - self._at if size is None else size
        chunk = self._body[self._at:self._at + size]
        self._at += len(chunk)
        return chunk


class _Response:
    def __init__(self, status, headers=None, body=b"", listing=None):
        self.status_code, self.headers = status, CaseInsensitiveDict(headers or {})
        self.raw, self._listing = _Raw(body), listing

    def json(self):
        return self._listing

    def close(self):
        pass


class FakeSwift:
    """One Swift account as openstacksdk's object store proxy is asked: objects with their
    metadata, DLO manifests read as their segments, If-None-Match. A PUT whose body
    breaks off stores nothing, as Swift."""

    def __init__(self):
        self.objects: dict[tuple[str, str], tuple[bytes, dict]] = {}

    def names(self, container="glance"):
        return sorted(name for (where, name) in self.objects if where == container)

    def add(self, name, body=b"", headers=None, container="glance"):
        self.objects[container, name] = (body, CaseInsensitiveDict(headers or {}))

    def _content(self, key):
        body, headers = self.objects[key]
        manifest = headers.get("X-Object-Manifest")
        if not manifest:
            return body, hashlib.md5(body).hexdigest()
        container, prefix = manifest.split("/", 1)
        parts = [self.objects[container, name][0] for name in self.names(container) if name.startswith(prefix)]
        return b"".join(parts), '"' + hashlib.md5("".join(hashlib.md5(p).hexdigest() for p in parts).encode()).hexdigest() + '"'

    def request(self, path, method, params=None, data=None, headers=None, stream=False, **_retries):
        container, _sep, name = unquote(path).lstrip("/").partition("/")
        headers = CaseInsensitiveDict(headers or {})
        if not name:
            if method == "PUT":
                return _Response(202)
            prefix, marker = params.get("prefix", ""), params.get("marker") or ""
            found = [{"name": n, "bytes": len(self.objects[container, n][0]), "hash": "h"}
                     for n in self.names(container) if n.startswith(prefix) and n > marker]
            return _Response(200, listing=found[:params["limit"]])
        key = (container, name)
        if method == "PUT":
            body = data if isinstance(data, bytes) else b"".join(data)  # a broken-off body raises here
            if headers.get("If-None-Match") == "*" and key in self.objects:
                return _Response(412)
            kept = {k: v for k, v in headers.items() if k.lower().startswith("x-object-meta-")
                    or k.lower() == "x-object-manifest"}
            self.objects[key] = (body, CaseInsensitiveDict(kept))
            return _Response(201, {"Etag": hashlib.md5(body).hexdigest()})
        if key not in self.objects:
            return _Response(404)
        if method == "DELETE":
            del self.objects[key]
            return _Response(204)
        body, etag = self._content(key)
        return _Response(200, {**self.objects[key][1], "Etag": etag, "Content-Length": str(len(body))}, body)


class _Conn:
    def __init__(self, swift):
        self.object_store = swift


LAYOUT = SwiftLayout(reference="ref1", container="glance", large_object_size=10, segment_size=4,
                     create_container=True)


@pytest.fixture
def swift():
    return FakeSwift()


def target_of(swift, layout=LAYOUT):
    return SwiftTarget(SwiftDriver(_Conn(swift), layout.container), layout)


def read(target, image_id):
    with target.reader(image_id) as stream:
        return stream.read()


def write(target, image_id, data, commit=True, chunk=3):
    writer = target.writer(image_id, len(data))
    for at in range(0, len(data), chunk):  # small ones straddle the segments
        writer.write(data[at:at + chunk])
    if commit:
        writer.commit()
    writer.close()  # as a killed process: what was PUT whole stays, the PUT in flight is broken off


def test_a_small_image_is_one_object_named_after_it_only_after_the_read_back(swift):
    target = target_of(swift)
    write(target, IMAGE, b"123456789")  # below the large-object size of 10
    assert swift.names() == [f"{IMAGE}.partial"] and target.exists(IMAGE)
    assert read(target, IMAGE) == b"123456789"  # the read-back, before anything is at <id>
    target.finish(IMAGE)
    assert swift.names() == [IMAGE] and swift.objects["glance", IMAGE][0] == b"123456789"
    assert target.location(IMAGE) == f"swift+config://ref1/glance/{IMAGE}"
    assert read(target, IMAGE) == b"123456789" and target.partials() == []


@pytest.mark.parametrize("size, segments", [(10, [4, 4, 2]), (12, [4, 4, 4]), (0, [])])
def test_a_large_image_is_glance_stores_dlo_its_manifest_written_after_the_read_back(swift, size, segments):
    target = target_of(swift)
    data = bytes(range(size))
    write(target, IMAGE, data)  # from the large-object size on (and a size of 0), as glance_store's add
    names = [f"{IMAGE}-{n:05d}" for n in range(1, len(segments) + 1)]
    assert swift.names() == [*names, f"{IMAGE}.partial"]
    assert [len(swift.objects["glance", n][0]) for n in names] == segments
    assert read(target, IMAGE) == data
    target.finish(IMAGE)
    assert swift.names() == [IMAGE, *names]
    body, headers = swift.objects["glance", IMAGE]
    assert body == b"" and headers["X-Object-Manifest"] == f"glance/{IMAGE}-" and read(target, IMAGE) == data


def test_a_killed_runs_segments_are_invisible_then_dropped_and_written_afresh(swift):
    target = target_of(swift, SwiftLayout("ref1", "glance", 10, 2, True))
    write(target, IMAGE, bytes(range(11)), commit=False)  # killed: five whole segments, the sixth in flight
    assert swift.names() == [f"{IMAGE}-{n:05d}" for n in range(1, 6)]
    assert not target.exists(IMAGE) and target.partials() == [IMAGE]
    target = target_of(swift)  # the next run, with 4-byte segments: no stale segment may stay in the DLO
    write(target, IMAGE, bytes(range(11)))
    target.finish(IMAGE)
    assert swift.names() == [IMAGE, f"{IMAGE}-00001", f"{IMAGE}-00002", f"{IMAGE}-00003"]
    assert read(target, IMAGE) == bytes(range(11))


def test_a_cancelled_copy_leaves_nothing(swift):
    target = target_of(swift)
    writer = target.writer(IMAGE, 11)
    writer.write(b"0123456")
    writer.cancel()
    assert swift.names() == []


@pytest.mark.parametrize("name", [f"{IMAGE}-00001", f"{IMAGE}.partial"])
def test_another_writers_segment_or_partial_is_refused_naming_it_and_nothing_is_deleted(swift, name):
    swift.add(name, b"theirs")
    swift.add(f"{IMAGE}-00002", b"ours", MARKER)
    target = target_of(swift)
    with pytest.raises(StorageConflictError, match=f"^swift store: {name} in container glance were not written "
                       "by this collection .*, so they are kept$"):
        target.writer(IMAGE, 11)
    assert swift.names() == sorted([name, f"{IMAGE}-00002"])
    with pytest.raises(StorageConflictError, match=name):
        target.delete_partial(IMAGE)
    assert swift.names() == sorted([name, f"{IMAGE}-00002"])


def test_another_writers_copy_is_no_copy_of_ours_and_never_written_over_or_deleted(swift):
    swift.add(IMAGE, b"theirs")
    target = target_of(swift)
    assert not target.exists(IMAGE)  # never adopted: it may be the source's own object
    with pytest.raises(StorageConflictError, match=f"^swift store: {IMAGE} in container glance was not written"):
        target.writer(IMAGE, 6)
    with pytest.raises(StorageConflictError, match=IMAGE):
        target.remove(IMAGE)
    assert swift.names() == [IMAGE] and swift.objects["glance", IMAGE][0] == b"theirs"
    assert target.removal_hint(IMAGE).startswith(f"swift delete glance --prefix {IMAGE}")


def test_a_copy_that_appears_before_the_promotion_is_kept_and_refused(swift):
    target = target_of(swift)
    write(target, IMAGE, b"ours")
    swift.add(IMAGE, b"theirs")  # not what the read-back proved: it must never be registered
    with pytest.raises(StorageConflictError, match=IMAGE):
        target.finish(IMAGE)
    assert swift.objects["glance", IMAGE][0] == b"theirs"


class RefusingSwift(FakeSwift):
    """Another writer's segment lands at a name between this run's look and its PUT."""

    def request(self, path, method, params=None, data=None, headers=None, stream=False, **retries):
        if method == "PUT" and path.endswith(f"{IMAGE}-00002"):
            if data is not None and not isinstance(data, bytes):
                b"".join(data)
            self.add(f"{IMAGE}-00002", b"theirs")
            return _Response(412)
        return super().request(path, method, params, data, headers, stream, **retries)


def test_a_put_refused_at_another_writers_object_is_not_cancelled_into_deleting_it():
    swift = RefusingSwift()
    writer = target_of(swift).writer(IMAGE, 11)
    with pytest.raises(StorageConflictError):
        writer.write(b"0123456789a")
    writer.cancel()
    assert swift.names() == [f"{IMAGE}-00002"] and swift.objects["glance", f"{IMAGE}-00002"][0] == b"theirs"


class RevokingSwift(FakeSwift):
    """The token is revoked during the copy: Swift refuses the second segment's PUT once (401)."""

    refusals = 1

    def request(self, path, method, params=None, data=None, headers=None, stream=False, **retries):
        if method == "PUT" and path.endswith(f"{IMAGE}-00002") and self.refusals:
            assert retries.get("allow_reauth") is False  # keystoneauth would re-send the consumed body
            self.refusals -= 1
            b"".join(data)
            return _Response(401)
        return super().request(path, method, params, data, headers, stream, **retries)


def test_a_segment_put_refused_for_its_token_fails_the_copy_cleanly_and_a_new_one_converges():
    swift = RevokingSwift()
    target, data = target_of(swift), bytes(range(11))
    writer = target.writer(IMAGE, len(data))
    with pytest.raises(StoreOpsError, match="HTTP 401"):
        writer.write(data)
    writer.cancel()  # as the migrator does: the first segment goes, nothing was stored of the second
    assert swift.names() == []
    write(target, IMAGE, data)  # the next run's
    assert read(target, IMAGE) == data and swift.names() == [f"{IMAGE}-{n:05d}" for n in (1, 2, 3)] + [
        f"{IMAGE}.partial"]


def test_only_our_leftovers_of_images_without_a_copy_are_partials(swift):
    target = target_of(swift)
    write(target, IMAGE, bytes(range(11)), commit=False)
    write(target, OTHER, bytes(range(11)))
    target.finish(OTHER)
    gone = "11111111-2222-4333-8444-555555555555"
    swift.add(f"{gone}-00001", b"a glance upload killed midway")
    swift.add("readme", b"not an image")
    assert target.partials() == [IMAGE]
    target.delete_partial(IMAGE)
    with pytest.raises(StorageNotFoundError):
        target.delete_partial(IMAGE)  # another run removed it first
    assert IMAGE not in "".join(swift.names()) and OTHER in swift.names()


def conf_of(text: str) -> GlanceApiConf:
    return GlanceApiConf("/etc/glance/glance-api.conf", lambda _path: text)


SWIFT_CONF = "[swift]\nswift_store_config_file = /etc/glance/swift-store.conf\n"


def test_the_layout_comes_from_the_swift_stores_section_in_glance_stores_mb():
    layout = conf_of(SWIFT_CONF + "swift_store_container = images\nswift_store_large_object_size = 8\n"
                     "swift_store_large_object_chunk_size = 4\ndefault_swift_reference = store1\n").swift_layout("swift")
    assert layout == SwiftLayout("store1", "images", 8_192_000, 4_096_000, False)
    defaults = SwiftLayout("ref1", "glance", 5120 * 1_024_000, 200 * 1_024_000, False)
    assert conf_of(SWIFT_CONF).swift_layout("swift") == defaults


@pytest.mark.parametrize("extra, message", [
    ("swift_store_multi_tenant = True\n", "^target_store: swift is a multi-tenant swift store"),
    ("swift_store_multiple_containers_seed = 2\n", "^target_store: swift spreads images over containers "
     r"\(swift_store_multiple_containers_seed = 2 in /etc/glance/glance-api.conf\)"),
    ("swift_store_large_object_chunk_size = 0\n", r"^glance_api_conf: \[swift\] swift_store_large_object_chunk_size "
     "= 0 in /etc/glance/glance-api.conf is below glance_store's minimum of 1"),
])
def test_what_a_direct_write_does_not_mirror_is_refused_in_one_line(extra, message):
    with pytest.raises(InvalidInputError, match=message):
        conf_of(SWIFT_CONF + extra).swift_layout("swift")
    with pytest.raises(InvalidInputError, match="^target_store: swift has no swift_store_config_file in "
                       "/etc/glance/glance-api.conf, so glance_store puts the store's credentials into each"):
        conf_of("[swift]\nswift_store_container = glance\n").swift_layout("swift")


def test_a_swift_target_is_registered_through_the_database_only():
    stores = [{"id": "fast", "type": "file"}, {"id": "swift", "type": "swift"}]
    check_direct_stores(stores, "fast", "swift", conf_of(SWIFT_CONF), "database")
    with pytest.raises(InvalidInputError, match="^backend: Glance's API refuses swift[+]config:// locations, so the "
                       "copies in the swift store swift are registered through the database only; use backend=database$"):
        check_direct_stores(stores, "fast", "swift", conf_of(SWIFT_CONF), "api")


OBJECTS = StoreMatcher([StorePrefix("objects", "swift+config://ref1/glance/", "config")], ["objects", "swift"])
SEGMENTED = SwiftLayout("ref1", "glance", 1_000_000, 400_000, True)  # the fixture's image: three segments


def test_an_image_moves_into_swift_registered_with_glance_stores_url(setup, swift):
    glance, image_id, data = setup
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target_of(swift, SEGMENTED), registrar, OBJECTS, store="objects")
    assert [o.outcome for o in outcomes] == [MIGRATED], outcomes
    assert swift.names() == [image_id, *(f"{image_id}-{n:05d}" for n in (1, 2, 3))]
    assert read(target_of(swift, SEGMENTED), image_id) == data
    assert registrar.registered == [f"swift+config://ref1/glance/{image_id}"]
    assert glance.images[image_id]["stores"] == "objects"


def test_a_killed_runs_verified_partial_is_finished_and_registered_not_written_again(setup, swift):
    glance, image_id, data = setup
    write(target_of(swift, SEGMENTED), image_id, data, chunk=65536)  # killed after the commit, before the promotion
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target_of(swift, SEGMENTED), registrar, OBJECTS, store="objects")
    assert outcomes[0].outcome == MIGRATED and outcomes[0].bytes_copied == 0, outcomes
    assert swift.names()[0] == image_id and f"{image_id}.partial" not in swift.names()
    assert registrar.registered == [f"swift+config://ref1/glance/{image_id}"]
    _migrator, outcomes = run(glance, target_of(swift, SEGMENTED), registrar, OBJECTS, store="objects")
    assert outcomes == () or outcomes[0].outcome == ALREADY_DONE


def test_the_sources_own_object_in_a_shared_container_is_never_adopted(setup, swift):
    """Two swift stores over one container: the target finds the source's <id>, bytes and all."""
    glance, image_id, data = setup
    swift.add(image_id, data)  # unmarked: what Glance's swift store wrote
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target_of(swift), registrar, OBJECTS, store="objects")
    assert outcomes[0].outcome == FAILED and f"{image_id} in container glance was not written" in outcomes[0].reason
    assert registrar.registered == [] and glance.calls == []  # nothing registered, the source not removed
    assert swift.objects["glance", image_id][0] == data


def test_another_writers_segments_fail_the_image_with_the_source_kept(setup, swift):
    glance, image_id, _data = setup
    swift.add(f"{image_id}-00001", b"theirs")
    registrar = FakeRegistrar(glance)
    _migrator, outcomes = run(glance, target_of(swift), registrar, OBJECTS, store="objects")
    assert outcomes[0].outcome == FAILED and f"{image_id}-00001 in container glance" in outcomes[0].reason
    assert "find out what wrote them" in outcomes[0].fix and "\n" not in outcomes[0].reason
    assert swift.names() == [f"{image_id}-00001"] and registrar.registered == [] and glance.calls == []
