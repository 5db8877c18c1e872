# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rbd store driver: objects are RBD images of one Ceph pool, as Glance's rbd store keeps them.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import traceback
from typing import Iterator
from urllib.parse import quote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    MissingDependencyError,
    StorageBusyError,
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import (
    PARTIAL,
    ObjectInfo,
    StorageDriver,
    Stream,
    Writer,
)

DEFAULT_CEPH_CONF = "/etc/ceph/ceph.conf"
GLANCE_SNAPSHOT = "snap"  # the protected snapshot glance_store's rbd driver makes and its URLs name
# A module's option reaching the rbd pools (open_driver's ``access``), documented by the ceph_access doc fragment.
CEPH_ACCESS_ARGUMENT_SPEC = {"type": "dict", "options": {
    "ceph_conf": {"type": "path"}, "ceph_user": {"type": "str"},
    "ceph_keyring": {"type": "path", "no_log": False}}}

try:
    import rados
    import rbd
except ImportError:
    RBD_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    RBD_IMPORT_ERROR = None


class _RbdReader(Stream):
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


class _RbdWriter(Writer):
    """Writes ``<path>.partial``, renamed to ``path`` on commit. A partial image another client has
    open (its watch: another run writing it now) is never written to nor removed; one nobody
    watches (a killed run's; a dead client's watch lapses within half a minute) is resumed, or
    replaced by a fresh writer."""

    def __init__(self, driver: "RbdDriver", path: str, resume: bool):
        self._driver = driver
        self._path = path
        partial = path + PARTIAL
        if not resume:
            self._drop_if_unwatched(partial)
            try:
                driver.api.create(driver.ioctx, partial, 0, old_format=False)
            except rbd.ImageExists:  # another run created it since
                raise self._busy(partial) from None
        try:
            self._image = rbd.Image(driver.ioctx, partial)
        except rbd.ImageNotFound:
            if not resume:  # another run dropped it, taking it for a dead one's, before this run opened it
                raise self._busy(partial) from None
            driver.api.create(driver.ioctx, partial, 0, old_format=False)  # nothing to resume
            self._image = rbd.Image(driver.ioctx, partial)
        # this writer's own watch, and another's: one that dropped and re-created the partial in the
        # instant between this writer's create and open, or whose partial this one is resuming
        if len(list(self._image.watchers_list())) > 1:
            self._image.close()
            raise self._busy(partial)
        self.size = self._image.size()

    def _drop_if_unwatched(self, partial: str) -> None:
        try:
            with rbd.Image(self._driver.ioctx, partial, read_only=True) as image:
                watched = bool(list(image.watchers_list()))  # a read-only open sets no watch
        except rbd.ImageNotFound:
            return
        if watched:
            raise self._busy(partial)
        try:
            self._driver.api.remove(self._driver.ioctx, partial)
        except rbd.ImageNotFound:
            pass
        except rbd.ImageBusy:  # opened since
            raise self._busy(partial) from None

    def _busy(self, partial: str) -> StorageBusyError:
        return StorageBusyError(f"rbd store: {self._driver.pool}/{partial} is being written by another "
                                "client now (another run of this migration?); it was left alone", path=partial)

    def write(self, data: bytes) -> None:
        # the image grows with what was written, so its size is the resume point
        self._image.resize(self.size + len(data))
        self._image.write(data, self.size)
        self.size += len(data)

    def commit(self) -> None:
        self._image.flush()
        self._image.close()
        try:
            self._driver.api.rename(self._driver.ioctx, self._path + PARTIAL, self._path)
        except rbd.ImageExists:  # written meanwhile, by another run perhaps: kept (cancel drops this copy)
            raise StorageConflictError(f"rbd store: {self._driver.pool}/{self._path} appeared while it was "
                                       "written; it is kept", path=self._path) from None

    def cancel(self) -> None:
        self._image.close()
        try:
            self._driver.api.remove(self._driver.ioctx, self._path + PARTIAL)
        except rbd.ImageNotFound:
            pass

    def close(self) -> None:
        self._image.close()


