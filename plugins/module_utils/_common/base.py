# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base every storeops.openstack module derives from.

It merges the shared connection options into the module's own, owns the openstacksdk
connection, and turns every expected failure into one clean ``fail_json``. Every way out of the
module (results, failures, warnings, the echoed ``invocation``) is redacted, and the secrets of
the raw arguments are hidden before Ansible validates them, since a failed validation already
answers with the arguments.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import (
    AUTH_ARGUMENT_SPEC,
    check_sdk,
    open_connection,
    translate_sdk_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import (
    redact,
    redact_text,
    secrets_in,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import limit_malloc_arenas


class _RedactingAnsibleModule(AnsibleModule):
    """An AnsibleModule of which nothing leaves unredacted."""

    def _load_params(self):
        super()._load_params()
        # AnsibleModule validates (and may fail, echoing the arguments) inside its constructor,
        # before any code of ours runs: hide the raw arguments' secrets as soon as they are read.
        self.no_log_values.update(secrets_in(self.params))

    def exit_json(self, **kwargs):
        super().exit_json(**self._redacted(kwargs))

    def fail_json(self, msg, **kwargs):
        super().fail_json(redact_text(str(msg)), **self._redacted(kwargs))

    def warn(self, warning):
        super().warn(redact_text(str(warning)))

    def _redacted(self, kwargs):
        kwargs.setdefault("invocation", {"module_args": self.params})
        return redact(kwargs)


class StoreOpsModule:
    """Subclasses set ``argument_spec`` (and ``module_kwargs``) and implement ``run()``."""

    argument_spec: dict[str, Any] = {}
    module_kwargs: dict[str, Any] = {}

    def __init__(self) -> None:
        spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
        spec.update(copy.deepcopy(self.argument_spec))
        self.ansible = _RedactingAnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params = self.ansible.params
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
        limit_malloc_arenas()
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
        self.ansible.exit_json(**result)

    def _fail(self, message: str, details: dict[str, Any]) -> None:
        self.ansible.fail_json(msg=message, **details)
