# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed exceptions: raised deep, turned into one ``fail_json`` by the module base.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import traceback
from typing import Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text


class StoreOpsError(Exception):
    """An expected failure, explained in one line that names the input or service and the fix."""

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.details = details


class InvalidInputError(StoreOpsError):
    """A module option is wrong; nothing was changed."""


class MissingDependencyError(StoreOpsError):
    """A Python library the module needs is missing or too old on the managed host."""


class CloudConnectionError(StoreOpsError):
    """The cloud could not be reached or authenticated against."""


class NotAuthorizedError(StoreOpsError):
    """The cloud refused the request for these credentials (HTTP 403)."""


class CloudRequestError(StoreOpsError):
    """A cloud API request failed."""

    def __init__(self, message: str, status_code: int | None = None, **details):
        super().__init__(message, **details)
        self.status_code = status_code


class StorageNotFoundError(StoreOpsError):
    """A storage back end has no object at the path asked for."""


class StorageConflictError(StoreOpsError):
    """A key holds data this collection did not write, or changed under a conditional write: it is kept."""


class StorageBusyError(StoreOpsError):
    """Another live writer (another run) is writing the object now: it is left alone."""


class SourceMismatchError(StoreOpsError):
    """The bytes read from a source are not what the source promised for them."""


def known_error(err: BaseException, *translators: Callable[[BaseException], StoreOpsError | None]) -> StoreOpsError | None:
    """``err`` as an expected failure: itself, or what the first translator that knows it makes of it.

    None means a bug: the caller re-raises it, or records it with ``bug_report``, never disguised.
    """
    if isinstance(err, StoreOpsError):
        return err
    for translate in translators:
        known = translate(err)
        if known is not None:
            return known
    return None


def bug_report(err: BaseException) -> dict[str, str]:
    """What an unexpected exception was, for one item's failure entry, redacted like every other text.

    ``bug`` is its type, ``reason`` the one line an item's entry shows, ``traceback`` where it came
    from (a traceback can quote URLs with credentials, so both texts leave here redacted).
    """
    return {"bug": type(err).__name__,
            "reason": redact_text(f"{type(err).__name__}: {err}"),
            "traceback": redact_text("".join(traceback.format_exception(type(err), err, err.__traceback__)))}
