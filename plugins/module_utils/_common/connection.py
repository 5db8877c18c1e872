# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The openstacksdk connection: the options openstack.cloud accepts, and its errors made legible.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import difflib
import re
import traceback
from importlib import metadata
from typing import Any

from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudConnectionError,
    CloudRequestError,
    InvalidInputError,
    MissingDependencyError,
    NotAuthorizedError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text

try:
    import openstack
    from keystoneauth1 import exceptions as ksa_exceptions
    from keystoneauth1 import loading as ksa_loading
    from openstack import exceptions as sdk_exceptions
except ImportError:
    SDK_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    SDK_IMPORT_ERROR = None

MINIMUM_SDK_VERSION = "1.0.0"

# Names and aliases follow openstack.cloud so users can keep their module_defaults.
AUTH_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "cloud": {"type": "raw"},
    "auth_type": {"type": "str"},
    "auth": {"type": "dict", "no_log": True},
    "region_name": {"type": "str"},
    "validate_certs": {"type": "bool", "aliases": ["verify"]},
    "ca_cert": {"type": "str", "aliases": ["cacert"]},
    "client_cert": {"type": "str", "aliases": ["cert"]},
    "client_key": {"type": "str", "no_log": True, "aliases": ["key"]},
    "api_timeout": {"type": "int"},
    "interface": {
        "type": "str",
        "default": "public",
        "choices": ["public", "internal", "admin"],
        "aliases": ["endpoint_type"],
    },
    "wait": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 180},
}

# Options that conflict with a whole cloud configuration passed as a dict in ``cloud``.
_PER_OPTION_SETTINGS = {
    "auth_type": "auth_type",
    "auth": "auth",
    "region_name": "region_name",
    "validate_certs": "verify",
    "ca_cert": "cacert",
    "client_cert": "cert",
    "client_key": "key",
    "api_timeout": "api_timeout",
}


def check_sdk() -> None:
    """Fail early, and clearly, where openstacksdk is missing or too old."""
    if SDK_IMPORT_ERROR is not None:
        raise MissingDependencyError(
            "openstacksdk is required on the host that runs this module: "
            f"pip install 'openstacksdk>={MINIMUM_SDK_VERSION}'",
            exception=SDK_IMPORT_ERROR)
    installed = metadata.version("openstacksdk")
    if LooseVersion(installed) < LooseVersion(MINIMUM_SDK_VERSION):
        raise MissingDependencyError(
            f"openstacksdk {installed} is too old: pip install 'openstacksdk>={MINIMUM_SDK_VERSION}'")


def connect_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The arguments for ``openstack.connect`` from the module's connection options."""
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        given = [option for option in _PER_OPTION_SETTINGS if params.get(option) is not None]
        if params.get("interface", "public") != "public":
            given.append("interface")
        if given:
            raise InvalidInputError(
                f"cloud is a full cloud configuration (a dict), so {', '.join(given)} must go "
                "inside it, not beside it")
        return dict(cloud)
    if cloud is not None and not isinstance(cloud, str):
        raise InvalidInputError("cloud must be a clouds.yaml cloud name or a dict of cloud settings")
    kwargs = {sdk_name: params[option] for option, sdk_name in _PER_OPTION_SETTINGS.items()
              if params.get(option) is not None}
    kwargs["interface"] = params.get("interface", "public")
    if cloud:
        kwargs["cloud"] = cloud
    return kwargs


def open_connection(params: dict[str, Any]):
    kwargs = connect_kwargs(params)
    try:
        return openstack.connect(**kwargs)
    except sdk_exceptions.ConfigException as err:
        raise InvalidInputError(
            f"cloud: {err} Check the name against clouds.yaml (OS_CLIENT_CONFIG_FILE) "
            "or pass auth settings") from None
    except (TypeError, ksa_exceptions.OptionError) as err:
        unknown = _unknown_auth_key(kwargs, err)
        if unknown is None:
            raise
        raise InvalidInputError(_unknown_auth_key_message(params, kwargs, unknown)) from None


