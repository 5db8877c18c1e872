# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small storage driver interface, after distribution's ``StorageDriver``.

Every back end offers the same six operations: ``stat``, ``list`` (by prefix, in pages after a
marker: the listing is never held whole), ``reader`` (a stream from an offset), ``writer`` (a
stream that can be resumed after an interruption and is only visible once committed),
``delete``, and ``url_prefix`` (where the back end's objects live, as Glance would write it).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

from ansible_collections.storeops.openstack.plugins.module_utils._errors import (
    InvalidInputError,
    MissingDependencyError,
    StorageNotFoundError,
    StoreOpsError,
)

try:
    import rados
    import rbd
except ImportError:
    RBD_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    RBD_IMPORT_ERROR = None

CHUNK = 4 * 2**20
PARTIAL = ".partial"  # suffix of an object being written: invisible to stat and list


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int
    etag: str | None = None
    modified: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class Writer:
    """A stream into one object. ``size`` counts every byte written, resumed ones included."""

    size = 0

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        """Make the object visible under its path."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Drop what was written."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the stream and keep what was written for a later resume."""

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class StorageDriver:
    kind = "storage"

    def url_prefix(self) -> str:
        raise NotImplementedError

    def stat(self, path: str) -> ObjectInfo:
        raise NotImplementedError

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Objects whose path starts with ``prefix``, in path order, after ``marker``."""
        raise NotImplementedError

    def reader(self, path: str, offset: int = 0):
        """A binary stream (``read(n)``, ``close()``, a context manager) from ``offset``."""
        raise NotImplementedError

    def writer(self, path: str, resume: bool = False) -> Writer:
        raise NotImplementedError

    def delete(self, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def not_found(self, path: str) -> StorageNotFoundError:
        return StorageNotFoundError(f"{self.kind} store: no object {path!r} at {self.url_prefix()}",
                                    backend=self.kind, path=path)


# -- file ------------------------------------------------------------------------------------

class _FileWriter(Writer):
    def __init__(self, target: str, resume: bool):
        self._target = target
        self._partial = target + PARTIAL
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self._handle = open(self._partial, "ab" if resume else "wb")  # pylint: disable=consider-using-with
        self.size = self._handle.tell()

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._partial, self._target)

    def cancel(self) -> None:
        self._handle.close()
        if os.path.exists(self._partial):
            os.unlink(self._partial)

    def close(self) -> None:
        self._handle.close()


class FileDriver(StorageDriver):
    """Objects are files under ``root``; a path's ``/`` separates directories."""

    kind = "file"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _full(self, path: str) -> str:
        full = os.path.normpath(os.path.join(self.root, path))
        if os.path.commonpath([full, self.root]) != self.root or not path:
            raise InvalidInputError(f"file store: path {path!r} leaves {self.root}")
        return full

    def url_prefix(self) -> str:
        return "file://" + self.root.rstrip("/") + "/"

    def stat(self, path: str) -> ObjectInfo:
        try:
            found = os.stat(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None
        if not os.path.isfile(self._full(path)):
            raise self.not_found(path)
        return ObjectInfo(path, found.st_size, modified=str(found.st_mtime))

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        for path in self._walk(""):
            if path.startswith(prefix) and (marker is None or path > marker):
                yield self.stat(path)

    def _walk(self, relative: str) -> Iterator[str]:
        # sorted by the full path: a directory sorts as its name followed by "/"
        directory = os.path.join(self.root, relative)
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        keyed = sorted((entry.name + ("/" if entry.is_dir() else ""), entry) for entry in entries)
        for key, entry in keyed:
            if key.endswith("/"):
                yield from self._walk(relative + key)
            elif not entry.name.endswith(PARTIAL):
                yield relative + entry.name

    def reader(self, path: str, offset: int = 0):
        try:
            handle = open(self._full(path), "rb")  # pylint: disable=consider-using-with
        except FileNotFoundError:
            raise self.not_found(path) from None
        handle.seek(offset)
        return handle

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _FileWriter(self._full(path), resume)

    def delete(self, path: str) -> None:
        try:
            os.unlink(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None


# -- rbd -------------------------------------------------------------------------------------

class _RbdReader:
    def __init__(self, image, offset: int):
        self._image = image
        self._offset = offset
        self._size = image.size()

    def read(self, size: int = -1) -> bytes:
        left = self._size - self._offset
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        data = self._image.read(self._offset, size)
        self._offset += len(data)
        return data

    def close(self) -> None:
        self._image.close()

    def __enter__(self) -> "_RbdReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _RbdWriter(Writer):
    def __init__(self, driver: "RbdDriver", path: str, resume: bool):
        self._driver = driver
        self._path = path
        partial = path + PARTIAL
        names = set(driver.api.list(driver.ioctx))
        if partial in names and not resume:
            driver.api.remove(driver.ioctx, partial)
        if partial not in names or not resume:
            driver.api.create(driver.ioctx, partial, 0, old_format=False)
        self._image = rbd.Image(driver.ioctx, partial)
        self.size = self._image.size()

    def write(self, data: bytes) -> None:
        # the image grows with what was written, so its size is the resume point
        self._image.resize(self.size + len(data))
        self._image.write(data, self.size)
        self.size += len(data)

    def commit(self) -> None:
        self._image.flush()
        self._image.close()
        self._driver.api.rename(self._driver.ioctx, self._path + PARTIAL, self._path)

    def cancel(self) -> None:
        self._image.close()
        self._driver.api.remove(self._driver.ioctx, self._path + PARTIAL)

    def close(self) -> None:
        self._image.close()


class RbdDriver(StorageDriver):
    """Objects are RBD images of one pool; ``name@snapshot`` reads a snapshot (as Glance stores)."""

    kind = "rbd"

    def __init__(self, pool: str, ceph_conf: str = "/etc/ceph/ceph.conf", user: str | None = None,
                 keyring: str | None = None, connect_timeout: int = 30):
        if RBD_IMPORT_ERROR:
            raise MissingDependencyError(
                "the rbd store needs Ceph's Python bindings (rados, rbd): install python3-rbd",
                exception=RBD_IMPORT_ERROR)
        self.pool = pool
        options = {"keyring": keyring} if keyring else {}
        self._cluster = rados.Rados(conffile=ceph_conf, rados_id=user, conf=options)
        try:
            self._cluster.connect(timeout=connect_timeout)
            self.ioctx = self._cluster.open_ioctx(pool)
        except rados.Error as err:
            self._cluster.shutdown()
            raise StoreOpsError(f"rbd store: cannot open pool {pool!r} with {ceph_conf} "
                                f"as {user or 'the default user'} ({err})") from None
        self.api = rbd.RBD()

    def url_prefix(self) -> str:
        return f"rbd://{self._cluster.get_fsid()}/{self.pool}/"

    def _open(self, path: str):
        name, _sep, snapshot = path.partition("@")
        try:
            return rbd.Image(self.ioctx, name, snapshot=snapshot or None, read_only=True)
        except rbd.ImageNotFound:
            raise self.not_found(path) from None

    def stat(self, path: str) -> ObjectInfo:
        image = self._open(path)
        try:
            return ObjectInfo(path, image.size())
        finally:
            image.close()

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        # librbd lists a pool's names in one call; only the names are held, never the images
        names = sorted(n for n in self.api.list(self.ioctx)
                       if n.startswith(prefix) and not n.endswith(PARTIAL)
                       and (marker is None or n > marker))
        for name in names:
            try:
                yield self.stat(name)
            except StorageNotFoundError:
                continue  # deleted while listing

    def reader(self, path: str, offset: int = 0):
        return _RbdReader(self._open(path), offset)

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _RbdWriter(self, path, resume)

    def delete(self, path: str) -> None:
        try:
            self.api.remove(self.ioctx, path)
        except rbd.ImageNotFound:
            raise self.not_found(path) from None
        except rbd.ImageHasSnapshots:
            raise StoreOpsError(f"rbd store: {path!r} has snapshots; it belongs to something "
                                "else (Glance?), not deleted") from None

    def close(self) -> None:
        self.ioctx.close()
        self._cluster.shutdown()


# -- locations -------------------------------------------------------------------------------

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
    raise InvalidInputError(
        f"cannot read a {parts.scheme or 'scheme-less'} location from here to verify its data; "
        "use verification=metadata for this store")


def open_driver(kind: str, container: str, access: dict[str, Any]) -> StorageDriver:
    """A driver for a container; ``access`` holds ``ceph_conf``, ``ceph_user``, ``ceph_keyring``."""
    if kind == RbdDriver.kind:
        return RbdDriver(container, access.get("ceph_conf") or "/etc/ceph/ceph.conf",
                         access.get("ceph_user"), access.get("ceph_keyring"))
    return FileDriver(container)
