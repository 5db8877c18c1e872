"""migrate_objects before any object moves: the request's secrets and the checks that refuse a run."""
from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.runner import (
    MigrationRequest,
    migrate_objects,
)

REQUEST = MigrationRequest("http://s3", "access", "the-secret-key", containers=("c",), delete_source=True)


def test_the_secret_key_is_not_in_the_request_repr():
    assert "the-secret-key" not in repr(REQUEST) and "access" in repr(REQUEST)


class _Container:
    @staticmethod
    def container_exists():
        return True


class FakeEnds:
    """Both ends of a copy whose container ``c`` keeps versions: records whether buckets were prepared."""

    def __init__(self):
        self.prepared = False

    @staticmethod
    def swift(_container):
        return _Container()

    @staticmethod
    def swift_account():
        return "AUTH_p"

    @staticmethod
    def restoring_containers(containers):
        return list(containers)

    def prepare_buckets(self, _buckets, create):
        self.prepared = create


def test_delete_source_in_a_versioned_container_is_refused_before_any_bucket_is_touched():
    ends = FakeEnds()
    with pytest.raises(InvalidInputError, match="delete_source: the container 'c' keeps versions"):
        migrate_objects(None, REQUEST, check_mode=False, ends_for=lambda _conn, _request: ends)
    assert not ends.prepared


def test_the_journal_url_is_checked_before_anything_else_and_never_in_check_mode():
    made, asked = [], []

    def refused(_path):
        raise InvalidInputError("journal_url: refused")

    with pytest.raises(InvalidInputError, match="^journal_url: refused"):
        migrate_objects(None, REQUEST, check_mode=False, ends_for=lambda _conn, _request: made.append(1),
                        shipment_of=refused)
    assert made == []  # no connection to either end, no bucket
    with pytest.raises(InvalidInputError, match="^delete_source"):  # the run's own checks go on as before
        migrate_objects(None, REQUEST, check_mode=True, ends_for=lambda _conn, _request: FakeEnds(),
                        shipment_of=asked.append)
    assert asked == []  # check mode makes no container or bucket for a journal
