# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: catalogue_problems
short_description: What is wrong with a catalogue's entries, as glance_image_catalog checks them
version_added: 0.1.0
description:
  - The problems M(storeops.openstack.glance_image_catalog) would refuse the catalogue for, found by
    the same code and without a connection - each entry (over O(defaults)) against
    M(storeops.openstack.glance_image)'s argument spec, a source for every present entry, and
    optionally a metadata standard's keys (see glance_image_catalog's O(metadata_standard)).
  - One line per problem, naming the entry (its index and name), the option and the fix;
    credentials in a value are redacted. An empty list when the catalogue is valid.
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: The catalogue's entries, each a dict of glance_image options.
    type: list
    elements: dict
    required: true
  defaults:
    description: The options every entry takes unless it sets them.
    type: dict
    default: {}
  metadata_standard:
    description: V(none) or V(scs-0102).
    type: str
    default: none
"""

EXAMPLES = r"""
- name: Check the catalogue before anything runs
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems }}"
    quiet: true
  vars:
    problems: "{{ catalogue | storeops.openstack.catalogue_problems({'disk_format': 'raw'}, 'scs-0102') }}"
"""

RETURN = r"""
_value:
  description: The problems, one line each; empty when there are none.
  type: list
  elements: str
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.schema import check_entries


def catalogue_problems(entries, defaults=None, metadata_standard="none") -> list[str]:
    try:
        check_entries(list(entries), dict(defaults or {}), metadata_standard)
    except InvalidInputError as err:
        return list(err.details["problems"])
    return []


class FilterModule:
    def filters(self):
        return {"catalogue_problems": catalogue_problems}
