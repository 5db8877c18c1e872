# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The modules that may delete an image check its rbd snapshot for clones first.
    DOCUMENTATION = r"""
options:
  ceph_access:
    description:
      - How to reach the rbd stores' pools to check an image's snapshot for clones before the image
        is deleted. Without it, C(/etc/ceph/ceph.conf) with the default user; when the check cannot
        be made, the image is kept.
    type: dict
    suboptions:
      ceph_conf:
        description: Path of C(ceph.conf).
        type: path
      ceph_user:
        description: Ceph user (without C(client.)).
        type: str
      ceph_keyring:
        description: Path of the user's keyring.
        type: path
"""
