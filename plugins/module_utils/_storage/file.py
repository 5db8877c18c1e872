# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store driver: objects are files under a root directory, as Glance's file store keeps them.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import fcntl
import os
import stat
from typing import IO, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageBusyError,
    StorageConflictError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import (
    PARTIAL,
    ObjectInfo,
    StorageDriver,
    Writer,
)


class _FileWriter(Writer):
    """Writes ``<target>.partial`` under an flock, so that another writer (another run) never writes
    or drops it meanwhile; the kernel releases a killed process's lock at once. A fresh writer
    unlinks a dead writer's partial rather than truncating it: a run killed inside the commit
    leaves it a link to the committed file."""

    def __init__(self, target: str, resume: bool, exclusive: bool = False):
        self._target = target
        self._exclusive = exclusive
        self._partial = target + PARTIAL
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not resume:
            self._drop_unlocked_partial()
        try:
            # pylint: disable-next=consider-using-with
            self._handle = open(self._partial, "ab" if resume else "xb")  # "x": another writer's, created since
        except FileExistsError:
            raise self._busy() from None
        self._lock(self._handle)
        self._inode = os.fstat(self._handle.fileno()).st_ino
        self.size = self._handle.tell()

    def _still_ours(self) -> bool:
        """Whether the partial's name is still this writer's file: another writer that took the
        partial for a dead one's in the instant before this one locked it made its own."""
        try:
            return os.stat(self._partial).st_ino == self._inode
        except FileNotFoundError:
            return False

    def _lock(self, handle: IO[bytes]) -> None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise self._busy() from None

    def _drop_unlocked_partial(self) -> None:
        try:
            handle = open(self._partial, "rb")  # pylint: disable=consider-using-with
        except FileNotFoundError:
            return
        with handle:
            self._lock(handle)
            if os.stat(self._partial).st_ino == os.fstat(handle.fileno()).st_ino:  # not replaced since
                os.unlink(self._partial)

    def _busy(self) -> StorageBusyError:
        return StorageBusyError(f"file store: {self._partial} is being written by another process now "
                                "(another run?); it was left alone", path=self._partial)

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if not self._still_ours():
            self._handle.close()
            raise self._busy()
        if self._exclusive:  # a link fails on an existing file, where a rename would replace it
            try:
                os.link(self._partial, self._target)
            except FileExistsError:
                self._handle.close()
                raise StorageConflictError(f"file store: {self._target} appeared while it was written; "
                                           "it is kept, and the partial file dropped") from None
            os.unlink(self._partial)
        else:
            os.replace(self._partial, self._target)
        self._handle.close()
        # the rename is durable only once its directory is
        directory = os.open(os.path.dirname(self._target), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def cancel(self) -> None:
        if self._still_ours():
            os.unlink(self._partial)
        self._handle.close()

    def close(self) -> None:
        self._handle.close()


class FileDriver(StorageDriver):
    """Objects are files under ``root``; a path's ``/`` separates directories."""

    kind = "file"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.where = self.root

    def _full(self, path: str) -> str:
        full = os.path.normpath(os.path.join(self.root, path))
        if os.path.commonpath([full, self.root]) != self.root or not path:
            raise InvalidInputError(f"file store: path {path!r} leaves {self.root}")
        return full

    def stat(self, path: str) -> ObjectInfo:
        try:
            found = os.stat(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None
        if not stat.S_ISREG(found.st_mode):
            raise self.not_found(path)
        return ObjectInfo(path, found.st_size, modified=str(found.st_mtime))

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        for path, entry in self._walk(""):
            if path.startswith(prefix) and (marker is None or path > marker):
                found = entry.stat()
                yield ObjectInfo(path, found.st_size, modified=str(found.st_mtime))

    def _walk(self, relative: str) -> Iterator[tuple[str, os.DirEntry]]:
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
                yield relative + entry.name, entry

    def reader(self, path: str, offset: int = 0):
        try:
            handle = open(self._full(path), "rb")  # pylint: disable=consider-using-with
        except FileNotFoundError:
            raise self.not_found(path) from None
        handle.seek(offset)
        return handle

    def writer(self, path: str, resume: bool = False, exclusive: bool = False) -> Writer:
        """``exclusive``: the commit refuses to replace an existing file (StorageConflictError)."""
        return _FileWriter(self._full(path), resume, exclusive)

    def delete(self, path: str) -> None:
        try:
            os.unlink(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None
