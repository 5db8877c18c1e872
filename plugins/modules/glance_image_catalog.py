#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_image_catalog
short_description: Ensure every image of a catalogue, as glance_image would, in one run
version_added: 0.1.0
description:
  - Each entry of O(images) is a set of M(storeops.openstack.glance_image) options (over
    O(defaults)), checked against that module's own and carried out by the same code, with the
    same behaviour (identity by content, verified uploads, versions retired by policy, leases
    between overlapping runs).
  - One run and one connection. The catalogue's images are listed once (every project's images of
    the entries' names, and the images marked with O(catalogue_name), or without it the owners'
    images) and every entry is planned from that listing. An entry that has nothing to do costs no
    further Glance request; an entry with something to do is planned again from Glance's state at
    that moment and then carried out. A re-run that changes nothing makes a few Glance requests for
    the whole catalogue.
  - Every entry is checked before the first Glance request, against
    M(storeops.openstack.glance_image)'s own argument spec (types, choices, unknown options,
    mutually exclusive options) and, with O(metadata_standard), the standard's metadata keys. An
    entry that is present needs a source (C(filename) or C(url)). If any entry fails its check the
    module fails, changing nothing, with every problem of every entry in RV(problems), one line
    each naming the entry (its index in O(images) and its name), the option and the fix.
  - Two entries of one name and owner (after O(defaults); an owner given by name and by id is
    the same project) are refused, one line naming both, before anything is changed.
  - Once running, one entry's failure (a missing file, a refused request, its C(owner) that
    Keystone refuses to look up) does not stop the others; it is reported in its RV(images) item
    and the module then fails naming the failed entries.
  - A checksums file several entries name in their C(checksum) (one C(SHA256SUMS) for many
    images) is fetched once per run.
  - With O(catalogue_exclusive), after the entries the catalogue's images (marked with
    O(catalogue_name) and owned by an entry's project) that are current and whose names no entry
    lists are retired by O(catalogue_retire) (garbage collection, RV(gc)), planned from the same
    listing as the entries (no further listing). Images of another catalogue, unmarked images,
    versions already retired and other runs' pending uploads are never touched. Run it in check
    mode first to see what it would retire. M(storeops.openstack.glance_image_gc) does the same
    for a catalogue kept with M(storeops.openstack.glance_image) tasks.
  - O(ceph_access) serves the collection's deletes and is every entry's C(ceph_access) unless the
    entry or O(defaults) sets its own.
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.ceph_access
attributes:
  check_mode:
    support: full
    description: Returns every entry's actions, and RV(gc)'s, that would be taken and changes nothing.
  diff_mode:
    support: full
    description:
      - One diff per changed entry, its image's stores and metadata before and after.
      - With O(catalogue_exclusive), one per image retired, its name, status, visibility and
        C(os_hidden) before and after (empty after, when deleted).
