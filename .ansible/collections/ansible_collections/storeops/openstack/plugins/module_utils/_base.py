# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base every storeops.openstack module derives from.

It merges the shared connection options into the module's own, owns the openstacksdk
connection, and turns every expected failure into one clean ``fail_json``; every result is
redacted on the way out.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.storeops.openstack.plugins.module_utils._connection import (
    AUTH_ARGUMENT_SPEC,
    check_sdk,
    open_connection,
    translate_sdk_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._errors import StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._redact import redact, redact_text

_SECRET_KEYS = ("password", "secret", "token", "key", "application_credential_secret")


class StoreOpsModule:
    """Subclasses set ``argument_spec`` (and ``module_kwargs``) and implement ``run()``."""

    argument_spec: dict[str, Any] = {}
    module_kwargs: dict[str, Any] = {}

    def __init__(self) -> None:
        spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
        spec.update(copy.deepcopy(self.argument_spec))
        self.ansible = AnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params = self.ansible.params
        self._hide_secrets_of_cloud_dict()
        self._conn = None

    @property
    def check_mode(self) -> bool:
        return self.ansible.check_mode

    @property
    def conn(self):
        """The openstacksdk connection, opened on first use."""
        if self._conn is None:
            self._conn = open_connection(self.params)
        return self._conn

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            check_sdk()
            result = self.run()
        except StoreOpsError as err:
            self._fail(str(err), err.details)
        except Exception as err:  # pylint: disable=broad-except
            translated = translate_sdk_error(err)
            if translated is None:
                raise
            self._fail(str(translated), translated.details)
        self.ansible.exit_json(**redact(result))

    def _fail(self, message: str, details: dict[str, Any]) -> None:
        self.ansible.fail_json(msg=redact_text(message), **redact(details))

    def _hide_secrets_of_cloud_dict(self) -> None:
        # ``cloud`` may be a whole cloud config; its secrets must not echo back in results.
        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, str) and any(word in key.lower() for word in _SECRET_KEYS):
                        self.ansible.no_log_values.add(item)
                    walk(item)

        walk(self.params.get("cloud"))
