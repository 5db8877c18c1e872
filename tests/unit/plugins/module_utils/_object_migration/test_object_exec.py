"""ObjectMigrator against small fakes of a Swift container and an S3 bucket: what it writes, deletes and returns."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import LEFT_REASON, SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.executor import (
    ObjectEnds,
    ObjectMigrator,
    ObjectOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    MD5,
    S3_ETAG,
    SOURCE_ETAG,
    source_identity,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import SourceKey
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.result import ObjectResult
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import ObjectInfo

PART = 5 * 2**20
DATA = b"the bytes of o"
ETAG = hashlib.md5(DATA).hexdigest()
VERIFIED = {"Etag": ETAG, "X-Timestamp": "1700000000.00000"}


class FakeSwift:
    """One container with one plain object ``o``: HEAD answers with ``headers``; DELETEs are recorded."""

    container = "c"

    def __init__(self, headers=None, data=DATA):
        self.data = data
        self.headers = dict(headers or VERIFIED, **{"Content-Length": str(len(data))})
        self.deleted = []

    def listing(self, _prefix=""):
        return iter([{"name": "o", "bytes": len(self.data), "hash": ETAG, "last_modified": "2026-01-01"}])

    def head(self, name):
        if self.deleted:
            raise StorageNotFoundError(name)
        return dict(self.headers)

    def reader(self, _name, offset=0):
        return _Stream(self.head("o"), self.data[offset:])

    def delete_only(self, name):
        self.deleted.append(name)


class _Stream:
    """A GET of the object: its headers, then its bytes in one read."""

    def __init__(self, headers, data):
        self.headers = headers
        self._chunks = iter([data, b""])

    def read(self, _size):
        return next(self._chunks)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        pass


class FakeS3:
    """One bucket: ``keys`` maps a key to its ObjectInfo; a put honours its condition as S3 does."""

    def __init__(self, keys=None):
        self.keys = dict(keys or {})
        self.puts = []

    def list(self, prefix=""):
        return iter(sorted((info for path, info in self.keys.items() if path.startswith(prefix)),
                           key=lambda info: info.path))

    def stat(self, path):
        if path not in self.keys:
            raise StorageNotFoundError(path)
        return self.keys[path]

    def put(self, path, data, options):
        found = self.keys.get(path)
        condition = options.condition
        if ("IfNoneMatch" in condition and found) or \
                ("IfMatch" in condition and (found.etag if found else None) != condition["IfMatch"]):
            raise StorageConflictError(f"{path} changed")
        self.puts.append((path, data, options))
        self.keys[path] = ObjectInfo(path, len(data), hashlib.md5(data).hexdigest(),
                                     metadata=dict(options.fields["Metadata"]))


def ours(**metadata):
    """The key as this collection's copy of ``o`` records it."""
    return ObjectInfo("o", len(DATA), ETAG, metadata={**source_identity("AUTH_p", "c", "o"), SOURCE_ETAG: ETAG,
                                                      MD5: ETAG, S3_ETAG: ETAG, **metadata})


def migrate(swift, s3, **options):
    recorded = []
    migrator = ObjectMigrator(lambda _c: swift, lambda _b: s3,
                              ObjectOptions(part_size=PART, account="AUTH_p", **options))
    migrator.run([("c", "b", True)], recorded.append)
    (result,) = recorded
    return result


def test_an_object_missing_from_the_bucket_is_copied_only_if_no_key_came_meanwhile():
    swift, s3 = FakeSwift(), FakeS3()
    result = migrate(swift, s3)
    assert (result.outcome, result.md5, result.bytes_sent, result.bytes_read) == ("copied", ETAG, 14, 14)
    ((path, data, options),) = s3.puts
    assert (path, data, dict(options.condition)) == ("o", DATA, {"IfNoneMatch": "*"})
    assert options.fields["Metadata"][MD5] == options.fields["Metadata"][S3_ETAG] == ETAG
    assert swift.deleted == []


def test_a_current_copy_is_skipped_and_with_delete_source_its_source_goes_on_the_etags_proof():
    swift, s3 = FakeSwift(), FakeS3({"o": ours()})
    result = migrate(swift, s3, delete_source=True)
    assert result.outcome == "already_done" and s3.puts == []
    assert result.source_deleted and swift.deleted == ["o"] and result.proof == "S3's ETag is the source's MD5"