class RbdDriver(StorageDriver):
    """Objects are RBD images of one pool; ``name@snapshot`` reads a snapshot (as Glance stores)."""

    kind = "rbd"

    def __init__(self, pool: str, ceph_conf: str = DEFAULT_CEPH_CONF, user: str | None = None,
                 keyring: str | None = None, connect_timeout: int = 30):
        if RBD_IMPORT_ERROR:
            raise MissingDependencyError(
                "the rbd store needs Ceph's Python bindings (rados, rbd): install python3-rbd",
                exception=RBD_IMPORT_ERROR)
        self.pool = pool
        self.where = f"pool {pool}"
        options = {"keyring": keyring} if keyring else {}
        try:  # a missing or unreadable ceph.conf fails here, before any connection
            self._cluster = rados.Rados(conffile=ceph_conf, rados_id=user, conf=options)
        except rados.Error as err:
            raise StoreOpsError(f"rbd store: cannot read {ceph_conf} ({err}); give the ceph.conf "
                                "of the cluster") from None
        try:
            self._cluster.connect(timeout=connect_timeout)
            self.ioctx = self._cluster.open_ioctx(pool)
        except rados.Error as err:
            self._cluster.shutdown()
            raise StoreOpsError(f"rbd store: cannot open pool {pool!r} with {ceph_conf} "
                                f"as {user or 'the default user'} ({err})") from None
        self.api = rbd.RBD()

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

    def clones(self, path: str, fsid: str | None = None) -> list[str]:
        """``pool/image`` of every clone of the snapshot ``path`` (``image@snap``).

        ``fsid`` is the cluster the snapshot is on (from its location): another cluster's pool
        of the same name says nothing about it, so that is an error, as is any librbd error.
        """
        reached = self._cluster.get_fsid()
        if fsid and fsid != reached:
            raise StoreOpsError(f"rbd store: {path} is on cluster {fsid}, ceph_access reaches {reached}")
        try:
            image = self._open(path)
            try:
                return sorted(f"{pool}/{name}" for pool, name in image.list_children())
            finally:
                image.close()
        except rbd.Error as err:
            raise StoreOpsError(f"rbd store: cannot list the clones of {self.pool}/{path} ({err})") from None

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _RbdWriter(self, path, resume)

    def glance_location(self, name: str) -> str:
        """The location URL Glance's rbd store gives image ``name``: ``rbd://fsid/pool/name/snap``."""
        return f"rbd://{quote(self._cluster.get_fsid(), '')}/{quote(self.pool, '')}/{quote(name, '')}/{GLANCE_SNAPSHOT}"

    def glance_snapshot_of(self, name: str) -> str | None:
        """``name@snap`` if image ``name`` has Glance's snapshot (what Glance serves), else None."""
        with rbd.Image(self.ioctx, name, read_only=True) as image:
            if GLANCE_SNAPSHOT in {snapshot["name"] for snapshot in image.list_snaps()}:
                return f"{name}@{GLANCE_SNAPSHOT}"
        return None

    def protect_glance_snapshot(self, name: str) -> None:
        """Give image ``name`` the protected snapshot ``snap`` Glance's rbd store reads (and clones
        from); either step already done is skipped, so a killed run's image can be finished."""
        # another run finishing the same copy may take either step first
        with rbd.Image(self.ioctx, name) as image:
            if GLANCE_SNAPSHOT not in {snapshot["name"] for snapshot in image.list_snaps()}:
                try:
                    image.create_snap(GLANCE_SNAPSHOT)
                except rbd.ImageExists:
                    pass
            if not image.is_protected_snap(GLANCE_SNAPSHOT):
                try:
                    image.protect_snap(GLANCE_SNAPSHOT)
                except (rbd.ImageBusy, rbd.InvalidArgument):  # protected already
                    if not image.is_protected_snap(GLANCE_SNAPSHOT):
                        raise

    def delete_glance_image(self, name: str) -> None:
        """Remove image ``name`` with its Glance snapshot (one this collection wrote and never
        registered); an image with other snapshots is someone else's and is kept."""
        try:
            with rbd.Image(self.ioctx, name) as image:
                snapshots = {snapshot["name"] for snapshot in image.list_snaps()}
                if snapshots - {GLANCE_SNAPSHOT}:
                    raise StoreOpsError(f"rbd store: {name!r} has snapshots {sorted(snapshots)}; it belongs "
                                        "to something else, not deleted")
                if snapshots:
                    if image.is_protected_snap(GLANCE_SNAPSHOT):
                        image.unprotect_snap(GLANCE_SNAPSHOT)
                    image.remove_snap(GLANCE_SNAPSHOT)
        except rbd.ImageNotFound:
            return
        self.delete(name)

    def partials(self) -> list[str]:
        """The names of the images whose writers were never committed (a killed run's), without suffix."""
        return sorted(n[:-len(PARTIAL)] for n in self.api.list(self.ioctx) if n.endswith(PARTIAL))

    def delete_partial(self, name: str) -> None:
        """Drop an uncommitted writer's image (``name`` without its suffix)."""
        self.delete(name + PARTIAL)

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
