#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_image_gc
short_description: Retire a catalogue's images whose names it no longer lists
version_added: 0.1.0
description:
  - Garbage collection for an image catalogue. Looks only at images of O(owners) that carry the
    catalogue's id (C(storeops.openstack.catalogue), written by
    M(storeops.openstack.glance_image)'s O(storeops.openstack.glance_image#module:catalogue_name)),
    so two catalogues on one cloud never touch each other's images.
  - Each such image that is current (published, not retired, not another run's pending upload)
    and whose name is not in O(names) is retired by O(retire), as glance_image retires a replaced
    version (renamed with a C(.retired-<time>) suffix, marked C(storeops.openstack.retired_from)).
  - With O(retire=delete) the image is deleted, except a C(protected) image or one whose rbd
    snapshot has clones (checked before the DELETE; Glance would delete the other stores' copies
    first and only then refuse); those are kept and reported as C(keep_old_version) actions.
  - Run it in check mode first to see what it would retire.
  - For a catalogue kept with M(storeops.openstack.glance_image) tasks. A catalogue kept with
    M(storeops.openstack.glance_image_catalog) collects in the same run, from the listing its
    entries were planned from, with that module's O(storeops.openstack.glance_image_catalog#module:catalogue_exclusive)
    (the same code).
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
    support: none
    description: The actions say what changed.
options:
  catalogue_name:
    description: The catalogue's id, as given to glance_image's O(storeops.openstack.glance_image#module:catalogue_name).
    type: str
    required: true
  names:
    description: The names the catalogue holds; its images of any other name are retired.
    type: list
    elements: str
    required: true
  owners:
    description:
      - The projects (names or ids) whose images the catalogue holds, when its entries set an
        owner; an empty string is the project the module runs as. Default, that project alone.
    type: list
    elements: str
  retire:
    description:
      - V(hide) sets C(os_hidden); V(community) makes the image community-visible; V(delete)
        hides it, then deletes it when safe.
      - V(deactivate) hides and deactivates it (admin by default policy); a deactivated image's
        bytes cannot be downloaded, booted, copied to another store or migrated until it is
        reactivated.
    type: str
    choices: [hide, community, deactivate, delete]
    default: hide
"""

EXAMPLES = r"""
- name: See what the catalogue would retire
  storeops.openstack.glance_image_gc:
    cloud: production
    catalogue_name: public-images
    names: [ubuntu-24.04, debian-12]
  check_mode: true
"""

RETURN = r"""
actions:
  description: Per image, in order, what was (in check mode, would be) done; each names the image's O(names) entry as C(name).
  returned: always
  type: list
  elements: dict
failures:
  description:
    - Per image that could not be retired (the others still were), C(name), C(image_id) and C(msg); an
      unexpected error adds C(bug) and C(traceback). The task fails when there is any.
  returned: always
  type: list
  elements: dict
retired:
  description: Ids of the images retired (in check mode, to be retired).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.catalogue import collect
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import project_id
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import RETIRE_POLICIES, Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import CEPH_ACCESS_ARGUMENT_SPEC


class GlanceImageGc(StoreOpsModule):
    argument_spec = {
        "catalogue_name": {"type": "str", "required": True},
        "names": {"type": "list", "elements": "str", "required": True},
        "owners": {"type": "list", "elements": "str"},
        "retire": {"type": "str", "choices": list(RETIRE_POLICIES), "default": "hide"},
        "ceph_access": CEPH_ACCESS_ARGUMENT_SPEC,
    }
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        params = self.params
        owners = [project_id(self.conn, "owners", owner) for owner in params["owners"] or [""]]
        return collect(GlanceClient(self.conn), params["catalogue_name"], params["names"],
                       owners, Lifecycle(params["retire"]),
                       params["ceph_access"] or {}, self.check_mode).as_result()


def main():
    GlanceImageGc()()


if __name__ == "__main__":
    main()
