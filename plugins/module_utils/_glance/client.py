# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A thin Glance v2 client on the openstacksdk connection's image adapter.

It speaks the raw API (store headers, the info endpoints) that openstacksdk's resources do
not cover, and raises this collection's typed errors.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import quote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    NotAuthorizedError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text

IDS_PER_REQUEST = 100
NAMES_QUERY_CHARS = 1500  # uWSGI refuses a request line and headers over its 4 KiB buffer


class GlanceClient:
    def __init__(self, conn) -> None:
        self._image = conn.image

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._send("GET", path, params=params).json()

    def _send(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs):
        """One request; any status outside ``ok`` raises a typed, one-line error."""
        response = self._image.request(path, method, **kwargs)
        if response.status_code in ok:
            return response
        request = f"{method} {path}"
        if response.status_code == 403:
            raise NotAuthorizedError(f"Glance refused {request} (HTTP 403) for these credentials",
                                     status_code=403)
        raise CloudRequestError(
            f"Glance {request} failed with HTTP {response.status_code}: "
            f"{_short_body(response.text)}", status_code=response.status_code)

    def stores(self) -> list[dict[str, Any]]:
        """``/v2/info/stores``: id, description, default, read-only (any user)."""
        return self.get_json("/info/stores")["stores"]

    def stores_detail(self) -> list[dict[str, Any]]:
        """``/v2/info/stores/detail``: adds type and properties (admin by default policy)."""
        return self.get_json("/info/stores/detail")["stores"]

    def iter_images(self, page_size: int, os_hidden: bool | None = None, **filters: str) -> Iterator[dict[str, Any]]:
        """Every image the credentials see, hidden ones included (or only the hidden ones, or only
        the others, when ``os_hidden`` says), one page in memory at a time. Glance lists either
        kind, never both: each is a request of its own.

        Listing never triggers Glance's lazy location update; a single-image GET does.
        """
        for hidden in ("false", "true") if os_hidden is None else (str(os_hidden).lower(),):
            params = {"limit": page_size, "os_hidden": hidden, "sort": "created_at:asc,id:asc",
                      **filters}
            while True:
                page = self.get_json("/images", params=params)["images"]
                yield from page
                if len(page) < page_size:
                    break
                params["marker"] = page[-1]["id"]

    def iter_images_by_id(self, image_ids: list[str], page_size: int) -> Iterator[dict[str, Any]]:
        """The listed images among these ids, whatever their status (ids the listing lacks are
        deleted or hidden from these credentials). No single-image GET, so no lazy update."""
        step = min(page_size, IDS_PER_REQUEST)  # ids go into the query string: keep URLs short
        for start in range(0, len(image_ids), step):
            yield from self.iter_images(step, id="in:" + ",".join(image_ids[start:start + step]))

    def images_named(self, names: list[str], page_size: int) -> Iterator[dict[str, Any]]:
        """Every image (any project's, hidden included) named one of ``names``: Glance's ``in:``
        operator, names batched into requests of a short query string. Glance splits its list at
        commas outside double quotes and keeps a backslash as it is, so a name with a quote or a
        backslash gets a (plain) request of its own."""
        batch: list[str] = []
        for name in names:
            if '"' in name or "\\" in name:
                yield from self.iter_images(page_size, name=name)
                continue
            batch.append(f'"{name}"')
            if sum(len(quoted) + 1 for quoted in batch) >= NAMES_QUERY_CHARS:
                yield from self.iter_images(page_size, name="in:" + ",".join(batch))
                batch = []
        if batch:
            yield from self.iter_images(page_size, name="in:" + ",".join(batch))

    def images_where(self, os_hidden: bool | None = None, **filters: str) -> list[dict[str, Any]]:
        """Every image matching the filters (a name, or a custom property's value), hidden included
        unless ``os_hidden`` asks for one kind."""
        return list(self.iter_images(100, os_hidden, **filters))

    def image(self, image_id: str) -> dict[str, Any] | None:
        """One image, or None. Glance's lazy location update runs on this GET."""
        response = self._send("GET", f"/images/{_segment(image_id)}", ok=(200, 404))
        return None if response.status_code == 404 else response.json()

    def create_image(self, attributes: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/images", ok=(201,), json=attributes).json()

    def upload(self, image_id: str, body, store: str | None) -> None:
        """``PUT /file`` (into ``store`` when given): Glance stores and hashes synchronously."""
        headers = {"Content-Type": "application/octet-stream"}
        if store:
            headers["X-Image-Meta-Store"] = store
        self._send("PUT", f"/images/{_segment(image_id)}/file", ok=(204,), data=body, headers=headers)

    def download(self, image_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The image's bytes as Glance serves them, streamed."""
        response = self._send("GET", f"/images/{_segment(image_id)}/file", stream=True)
        try:
            yield from response.iter_content(chunk_size)
        finally:
            response.close()

    def stage(self, image_id: str, body) -> None:
        self._send("PUT", f"/images/{_segment(image_id)}/stage", ok=(204,), data=body,
                   headers={"Content-Type": "application/octet-stream"})

    def start_import(self, image_id: str, method: dict[str, Any], stores: list[str],
                     all_stores_must_succeed: bool) -> None:
        self._send("POST", f"/images/{_segment(image_id)}/import", ok=(202,), json={
            "method": method, "stores": stores, "all_stores_must_succeed": all_stores_must_succeed})

    def patch(self, image_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """A JSON-patch of the image; returns the image as Glance stored it."""
        return self._send("PATCH", f"/images/{_segment(image_id)}", data=json.dumps(operations), headers={
            "Content-Type": "application/openstack-images-v2.1-json-patch"}).json()

    def delete_image(self, image_id: str) -> None:
        self._send("DELETE", f"/images/{_segment(image_id)}", ok=(204, 404))

    def image_action(self, image_id: str, action: str) -> None:
        """``deactivate`` or ``reactivate`` the image."""
        self._send("POST", f"/images/{_segment(image_id)}/actions/{_segment(action)}", ok=(204,))

    def members(self, image_id: str) -> list[dict[str, Any]]:
        """The image's members (``member_id``, ``status``), as its owner sees them."""
        return self.get_json(f"/images/{_segment(image_id)}/members")["members"]

    def add_member(self, image_id: str, project_id: str) -> None:
        self._send("POST", f"/images/{_segment(image_id)}/members", json={"member": project_id})

    def remove_member(self, image_id: str, project_id: str) -> None:
        self._send("DELETE", f"/images/{_segment(image_id)}/members/{_segment(project_id)}", ok=(204, 404))

    def set_member_status(self, image_id: str, project_id: str, status: str) -> None:
        """As the member project: accept (or reject) the image shared with it."""
        self._send("PUT", f"/images/{_segment(image_id)}/members/{_segment(project_id)}", json={"status": status})

    def delete_from_store(self, store: str, image_id: str) -> None:
        self._send("DELETE", f"/stores/{_segment(store)}/{_segment(image_id)}", ok=(204, 404))

    def latest_task(self, image_id: str) -> dict[str, Any] | None:
        """The image's newest import task (Glance 23+, admin), or None if Glance does not tell."""
        response = self._send("GET", f"/images/{_segment(image_id)}/tasks", ok=(200, 403, 404))
        if response.status_code != 200:
            return None
        tasks = sorted(response.json().get("tasks", []), key=lambda task: task.get("created_at") or "")
        return tasks[-1] if tasks else None

    def usage(self) -> dict[str, Any]:
        """Quota usage (``/v2/info/usage``); empty without unified limits or before Yoga."""
        response = self._send("GET", "/info/usage", ok=(200, 404))
        return response.json().get("usage", {}) if response.status_code == 200 else {}

    def import_methods(self) -> list[str]:
        info = self.get_json("/info/import")
        return list(info.get("import-methods", {}).get("value", []))


def _segment(value: str) -> str:
    """``value`` as one path segment: a ``/``, ``?`` or ``#`` in an id must not reach another URL."""
    return quote(value, safe="")


def _short_body(text: str) -> str:
    # redacted before it is cut: a cut inside a URL's user info would hide its "@" from the redactor
    return redact_text(" ".join(text.split()))[:200]
