#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_store_info
short_description: List the stores of a multi-store Glance
version_added: 0.1.0
description:
  - Lists the Glance stores (C(enabled_backends)) of a cloud with their description and flags,
    and the image import methods the cloud enables.
  - Where the credentials may read C(/v2/info/stores/detail) (admin by Glance's default policy),
    each store's type and properties are returned too. Otherwise the module returns what
    C(/v2/info/stores) shows, sets RV(details_visible=false) and says so in a warning.
  - With O(usage=true), each store also gets the number of active images Glance lists in it and
    their bytes (RV(stores[].images), RV(stores[].bytes)), from a paged listing (1000 a page) of every
    active image the credentials see (all projects' for admin), summed in one pass; Glance lists
    hidden images only when asked for them alone, so they take a second listing. An image in two
    stores counts in both. Without admin credentials only the visible images are counted, and the
    warning says so.
  - Each store's url prefix (the start of its image location URLs, computed the way glance_store
    does) comes from the sources in O(url_prefix_sources); credentials inside prefixes are redacted.
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.url_prefix
options:
  usage:
    description:
      - Count each store's images and bytes (RV(stores[].images), RV(stores[].bytes)).
      - Lists every active image the credentials see, a request per 1000 images, so it is off by default.
      - Not the quota usage RV(usage), which is always returned.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only.
"""

EXAMPLES = r"""
- name: List the Glance stores
  storeops.openstack.glance_store_info:
    cloud: production
  register: glance

- name: Show each store and its type
  ansible.builtin.debug:
    msg: "{{ glance.stores | map(attribute='id') | zip(glance.stores | map(attribute='type')) }}"

- name: Count each store's images and bytes
  storeops.openstack.glance_store_info:
    cloud: production
    usage: true
  register: glance_usage

- name: Show the images per store
  ansible.builtin.debug:
    msg: "{{ glance_usage.stores | items2dict(key_name='id', value_name='images') }}"
"""

RETURN = r"""
stores:
  description: The stores, in the order Glance lists them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Store id, as in C(enabled_backends).
      type: str
      sample: fast
    description:
      description: The store's description.
      type: str
    default:
      description: Whether this is the default store.
      type: bool
    read_only:
      description: Whether the store is read-only (for example an C(http) store).
      type: bool
    type:
      description: The glance_store driver (C(file), C(rbd), C(swift), C(s3), C(cinder), C(http)); null without details.
      type: str
      sample: rbd
    properties:
      description: Driver properties Glance exposes (for example C(data_dir), C(pool), C(fsid)); null without details.
      type: dict
    url_prefixes:
      description: The store's url prefixes (credentials redacted) and their source; empty when no source knows them.
      type: list
      elements: dict
      sample: [{url_prefix: "rbd://1b7f.../images/", source: api}]
    images:
      description:
        - With O(usage=true), the number of active images whose C(stores) lists this store
          (every project's with admin credentials, only the visible ones without).
      type: int
      returned: when O(usage=true)
      sample: 412
    bytes:
      description: With O(usage=true), the sum of those images' sizes in bytes.
      type: int
      returned: when O(usage=true)
      sample: 34359738368
url_prefix_notes:
  description: What the url prefix sources could not tell, per store.
  returned: always
  type: list
  elements: str
default_store:
  description: Id of the default store, if any.
  returned: always
  type: str
  sample: fast
import_methods:
  description: The import methods the cloud enables.
  returned: always
  type: list
  elements: str
  sample: [glance-direct, web-download, copy-image]
usage:
  description:
    - The project's quota usage from C(/v2/info/usage) (Glance's unified limits), e.g.
      C(image_stage_total) with its C(limit) and C(usage) in MiB; empty when Glance enforces no
      limits or is older than the Yoga release.
  returned: always
  type: dict
  sample: {"image_stage_total": {"limit": 10240, "usage": 512}}
details_visible:
  description: Whether C(/v2/info/stores/detail) could be read with these credentials.
  returned: always
  type: bool
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import NotAuthorizedError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import (
    default_store,
    describe_stores,
    store_usage,
    with_url_prefixes,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import (
    URL_PREFIX_ARGUMENT_SPEC,
    resolve_prefixes,
)


USAGE_PAGE_SIZE = 1000  # Glance's default api_limit_max: the fewest listing requests


class GlanceStoreInfo(StoreOpsModule):
    argument_spec = {**URL_PREFIX_ARGUMENT_SPEC, "usage": {"type": "bool", "default": False}}
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        glance = GlanceClient(self.conn)
        listed = glance.stores()
        try:
            detailed = glance.stores_detail()
        except NotAuthorizedError:
            detailed = None
            self.ansible.warn("Store types and properties are hidden: these credentials may not "
                              "read /v2/info/stores/detail (admin only by default)"
                              + ("; the images per store count only the images they see"
                                 if self.params["usage"] else ""))
        conf = self.params["glance_api_conf"]
        prefixes, notes = resolve_prefixes(
            self.params["url_prefix_sources"], self.params["url_prefixes"],
            GlanceApiConf(conf).prefixes() if conf else None, detailed)
        stores = with_url_prefixes(describe_stores(listed, detailed), prefixes)
        if self.params["usage"]:
            usage = store_usage(glance.iter_images(USAGE_PAGE_SIZE, status="active"),
                                [store["id"] for store in stores])
            stores = [{**store, **usage[store["id"]]} for store in stores]
        return {
            "changed": False,
            "stores": stores,
            "default_store": default_store(stores),
            "import_methods": glance.import_methods(),
            "usage": glance.usage(),
            "details_visible": detailed is not None,
            "url_prefix_notes": notes,
        }


def main():
    GlanceStoreInfo()()


if __name__ == "__main__":
    main()
