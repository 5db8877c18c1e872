# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove credentials before anything reaches a result, log, journal or report.

Three kinds are found:

- the user info of a URL (``swift+https://tenant:user:key@host/...``, ``s3://access:secret@host/...``,
  ``mysql+pymysql://glance:password@db/glance``). One rule: the user info is everything between
  ``://`` and the LAST ``@`` before the host, because passwords and S3 secret keys may hold ``@``
  and ``/``. The host is the last ``@``-led name that a path (``/``, ``?``, ``#``) follows; in a
  URL without a path, the user info holds no ``/``. So ``swift://u:k@host/v1/AUTH_x/c/a@b`` keeps
  its path's ``@b``, and so does ``http://host:8080/v1/c/a@b``; where a path has an ``@`` with a
  ``/`` after it (``…/c/a@b/d``) the rule cannot tell it from a secret and hides too much, not
  too little. The user part holds no ``/`` or ``:``, which keeps ``file:///srv/a@b`` intact;
- credentials in a query string, ``name=value`` text or a quoted ini line (``X-Amz-Signature``,
  ``X-Amz-Credential``, ``X-Amz-Security-Token``, ``temp_url_sig``, ``sslpassword``,
  ``password``, ``swift_store_key = ...``);
- values under a secret's name in nested data (``password``, ``application_credential_secret``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

REDACTED = "***"

_SCHEME = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
_USER = r"[^\s/?#@:]*"
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%]+)(?::[0-9]*)?"
_USERINFO = re.compile(
    _SCHEME + r"(?P<userinfo>"
    rf"{_USER}(?::\S*)?(?=@{_HOST}[/?#])"                        # the last @ a path follows,
    rf"|{_USER}(?::[^\s/]*)?(?=@{_HOST}(?![\w\-.~%@:\[\]/]))"    # or the @ of a URL without one
    r")@")
# A name ending in one of these holds a secret (``X-Amz-Credential``, ``temp_url_sig``, ``s3_secret_key``).
_SECRET_NAME = re.compile(
    r"(?:password|passwd|passphrase|passcode|pwd|secret|token|signature|credential|sig"
    r"|(?:^|[_\-]|access)key(?:id)?)$", re.IGNORECASE)
# ``name=value`` of a query string or a DSN, and ``name = value`` of an ini line quoted in a message
_NAMED_VALUE = re.compile(r"(?<![\w.\-])(?P<name>[\w.\-]+)(?P<sep>[ \t]*=[ \t]*)(?P<value>[^\s&#]+)")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Replace every URL's user info and every credential ``name=value`` inside ``text``."""
    text = _USERINFO.sub(lambda match: match.group("scheme") + REDACTED + "@", text)
    return _NAMED_VALUE.sub(
        lambda match: match.group("name") + match.group("sep") + REDACTED
        if is_secret_name(match.group("name")) else match.group(0), text)


def redact(value: Any) -> Any:
    """Redact every string inside nested dicts, lists and tuples, and mask what a secret's name
    holds; other values pass through."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _masked(item) if isinstance(key, str) and is_secret_name(key) else redact(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value


def secrets_in(value: Any) -> set[str]:
    """The secret strings inside nested data: what secret names hold (numbers as text), URL
    passwords and credential query values. For ``no_log_values``, which Ansible removes from its
    output wherever they appear."""
    return set(_secrets(value, under_secret_name=False))


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item) for item in value)
    if value is None or isinstance(value, bool) or value == "":
        return value
    return REDACTED


def _secrets(value: Any, under_secret_name: bool) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _secrets(item, under_secret_name or (isinstance(key, str) and is_secret_name(key)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secrets(item, under_secret_name)
    elif isinstance(value, bool) or value is None:
        return
    elif under_secret_name and isinstance(value, (str, int, float)) and str(value):
        yield str(value)
    elif isinstance(value, str):
        yield from _secrets_of_text(value)


def _secrets_of_text(text: str) -> Iterator[str]:
    for match in _USERINFO.finditer(text):
        # the user name alone is no secret (hiding it would blank it everywhere)
        _user, colon, password = match.group("userinfo").partition(":")
        if colon and password:
            yield password
    for match in _NAMED_VALUE.finditer(text):
        if is_secret_name(match.group("name")):
            yield match.group("value")
