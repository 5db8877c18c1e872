# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud's Glance stores as plain data: pure functions, testable without a cloud.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any, Iterable

from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix


def _flag(value: Any) -> bool:
    # Glance answers "default": "true" and "read-only": "true" as strings, and omits false.
    return str(value).lower() == "true"


def describe_stores(listed: list[dict[str, Any]],
                    detailed: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Merge ``/info/stores`` with ``/info/stores/detail`` (None when not visible).

    Without details, ``type`` and ``properties`` are None: unknown, not empty.
    """
    details_by_id = {store["id"]: store for store in detailed or []}
    stores = []
    for store in listed:
        detail = details_by_id.get(store["id"], {})
        stores.append({
            "id": store["id"],
            "description": store.get("description", ""),
            "default": _flag(store.get("default")),
            "read_only": _flag(store.get("read-only", detail.get("read-only"))),
            "type": detail.get("type"),
            "properties": detail.get("properties") if detailed is not None else None,
        })
    return stores


def with_url_prefixes(stores: list[dict[str, Any]], prefixes: Iterable[StorePrefix]) -> list[dict[str, Any]]:
    """Each described store with its url prefixes (credentials redacted) and their source."""
    prefixes = list(prefixes)
    return [{**store, "url_prefixes": [{"url_prefix": redact_text(p.prefix), "source": p.source}
                                       for p in prefixes if p.store == store["id"]]}
            for store in stores]


def default_store(stores: list[dict[str, Any]]) -> str | None:
    return next((store["id"] for store in stores if store["default"]), None)


def csv_stores(value: str | None) -> list[str]:
    """Glance's comma-separated store lists (``stores``, ``os_glance_failed_import``, ...)."""
    return [store for store in (value or "").split(",") if store]


def image_stores(image: dict[str, Any]) -> list[str]:
    return csv_stores(image.get("stores"))


def tagged_locations(image: dict[str, Any], store: str) -> list[dict[str, Any]]:
    """The image's locations tagged with ``store`` (none when Glance shows no locations)."""
    return [loc for loc in image.get("locations") or [] if (loc.get("metadata") or {}).get("store") == store]


def store_usage(images: Iterable[dict[str, Any]], store_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per store, the active images whose ``stores`` lists it and their bytes, summed in one pass.

    An image in two stores counts in both; a store no image lists has zeros; a store an image
    lists but Glance does not (a removed backend) is left out.
    """
    usage = {store: {"images": 0, "bytes": 0} for store in store_ids}
    for image in images:
        if image.get("status") != "active":
            continue
        for store in image_stores(image):
            if store in usage:
                usage[store]["images"] += 1
                usage[store]["bytes"] += image.get("size") or 0
    return usage
