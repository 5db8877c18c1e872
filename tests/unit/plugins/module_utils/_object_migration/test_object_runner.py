"""migrate_objects before any object moves: the request's secrets and the checks that refuse a run."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.runner import (
    MigrationRequest,
    migrate_objects,
)

REQUEST = MigrationRequest("http://s3", "access", "the-secret-key", containers=("c",), delete_source=True)


def test_the_secret_key_is_not_in_the_request_repr():
    assert "the-secret-key" not in repr(REQUEST) and "access" in repr(REQUEST)

