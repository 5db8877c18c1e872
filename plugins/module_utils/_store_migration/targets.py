# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where ``method=direct`` writes: one target store's copies in glance_store's own layout (rbd, file, swift).

A target writes a copy as a partial object, invisible to Glance, that becomes the image's copy
only when committed; commits never replace an existing copy. It reads a committed copy back as
Glance would serve it, finishes it the way glance_store does (rbd: the protected snapshot),
removes a copy this collection wrote and never registered, and lists and drops a killed run's
partial objects.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import os
import re
from itertools import groupby
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import CHUNK, PARTIAL, Writer, or_none
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.locations import open_driver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import GLANCE_SNAPSHOT, RbdDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver

WRITABLE_TARGETS = ("rbd", "file", "swift")  # the store types method=direct writes


class DirectTarget:
    """The copies of one target store, each named after its image id."""

    where = ""  # what the route names: "rbd pool images"
    access_fix = ""  # what to give when a copy's URL is outside glance-api.conf's prefix of the store

    def location(self, image_id: str) -> str:
        """The location URL glance_store gives the image's copy in this store."""
        raise NotImplementedError

    def writer(self, image_id: str, size: int) -> Writer:
        """A new partial copy of an image of ``size`` bytes (a killed run's partial is dropped
        first); commit makes it the copy."""
        raise NotImplementedError

    def exists(self, image_id: str) -> bool:
        """Whether a committed copy is there (this collection's, or anyone's)."""
        raise NotImplementedError

    def reader(self, image_id: str):
        """A stream of the committed copy's bytes, as Glance would serve them."""
        raise NotImplementedError

    def finish(self, image_id: str) -> None:
        """After the read-back: what glance_store's layout adds to a committed copy; each part
        already done is skipped, so a killed run's copy can be finished."""

    def remove(self, image_id: str) -> None:
        """Remove a committed copy this collection wrote and never registered (none: nothing)."""
        raise NotImplementedError

    def removal_hint(self, image_id: str) -> str:
        """The command an operator runs to remove the copy by hand."""
        raise NotImplementedError

    def partials(self) -> list[str]:
        """The image ids whose partial copies were never committed (a killed run's)."""
        raise NotImplementedError

    def delete_partial(self, image_id: str) -> None:
        """Drop a partial copy; StorageNotFoundError when it is gone already."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


class RbdTarget(DirectTarget):
    """RBD images of one pool, named after the image id, with the protected snapshot ``snap``."""

    access_fix = "give target_access the ceph.conf of the target store's Ceph cluster"

    def __init__(self, driver: RbdDriver):
        self._rbd = driver
        self.where = f"rbd pool {driver.pool}"

    def location(self, image_id: str) -> str:
        return self._rbd.glance_location(image_id)

    def writer(self, image_id: str, size: int) -> Writer:  # pylint: disable=unused-argument
        return self._rbd.writer(image_id)  # librbd's rename refuses an existing name

    def exists(self, image_id: str) -> bool:
        return or_none(self._rbd.stat, image_id) is not None

    def reader(self, image_id: str):
        # the snapshot is what Glance serves: a head written to after it would prove nothing
        return self._rbd.reader(self._rbd.glance_snapshot_of(image_id) or image_id)

    def finish(self, image_id: str) -> None:
        self._rbd.protect_glance_snapshot(image_id)

    def remove(self, image_id: str) -> None:
        self._rbd.delete_glance_image(image_id)

    def removal_hint(self, image_id: str) -> str:
        image = f"{self._rbd.pool}/{image_id}"
        return (f"rbd snap unprotect {image}@{GLANCE_SNAPSHOT}; rbd snap rm {image}@{GLANCE_SNAPSHOT}; "
                f"rbd rm {image}")

    def partials(self) -> list[str]:
        return self._rbd.partials()

    def delete_partial(self, image_id: str) -> None:
        self._rbd.delete_partial(image_id)

    def close(self) -> None:
        self._rbd.close()


class FileTarget(DirectTarget):
    """Files ``<datadir>/<image id>`` of a file store, written on the host that holds the datadir."""

    access_fix = "give the glance_api_conf Glance itself reads (its filesystem_store_datadir names the directory)"

    def __init__(self, store: str, datadir: str):
        if not os.path.isdir(datadir):
            raise InvalidInputError(
                f"target_store: {store}'s filesystem_store_datadir {datadir} is not a directory on this "
                "host; method=direct writes a file store only on the host that holds it: run the module "
                "there, or use method=copy-image")
        if not os.access(datadir, os.W_OK | os.X_OK):
            raise InvalidInputError(
                f"target_store: {store}'s filesystem_store_datadir {datadir} is not writable by this user; "
                "run the module as the user Glance runs as, or use method=copy-image")
        self._datadir = datadir
        self._files = FileDriver(datadir)
        self.where = f"directory {datadir} on this host"

    def location(self, image_id: str) -> str:
        return "file://" + os.path.join(self._datadir, image_id)  # as glance_store's file store joins them

    def writer(self, image_id: str, size: int) -> Writer:  # pylint: disable=unused-argument
        # a file needs no size up front: it grows as it is written
        return self._files.writer(image_id, exclusive=True)

    def exists(self, image_id: str) -> bool:
        return or_none(self._files.stat, image_id) is not None

    def reader(self, image_id: str):
        return self._files.reader(image_id)

    def finish(self, image_id: str) -> None:
        # left by a run killed between the commit's link and unlink; a partial that is another file is
        # another run's writing, and its own
        partial, copy = (os.path.join(self._files.root, name) for name in (image_id + PARTIAL, image_id))
        try:
            if os.path.samefile(partial, copy):
                os.unlink(partial)
        except FileNotFoundError:
            pass

    def remove(self, image_id: str) -> None:
        self._drop(image_id)

    def removal_hint(self, image_id: str) -> str:
        return f"rm {os.path.join(self._files.root, image_id)}"

    def partials(self) -> list[str]:
        return sorted(entry.name[:-len(PARTIAL)] for entry in os.scandir(self._files.root)
                      if entry.name.endswith(PARTIAL) and entry.is_file())

    def delete_partial(self, image_id: str) -> None:
        self._files.delete(image_id + PARTIAL)

    def _drop(self, name: str) -> None:
        try:
            self._files.delete(name)
        except StorageNotFoundError:
            pass


# on every object a swift target writes: what a later run may replace or delete
MARKER = {"X-Object-Meta-Storeops-Writer": "glance_store_migrate"}
_SEGMENT = re.compile(r"-\d{5,}")  # after the image id: glance_store's "%s-%05d"


def _ours(headers) -> bool:
    return headers is not None and all(headers.get(key) == value for key, value in MARKER.items())


class _SwiftCopyWriter(Writer):
    """An image's copy as glance_store lays it out, but named ``<id>.partial``: one object; or
    (``segment_size`` given) the segments ``<id>-00001``... and, on commit, a zero-byte manifest
    ``<id>.partial`` of them, which serves what the manifest ``<id>`` will."""

    def __init__(self, swift: SwiftDriver, image_id: str, segment_size: int | None):
        self._swift = swift
        self._name = image_id
        self._segment_size = segment_size
        # every object whose PUT Swift answered, which ``cancel`` deletes: a PUT refused or broken off
        # stored nothing of this run's, and what is at its name may be another writer's
        self._written: list[str] = []
        self._put = self._put_path = None
        if segment_size is None:
            self._start(image_id + PARTIAL)

    def _start(self, path: str) -> None:
        self._put, self._put_path = self._swift.streamed_put(path, MARKER), path

    def _finish_put(self) -> None:
        self._put.finish()
        self._written.append(self._put_path)
        self._put = self._put_path = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._segment_size is None:
            self._put.write(data)
            return
        view = memoryview(data)
        while view:
            if self._put is None:
                self._start(f"{self._name}-{len(self._written) + 1:05d}")
            room = self._segment_size - self._put.size
            self._put.write(view[:room])
            view = view[room:]
            if self._put.size == self._segment_size:
                self._finish_put()

    def commit(self) -> None:
        if self._put is not None:
            self._finish_put()
        if self._segment_size is not None:
            self._swift.put_new(self._name + PARTIAL, {**MARKER, "X-Object-Manifest": _manifest(self._swift, self._name)})
            self._written.append(self._name + PARTIAL)

    def cancel(self) -> None:
        self.close()
        for path in self._written:
            self._swift.delete_only(path)
        self._written = []

    def close(self) -> None:
        if self._put is not None:  # Swift stores nothing of a PUT broken off
            self._put.abort()
            self._put = None


def _manifest(swift: SwiftDriver, image_id: str) -> str:
    return f"{swift.container}/{image_id}-"  # glance_store's X-Object-Manifest: every "<id>-" object


class SwiftTarget(DirectTarget):
    """Objects of a single-tenant swift store's container as glance_store adds them: ``<id>``
    whole, or from ``large_object_size`` bytes on a DLO, segments ``<id>-00001``... of
    ``segment_size`` bytes and a zero-byte manifest ``<id>``.

    The copy is written as ``<id>.partial`` (the object, or a manifest of the very segments) and
    read back through it; ``finish`` makes ``<id>`` of it only after that read-back, so no object
    at ``<id>`` was ever unverified. Every object written carries MARKER: one without it is
    another writer's, and is never replaced or deleted (the image is refused, naming it)."""

    access_fix = ("give the glance_api_conf Glance itself reads (its swift store's reference and container "
                  "make the location)")

    def __init__(self, driver: SwiftDriver, layout):
        self._swift = driver
        self._layout = layout
        self.where = f"swift container {driver.container}"

    def location(self, image_id: str) -> str:
        # what glance_store's add returns when the credentials are in swift_store_config_file
        return f"swift+config://{self._layout.reference}/{self._swift.container}/{image_id}"

    def writer(self, image_id: str, size: int) -> Writer:
        if self._layout.create_container:
            self._swift.ensure_container()
        self._refuse_foreign_copy(image_id)
        self._drop([image_id + PARTIAL, *self._segments(image_id)])  # a killed run's, not resumed
        chunked = size == 0 or size >= self._layout.large_object_size  # glance_store's rule (0: size unknown)
        return _SwiftCopyWriter(self._swift, image_id, self._layout.segment_size if chunked else None)

    def exists(self, image_id: str) -> bool:
        # only this collection's: another writer's <id> (the source's own, when both stores share a
        # container) must never become the image's copy, which the source's removal would delete
        return _ours(self._head(image_id)) or _ours(self._head(image_id + PARTIAL))

    def _refuse_foreign_copy(self, image_id: str) -> None:
        if self._head(image_id) is not None and not _ours(self._head(image_id)):
            raise StorageConflictError(
                f"swift store: {image_id} in container {self._swift.container} was not written by this collection "
                "(another writer's, or the source's own object if both stores use this container), so it is kept",
                path=image_id)

    def reader(self, image_id: str):
        # before finish the partial, whose manifest names the same segments as the copy's will
        return self._swift.reader(image_id if self._head(image_id) is not None else image_id + PARTIAL)

    def finish(self, image_id: str) -> None:
        partial = self._head(image_id + PARTIAL)
        if not _ours(partial):
            return  # finished already
        self._refuse_foreign_copy(image_id)  # appeared since the writer looked: never registered
        if self._head(image_id) is None:
            self._promote(image_id, partial)
        self._swift.delete_only(image_id + PARTIAL)

    def _promote(self, image_id: str, partial) -> None:
        """``<id>`` made of its verified partial: the same manifest, or the object's bytes again
        (Swift's server-side copy applies If-None-Match to its source, so it could replace an object)."""
        if partial.get("X-Object-Manifest"):
            self._swift.put_new(image_id, {**MARKER, "X-Object-Manifest": _manifest(self._swift, image_id)})
        else:
            put = self._swift.streamed_put(image_id, MARKER)
            try:
                with self._swift.reader(image_id + PARTIAL) as stream:
                    for chunk in iter(lambda: stream.read(CHUNK), b""):
                        put.write(chunk)
                put.finish()
            except BaseException:
                put.abort()
                raise
        copy = self._swift.head(image_id)
        if [copy.get(key) for key in ("Etag", "Content-Length")] != [partial.get(key) for key in ("Etag", "Content-Length")]:
            raise StorageConflictError(
                f"swift store: {self._swift.container}/{image_id} serves other bytes than its verified partial "
                "copy; re-run: it is read back before it is registered", path=image_id)

    def remove(self, image_id: str) -> None:
        self._drop([image_id, image_id + PARTIAL, *self._segments(image_id)])

    def removal_hint(self, image_id: str) -> str:
        return f"swift delete {self._swift.container} --prefix {image_id} (with the swift store's credentials)"

    def partials(self) -> list[str]:
        found = []
        for image_id, entries in groupby(self._swift.listing(), key=lambda entry: entry["name"][:36]):
            names = sorted(entry["name"] for entry in entries)
            if image_id in names:
                continue  # a copy, whose segments are its own
            leftovers = [name for name in names if self._leftover(image_id, name)]
            if leftovers and _ours(self._head(leftovers[0])):  # another writer's leftovers are not orphans
                found.append(image_id)
        return found

    def delete_partial(self, image_id: str) -> None:
        if not self._drop([image_id + PARTIAL, *self._segments(image_id)]):
            raise StorageNotFoundError(f"swift store: no partial copy of {image_id} in {self.where}", path=image_id)

    # -- helpers ----------------------------------------------------------------------------

    def _head(self, name: str):
        return or_none(self._swift.head, name)

    @staticmethod
    def _leftover(image_id: str, name: str) -> bool:
        rest = name[len(image_id):]
        return name.startswith(image_id) and (rest == PARTIAL or bool(_SEGMENT.fullmatch(rest)))

    def _segments(self, image_id: str) -> list[str]:
        return [entry["name"] for entry in self._swift.listing(image_id + "-")
                if self._leftover(image_id, entry["name"])]

    def _drop(self, names: list[str]) -> list[str]:
        """Delete the objects of ``names`` there (the manifest first: Glance never sees one without
        its segments); the names deleted. StorageConflictError, nothing deleted, when any is
        another writer's."""
        there = {name: headers for name in names if (headers := self._head(name)) is not None}
        foreign = [name for name, headers in there.items() if not _ours(headers)]
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise StorageConflictError(
                f"swift store: {', '.join(foreign[:3])}{more} in container {self._swift.container} "
                "were not written by this collection (a Glance upload killed midway leaves segments), "
                "so they are kept", path=foreign[0])
        for name in there:
            self._swift.delete_only(name)
        return list(there)


def open_target(store: str, store_type: str, conf, access: dict[str, Any]) -> DirectTarget:
    """The target store's copies, from ``conf`` (the GlanceApiConf) and ``access`` (target_access):
    InvalidInputError before anything is written when this host cannot write them."""
    if store_type == "file":
        datadirs = conf.file_datadirs(store)
        if len(datadirs) != 1:
            raise InvalidInputError(
                f"target_store: {store} spreads images over {len(datadirs)} filesystem_store_datadirs, "
                "and glance_store picks one by priority and free space; use method=copy-image")
        return FileTarget(store, datadirs[0])
    if store_type == "swift":  # access: the connection with the swift store's credentials
        layout = conf.swift_layout(store)
        return SwiftTarget(SwiftDriver(access["swift_connection"], layout.container), layout)
    return RbdTarget(open_driver("rbd", conf.rbd_pool(store), access))