def test_a_key_someone_else_wrote_is_a_conflict_and_stays():
    swift, s3 = FakeSwift(), FakeS3({"o": ObjectInfo("o", 3, "app-etag")})
    result = migrate(swift, s3, delete_source=True)
    assert result.outcome == "conflict" and s3.puts == [] and swift.deleted == []
    assert "on_conflict: overwrite" in result.fix


def test_overwrite_replaces_a_conflicting_key_only_while_it_is_as_seen():
    swift, s3 = FakeSwift(), FakeS3({"o": ObjectInfo("o", 3, "app-etag")})
    result = migrate(swift, s3, on_conflict="overwrite")
    assert result.outcome == "copied" and result.reason.startswith("overwritten (on_conflict: overwrite)")
    assert dict(s3.puts[0][2].condition) == {"IfMatch": "app-etag"}


def test_a_stale_copy_in_check_mode_is_planned_and_nothing_is_written():
    swift, s3 = FakeSwift(), FakeS3({"o": ours(**{SOURCE_ETAG: "older"})})
    result = migrate(swift, s3, dry_run=True, delete_source=True)
    assert result.outcome == "planned" and result.reason.startswith("the Swift object changed")
    assert s3.puts == [] and swift.deleted == []


def test_a_key_written_between_the_listing_and_the_put_is_a_conflict_not_overwritten():
    class RacingS3(FakeS3):
        def stat(self, path):
            raise StorageNotFoundError(path)  # listed as absent; an application writes it now

    s3 = RacingS3()
    s3.keys["o"] = ObjectInfo("o", 3, "app-etag")
    result = migrate(FakeSwift(), s3)
    assert result.outcome == "conflict" and s3.puts == []


def delete(swift):
    migrator = ObjectMigrator(lambda _c: swift, lambda _b: None, ObjectOptions(part_size=PART, delete_source=True))
    result = ObjectResult("c", "o", "b", "copied")
    return migrator._delete_source(swift, result, None, VERIFIED)  # pylint: disable=protected-access


def test_a_source_unchanged_since_its_proof_is_deleted():
    swift = FakeSwift()
    assert delete(swift).source_deleted and swift.deleted == ["o"]


def test_a_source_written_again_with_the_same_bytes_after_its_proof_is_kept():
    # the same ETag, a newer write: what was verified is not what would be deleted
    swift = FakeSwift({**VERIFIED, "X-Timestamp": "1700000099.00000"})
    result = delete(swift)
    assert not result.source_deleted and swift.deleted == []
    assert result.reason.startswith("source kept: it was written again in Swift")


def test_a_source_written_again_with_other_bytes_after_its_proof_is_kept():
    swift = FakeSwift({**VERIFIED, "Etag": "bbbb"})
    assert not delete(swift).source_deleted and swift.deleted == []


class FakeStore:
    """A Swift account whose containers answer HEAD with the headers given."""

    def __init__(self, containers):
        self.containers = containers

    def request(self, path, method, **_kwargs):
        assert method == "HEAD", method
        return SimpleNamespace(status_code=204, headers=self.containers[path.strip("/")])


@pytest.mark.parametrize("headers, restores", [
    ({"X-Versions-Location": "c-versions"}, True),  # stack mode: a DELETE restores the previous version
    ({"X-Versions-Enabled": "True"}, True),
    ({"X-History-Location": "c-history"}, False),  # history mode: a DELETE restores nothing
    ({}, False),
])
def test_containers_where_a_delete_restores_an_older_version_are_found(headers, restores):
    ends = ObjectEnds(SimpleNamespace(object_store=FakeStore({"c": headers, "plain": {}})), "http://s3", "a", "s",
                      "us-east-1", True, PART, 1, 1)
    assert ends.restoring_containers(["plain", "c"]) == (["c"] if restores else [])


def test_a_bug_in_one_object_is_recorded_as_a_bug_with_its_traceback():
    class BrokenSwift(FakeSwift):
        def reader(self, _name, offset=0):
            raise KeyError("not an expected failure")

    recorded = []
    migrator = ObjectMigrator(lambda _c: BrokenSwift(), lambda _b: None, ObjectOptions(part_size=PART))
    migrator.run([("c", "b", False)], recorded.append)
    (result,) = recorded
    assert result.outcome == "failed" and result.reason.startswith("KeyError: ")
    assert "Traceback" in result.traceback and result.detail()["traceback"] == result.traceback
    assert "bug" in result.fix


