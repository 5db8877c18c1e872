# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What glance_image must do, computed from the images Glance has and the one asked for (pure).

Identity is content: the sha256 of the source bytes, recorded where openstacksdk records it
(``owner_specified.openstack.sha256``), or Glance's own ``os_hash_value`` when its algorithm is
one that was computed locally.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._errors import InvalidInputError

SHA256_KEYS = ("owner_specified.openstack.sha256", "owner_specified.shade.sha256")
MD5_KEY = "owner_specified.openstack.md5"
# Marks an image this module created and has not published yet: a leftover if a run died.
PENDING_KEY = "storeops.openstack.pending"
# Marks an older version retired by on_content_change=replace (value: the name it had).
RETIRED_KEY = "storeops.openstack.retired_from"
# The URL a web-download image came from: its identity when no checksum is given.
SOURCE_URL_KEY = "storeops.openstack.source_url"
SIMPLE_FIELDS = ("visibility", "min_disk", "min_ram", "protected")

SAME, DIFFERENT, UNKNOWN = "same", "different", "unknown"


@dataclass(frozen=True)
class Desired:
    name: str
    image_id: str | None
    has_content: bool
    stores: list[str]
    fields: dict[str, Any]           # visibility, min_disk, min_ram, protected (None: leave)
    tags: list[str] | None
    properties: dict[str, str]
    disk_format: str
    container_format: str


@dataclass
class Plan:
    actions: list[dict[str, Any]] = field(default_factory=list)
    image: dict[str, Any] | None = None

    def add(self, action: str, **details) -> None:
        self.actions.append({"action": action, **details})

    def has(self, action: str) -> bool:
        return any(a["action"] == action for a in self.actions)


def source_sha256(image: dict[str, Any]) -> str | None:
    for key in SHA256_KEYS:
        if image.get(key):
            return image[key].lower()
    if image.get("os_hash_algo") == "sha256" and image.get("os_hash_value"):
        return image["os_hash_value"].lower()
    return None


def content_relation(image: dict[str, Any], hashes: dict[str, str]) -> str:
    """SAME, DIFFERENT, or UNKNOWN (nothing comparable was computed locally yet)."""
    recorded = source_sha256(image)
    if recorded and "sha256" in hashes:
        return SAME if recorded == hashes["sha256"] else DIFFERENT
    algo, value = image.get("os_hash_algo"), image.get("os_hash_value")
    if algo in hashes and value:
        return SAME if value.lower() == hashes[algo] else DIFFERENT
    if "md5" in hashes and image.get("checksum"):  # Glance's legacy md5 of the stored bytes
        return SAME if image["checksum"].lower() == hashes["md5"] else DIFFERENT
    return UNKNOWN


def is_leftover(image: dict[str, Any], name: str) -> bool:
    return image.get("name") == name and bool(image.get(PENDING_KEY))


def is_retired(image: dict[str, Any], name: str) -> bool:
    return image.get(RETIRED_KEY) == name


def choose_image(images: list[dict[str, Any]], desired: Desired) -> dict[str, Any] | None:
    """The one current image under this name (or id); several is an error naming them."""
    if desired.image_id:
        return next((i for i in images if i["id"] == desired.image_id), None)
    current = [i for i in images if not is_leftover(i, desired.name) and not is_retired(i, desired.name)]
    if len(current) > 1:
        ids = ", ".join(sorted(i["id"] for i in current))
        raise InvalidInputError(f"name: {len(current)} images are named {desired.name!r} ({ids}); "
                                "give id to choose one")
    return current[0] if current else None


def metadata_patch(image: dict[str, Any], desired: Desired, publish: bool) -> list[dict[str, Any]]:
    """JSON-patch operations that make the image's metadata what is asked (none if it is)."""
    operations = []

    def put(path: str, value: Any) -> None:
        key = path[1:]
        operations.append({"op": "replace" if key in image else "add", "path": path, "value": value})

    for key in SIMPLE_FIELDS:
        wanted = desired.fields.get(key)
        if wanted is not None and image.get(key) != wanted:
            put(f"/{key}", wanted)
    if desired.tags is not None and sorted(image.get("tags", [])) != sorted(desired.tags):
        put("/tags", sorted(set(desired.tags)))
    for key, value in desired.properties.items():
        if image.get(key) != value:
            put(f"/{key.replace('~', '~0').replace('/', '~1')}", value)
    if publish and image.get("os_hidden"):
        put("/os_hidden", False)
    if publish and image.get(PENDING_KEY):
        operations.append({"op": "remove", "path": f"/{PENDING_KEY}"})
    return operations


def csv_stores(value: str | None) -> list[str]:
    """Glance's comma-separated store lists (``stores``, ``os_glance_failed_import``, ...)."""
    return [store for store in (value or "").split(",") if store]


def image_stores(image: dict[str, Any]) -> list[str]:
    return csv_stores(image.get("stores"))


