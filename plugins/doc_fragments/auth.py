# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection options every storeops.openstack module shares; the names follow
    # openstack.cloud so one module_defaults group serves both collections.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Name of a cloud in C(clouds.yaml), or a dict with a whole cloud configuration.
      - With a dict, put every other connection setting inside it.
      - When not set, openstacksdk reads C(OS_CLOUD) and the other C(OS_*) environment variables.
    type: raw
  auth:
    description:
      - Authentication settings (C(auth_url), C(username), C(password), C(project_name), ...)
        that override or replace those of O(cloud).
    type: dict
  auth_type:
    description:
      - Keystone authentication plugin, for example C(password), C(token), C(v3applicationcredential).
    type: str
  region_name:
    description:
      - Region of the cloud to use.
    type: str
  validate_certs:
    description:
      - Whether to verify TLS certificates of the cloud's endpoints.
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - Path to a CA bundle for TLS verification.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
    type: str
    aliases: [cert]
  client_key:
    description:
      - Path to the key of O(client_cert).
    type: str
    aliases: [key]
  api_timeout:
    description:
      - Timeout in seconds of each API request.
    type: int
  interface:
    description:
      - Which endpoint of the service catalog to use.
    type: str
    default: public
    choices: [public, internal, admin]
    aliases: [endpoint_type]
  wait:
    description:
      - Whether to wait for asynchronous operations to finish.
    type: bool
    default: true
  timeout:
    description:
      - How long, in seconds, to wait for asynchronous operations.
    type: int
    default: 180
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0.0
notes:
  - Credentials are redacted from every result, error message, warning and the echoed
    C(invocation) - a URL's user info (everything between C(://) and the last C(@) before the
    host; for example Glance location URLs of Swift or S3 stores), query-string credentials
    (C(X-Amz-Signature), C(temp_url_sig), C(sslpassword), ...) and what a secret's name holds.
    The secrets of a O(cloud) dict stay hidden even when another option is rejected.
  - An unknown key in O(auth) fails in one line naming it and the auth plugin's settings.
"""
