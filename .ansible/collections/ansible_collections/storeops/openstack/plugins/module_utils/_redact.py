# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove credentials embedded in URLs before anything reaches a result, log or report.

Glance location URLs may carry them: ``swift+https://tenant:user:key@host/...``,
``s3://access:secret@host/bucket/...``. S3 secret keys may contain ``/``, so the user info
runs to the first ``@``; the user part itself holds no ``/`` or ``:``, which keeps paths such
as ``file:///srv/a@b`` intact.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^\s/@:?#]*)(?::[^\s@]*)?@"
)


def redact_text(text: str) -> str:
    """Replace the user info of every URL inside ``text``."""
    return _USERINFO.sub(lambda match: match.group("scheme") + REDACTED + "@", text)


def redact(value: Any) -> Any:
    """Redact every string inside nested dicts, lists and tuples; other values pass through."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value
