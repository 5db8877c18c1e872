# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which driver reads a Glance location from here: a file, rbd or swift location URL, and a driver for it.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import StorageDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import DEFAULT_CEPH_CONF, RbdDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver


def parse_location(url: str) -> tuple[str, str, str]:
    """(driver kind, container, path) of a Glance location URL readable from here.

    The container is a directory for ``file``, a pool for ``rbd``; an rbd path names the
    snapshot Glance reads (``image@snap``).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        directory, _sep, name = unquote(parts.path).rpartition("/")
        return FileDriver.kind, directory or "/", name
    if parts.scheme == "rbd":
        pieces = [unquote(piece) for piece in parts.path.strip("/").split("/")]
        if len(pieces) != 3:
            raise InvalidInputError(f"rbd location {url!r} is not rbd://fsid/pool/image/snapshot")
        pool, image, snapshot = pieces
        return RbdDriver.kind, pool, f"{image}@{snapshot}" if snapshot else image
    if parts.scheme.startswith("swift"):
        # swift+config://ref/container/object, or the credentials forms ending the same way
        container, _sep, name = unquote(parts.path).strip("/").rpartition("/")
        return SwiftDriver.kind, container.rpartition("/")[2], name
    raise InvalidInputError(
        f"cannot read a {parts.scheme or 'scheme-less'} location from here to verify its data; "
        "use verification=metadata for this store")


def open_driver(kind: str, container: str, access: dict[str, Any]) -> StorageDriver:
    """A driver for a container; ``access`` holds ``ceph_conf``, ``ceph_user``, ``ceph_keyring``,
    and ``swift_connection`` (a connection with the swift store's credentials) to read Swift."""
    if kind == SwiftDriver.kind:
        if not access.get("swift_connection"):
            raise InvalidInputError("cannot read a swift location from here without the swift store's "
                                    "credentials; use verification=metadata for this store")
        return SwiftDriver(access["swift_connection"], container)
    if kind == RbdDriver.kind:
        return RbdDriver(container, access.get("ceph_conf") or DEFAULT_CEPH_CONF,
                         access.get("ceph_user"), access.get("ceph_keyring"))
    return FileDriver(container)
