# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""glance_image's options: their spec, their checks, and the request and source made of them.

glance_image reads one set of them; glance_image_catalog one per catalogue entry, on one
connection, so projects named by several entries are looked up once.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import open_connection
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.hashing import check_readable_file
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.checksums import (
    fetch_text,
    is_upstream,
    resolve_checksum,
    source_file_name,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import Source
from ansible_collections.storeops.openstack.plugins.module_utils._image.formats import DETECT, GLANCE_DISK_FORMATS
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import RETIRE_POLICIES, Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._image.members import Sharing
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import DEFAULT_LEASE_SECONDS
from ansible_collections.storeops.openstack.plugins.module_utils._image.references import (
    REFERENCE_PROPERTIES,
    reference_properties,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ImageRequest, project_id
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import CEPH_ACCESS_ARGUMENT_SPEC

IMAGE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "id": {"type": "str"},
    "owner": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent", "inactive"], "default": "present"},
    "filename": {"type": "path"},
    "url": {"type": "str"},
    "checksum": {"type": "str"},
    "checksum_name": {"type": "str"},
    "stores": {"type": "list", "elements": "str"},
    "all_stores": {"type": "bool", "default": False},
    "all_stores_must_succeed": {"type": "bool", "default": True},
    "disk_format": {"type": "str", "default": "qcow2", "choices": [DETECT, *GLANCE_DISK_FORMATS]},
    "container_format": {"type": "str", "default": "bare", "choices": [
        "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]},
    "visibility": {"type": "str", "choices": ["public", "private", "shared", "community"]},
    "min_disk": {"type": "int"},
    "min_ram": {"type": "int"},
    "protected": {"type": "bool"},
    "tags": {"type": "list", "elements": "str"},
    "properties": {"type": "dict", "default": {}},
    "properties_state": {"type": "str", "choices": ["merge", "exact"], "default": "merge"},
    "kernel": {"type": "str"},
    "ramdisk": {"type": "str"},
    "members": {"type": "list", "elements": "str"},
    "members_state": {"type": "str", "choices": ["present", "exact"], "default": "present"},
    "accept_as": {"type": "str"},
    "on_content_change": {"type": "str", "choices": ["fail", "replace"], "default": "fail"},
    "keep_versions": {"type": "int", "default": 1},
    "retire": {"type": "str", "choices": list(RETIRE_POLICIES), "default": "hide"},
    "delete_after_days": {"type": "int"},
    "catalogue_name": {"type": "str"},
    "ceph_access": CEPH_ACCESS_ARGUMENT_SPEC,
    "upload_method": {"type": "str", "choices": ["auto", "direct", "glance-direct"], "default": "auto"},
    "lease_seconds": {"type": "int", "default": DEFAULT_LEASE_SECONDS},
}
IMAGE_MUTUALLY_EXCLUSIVE = [("filename", "url"), ("stores", "all_stores")]


def option_problems(params: dict[str, Any]) -> list[str]:
    """What is wrong with checked options beyond their argument spec, one line each (no I/O)."""
    problems = []
    if params["keep_versions"] < 0:
        problems.append("keep_versions must be 0 or more")
    if (params["delete_after_days"] or 0) < 0:
        problems.append("delete_after_days must be 0 or more")
    if params["lease_seconds"] < 8:
        problems.append("lease_seconds must be 8 or more (the lease is renewed every quarter)")
    if params["checksum_name"] and not (params["checksum"] and is_upstream(params["checksum"])):
        problems.append("checksum_name: only a checksums-file checksum (sha256:<URL>) "
                        "uses it; remove checksum_name or give such a checksum")
    if params["url"] and params["disk_format"] == DETECT:
        problems.append("disk_format: detect inspects a filename; give the url's disk_format")
    return problems


def image_source(params: dict[str, Any], fetch: Callable[[str], str] | None = None) -> Source:
    """The checked options' source (the upstream checksum fetched, by ``fetch`` when given: a
    catalogue run's, which fetches each file once); checked before any connection."""
    problems = option_problems(params)
    if problems:
        raise InvalidInputError(problems[0])
    if params["filename"] and params["state"] != "absent":
        check_readable_file(params["filename"])
    checksum = None
    # state: absent compares no content, so it fetches no checksums file
    if params["checksum"] and not (params["state"] == "absent" and is_upstream(params["checksum"])):
        name = params["checksum_name"] or source_file_name(params["filename"], params["url"])
        checksum = resolve_checksum(params["checksum"], name, fetch or (
            lambda url: fetch_text(url, params["timeout"], params["validate_certs"], params["ca_cert"])))
    return Source(filename=params["filename"], url=params["url"], checksum=checksum)


class ImageOptions:
    """Makes checked options into the run's request, on the module's connection (opened on
    first use by ``connection``); remembers the projects it looked up and the consumer clouds
    (``accept_as``) it opened, so entries of a catalogue that share them ask once."""

    def __init__(self, connection: Callable[[], Any]):
        self._connection = connection
        self._projects: dict[str, str] = {}
        self._consumers: dict[str, Any] = {}

    @property
    def conn(self):
        return self._connection()

    def request(self, params: dict[str, Any], glance: GlanceClient) -> tuple[ImageRequest, GlanceClient | None]:
        """The request, and the consumer's connection (``accept_as``) or None."""
        owner = self.owner_id(params["owner"])
        references = reference_properties(glance, {k: params[k] for k in REFERENCE_PROPERTIES}, owner)
        request = ImageRequest(
            name=params["name"], image_id=params["id"], owner=owner,
            owner_given=bool(params["owner"]), state=params["state"], stores=params["stores"],
            all_stores=params["all_stores"], all_stores_must_succeed=params["all_stores_must_succeed"],
            disk_format=params["disk_format"], container_format=params["container_format"],
            fields={key: params[key] for key in ("visibility", "min_disk", "min_ram", "protected")},
            tags=params["tags"], properties={**params["properties"], **references},
            properties_exact=params["properties_state"] == "exact",
            on_content_change=params["on_content_change"],
            lifecycle=Lifecycle(params["retire"], params["keep_versions"], params["delete_after_days"]),
            upload_method=params["upload_method"], lease_seconds=params["lease_seconds"],
            timeout=params["timeout"], sharing=self._sharing(params), catalogue=params["catalogue_name"],
            ceph_access=params["ceph_access"])
        consumer = GlanceClient(self._consumer(params["accept_as"])) if params["accept_as"] else None
        return request, consumer

    def owner_id(self, owner: str | None) -> str:
        """The project id whose images a run considers (and owns new ones)."""
        return self._project_id("owner", owner)

    def _sharing(self, params: dict[str, Any]) -> Sharing | None:
        """The members asked for, as project ids; None leaves the image's members alone."""
        members, accept_as = params["members"], params["accept_as"]
        if members is None:
            if accept_as:
                raise InvalidInputError("accept_as: give members, the projects the image is shared with")
            return None
        ids = tuple(dict.fromkeys(self._project_id("members", member) for member in members))
        consumer = None
        if accept_as:
            consumer = self._consumer(accept_as).current_project_id
            if consumer not in ids:
                raise InvalidInputError(f"accept_as: cloud {accept_as!r} is project {consumer}, which is "
                                        "not in members; add it to members")
        return Sharing(ids, params["members_state"] == "exact", consumer)

    def _consumer(self, accept_as: str):
        """The ``accept_as`` cloud's connection, opened once: it both names the consumer's project
        and accepts the membership."""
        if accept_as not in self._consumers:
            self._consumers[accept_as] = open_connection({"cloud": accept_as})
        return self._consumers[accept_as]

    def _project_id(self, option: str, project: str | None) -> str:
        key = project or ""  # only found ones are kept: a not-found error names its own option
        if key not in self._projects:
            self._projects[key] = project_id(self.conn, option, project)
        return self._projects[key]
