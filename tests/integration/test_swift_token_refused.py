"""A streamed Swift PUT whose token Keystone revoked: the object holds exactly the bytes sent, or nothing."""
from __future__ import annotations

import os
import uuid

import openstack
import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftAccount, StreamedPut

MIB = 2**20


@pytest.fixture
def container(cloud):
    admin = openstack.connect(cloud=cloud["admin_cloud"])
    made = SwiftAccount(admin).container(f"token-refused-{uuid.uuid4().hex[:8]}")
    made.ensure_container()
    yield made
    for item in list(made.list()):
        made.delete_only(item.path)
    admin.object_store.delete(f"/{made.container}")


def revoked_connection(cloud):
    """A connection whose token Keystone revoked before Swift ever saw it (Swift caches the
    tokens it validated): its next request to Swift is refused with a 401."""
    conn = openstack.connect(cloud=cloud["admin_cloud"])
    token = conn.session.get_token()
    openstack.connect(cloud=cloud["admin_cloud"]).identity.delete(
        "/auth/tokens", headers={"X-Subject-Token": token})
    return conn


def write(put, data):
    for start in range(0, len(data), MIB // 4):
        put.write(data[start:start + MIB // 4])
    put.finish()


def test_a_streamed_put_with_a_revoked_token_stores_exactly_its_bytes(cloud, container):
    data = os.urandom(3 * MIB)
    write(SwiftAccount(revoked_connection(cloud)).container(container.container).streamed_put("obj", {}), data)
    with container.reader("obj") as stream:
        assert stream.read() == data


def test_the_put_itself_refused_stores_nothing_and_is_not_sent_again(cloud, container):
    driver = SwiftAccount(revoked_connection(cloud)).container(container.container)
    # the PUT alone, without the driver's HEAD that renews the token: as if revoked in between
    put = StreamedPut(driver._http, f"/{container.container}/obj", {})  # pylint: disable=protected-access
    with pytest.raises(StoreOpsError, match="HTTP 401"):
        write(put, os.urandom(3 * MIB))
    with pytest.raises(StorageNotFoundError):
        container.stat("obj")
