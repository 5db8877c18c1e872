# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``kernel`` and ``ramdisk`` by name or id, as openstack.cloud's image module takes them.

Each becomes the id Glance's ``kernel_id`` / ``ramdisk_id`` property holds. An id is taken when
an image has it; a name must pick exactly one active image (the owner's first, since a public
one of another project may share the name), never a version this collection retired or a
pending upload.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import PENDING_KEY, RETIRED_KEY

REFERENCE_PROPERTIES = {"kernel": "kernel_id", "ramdisk": "ramdisk_id"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def pick_reference(option: str, reference: str, by_id: dict[str, Any] | None,
                   named: list[dict[str, Any]], owner: str) -> str:
    """The image id ``reference`` means (pure): ``by_id`` if found, else the one active image named so."""
    if by_id is not None:
        return by_id["id"]
    usable = [i for i in named if i.get("status") == "active" and not i.get(PENDING_KEY)
              and not i.get(RETIRED_KEY)]
    mine = [i for i in usable if i.get("owner") == owner]
    candidates = mine or usable
    if not candidates:
        raise InvalidInputError(f"{option}: no active image {reference!r} is visible to these "
                                "credentials; give the image's name or id")
    if len(candidates) > 1:
        ids = ", ".join(sorted(i["id"] for i in candidates))
        raise InvalidInputError(f"{option}: {len(candidates)} images are named {reference!r} ({ids}); "
                                "give its id")
    return candidates[0]["id"]


def reference_properties(glance, references: dict[str, str | None], owner: str) -> dict[str, str]:
    """``kernel_id`` / ``ramdisk_id`` for the references given (``{"kernel": ..., "ramdisk": ...}``)."""
    found = {}
    for option, reference in references.items():
        if reference:
            by_id = glance.image(reference) if _UUID.match(reference) else None
            named = [] if by_id else glance.images_where(name=reference)
            found[REFERENCE_PROPERTIES[option]] = pick_reference(option, reference, by_id, named, owner)
    return found
