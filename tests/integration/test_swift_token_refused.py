"""A streamed Swift PUT whose token Keystone revoked: nothing stored, never a consumed body re-sent."""
from __future__ import annotations

import os
import uuid

import openstack
import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftAccount

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


def write(driver, data):
    put = driver.streamed_put("obj", {})
    for start in range(0, len(data), MIB // 4):
        put.write(data[start:start + MIB // 4])
    put.finish()


def test_a_streamed_put_with_a_revoked_token_stores_nothing_and_the_next_request_renews_it(cloud, container):
    data = os.urandom(3 * MIB)
    driver = SwiftAccount(revoked_connection(cloud)).container(container.container)
    with pytest.raises(StoreOpsError, match="HTTP 401"):  # not re-sent with its body consumed
        write(driver, data)
    with pytest.raises(StorageNotFoundError):
        container.stat("obj")
    assert driver.container_exists()  # re-authenticated on its 401
    write(driver, data)
    with container.reader("obj") as stream:
        assert stream.read() == data
