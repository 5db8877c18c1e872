# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where ``method=direct`` writes: one target store's copies in glance_store's own layout (rbd, file).

A target writes a copy as a partial object, invisible to Glance, that becomes the image's copy
only when committed; commits never replace an existing copy. It reads a committed copy back as
Glance would serve it, finishes it the way glance_store does (rbd: the protected snapshot),
removes a copy this collection wrote and never registered, and lists and drops a killed run's
partial objects. A swift target would be one more class of the same shape.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import PARTIAL, Writer, or_none
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.locations import open_driver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import GLANCE_SNAPSHOT, RbdDriver

WRITABLE_TARGETS = ("rbd", "file")  # the store types method=direct writes


class DirectTarget:
    """The copies of one target store, each named after its image id."""

    where = ""  # what the route names: "rbd pool images"
    access_fix = ""  # what to give when a copy's URL is outside glance-api.conf's prefix of the store

    def location(self, image_id: str) -> str:
        """The location URL glance_store gives the image's copy in this store."""
        raise NotImplementedError

    def writer(self, image_id: str, size: int) -> Writer:
        """A new partial copy of ``size`` bytes (a killed run's partial is dropped first); commit
        makes it the copy."""
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

    def writer(self, image_id: str, size: int) -> Writer:
        return self._rbd.writer(image_id, size=size)  # librbd's rename refuses an existing name

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
        # unlinked, not truncated: a run killed inside the commit leaves the partial a link to the copy
        self._drop(image_id + PARTIAL)
        return self._files.writer(image_id, exclusive=True)

    def exists(self, image_id: str) -> bool:
        return or_none(self._files.stat, image_id) is not None

    def reader(self, image_id: str):
        return self._files.reader(image_id)

    def finish(self, image_id: str) -> None:
        self._drop(image_id + PARTIAL)  # left by a run killed between the commit's link and unlink

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
    return RbdTarget(open_driver("rbd", conf.rbd_pool(store), access))
