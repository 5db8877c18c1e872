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
    image is its content. Glance's own hash of the stored bytes (C(os_hash_value)) decides
    whenever the run knows it (it read O(filename), or O(checksum) is a sha512). With only a
    sha256 O(checksum), the sha256 recorded in C(owner_specified.openstack.sha256) (as
    openstacksdk records it, so images uploaded by other tools are recognised) identifies the
    image without reading the file; that property is trusted only on images of the owner's own
    project. The result's RV(identified_by) says which of the two decided.
  - Only images owned by the project the module runs as (or O(owner)) are considered. An admin
    lists every project's images; another project's image of the same name, whatever its
    visibility or properties, is never adopted, changed, published, retired or deleted.
  - Missing stores of an existing image are filled with C(copy-image), never by uploading again.
    Metadata is ensured with one PATCH. A run where everything matches is C(changed=false) and
    reads the file at most once (not at all with a sha256 O(checksum)).
  - A new image is created private, hidden and marked pending, and published (requested
    visibility, not hidden) only once Glance's hash of the stored bytes matched the source's. For
    O(url), what Glance fetched is checked against O(checksum) (against C(os_hash_value) for a
    sha512, otherwise by reading the image back once through Glance); without O(checksum) the
    run warns that nothing but Glance vouches for it. A failed upload deletes the new image.
  - Runs for the same name may overlap (AWX schedules collide). The pending marker is a lease
    naming its run and an expiry, renewed by the uploading run every quarter of
    O(lease_seconds). Another run waits for a live lease (up to O(timeout)) and then adopts the
    finished image; it deletes a pending image only once its lease expired (a crashed run's
    leftover). Two runs that both created an image keep the older one (C(created_at), then id);
    the other deletes its own and adopts it.
  - Different content under the same name fails, or with O(on_content_change=replace) uploads the
    new image (marked with the id it replaces), then retires the old one (renamed with a
    C(.retired-<time>) suffix, retired by O(retire)), keeping O(keep_versions) retired versions
    and deleting those retired more than O(delete_after_days) ago. A replace that failed after
    publishing (a copy timed out, the run died) is finished by the next run.
  - Never deleted by the lifecycle policy, whatever it says, are the current version, a C(protected)
    image, and an image whose rbd snapshot has clones (checked with Ceph's bindings before the
    DELETE, because Glance deletes the other stores' copies first and only then refuses). Those
    are reported as C(keep_old_version) actions.
  - With O(catalogue_name), the images the run makes or manages are marked with it
    (C(storeops.openstack.catalogue)); images another catalogue marked are never adopted,
    retired or deleted, and an entry whose name is taken by one fails.
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.ceph_access
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
  owner:
    description:
      - Project (name or id) whose images are considered, and the owner of a new image. Default,
        the project the module runs as. Choosing another project needs admin rights.
    type: str
  state:
    description:
      - V(present), V(absent) (the image, or with O(stores) only those stores' copies), or
        V(inactive), present and deactivated (Glance then refuses to download or copy it; a run
        that must fill a missing store reactivates it, copies, and deactivates it again).
        V(present) reactivates a deactivated image.
    type: str
    choices: [present, absent, inactive]
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
      - The source's expected hash, C(sha256:<hex>) or C(sha512:<hex>). Lets a run that finds the
        image skip reading O(filename); a file, or bytes Glance fetched from O(url), that do not
        match fail the run and leave no image behind.
      - Or, as M(ansible.builtin.get_url) takes it, C(sha256:<URL>) or C(sha512:<URL>) of
        upstream's checksums file (C(SHA256SUMS) and the like; GNU-style C(<hex>  <name>) or
        C(<hex> *<name>) and BSD-style C(SHA256 (<name>) = <hex>) lines). The line used is the
        one for the source's file name (the last path segment of O(url), the basename of
        O(filename)) or O(checksum_name). The digest found is then used as a literal one; the bytes
        that reach Glance are verified against it before the image is published, and when
        upstream publishes a new digest for the same name (a C(latest) image), the image under
        O(name) has other content and O(on_content_change) decides. An C(https) checksums file is
        fetched with the TLS settings O(validate_certs) and O(ca_cert) give.
    type: str
  checksum_name:
    description:
      - The file name upstream's checksums file lists the source under, when it is not the
        source's own (a O(url) that redirects, a renamed O(filename)). Only with a checksums-file
        O(checksum).
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
    description:
      - Disk format of a new image. Before a new image is made from O(filename), the file is
        inspected with oslo.utils' format inspector (the one Glance uses); the format found must
        be this one, or becomes it with V(detect) (O(url) needs a format, Glance inspects what it
        fetches). A qcow2 with a backing file or an external data file, a VMDK whose extents point
        to other files, and any file the inspector finds unsafe are refused before any byte is
        sent. After the upload, Glance's C(virtual_size) must be the inspector's.
      - V(ami), V(ari), V(aki) and V(ploop) have no inspector; only the safety checks apply.
    type: str
    default: qcow2
    choices: [detect, ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
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
    description: Properties to set; O(properties_state) says what happens to the others.
    type: dict
    default: {}
  properties_state:
    description:
      - V(merge) leaves the image's other properties alone; V(exact) removes, in the same single
        PATCH, every user property O(properties) does not name (C(os_distro) and C(os_version)
        included).
      - Never removed, whatever the state, Glance's core fields and the attributes it manages or
        reserves (C(os_hash_*), C(os_glance_*), C(os_hidden), C(stores)), C(owner_specified.*)
        (the recorded source hashes) and this collection's own C(storeops.openstack.*) markers.
    type: str
    choices: [merge, exact]
    default: merge
  kernel:
    description:
      - The kernel image (name or id) of an AMI-style image, recorded as the C(kernel_id) property.
        A name must match exactly one active image (the owner's first); otherwise give the id.
    type: str
  ramdisk:
    description: The ramdisk image (name or id), recorded as C(ramdisk_id); as O(kernel).
    type: str
  members:
    description:
      - Projects (names or ids) the image is shared with; it must be V(shared) (O(visibility)).
        Members are added (and with O(members_state=exact) others removed) in one pass, a new
        image's only once it is published. Omitted, the image's members are left alone.
    type: list
    elements: str
  members_state:
    description: V(present) adds the O(members) missing; V(exact) also removes the others.
    type: str
    choices: [present, exact]
    default: present
  accept_as:
    description:
      - A clouds.yaml cloud of a consumer, one of O(members); its project accepts the membership
        (as the consumer would), so the image shows in that project's image list.
    type: str
  on_content_change:
    description: What to do when the image under O(name) has other content than the source.
    type: str
    choices: [fail, replace]
    default: fail
  keep_versions:
    description: How many retired versions O(on_content_change=replace) keeps.
    type: int
    default: 1
  retire:
    description:
      - How a replaced version is retired (it is always renamed with a C(.retired-<time>) suffix
        and marked C(storeops.openstack.retired_from)).
      - V(hide) sets C(os_hidden). V(community) makes it community-visible (bootable by id, listed
        by nobody). V(delete) hides it and deletes it at once (when safe; O(keep_versions) is then 0).
      - V(deactivate) hides and deactivates it (admin by default policy). A deactivated image's
        bytes cannot be downloaded, booted, copied to another store (C(copy-image)) or migrated
        (M(storeops.openstack.glance_store_migrate)) until it is reactivated.
    type: str
    choices: [hide, community, deactivate, delete]
    default: hide
  delete_after_days:
    description:
      - Delete retired versions retired this many days ago or more, even within O(keep_versions)
        (checked on every run). Versions retired before their time was recorded
        (C(storeops.openstack.retired_at)) only count towards O(keep_versions).
    type: int
  catalogue_name:
    description:
      - Id of the catalogue that manages this image; recorded on it. Images marked by another
        catalogue are never touched.
    type: str
  upload_method:
    description:
      - V(direct) is C(PUT /file) into the first store, then C(copy-image) to the rest;
        V(glance-direct) stages once and imports into every store; V(auto) picks glance-direct
        for several stores when the cloud enables it.
    type: str
    choices: [auto, direct, glance-direct]
    default: auto
  lease_seconds:
    description:
      - How long another run treats this run's pending upload as alive after its last renewal
        (renewed every quarter of it) before deleting it as a crashed run's leftover. Hosts
        running overlapping runs need clocks within a fraction of it.
    type: int
    default: 60
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
  description: The image (id, name, status, stores, visibility, owner, size, os_hash_algo, os_hash_value); null when absent.
  returned: always
  type: dict
actions:
  description:
    - What the run did (in check mode, would do), in order. C(wait) is a wait for another run's
      live upload; C(yield) names the other run's image this run's new one lost to (and was
      deleted for); C(keep_old_version) names a retired version the policy would delete and why it
      stays (protected, rbd clones); none of these changes anything. C(retire) names its policy.
  returned: always
  type: list
  elements: dict
store_outcomes:
  description: Per store, what happened (uploaded, imported, copied, failed, timed out, removed).
  returned: always
  type: dict
identity:
  description: The source's identity, C(sha256:<hex>) (or C(sha512:<hex>)), when known.
  returned: always
  type: str
identified_by:
  description:
    - What decided that the existing image holds (or does not hold) the source's content
      (C(os_hash_value), C(owner_specified.openstack.sha256), C(checksum) (Glance's md5) or
      C(storeops.openstack.source_url) (a url without checksum)); null when no image was compared.
  returned: always
  type: str
verified_by:
  description:
    - How a new image's bytes were verified before publishing. C(os_hash_value) (Glance's hash
      against the file's or the sha512 checksum), C(read back through Glance) (a url image hashed
      against the sha256 checksum), C(size) (Glance's algorithm is not computed locally), or
      C(glance only) (a url without checksum, nothing but Glance vouches for it); null when no
      image was made.
  returned: always
  type: str
inspection:
  description:
    - What decided a new image's format. For O(filename), C(inspected_by) is
      C(oslo.utils format inspector) with the C(disk_format) and C(virtual_size) it found (also in
      check mode); for O(url), C(inspected_by) is C(glance) with the C(disk_format) and
      C(virtual_size) Glance recorded after its import. Null when no image was made.
  returned: always
  type: dict
notes:
  description:
    - Things worth knowing (unverifiable hash algorithms, waits on Glance's import lock, another
      run's image adopted, same-named images of other projects left alone).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import (
    IMAGE_ARGUMENT_SPEC,
    IMAGE_MUTUALLY_EXCLUSIVE,
    ImageOptions,
    image_source,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ensure_image


class GlanceImage(StoreOpsModule):
    argument_spec = IMAGE_ARGUMENT_SPEC
    module_kwargs = {"supports_check_mode": True, "mutually_exclusive": IMAGE_MUTUALLY_EXCLUSIVE}

    def run(self):
        source = image_source(self.params)
        glance = GlanceClient(self.conn)
        request, consumer = ImageOptions(lambda: self.conn).request(self.params, glance)
        outcome = ensure_image(glance, request, source, self.check_mode, consumer)
        for warning in outcome.execution.warnings:
            self.ansible.warn(warning)
        return outcome.as_result(with_diff=self.ansible._diff)


def main():
    GlanceImage()()


if __name__ == "__main__":
    main()