def plan_present(images: list[dict[str, Any]], desired: Desired, relation: str | None,
                 on_content_change: str, keep_versions: int) -> Plan:
    """``relation`` is content_relation() of the chosen image, or None without content."""
    plan = Plan()
    for image in images:
        if is_leftover(image, desired.name) and image["id"] != desired.image_id:
            plan.add("delete_leftover", image_id=image["id"], status=image.get("status"))
    current = choose_image(images, desired)
    plan.image = current
    if current is None:
        if not desired.has_content:
            raise InvalidInputError(
                f"name: no image {desired.image_id or desired.name!r} exists and neither filename "
                "nor url was given to create it")
        plan.add("create", stores=desired.stores)
        return plan
    if relation == DIFFERENT:
        if on_content_change == "fail":
            raise InvalidInputError(
                f"image {current['id']} ({desired.name}) has other content than the source; set "
                "on_content_change: replace to upload the new content and retire the old image")
        plan.add("create", stores=desired.stores, replaces=current["id"])
        plan.add("retire", image_id=current["id"])
        retired = sorted((i for i in images if is_retired(i, desired.name)),
                         key=lambda i: i.get("created_at", ""), reverse=True)
        for image in retired[max(keep_versions - 1, 0):]:
            plan.add("delete_old_version", image_id=image["id"])
        if keep_versions == 0:
            plan.add("delete_old_version", image_id=current["id"])
        return plan
    missing = [s for s in desired.stores if s not in image_stores(current)]
    if missing:
        plan.add("copy", image_id=current["id"], stores=missing)
    operations = metadata_patch(current, desired, publish=False)
    if operations:
        plan.add("update_metadata", image_id=current["id"], operations=operations)
    return plan


def plan_absent(images: list[dict[str, Any]], desired: Desired, stores: list[str] | None) -> Plan:
    plan = Plan()
    current = choose_image(images, desired)
    plan.image = current
    if current is None:
        return plan
    if stores:
        held = image_stores(current)
        remove = [s for s in stores if s in held]
        if remove and len(remove) == len(held):
            raise InvalidInputError(
                f"stores: removing {', '.join(remove)} would delete the last copy of image "
                f"{current['id']}; use state: absent without stores to delete the image")
        for store in remove:
            plan.add("delete_store_copy", image_id=current["id"], store=store)
        return plan
    if current.get("protected"):
        raise InvalidInputError(f"image {current['id']} is protected; set protected: false first")
    plan.add("delete", image_id=current["id"])
    return plan


def target_stores(listed: list[dict[str, Any]], requested: list[str] | None, all_stores: bool,
                  for_upload: bool) -> list[str]:
    """The stores the image must be in, checked against what the cloud lists."""
    writable = [s["id"] for s in listed if str(s.get("read-only")).lower() != "true"]
    if all_stores:
        return writable
    requested = requested or []
    known = [s["id"] for s in listed]
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise InvalidInputError(f"stores: unknown store {', '.join(unknown)}; this cloud has "
                                f"{', '.join(known)}")
    read_only = [s for s in requested if s not in writable]
    if read_only and for_upload:
        raise InvalidInputError(f"stores: {', '.join(read_only)} is read-only and cannot hold an "
                                "uploaded or copied image")
    return requested


def upload_method(methods: list[str], has_url: bool, requested: str, store_count: int) -> str:
    """The concrete method for a new image's bytes: direct, glance-direct or web-download.

    ``auto`` stages once and imports into every store (glance-direct) when there are several and
    the cloud enables it; otherwise it PUTs into the first store and copy-image does the rest.
    """
    if has_url:
        if "web-download" not in methods:
            raise InvalidInputError("url: this cloud does not enable the web-download import "
                                    "method; use filename instead")
        return "web-download"
    if requested == "glance-direct" and "glance-direct" not in methods:
        raise InvalidInputError("upload_method: this cloud does not enable glance-direct; use auto "
                                "or direct")
    if requested == "auto":
        return "glance-direct" if store_count > 1 and "glance-direct" in methods else "direct"
    return requested


def predicted_image(plan: Plan, desired: Desired) -> dict[str, Any] | None:
    """The image as the plan would leave it (check mode's diff)."""
    image = dict(plan.image) if plan.image else None
    for action in plan.actions:
        kind = action["action"]
        if kind == "create":
            image = {"name": desired.name, "status": "active", "disk_format": desired.disk_format,
                     "stores": ",".join(desired.stores), "os_hidden": False, "tags": desired.tags or [],
                     **{k: v for k, v in desired.fields.items() if v is not None},
                     "visibility": desired.fields.get("visibility") or "private", **desired.properties}
        elif kind == "copy":
            image["stores"] = ",".join(image_stores(image) + action["stores"])
        elif kind == "delete_store_copy":
            image["stores"] = ",".join(s for s in image_stores(image) if s != action["store"])
        elif kind == "update_metadata":
            for operation in action["operations"]:
                key = operation["path"][1:].replace("~1", "/").replace("~0", "~")
                if operation["op"] == "remove":
                    image.pop(key, None)
                else:
                    image[key] = operation["value"]
        elif kind == "delete":
            image = None
    return image
