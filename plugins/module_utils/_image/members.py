# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The members of a ``shared`` image: who it is shared with, and acceptance by a consumer.

``members_state: present`` adds the projects named; ``exact`` also removes the others. Both
happen in one step, after the image's metadata (a new image's right after it is published,
never while it is pending: a member would see an image whose bytes are not verified yet).
``accept_as`` is a consumer's cloud entry: its project accepts the membership, as the consumer
would, so the image shows in its default listing. Glance keeps members only on ``shared``
images, so any other visibility is refused before anything changes.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import Create, Desired, Plan, Step, Wait

ACCEPTED = "accepted"


@dataclass(frozen=True)
class Sharing:
    """The members asked for (project ids) and the consumer that accepts, if any."""

    members: tuple[str, ...]
    exact: bool
    consumer: str | None = None      # project id of accept_as; one of ``members``


@dataclass(frozen=True)
class UpdateMembers(Step):
    """Add and remove members in one pass; ``accept``: memberships the consumer accepts.
    ``image_id`` is None for the image this run creates."""

    image_id: str | None
    add: tuple[str, ...]
    remove: tuple[str, ...]
    accept: tuple[str, ...]


@dataclass(frozen=True)
class MembersView:
    """Member project ids and their status, before and as the plan leaves them (the diff)."""

    before: dict[str, str]
    after: dict[str, str]


def with_members(plan: Plan, desired: Desired, sharing: Sharing,
                 list_members: Callable[[str], list[dict[str, Any]]]) -> tuple[Plan, MembersView]:
    """``plan`` with the member step it needs (after a Create, else last); ``list_members``: of
    the chosen image, asked only when the plan keeps it (a new image has none)."""
    if any(isinstance(step, Wait) for step in plan.steps):
        return plan, MembersView({}, {})
    creates = [i for i, step in enumerate(plan.steps) if isinstance(step, Create)]
    visibility = desired.fields.get("visibility") or (
        (plan.image or {}).get("visibility") if not creates else None) or "private"
    if visibility != "shared":
        raise InvalidInputError(f"members: Glance keeps members only on shared images, and image "
                                f"{desired.name!r} would be {visibility}; set visibility: shared")
    listed = [] if creates or plan.image is None else list_members(plan.image["id"])
    before = {m["member_id"]: m.get("status", "pending") for m in listed}
    add = tuple(m for m in sharing.members if m not in before)
    remove = tuple(sorted(m for m in before if sharing.exact and m not in sharing.members))
    after = {**{m: s for m, s in before.items() if m not in remove}, **{m: "pending" for m in add}}
    accept = (sharing.consumer,) if sharing.consumer and after.get(sharing.consumer) != ACCEPTED else ()
    after.update({m: ACCEPTED for m in accept})
    view = MembersView(before, after)
    if not (add or remove or accept):
        return plan, view
    at = creates[0] + 1 if creates else len(plan.steps)
    step = UpdateMembers(None if creates else plan.image["id"], add, remove, accept)
    return Plan(plan.steps[:at] + (step,) + plan.steps[at:], plan.image), view


def apply_members(glance, consumer, step: UpdateMembers, image: dict[str, Any]) -> dict[str, Any]:
    """Carry ``step`` out with the owner's ``glance`` and the consumer's (a ``GlanceClient`` each)."""
    image_id = step.image_id or image["id"]
    for project in step.add:
        glance.add_member(image_id, project)
    for project in step.remove:
        glance.remove_member(image_id, project)
    for project in step.accept:
        consumer.set_member_status(image_id, project, ACCEPTED)
    return image
