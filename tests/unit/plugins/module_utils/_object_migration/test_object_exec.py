"""ObjectMigrator's last steps before a delete, on a small fake Swift container."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.executor import (
    ObjectEnds,
    ObjectMigrator,
    ObjectOptions,
    Outcome,
)


class FakeSwift:
    """One container: HEAD answers with the headers set now; DELETEs are recorded."""

    container = "c"

    def __init__(self, headers):
        self.headers = headers
        self.deleted = []

    def object_path(self, name):
        return f"/{self.container}/{name}"

    def head(self, _name):
        return dict(self.headers)

    def request(self, method, path, ok=(200,)):
        assert method == "DELETE", method
        self.deleted.append(path)


VERIFIED = {"Etag": "aaaa", "X-Timestamp": "1700000000.00000"}


def delete(swift):
    migrator = ObjectMigrator(lambda _c: swift, lambda _b: None, ObjectOptions(part_size=5 * 2**20, delete_source=True))
    outcome = Outcome("c", "o", "b", "copied")
    migrator._delete_source(swift, "o", None, outcome, VERIFIED)  # pylint: disable=protected-access
    return outcome


def test_a_source_unchanged_since_its_proof_is_deleted():
    swift = FakeSwift(VERIFIED)
    assert delete(swift).source_deleted and swift.deleted == ["/c/o"]


def test_a_source_written_again_with_the_same_bytes_after_its_proof_is_kept():
    # the same ETag, a newer write: what was verified is not what would be deleted
    swift = FakeSwift({**VERIFIED, "X-Timestamp": "1700000099.00000"})
    outcome = delete(swift)
    assert not outcome.source_deleted and swift.deleted == []
    assert outcome.reason.startswith("source kept: it was written again in Swift")


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
                      "us-east-1", True, 5 * 2**20, 1, 1)
    assert ends.restoring_containers(["plain", "c"]) == (["c"] if restores else [])


def test_a_bug_in_one_object_is_recorded_as_a_bug_with_its_traceback():
    class BrokenSwift(FakeSwift):
        def listing(self, _container, _prefix=""):
            return iter([{"name": "o", "bytes": 3, "hash": "aaaa", "last_modified": "2026-01-01T00:00:00"}])

        def reader(self, _name, offset=0):
            raise KeyError("not an expected failure")

    recorded = []
    migrator = ObjectMigrator(lambda _c: BrokenSwift({}), lambda _b: None, ObjectOptions(part_size=5 * 2**20))
    migrator.run([("c", "b", False)], recorded.append)
    (outcome,) = recorded
    assert outcome.outcome == "failed" and outcome.reason.startswith("KeyError: ")
    assert "Traceback" in outcome.traceback and outcome.detail()["traceback"] == outcome.traceback
    assert "bug" in outcome.fix
