# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A thin Glance v2 client on the openstacksdk connection's image adapter.

It speaks the raw API (store headers, the info endpoints) that openstacksdk's resources do
not cover, and raises this collection's typed errors.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._errors import (
    CloudRequestError,
    NotAuthorizedError,
)


class GlanceClient:
    def __init__(self, conn) -> None:
        self._image = conn.image

    def get_json(self, path: str) -> dict[str, Any]:
        response = self._image.get(path)
        if response.status_code == 403:
            raise NotAuthorizedError(f"Glance refused GET {path} (HTTP 403) for these credentials",
                                     status_code=403)
        if response.status_code >= 400:
            raise CloudRequestError(
                f"Glance GET {path} failed with HTTP {response.status_code}: "
                f"{_short_body(response.text)}", status_code=response.status_code)
        return response.json()

    def stores(self) -> list[dict[str, Any]]:
        """``/v2/info/stores``: id, description, default, read-only (any user)."""
        return self.get_json("/info/stores")["stores"]

    def stores_detail(self) -> list[dict[str, Any]]:
        """``/v2/info/stores/detail``: adds type and properties (admin by default policy)."""
        return self.get_json("/info/stores/detail")["stores"]

    def import_methods(self) -> list[str]:
        info = self.get_json("/info/import")
        return list(info.get("import-methods", {}).get("value", []))


def _short_body(text: str) -> str:
    return " ".join(text.split())[:200]