def service_connection(auth: dict[str, str], where: str, region: str | None = None, interface: str = "public"):
    """A connection with a service's own password credentials (Glance's swift store account),
    blind to clouds.yaml and OS_* variables so the caller's cloud cannot leak into it; authorized
    here, once, so credentials Keystone refuses fail in one line naming ``where`` they came from."""
    conn = openstack.connect(auth=auth, auth_type="password", region_name=region, interface=interface,
                             load_yaml_config=False, load_envvars=False)
    try:
        conn.authorize()
    except (ksa_exceptions.ClientException, sdk_exceptions.SDKException) as err:
        why = redact_text(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
        raise InvalidInputError(f"{where}: Keystone refused these credentials ({why}); fix them there, "
                                "or use method=copy-image") from None
    return conn


# keystoneauth hands unknown auth settings to the plugin's constructor
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '([^']+)'")


def _auth_options(auth_type: str) -> tuple[list[str], set[str]]:
    """The plugin's setting names, and the set of them with their deprecated aliases."""
    try:
        options = ksa_loading.get_plugin_loader(auth_type).get_options()
    except ksa_exceptions.NoMatchingPlugin:
        return [], set()
    names = sorted({option.dest for option in options})
    return names, set(names) | {alias.dest for option in options for alias in option.deprecated}


def _unknown_auth_key(kwargs: dict[str, Any], err: Exception) -> str | None:
    """The auth setting the plugin does not know that made ``openstack.connect`` fail, if any.

    Some plugins drop unknown settings and then miss the one that was misspelt (OptionError).
    """
    match = _UNEXPECTED_KEYWORD.search(str(err))
    if match:
        return match.group(1)
    if isinstance(err, TypeError):
        return None
    _names, known = _auth_options(kwargs.get("auth_type") or "password")
    given = [key for key in kwargs.get("auth") or {} if key.replace("-", "_") not in known]
    return given[0] if known and given else None


def _unknown_auth_key_message(params: dict[str, Any], kwargs: dict[str, Any], key: str) -> str:
    auth_type = kwargs.get("auth_type") or "password"
    if params.get("auth") is not None:
        where = "auth"
    elif isinstance(params.get("cloud"), dict):
        where = "cloud.auth"
    else:
        where = f"the auth of cloud {params.get('cloud') or '(OS_CLOUD)'} in clouds.yaml"
    names, _known = _auth_options(auth_type)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (f"{where}: {key} is not a setting of auth_type {auth_type}{hint}; "
            f"it takes {', '.join(names)}")


def translate_sdk_error(err: Exception) -> StoreOpsError | None:
    """One-line, typed version of an openstacksdk/keystoneauth exception, or None if unknown."""
    if SDK_IMPORT_ERROR is not None:
        return None
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, ksa_exceptions.Unauthorized):
        return CloudConnectionError(
            "authentication failed (HTTP 401): check the credentials in cloud/auth")
    if isinstance(err, ksa_exceptions.ConnectFailure):
        return CloudConnectionError(f"cannot reach the cloud: {first_line}")
    if isinstance(err, (ksa_exceptions.EndpointNotFound, ksa_exceptions.EmptyCatalog)):
        return CloudConnectionError(
            f"no endpoint in the service catalog: {first_line}; check region_name and interface")
    if isinstance(err, ksa_exceptions.ClientException):
        return CloudConnectionError(f"identity error: {first_line}")
    if isinstance(err, sdk_exceptions.ForbiddenException):
        return NotAuthorizedError(f"the cloud refused the request (HTTP 403): {first_line}")
    if isinstance(err, sdk_exceptions.HttpException):
        return CloudRequestError(first_line, status_code=err.status_code)
    if isinstance(err, sdk_exceptions.SDKException):
        return CloudRequestError(first_line)
    return None
