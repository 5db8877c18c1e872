# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``state: inactive`` (a deactivated image) and back to ``present`` (reactivated).

Glance refuses to download, copy or import a deactivated image, so a plan that must copy into
missing stores of one reactivates it first; ``inactive`` deactivates it as the plan's last
step, once its stores, metadata and members are what the entry asks (a new image's bytes are
verified and published first, like any other).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import Copy, Create, Plan, Step, Wait

DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class Reactivate(Step):
    """Make a deactivated image active again (``state: present``, or to copy it)."""

    image_id: str

    def predict(self, image, desired):
        return {**image, "status": "active"}


@dataclass(frozen=True)
class Deactivate(Step):
    """Deactivate the image (``state: inactive``); None: the image this run creates."""

    image_id: str | None

    def predict(self, image, desired):
        return {**image, "status": DEACTIVATED}


def with_activation(plan: Plan, inactive: bool) -> Plan:
    """``plan`` with the reactivation it needs first and, for ``inactive``, the deactivation last."""
    if any(isinstance(step, Wait) for step in plan.steps):
        return plan
    image = plan.image
    creates = any(isinstance(step, Create) for step in plan.steps)
    deactivated = bool(image) and image.get("status") == DEACTIVATED and not creates
    copies = any(isinstance(step, Copy) for step in plan.steps)
    first = (Reactivate(image["id"]),) if deactivated and (copies or not inactive) else ()
    last = ()
    if inactive and (creates or first or not deactivated):
        last = (Deactivate(None if creates else image["id"]),)
    return Plan(first + plan.steps + last, image) if first or last else plan


def apply_activation(glance, step: Reactivate | Deactivate, image: dict[str, Any]) -> dict[str, Any]:
    """Carry ``step`` out; returns the image as Glance then has it."""
    image_id = step.image_id or image["id"]
    glance.image_action(image_id, "reactivate" if isinstance(step, Reactivate) else "deactivate")
    return glance.image(image_id)
