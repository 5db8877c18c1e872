#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_image
short_description: Ensure an image with given content exists in a set of Glance stores
version_added: 0.1.0
description:
  - Declarative, content-addressed image management for multi-store Glance. The identity of an
    image is the sha256 of its source bytes, recorded in C(owner_specified.openstack.sha256) as
    openstacksdk does (so images uploaded by other tools are recognised), and checked against
    Glance's own C(os_hash_value) after every upload.
  - Missing stores of an existing image are filled with C(copy-image), never by uploading again.
    Metadata is ensured with one PATCH. A run where everything matches is C(changed=false) and
    reads the file at most once (not at all with O(checksum)).
  - A new image is created private, hidden and marked pending, and published (requested
    visibility, not hidden) only once Glance's hash of the stored bytes matched the file's. A
    failed upload deletes it; a run killed mid-upload leaves a marked image the next run deletes.
  - Different content under the same name fails, or with O(on_content_change=replace) uploads the
    new image, then retires the old one (renamed with a C(.retired-<time>) suffix, hidden), keeping
    O(keep_versions) retired versions.
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
attributes:
  check_mode:
    support: full
    description: Returns the actions that would be taken and changes nothing.
  diff_mode:
    support: full
    description: Shows the image's stores and metadata before and after.
options:
  name:
    description: Image name.
    type: str
    required: true
  id:
    description: Image id; chooses among images sharing O(name), or the id of a new image.
    type: str
  state:
    description: V(present), or V(absent) (the image, or with O(stores) only those stores' copies).
    type: str
    choices: [present, absent]
    default: present
  filename:
    description: Path of the image file on the host that runs the module; read once, streamed.
    type: path
  url:
    description:
      - URL Glance fetches itself (C(web-download) import).
      - Recorded in the image property C(storeops.openstack.source_url) with its credentials
        (user info, and query-string credentials such as C(X-Amz-Signature) or C(temp_url_sig))
        redacted; without O(checksum), that redacted URL is the image's identity.
    type: str
  checksum:
    description:
      - The source's expected hash, C(sha256:<hex>). Lets a run that finds the image skip reading
        O(filename); a file that does not match fails the run and leaves no image behind.
    type: str
  stores:
    description: Stores the image must be in. Default, for a new image, Glance's default store.
    type: list
    elements: str
  all_stores:
    description: The image must be in every writable store.
    type: bool
    default: false
  all_stores_must_succeed:
    description: Fail when any requested store could not be filled (otherwise report it).
    type: bool
    default: true
  disk_format:
    description: Disk format of a new image.
    type: str
    default: qcow2
    choices: [ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
  container_format:
    description: Container format of a new image.
    type: str
    default: bare
    choices: [ami, ari, aki, bare, ovf, ova, docker, compressed]
  visibility:
    description: Visibility once published. Default, for a new image, V(private).
    type: str
    choices: [public, private, shared, community]
  min_disk:
    description: Minimum disk size (GB) to boot the image.
    type: int
  min_ram:
    description: Minimum RAM (MB) to boot the image.
    type: int
  protected:
    description: Whether the image is protected from deletion.
    type: bool
  tags:
    description: The image's tags, exactly.
    type: list
    elements: str
  properties:
    description: Properties to set (others the image has are left alone).
    type: dict
    default: {}
  on_content_change:
    description: What to do when the image under O(name) has other content than the source.
    type: str
    choices: [fail, replace]
    default: fail
  keep_versions:
    description: How many retired versions O(on_content_change=replace) keeps.
    type: int
    default: 1
  upload_method:
    description:
      - V(direct) is C(PUT /file) into the first store, then C(copy-image) to the rest;
        V(glance-direct) stages once and imports into every store; V(auto) picks glance-direct
        for several stores when the cloud enables it.
    type: str
    choices: [auto, direct, glance-direct]
    default: auto
"""

EXAMPLES = r"""
- name: Ubuntu in the two Ceph stores, public once verified
  storeops.openstack.glance_image:
    cloud: production
    name: ubuntu-24.04
    filename: /srv/images/noble.qcow2
    checksum: "sha256:{{ noble_sha256 }}"
    stores: [ceph-az1, ceph-az2]
    visibility: public
    on_content_change: replace
    keep_versions: 2

- name: Remove one store's copy
  storeops.openstack.glance_image:
    cloud: production
    name: ubuntu-24.04
    state: absent
    stores: [ceph-az2]
"""

RETURN = r"""
image:
  description: The image (id, name, status, stores, visibility, size, os_hash_algo, os_hash_value); null when absent.
  returned: always
  type: dict
actions:
  description: What the run did (in check mode, would do), in order.
  returned: always
  type: list
  elements: dict
store_outcomes:
  description: Per store, what happened (uploaded, imported, copied, failed, timed out, removed).
  returned: always
  type: dict
identity:
  description: The source's identity, C(sha256:<hex>), when known.
  returned: always
  type: str
notes:
  description: Things worth knowing (unverifiable hash algorithms, waits on Glance's import lock).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.storeops.openstack.plugins.module_utils._base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._hashing import (
    check_readable_file,
    hash_file,
    parse_checksum,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image_exec import (
    ImageExecutor,
    Source,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image_plan import (
    DIFFERENT,
    RETIRED_KEY,
    SAME,
    SOURCE_URL_KEY,
    UNKNOWN,
    Desired,
    choose_image,
    content_relation,
    image_stores,
    plan_absent,
    plan_present,
    predicted_image,
    target_stores,
    upload_method,
)
from ansible_collections.storeops.openstack.plugins.module_utils._redact import redact_text

SUMMARY_FIELDS = ("id", "name", "status", "visibility", "size", "os_hash_algo", "os_hash_value",
                  "os_hidden", "protected", "min_disk", "min_ram", "tags", "disk_format")


class GlanceImage(StoreOpsModule):
    argument_spec = {
        "name": {"type": "str", "required": True},
        "id": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "filename": {"type": "path"},
        "url": {"type": "str"},
        "checksum": {"type": "str"},
        "stores": {"type": "list", "elements": "str"},
        "all_stores": {"type": "bool", "default": False},
        "all_stores_must_succeed": {"type": "bool", "default": True},
        "disk_format": {"type": "str", "default": "qcow2", "choices": [
            "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]},
        "container_format": {"type": "str", "default": "bare", "choices": [
            "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]},
        "visibility": {"type": "str", "choices": ["public", "private", "shared", "community"]},
        "min_disk": {"type": "int"},
        "min_ram": {"type": "int"},
        "protected": {"type": "bool"},
        "tags": {"type": "list", "elements": "str"},
        "properties": {"type": "dict", "default": {}},
        "on_content_change": {"type": "str", "choices": ["fail", "replace"], "default": "fail"},
        "keep_versions": {"type": "int", "default": 1},
        "upload_method": {"type": "str", "choices": ["auto", "direct", "glance-direct"], "default": "auto"},
    }
    module_kwargs = {
        "supports_check_mode": True,
        "mutually_exclusive": [("filename", "url"), ("stores", "all_stores")],
    }

    def run(self):
        params = self.params
        source = self._source()
        glance = GlanceClient(self.conn)
        stores = target_stores(glance.stores(), params["stores"], params["all_stores"],
                               for_upload=params["state"] == "present")
        desired = Desired(
            name=params["name"], image_id=params["id"], has_content=bool(source.filename or source.url),
            stores=stores,
            fields={key: params[key] for key in ("visibility", "min_disk", "min_ram", "protected")},
            tags=params["tags"], properties=self._properties(source),
            disk_format=params["disk_format"], container_format=params["container_format"])
        images = glance.images_where(name=params["name"])
        if params["id"] and all(i["id"] != params["id"] for i in images):
            found = glance.image(params["id"])
            images += [found] if found else []
        if params["state"] == "absent":
            plan = plan_absent(images, desired, params["stores"])
        else:
            relation = self._relation(choose_image(images, desired), source)
            if relation == DIFFERENT and params["on_content_change"] == "replace":
                images += glance.images_where(**{RETIRED_KEY: params["name"]})  # renamed
            plan = plan_present(images, desired, relation, params["on_content_change"],
                                params["keep_versions"])
        method = None
        if plan.has("create"):
            method = upload_method(glance.import_methods(), bool(source.url),
                                   params["upload_method"], len(stores))
        before = plan.image
        executor = ImageExecutor(glance, method, params["timeout"], params["all_stores_must_succeed"])
        image = before if self.check_mode or not plan.actions else executor.run(plan, desired, source)
        result = {
            "changed": bool(plan.actions),
            "actions": plan.actions,
            "image": _summary(image),
            "store_outcomes": executor.store_outcomes,
            "identity": f"sha256:{source.sha256}" if source.sha256 else None,
            "notes": executor.notes,
        }
        if plan.actions and self.ansible._diff:
            after = predicted_image(plan, desired) if self.check_mode else image
            result["diff"] = {"before": _diff_view(before), "after": _diff_view(after)}
        return result

    def _source(self) -> Source:
        params = self.params
        if params["keep_versions"] < 0:
            raise InvalidInputError("keep_versions must be 0 or more")
        source = Source(filename=params["filename"], url=params["url"])
        if params["checksum"]:
            source.sha256 = parse_checksum(params["checksum"])
        if source.filename and params["state"] == "present":
            check_readable_file(source.filename)
        return source

    def _properties(self, source: Source) -> dict[str, str]:
        properties = {k: str(v) for k, v in self.params["properties"].items()}
        if source.url:  # readable by every user of the image: never with its credentials
            properties[SOURCE_URL_KEY] = redact_text(source.url)
        return properties

    def _relation(self, current, source: Source) -> str | None:
        """Does the chosen image hold the source's content? Reads the file at most once."""
        if current is None or not (source.filename or source.url):
            return None
        if source.url and not source.sha256:
            # images of earlier versions recorded the URL whole
            recorded = redact_text(current.get(SOURCE_URL_KEY) or "")
            return SAME if recorded == redact_text(source.url) else DIFFERENT
        relation = content_relation(current, {"sha256": source.sha256} if source.sha256 else {})
        if relation == UNKNOWN and source.filename:
            hashes = hash_file(source.filename)
            if source.sha256 and hashes["sha256"] != source.sha256:
                raise InvalidInputError(f"checksum: the file's sha256 is {hashes['sha256']}, not "
                                        f"{source.sha256}")
            source.sha256 = hashes["sha256"]
            relation = content_relation(current, hashes)
        return DIFFERENT if relation == UNKNOWN else relation


def _summary(image):
    if image is None:
        return None
    summary = {key: image.get(key) for key in SUMMARY_FIELDS}
    summary["stores"] = image_stores(image)
    return summary


def _diff_view(image):
    if image is None:
        return {}
    return {"stores": image_stores(image), **{k: image.get(k) for k in SUMMARY_FIELDS if k != "status"}}


def main():
    GlanceImage()()


if __name__ == "__main__":
    main()