options:
  images:
    description:
      - The catalogue's entries, each a dict of M(storeops.openstack.glance_image) options
        (O(storeops.openstack.glance_image#module:name) required), except the connection options
        and O(catalogue_name), which are the run's.
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - M(storeops.openstack.glance_image) options every entry takes unless it sets them, for
        example C(disk_format) and C(on_content_change).
    type: dict
    default: {}
  catalogue_name:
    description:
      - Id of the catalogue, recorded on every image it makes or manages (as glance_image's
        O(storeops.openstack.glance_image#module:catalogue_name)); images marked by another
        catalogue are never touched.
      - Required with O(catalogue_exclusive).
    type: str
  catalogue_exclusive:
    description:
      - Retire the catalogue's images whose names no entry lists (see above); needs
        O(catalogue_name), and an empty O(images) is refused (it would retire the whole catalogue).
      - An entry that failed still holds its name, so its images are kept.
    type: bool
    default: false
  catalogue_retire:
    description:
      - How O(catalogue_exclusive) retires an image no entry lists; an entry's own C(retire) is for
        the versions it replaces.
      - V(hide) renames it with a C(.retired-<time>) suffix and sets C(os_hidden); V(community)
        renames it and makes it community-visible; V(delete) renames and hides it, then deletes it
        unless it is C(protected) or its rbd snapshot has clones (checked with O(ceph_access) on a
        fresh read before the DELETE; such an image is kept and reported as C(keep_old_version)).
      - V(deactivate) renames, hides and deactivates it (admin by default policy); a deactivated
        image's bytes cannot be downloaded, booted, copied to another store or migrated until it
        is reactivated.
    type: str
    choices: [hide, community, deactivate, delete]
    default: hide
  metadata_standard:
    description:
      - A metadata standard every entry's metadata is checked against, before anything is touched.
      - V(scs-0102), the SCS image metadata standard (v1), U(https://docs.scs.community/standards/scs-0102-v1-image-metadata) -
        the entry's O(storeops.openstack.glance_image#module:min_disk) and
        O(storeops.openstack.glance_image#module:min_ram) (1 or more), and its properties
        C(architecture), C(os_distro), C(os_version), C(hw_disk_bus), C(image_source),
        C(image_description), C(image_original_user), C(image_build_date) (C(YYYY-MM-DD) or
        C(YYYY-MM-DD hh:mm[:ss])), C(replace_frequency) (C(yearly), C(quarterly), C(monthly),
        C(weekly), C(daily), C(critical_bug), C(never)), C(provided_until) (a date, C(none) or
        C(notice)), C(uuid_validity) (a date, C(last-N), C(none), C(notice) or C(forever)); an
        optional C(hotfix_hours) must be an integer.
    type: str
    choices: [none, scs-0102]
    default: none
"""

EXAMPLES = r"""
- name: Keep the catalogue's images
  storeops.openstack.glance_image_catalog:
    cloud: production
    catalogue_name: public-images
    defaults:
      disk_format: qcow2
      on_content_change: replace
      stores: [ceph-az1, ceph-az2]
      visibility: public
    images:
      - name: ubuntu-24.04
        url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
        checksum: sha256:https://cloud-images.ubuntu.com/noble/current/SHA256SUMS
      - name: cirros-0.6.2
        filename: /srv/images/cirros-0.6.2-x86_64-disk.img
        keep_versions: 2

- name: See what an exclusive catalogue would retire (the images it no longer lists)
  storeops.openstack.glance_image_catalog:
    cloud: production
    catalogue_name: public-images
    catalogue_exclusive: true
    catalogue_retire: delete
    images:
      - name: ubuntu-24.04
        url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
        checksum: sha256:https://cloud-images.ubuntu.com/noble/current/SHA256SUMS
  check_mode: true
  diff: true
"""

RETURN = r"""
problems:
  description:
    - Why the catalogue was refused before anything was touched, one line per problem, each naming
      the entry (its index in O(images) and its name), the option and the fix. Credentials in a
      value are redacted.
  returned: failure, when an entry failed its check
  type: list
  elements: str
  sample: ["images[1] (cirros): value of disk_format must be one of: detect, ami, ..., got: qcow; correct it in the entry or defaults"]
images:
  description:
    - One item per entry, in order. C(name), C(failed) and C(msg) (why it failed, empty
      otherwise), and M(storeops.openstack.glance_image)'s return values (C(changed), C(actions),
      C(image), C(store_outcomes), C(identity), C(identified_by), C(verified_by), C(inspection),
      C(notes)). A failed entry has C(actions) empty, C(image) null, and, when the failure was a
      bug, C(bug) (its type) and C(traceback).
  returned: when every entry passed its check
  type: list
  elements: dict
gc:
  description:
    - The garbage collection of O(catalogue_exclusive). C(changed); C(actions), per image in
      order what was (in check mode, would be) done, each naming the image as C(name)
      (C(retire), C(delete_old_version), C(keep_old_version)); C(retired), the ids of the images
      retired (in check mode, to be retired); C(failures), per image that could not be retired
      (the others still were), C(name), C(image_id) and C(msg), and for a bug C(bug) and
      C(traceback). The task fails when there is any.
  returned: with O(catalogue_exclusive), when every entry passed its check
  type: dict
  sample: {"changed": true, "actions": [{"name": "debian-11", "action": "retire", "image_id": "7c1f...", "policy": "hide"}],
           "retired": ["7c1f..."], "failures": []}
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.entries import Exclusive, ensure_entries
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import RETIRE_POLICIES, Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import ImageOptions
from ansible_collections.storeops.openstack.plugins.module_utils._image.schema import METADATA_STANDARDS, check_entries
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import CEPH_ACCESS_ARGUMENT_SPEC


class GlanceImageCatalog(StoreOpsModule):
    argument_spec = {
        "images": {"type": "list", "elements": "dict", "required": True},
        "defaults": {"type": "dict", "default": {}},
        "catalogue_name": {"type": "str"},
        "catalogue_exclusive": {"type": "bool", "default": False},
        "catalogue_retire": {"type": "str", "choices": list(RETIRE_POLICIES), "default": "hide"},
        "ceph_access": CEPH_ACCESS_ARGUMENT_SPEC,
        "metadata_standard": {"type": "str", "choices": list(METADATA_STANDARDS), "default": "none"},
    }
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        params = self.params
        defaults = params["defaults"]
        if params["ceph_access"] and "ceph_access" not in defaults:  # the entries take it too
            defaults = {**defaults, "ceph_access": params["ceph_access"]}
        # the whole catalogue is checked before the connection is opened: a bad entry changes nothing
        checked = check_entries(params["images"], defaults, params["metadata_standard"])
        exclusive = (Exclusive(Lifecycle(params["catalogue_retire"]), params["ceph_access"] or {})
                     if params["catalogue_exclusive"] else None)
        catalogue = ensure_entries(GlanceClient(self.conn), ImageOptions(lambda: self.conn), checked,
                                   params["catalogue_name"], params, self.check_mode, exclusive)
        for warning in catalogue.warnings:
            self.ansible.warn(warning)
        result = catalogue.as_result(with_diff=self.ansible._diff)
        if catalogue.failure:
            raise StoreOpsError(catalogue.failure, **result)
        return result


def main():
    GlanceImageCatalog()()


if __name__ == "__main__":
    main()
