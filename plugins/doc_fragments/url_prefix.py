# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Where the modules that need each Glance store's url prefix take it from.
    DOCUMENTATION = r"""
options:
  url_prefix_sources:
    description:
      - Where store url prefixes come from, in order of preference; each store takes its prefixes
        from the first source that has any for it.
      - V(explicit) is O(url_prefixes); V(config) is O(glance_api_conf); V(api) is Glance's
        C(/v2/info/stores/detail) (admin only), which does not expose what swift and s3 prefixes need.
    type: list
    elements: str
    choices: [explicit, config, api]
    default: [explicit, config, api]
  url_prefixes:
    description:
      - Url prefixes given explicitly.
      - The alias O(stores) is deprecated and will be removed in 2.0.0, so that C(stores) means
        target store ids everywhere, as in M(storeops.openstack.glance_image).
    aliases: [stores]
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: Store id as in C(enabled_backends).
        type: str
        required: true
      url_prefix:
        description: One prefix, or a list of prefixes, of the store's location URLs.
        type: raw
        required: true
  glance_api_conf:
    description:
      - Path of a C(glance-api.conf) on the host running the module (a Glance controller), read
        for the stores' url prefixes together with the files it references (the swift reference
        file, ceph.conf).
    type: path
"""