def test_a_swift_connection_failure_in_one_object_is_an_expected_failure_not_a_bug():
    ksa_exceptions = pytest.importorskip("keystoneauth1.exceptions")

    class UnreachableSwift(FakeSwift):
        def reader(self, _name, offset=0):
            raise ksa_exceptions.ConnectFailure("Unable to establish connection to http://swift:8080")

    result = migrate(UnreachableSwift(), FakeS3())
    assert result.outcome == "failed" and result.reason.startswith("cannot reach the cloud: ")
    assert not result.traceback and "bug" not in result.fix


def test_a_failure_after_the_copy_keeps_what_the_copy_did_in_the_result():
    class FlakySwift(FakeSwift):
        heads = 0

        def head(self, name):
            self.heads += 1
            if self.heads > 1:  # the stream's own HEAD passes; the one before the delete fails
                raise StoreOpsError(f"{name}: Swift answered 503")
            return super().head(name)

    swift, s3 = FlakySwift(), FakeS3()
    result = migrate(swift, s3, delete_source=True)
    assert result.outcome == "failed" and "503" in result.reason and swift.deleted == []
    assert (result.md5, result.bytes_sent, result.bytes_read) == (ETAG, 14, 14)  # S3 holds the copy


def test_a_stream_that_breaks_mid_upload_reports_the_upload_it_leaves_to_resume():
    size = PART + 10

    class BreakingStream(_Stream):
        def __init__(self, headers, _data):
            super().__init__(headers, b"")
            self._chunks = iter([b"x" * PART])

        def read(self, _size):
            chunk = next(self._chunks, None)
            if chunk is None:
                raise OSError("connection reset")
            return chunk

    class BigSwift(FakeSwift):
        def __init__(self):
            super().__init__({"Etag": "e" * 32, "X-Timestamp": "1"}, b"x" * size)

        def reader(self, _name, offset=0):
            return BreakingStream(self.head("o"), None)

    class Writer:
        upload_id, resumed_parts, resumed_bytes, size = "upload-1", [], 0, 0

        def write(self, data):
            self.size += len(data)

        def close(self):
            pass

    class UploadingS3(FakeS3):
        def multipart_writer(self, *_args, **_kwargs):
            return Writer()

    result = migrate(BigSwift(), UploadingS3())
    assert result.outcome == "failed" and "broke at byte" in result.reason
    assert result.upload_id == "upload-1" and result.bytes_resumed == 0


def test_a_manifest_that_became_a_plain_object_has_no_segment_etags():
    # listed as an SLO; rewritten as a plain object before its HEAD: no manifest, no segment ETags
    migrator = ObjectMigrator(lambda _c: FakeSwift(), lambda _b: None, ObjectOptions(part_size=PART))
    key = SourceKey("AUTH_p", "c", "o", ETAG, len(DATA), "slo")
    assert migrator._segment_aligned_etags(FakeSwift(), key) == ()  # pylint: disable=protected-access


def test_slices_of_a_limit_copy_what_one_run_copies_and_count_what_is_left():
    swifts, buckets = {"c": FakeSwift(), "d": FakeSwift(), "e": FakeSwift()}, {"c": FakeS3(), "d": FakeS3(), "e": FakeS3()}
    for name, swift in swifts.items():
        swift.container = name
    pairs = [(name, name, True) for name in swifts]
    slices = []
    for _slice in range(2):
        recorded = []
        ObjectMigrator(swifts.get, buckets.get, ObjectOptions(part_size=PART, account="AUTH_p"),
                       budget=SliceBudget(limit=2)).run(pairs, recorded.append)
        slices.append(sorted(result.outcome for result in recorded))
    assert slices == [["copied", "copied", "left"], ["already_done", "already_done", "copied"]]
    assert all(list(s3.keys) == ["o"] and len(s3.puts) == 1 for s3 in buckets.values())


def test_a_spent_time_budget_in_check_mode_plans_nothing_and_leaves_the_object():
    result_of = []
    clock = iter([0.0, 9.0])
    ObjectMigrator(lambda _c: FakeSwift(), lambda _b: FakeS3(), ObjectOptions(part_size=PART, dry_run=True),
                   budget=SliceBudget(max_duration=5, clock=lambda: next(clock))).run([("c", "b", True)], result_of.append)
    assert [(r.outcome, r.reason) for r in result_of] == [("left", LEFT_REASON)]
