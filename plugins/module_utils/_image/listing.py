# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images of a whole catalogue run, listed once, for planning every entry from memory.

glance_image lists an entry's images itself (its name, its lease images, and its retired versions
where a plan may prune them: three to five requests). A catalogue of fifty entries would make two
hundred or more; the
listing makes a few: every project's images of the entries' names (current versions, pending
uploads, other projects' namesakes), and the images the catalogue marked as its own (retired
versions, lease images) or, for a catalogue without a name, the owners' images.

The listing is as old as the run, so it only ever answers "nothing to do": an entry whose plan
from it has a step is planned again from Glance's state now (``runner.ensure_image``). What it
lacks can then only make a plan too busy (planned again), or leave a retired version it never saw
for a later run.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import CATALOGUE_KEY

PAGE_SIZE = 1000  # Glance's default api_limit_max: a catalogue's listing is a page or two


class ImageListing:
    """Answers the reads of the planner (``_image/runner.py``) from one listing."""

    def __init__(self, glance: GlanceClient, images: list[dict[str, Any]], stores: list[dict[str, Any]]):
        self._glance = glance
        self._images = images
        self._stores = stores

    @classmethod
    def read(cls, glance: GlanceClient, names: list[str], catalogue: str | None,
             owners: list[str]) -> ImageListing:
        by_id = {image["id"]: image for image in glance.images_named(names, PAGE_SIZE)}
        if catalogue:
            mine = glance.iter_images(PAGE_SIZE, **{CATALOGUE_KEY: catalogue})
        else:
            mine = (image for owner in owners for image in glance.iter_images(PAGE_SIZE, owner=owner))
        by_id.update((image["id"], image) for image in mine)
        return cls(glance, list(by_id.values()), glance.stores())

    def stores(self) -> list[dict[str, Any]]:
        return self._stores

    def images_where(self, os_hidden: bool | None = None, **filters: str) -> list[dict[str, Any]]:
        """The listed images whose attributes equal the filters, as Glance's own filters match."""
        return [image for image in self._images
                if (os_hidden is None or bool(image.get("os_hidden")) == os_hidden)
                and all(image.get(key) == value for key, value in filters.items())]

    def image(self, image_id: str) -> dict[str, Any] | None:
        return next((image for image in self._images if image["id"] == image_id), None)

    def members(self, image_id: str) -> list[dict[str, Any]]:
        """Not listed: members are asked for, image by image, only for entries that share."""
        return self._glance.members(image_id)
