# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a glance_image plan against Glance.

A new image is created private, hidden and marked pending; it is published (requested
visibility, ``os_hidden`` false, marker removed, source hashes recorded) in one PATCH only after
Glance's hash of the stored bytes matched the local one. Any failure deletes it; a run killed
before that leaves a marked image the next run deletes before retrying.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._errors import (
    CloudRequestError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._hashing import HashingReader
from ansible_collections.storeops.openstack.plugins.module_utils._image_plan import (
    MD5_KEY,
    PENDING_KEY,
    RETIRED_KEY,
    SHA256_KEYS,
    Desired,
    Plan,
    csv_stores,
    image_stores,
    metadata_patch,
)
from ansible_collections.storeops.openstack.plugins.module_utils._journal import utc_stamp

DIRECT, GLANCE_DIRECT = "direct", "glance-direct"


@dataclass
class Source:
    filename: str | None = None
    url: str | None = None
    sha256: str | None = None        # from checksum, or computed


class ImageExecutor:
    def __init__(self, glance: GlanceClient, upload_method: str | None, timeout: int,
                 all_stores_must_succeed: bool, poll_interval: float = 1.0):
        self.glance = glance
        self.upload_method = upload_method
        self.timeout = timeout
        self.all_stores_must_succeed = all_stores_must_succeed
        self.poll_interval = poll_interval
        self.store_outcomes: dict[str, str] = {}
        self.notes: list[str] = []

    def run(self, plan: Plan, desired: Desired, source: Source) -> dict[str, Any] | None:
        image = plan.image
        for action in plan.actions:
            kind = action["action"]
            if kind in ("delete_leftover", "delete_old_version", "delete"):
                self.glance.delete_image(action["image_id"])
                image = None if kind == "delete" else image
            elif kind == "create":
                image = self._create(desired, source)
            elif kind == "retire":
                self._retire(action["image_id"], desired.name)
            elif kind == "copy":
                image = self._copy(action["image_id"], action["stores"])
            elif kind == "update_metadata":
                image = self.glance.patch(action["image_id"], action["operations"])
            elif kind == "delete_store_copy":
                self.glance.delete_from_store(action["store"], action["image_id"])
                self.store_outcomes[action["store"]] = "removed"
                image = self.glance.image(action["image_id"])
        return image

    # -- a new image ------------------------------------------------------------------------

    def _create(self, desired: Desired, source: Source) -> dict[str, Any]:
        attributes = {"name": desired.name, "disk_format": desired.disk_format,
                      "container_format": desired.container_format, "visibility": "private",
                      "os_hidden": True, PENDING_KEY: "true"}
        if desired.image_id:
            attributes["id"] = desired.image_id
        image = self.glance.create_image(attributes)
        try:
            image, hashes = self._fill(image["id"], desired, source)
            self._verify(image, hashes, source)
            source.sha256 = source.sha256 or hashes.get("sha256")
            final = replace(
                desired,
                fields=dict(desired.fields, visibility=desired.fields.get("visibility") or "private"),
                properties={**desired.properties, **self._hash_properties(hashes, source)})
            image = self.glance.patch(image["id"], metadata_patch(image, final, publish=True))
        except BaseException:
            self.glance.delete_image(image["id"])  # never leave a half-made image behind
            raise
        missing = [s for s in desired.stores if s not in image_stores(image)]
        if missing:
            image = self._copy(image["id"], missing)
        return image

    def _fill(self, image_id: str, desired: Desired, source: Source):
        stores = desired.stores
        if source.url:
            self.glance.start_import(image_id, {"name": "web-download", "uri": source.url}, stores,
                                     self.all_stores_must_succeed)
            return self._wait_for_stores(image_id, stores, first_import=True), {}
        method = self.upload_method
        with HashingReader(source.filename) as reader:
            if method == DIRECT:
                self.glance.upload(image_id, reader, stores[0] if stores else None)
                image = self.glance.image(image_id)
                if stores:
                    self.store_outcomes[stores[0]] = "uploaded"
            else:
                self.glance.stage(image_id, reader)
            hashes = reader.hexdigests()
        if method == GLANCE_DIRECT:
            self.glance.start_import(image_id, {"name": "glance-direct"}, stores,
                                     self.all_stores_must_succeed)
            image = self._wait_for_stores(image_id, stores, first_import=True)
        return image, hashes

    def _verify(self, image: dict[str, Any], hashes: dict[str, str], source: Source) -> None:
        if source.sha256 and hashes and hashes["sha256"] != source.sha256:
            raise StoreOpsError(f"checksum: the file's sha256 is {hashes['sha256']}, not "
                                f"{source.sha256}; the new image was deleted")
        algo, value = image.get("os_hash_algo"), image.get("os_hash_value")
        if not hashes:
            self.notes.append("web-download: Glance's hash was recorded; the source bytes were "
                              "not read locally, so the identity is the checksum given, if any")
        elif algo not in hashes:
            self.notes.append(f"Glance hashes with {algo}, which is not computed locally: "
                              "verified by size only")
            if image.get("size") != self._size(source):
                raise StoreOpsError("Glance stored a different number of bytes than the file has; "
                                    "the new image was deleted")
        elif value != hashes[algo]:
            raise StoreOpsError(f"Glance's {algo} of the stored image differs from the file's; "
                                "the new image was deleted")

    @staticmethod
    def _size(source: Source) -> int | None:
        return os.path.getsize(source.filename) if source.filename else None

    @staticmethod
    def _hash_properties(hashes: dict[str, str], source: Source) -> dict[str, str]:
        sha256 = hashes.get("sha256") or source.sha256
        properties = {SHA256_KEYS[0]: sha256} if sha256 else {}
        if hashes.get("md5"):
            properties[MD5_KEY] = hashes["md5"]
        return properties

    # -- stores -----------------------------------------------------------------------------

    def _copy(self, image_id: str, stores: list[str]) -> dict[str, Any]:
        try:
            self.glance.start_import(image_id, {"name": "copy-image"}, stores,
                                     self.all_stores_must_succeed)
        except CloudRequestError as err:
            if err.status_code != 409:
                raise
            self.notes.append(f"image {image_id}: another import holds Glance's lock; waited for it")
        return self._wait_for_stores(image_id, stores, first_import=False)

    def _wait_for_stores(self, image_id: str, stores: list[str], first_import: bool) -> dict[str, Any]:
        """Poll until every store holds the image or failed; record each store's outcome."""
        deadline = time.monotonic() + self.timeout
        verb = "imported" if first_import else "copied"
        while True:
            image = self.glance.image(image_id)
            if image is None or image.get("status") in ("killed", "deleted"):
                raise StoreOpsError(f"image {image_id} was {image and image.get('status') or 'deleted'} "
                                    "during its import")
            held, failed = image_stores(image), csv_stores(image.get("os_glance_failed_import"))
            pending = [s for s in stores if s not in held and s not in failed]
            if not pending and image.get("status") == "active":
                break
            if time.monotonic() > deadline:
                for store in pending:
                    self.store_outcomes[store] = f"timed out after {self.timeout}s"
                break
            time.sleep(self.poll_interval)
        for store in stores:
            if store in held:
                self.store_outcomes.setdefault(store, verb)
            elif store in failed:
                self.store_outcomes[store] = "failed (os_glance_failed_import)"
        not_there = [s for s in stores if s not in held]
        if not_there and (self.all_stores_must_succeed or len(not_there) == len(stores)):
            raise StoreOpsError(
                f"image {image_id}: not in store(s) {', '.join(not_there)} "
                f"({'; '.join(self.store_outcomes.get(s, 'failed') for s in not_there)})")
        return image

    def _retire(self, image_id: str, name: str) -> None:
        stamp = utc_stamp(compact=True)
        self.glance.patch(image_id, [
            {"op": "replace", "path": "/name", "value": f"{name}.retired-{stamp}"},
            {"op": "replace", "path": "/os_hidden", "value": True},
            {"op": "add", "path": f"/{RETIRED_KEY}", "value": name},
        ])
