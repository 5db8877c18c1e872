# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage driver interface every back end implements, after distribution's ``StorageDriver``.

A driver offers ``stat``, ``list`` (by prefix, in pages after a marker: the listing is never held
whole), ``reader`` (a stream from an offset), ``writer`` (a stream that can be resumed after an
interruption and is only visible once committed), ``put`` (one whole small object, durable when
it returns: a journal's flush), and ``delete``. What a back end offers beyond that is its own
API, named in its file.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StorageNotFoundError

CHUNK = 4 * 2**20  # what a copy reads at a time
PARTIAL = ".partial"  # suffix of an object being written: invisible to stat and list


_Found = TypeVar("_Found")


def or_none(look_up: Callable[[str], _Found], path: str) -> _Found | None:
    """``look_up(path)`` (a driver's ``stat``, Swift's ``head``), or None when no object is there."""
    try:
        return look_up(path)
    except StorageNotFoundError:
        return None


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int
    etag: str | None = None
    modified: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class Stream:
    """What every reader and writer shares: ``close()``, and use as a context manager."""

    def close(self) -> None:
        """Release the stream."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Writer(Stream):
    """A stream into one object. ``size`` counts every byte written, resumed ones included.

    ``close()`` releases it and keeps what was written for a later resume.
    """

    size = 0

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        """Make the object visible under its path, its bytes durable."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Drop what was written."""
        raise NotImplementedError


class StorageDriver:
    kind = "storage"
    where = ""  # the directory, pool, container or bucket, as an error message names it

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

    def put(self, path: str, data: bytes) -> None:
        """One whole small object, durable once this returns (a journal puts one per flush, each at a new path).

        An object already at ``path``: the s3 store refuses it (StorageConflictError), as the swift store
        does when told ``new``; the others replace it.
        """
        writer = self.writer(path)
        try:
            writer.write(data)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise

    def delete(self, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def not_found(self, path: str) -> StorageNotFoundError:
        return StorageNotFoundError(f"{self.kind} store: no object {path!r} in {self.where}",
                                    backend=self.kind, path=path)
