# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of an image's keys are user properties, the ones ``properties_state: exact`` may remove.

Glance returns core fields, the attributes it manages and reserves, and free-form properties in
one flat object. Only the free-form ones are the entry's to decide: removing a core field is
refused by Glance, removing ``owner_specified.*`` would lose the source hashes content identity
rests on, and removing this collection's own markers (``storeops.openstack.*``) would undo a
lease, a retire or a source URL. ``os_distro``, ``os_version`` and the like are user properties.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any

# Glance's image schema: fields it keeps in the image row or computes, never free-form properties.
CORE_FIELDS = frozenset((
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
    "os_hash_value", "owner", "size", "virtual_size", "min_ram", "min_disk", "disk_format",
    "container_format", "created_at", "updated_at", "tags", "direct_url", "locations", "self",
    "file", "schema", "stores",
))
RESERVED_PREFIXES = ("os_glance_", "os_hash_", "owner_specified.", "storeops.openstack.")


def is_user_property(key: str) -> bool:
    return key not in CORE_FIELDS and not key.startswith(RESERVED_PREFIXES)


def user_properties(image: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in image.items() if is_user_property(key)}


def json_pointer(key: str) -> str:
    """The JSON-patch path of a top-level key (RFC 6901 escapes ``~`` and ``/``)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")
