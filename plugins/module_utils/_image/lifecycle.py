# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An entry's older versions: how they are retired, how long they are kept, what may delete them (pure).

A replaced version is retired by the entry's policy: ``hide`` (renamed, hidden), ``community``
(renamed, community visibility: bootable by id, listed by nobody), ``deactivate`` (renamed, hidden,
deactivated: Glance then refuses to serve, copy or migrate its bytes) or ``delete`` (renamed and
hidden, then deleted at once when that is safe). Retired versions beyond ``keep_versions``, or
retired more than ``delete_after_days`` ago, are deleted. Never deleted: the entry's current
version, a ``protected`` image, an image whose rbd snapshot has clones (checked by the executor
before the DELETE: Glance removes the other stores' data first and only then refuses), and
another catalogue's image.

Images a catalogue manages carry its id (``catalogue_name``) in ``CATALOGUE_KEY``; a catalogue
never adopts, retires or deletes an image another catalogue marked.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import parse_utc_stamp, utc_stamp

# Marks an older version retired by on_content_change=replace (value: the name it had).
RETIRED_KEY = "storeops.openstack.retired_from"
# When it was retired (Glance's time format): delete_after_days counts from it.
RETIRED_AT_KEY = "storeops.openstack.retired_at"
# The catalogue (catalogue_name) that manages the image.
CATALOGUE_KEY = "storeops.openstack.catalogue"
HIDE, COMMUNITY, DEACTIVATE, DELETE = "hide", "community", "deactivate", "delete"
RETIRE_POLICIES = (HIDE, COMMUNITY, DEACTIVATE, DELETE)


@dataclass(frozen=True)
class Lifecycle:
    """An entry's policy for the versions it replaces."""

    retire: str = HIDE
    keep_versions: int = 1
    delete_after_days: int | None = None

    @property
    def kept(self) -> int:
        """How many retired versions may stay (``retire: delete`` keeps none)."""
        return 0 if self.retire == DELETE else self.keep_versions


def retire_operations(name: str, policy: str, now: datetime) -> list[dict[str, Any]]:
    """The JSON-patch that retires a version of ``name`` (deactivating is a call of its own)."""
    operations = [
        {"op": "replace", "path": "/name", "value": f"{name}.retired-{utc_stamp(compact=True, when=now)}"},
        {"op": "add", "path": f"/{RETIRED_KEY}", "value": name},
        {"op": "add", "path": f"/{RETIRED_AT_KEY}", "value": utc_stamp(when=now)},
    ]
    if policy == COMMUNITY:
        operations.append({"op": "replace", "path": "/visibility", "value": "community"})
    else:
        operations.append({"op": "replace", "path": "/os_hidden", "value": True})
    return operations


def retired_at(image: dict[str, Any]) -> datetime | None:
    """When the version was retired; None for one retired before the time was recorded."""
    return parse_utc_stamp(image.get(RETIRED_AT_KEY))


def versions_to_delete(retiring: list[dict[str, Any]], older: list[dict[str, Any]], lifecycle: Lifecycle,
                       now: datetime) -> tuple[list[str], list[tuple[str, str]]]:
    """``(ids to delete, [(id, why kept)])`` among the versions retired now and before.

    ``retiring`` are retired by this plan, ``older`` were retired earlier (newest first). A
    version goes when beyond ``keep_versions`` or retired ``delete_after_days`` ago; a protected
    one stays whatever the policy says.
    """
    delete, kept = [], []
    for position, image in enumerate([*retiring, *older]):
        since = now if position < len(retiring) else retired_at(image)
        expired = lifecycle.delete_after_days is not None and since is not None and (
            now - since >= timedelta(days=lifecycle.delete_after_days))
        if position < lifecycle.kept and not expired:
            continue
        if image.get("protected"):
            kept.append((image["id"], "protected"))
        else:
            delete.append(image["id"])
    return delete, kept


def foreign_catalogue(image: dict[str, Any], catalogue: str | None) -> str | None:
    """The other catalogue that manages ``image``, or None (unmarked, or this catalogue's)."""
    marked = image.get(CATALOGUE_KEY)
    return marked if catalogue and marked and marked != catalogue else None


def refuse_foreign(image: dict[str, Any] | None, catalogue: str | None) -> None:
    other = image and foreign_catalogue(image, catalogue)
    if other:
        raise InvalidInputError(f"name: image {image['id']} ({image.get('name')}) belongs to catalogue "
                                f"{other!r}, not {catalogue!r}; rename the entry or remove it there")
