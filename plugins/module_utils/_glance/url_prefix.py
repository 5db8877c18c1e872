# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each Glance store's url prefix, computed the way glance_store computes it per driver.

Formulas (glance_store 5.x ``_set_url_prefix``):

- file: ``file://<datadir>`` (one prefix per datadir when ``filesystem_store_datadirs`` is used:
  glance_store keeps only the one with most free space at start-up, the others still hold images)
- rbd: ``rbd://<fsid>/<pool>/`` with both parts URL-quoted; ``rbd://`` when the fsid is unknown
- swift, single tenant, with ``swift_store_config_file``: ``swift+config://<reference>/<container>/``;
  without it: ``swift+http(s)://<user>:<key>@<auth address>/<container>/`` (user and key quoted)
- swift, ``swift_store_multiple_containers_seed`` = N > 0: the container is ``<container>_<first N
  characters of the image id>``, so the prefix ends inside a path segment (``open_segment``)
- s3: ``s3[+https]://<host>/<bucket>`` (current Glance strips the credentials older releases
  embedded as ``s3://<access>:<secret>@<host>/<bucket>``; matching ignores them)
- cinder: ``cinder://<store id>``
- http: the scheme alone (the read-only store serves any http/https URL)

Three sources, each returning ``(prefixes, notes)`` (a note is ``(store, what is missing)``):
Glance's ``/v2/info/stores/detail``, a ``glance-api.conf`` read on the host running the module,
and explicit ``{id, url_prefix}`` items (option ``url_prefixes``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError

SOURCES = ("explicit", "config", "api")

# The options every module that needs store url prefixes shares (doc fragment: url_prefix).
URL_PREFIX_ARGUMENT_SPEC = {
    "url_prefix_sources": {"type": "list", "elements": "str", "choices": list(SOURCES),
                           "default": list(SOURCES)},
    # ``stores`` was the first name; it means target store ids in glance_image, so it goes
    "url_prefixes": {
        "type": "list", "elements": "dict", "default": [], "aliases": ["stores"],
        "deprecated_aliases": [{"name": "stores", "version": "2.0.0", "collection_name": "storeops.openstack"}],
        "options": {
            "id": {"type": "str", "required": True},
            "url_prefix": {"type": "raw", "required": True, "no_log": True},
        },
    },
    "glance_api_conf": {"type": "path"},
}


@dataclass(frozen=True)
class StorePrefix:
    store: str
    prefix: str
    source: str
    # the prefix ends inside a path segment (swift multiple containers: "<container>_")
    open_segment: bool = False


def file_prefix(datadir: str) -> str:
    return "file://" + datadir


def rbd_prefix(fsid: str | None, pool: str | None) -> str:
    if fsid and pool:
        return f"rbd://{quote(fsid, '')}/{quote(pool, '')}/"
    return "rbd://"


def _strip_http_scheme(address: str) -> tuple[bool, str]:
    """(is https, address without http:// or https://)."""
    for scheme, secure in (("https://", True), ("http://", False)):
        if address.startswith(scheme):
            return secure, address[len(scheme):]
    return True, address


def swift_config_prefix(reference: str, container: str, seed: int = 0) -> tuple[str, bool]:
    container = container.strip("/")
    if seed:
        return f"swift+config://{reference}/{container}_", True
    return f"swift+config://{reference}/{container}/", False


def swift_credentials_prefix(auth_address: str, user: str | None, key: str | None,
                             container: str, seed: int = 0) -> tuple[str, bool]:
    secure, address = _strip_http_scheme(auth_address)
    scheme = "swift+https" if secure else "swift+http"
    credentials = f"{quote(user)}:{quote(key)}@" if user and key else ""
    container = container.strip("/")
    if seed:
        return f"{scheme}://{credentials}{address.strip('/')}/{container}_", True
    return f"{scheme}://{credentials}{address.strip('/')}/{container}/", False


def s3_prefix(host: str, bucket: str) -> str:
    secure = host.startswith("https://")
    address = _strip_http_scheme(host)[1]
    return f"{'s3+https' if secure else 's3'}://{address}/{bucket}"


def cinder_prefix(store_id: str) -> str:
    return f"cinder://{store_id}"


HTTP_PREFIX = "http"


def prefixes_from_api(detailed_stores: list[dict]) -> tuple[list[StorePrefix], list[tuple[str, str]]]:
    """From ``/v2/info/stores/detail``; swift and s3 details lack what their prefix needs."""
    prefixes, notes = [], []
    for store in detailed_stores:
        store_id, kind = store["id"], store.get("type")
        props = store.get("properties") or {}
        if kind == "file" and props.get("data_dir"):
            prefixes.append(StorePrefix(store_id, file_prefix(props["data_dir"]), "api"))
        elif kind == "rbd":
            prefixes.append(StorePrefix(store_id, rbd_prefix(props.get("fsid"), props.get("pool")), "api"))
        elif kind == "cinder":
            prefixes.append(StorePrefix(store_id, cinder_prefix(store_id), "api"))
        elif kind == "http":
            prefixes.append(StorePrefix(store_id, HTTP_PREFIX, "api"))
        else:
            notes.append((store_id, f"store {store_id} ({kind}): Glance's API does not expose what "
                                    "its url prefix needs; give glance_api_conf or url_prefixes"))
    return prefixes, notes


def prefixes_from_explicit(items: list[dict]) -> list[StorePrefix]:
    prefixes = []
    for n, item in enumerate(items):
        values = item["url_prefix"] if isinstance(item["url_prefix"], list) else [item["url_prefix"]]
        # ``raw`` lets a list through; its values are not echoed (they may hold credentials)
        if not values or not all(isinstance(value, str) and value for value in values):
            raise InvalidInputError(
                f"url_prefixes[{n}].url_prefix (store {item['id']!r}): give a URL prefix string such as "
                "file:///var/lib/glance/images/, or a list of them")
        prefixes.extend(StorePrefix(item["id"], value, "explicit") for value in values)
    return prefixes


def choose_prefixes(order: list[str], by_source: dict[str, list[StorePrefix]]) -> list[StorePrefix]:
    """For each store, the prefixes of the first source in ``order`` that has any for it."""
    chosen: dict[str, list[StorePrefix]] = {}
    for source in order:
        found: dict[str, list[StorePrefix]] = {}
        for prefix in by_source.get(source, []):
            found.setdefault(prefix.store, []).append(prefix)
        for store, prefixes in found.items():
            chosen.setdefault(store, prefixes)
    return [prefix for prefixes in chosen.values() for prefix in prefixes]


def resolve_prefixes(order: list[str], explicit: list[dict],
                     config: tuple[list[StorePrefix], list[tuple[str, str]]] | None,
                     detailed_stores: list[dict] | None) -> tuple[list[StorePrefix], list[str]]:
    """The chosen prefixes, and the notes of stores left without any."""
    by_source = {"explicit": prefixes_from_explicit(explicit)}
    notes: list[tuple[str, str]] = []
    if "config" in order and config is not None:
        by_source["config"], config_notes = config
        notes += config_notes
    if "api" in order and detailed_stores is not None:
        by_source["api"], api_notes = prefixes_from_api(detailed_stores)
        notes += api_notes
    prefixes = choose_prefixes(order, by_source)
    covered = {prefix.store for prefix in prefixes}
    return prefixes, [text for store, text in notes if store not in covered]
