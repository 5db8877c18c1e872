# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalogue's garbage collection: its images whose names it no longer lists are retired.

An image belongs to a catalogue when it carries the catalogue's id (``CATALOGUE_KEY``, written by
glance_image's ``catalogue_name``) and the run's project owns it; no other image is looked at, so
two catalogues on one cloud never touch each other's images. Of those, each current version
(published, neither retired nor pending) whose name is not in the catalogue is retired by the
policy, and with ``retire: delete`` deleted when that is safe (``lifecycle.py``). Versions already
retired are left to their entries' policy; a pending image is another run's upload.

``plan_collection`` is pure; ``collect`` carries its plans out with glance_image's executor. Both
callers go through ``collect``: glance_image_gc with a listing of its own, glance_image_catalog's
``catalogue_exclusive`` with the listing its entries were planned from (``listing.py``), so a
catalogue run lists its images once. That listing is older than the entries' changes (and maybe
another run's), so each image to retire is read again and planned again from that read before it
is touched, and a delete reads it once more (``ImageExecutor._delete_checked``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import translate_sdk_error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import (
    ImageExecutor,
    Lease,
    Settings,
    Source,
    utc_now,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    CATALOGUE_KEY,
    DEACTIVATE,
    RETIRED_KEY,
    Lifecycle,
    retire_operations,
    versions_to_delete,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.listing import ImageListing
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import PENDING_KEY
from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import (
    DeleteOldVersion,
    Desired,
    KeepOldVersion,
    Plan,
    Retire,
    UpdateMetadata,
)


@dataclass(frozen=True)
class Collection:
    """What a collection did (or, in check mode, would do), image by image."""

    plans: tuple[Plan, ...]
    done: tuple[tuple[Plan, tuple[Any, ...]], ...]  # (plan, steps) as carried out
    failures: tuple[dict[str, str], ...] = ()       # per image that failed: name, image_id, msg

    @property
    def changed(self) -> bool:
        return any(step.changes for _plan, done in self.done for step in done)

    def diffs(self) -> list[dict[str, Any]]:
        """One per image retired (in check mode, to be): before and after; empty after a delete."""
        diffs = []
        for plan, done in self.done:
            if not any(step.changes for step in done):
                continue
            image, header = plan.image, f"{plan.image['name']} ({plan.image['id']})"
            deleted = any(isinstance(step, DeleteOldVersion) for step in done)
            retire = next(step for step in done if isinstance(step, Retire))
            diffs.append({"before_header": header, "after_header": header, "before": _diff_view(image),
                          "after": {} if deleted else _diff_view(_retired(image, retire.policy))})
        return diffs

    def as_result(self) -> dict[str, Any]:
        actions = [{"name": plan.image["name"], **step.as_dict()} for plan, done in self.done for step in done]
        failed = {failure["image_id"] for failure in self.failures}
        result = {"changed": self.changed, "actions": actions, "failures": list(self.failures),
                  "retired": sorted(plan.image["id"] for plan in self.plans if plan.image["id"] not in failed)}
        if self.failures:
            result.update(failed=True, msg=f"{len(self.failures)} of {len(self.plans)} images could not be "
                                           "retired; see failures")
        return result


def plan_collection(images: list[dict[str, Any]], catalogue: str, names: list[str], owners: list[str],
                    lifecycle: Lifecycle) -> tuple[Plan, ...]:
    """One plan per current version of ``catalogue`` whose name ``names`` no longer holds."""
    if not names:  # an empty list would retire (with retire: delete, delete) the whole catalogue
        raise InvalidInputError("names: empty, which would retire every image of the catalogue; "
                                "list the names it holds")
    kept_names = set(names)
    stale = sorted((i for i in images if i.get(CATALOGUE_KEY) == catalogue and i.get("owner") in owners
                    and not i.get(RETIRED_KEY) and not i.get(PENDING_KEY)
                    and i.get("name") not in kept_names), key=lambda i: (i.get("name") or "", i["id"]))
    plans = []
    for image in stale:
        delete, kept = versions_to_delete([image], [], lifecycle, utc_now())
        plans.append(Plan((Retire(image["id"], lifecycle.retire),
                           *(DeleteOldVersion(image_id) for image_id in delete),
                           *(KeepOldVersion(image_id, reason) for image_id, reason in kept)), image))
    return tuple(plans)


def collect(glance: GlanceClient, catalogue: str, names: list[str], owners: list[str], lifecycle: Lifecycle,
            ceph_access: dict[str, Any], check_mode: bool, listing: ImageListing | None = None) -> Collection:
    """``owners``: the project ids whose images are the catalogue's (an entry may set ``owner``);
    ``listing``: a catalogue run's images, listed once, to plan from instead of listing them."""
    plans = plan_collection((listing or glance).images_where(**{CATALOGUE_KEY: catalogue}), catalogue, names, owners,
                            lifecycle)
    if check_mode:
        return Collection(plans, tuple((plan, plan.steps) for plan in plans))
    settings = Settings(timeout=0, all_stores_must_succeed=True, lease=Lease(60), ceph_access=ceph_access)
    carried, done, failures = [], [], []

    def retire(listed) -> None:
        # the listing may be older than this run's entries or another run's change: each candidate
        # is planned again from a fresh read, and left alone once it is no longer one
        image = glance.image(listed.image["id"])
        fresh = plan_collection([image] if image else [], catalogue, names, owners, lifecycle)
        if not fresh:
            return
        plan = fresh[0]
        carried.append(plan)
        desired = Desired(name=plan.image["name"], owner=plan.image["owner"], image_id=plan.image["id"],
                          has_content=False, stores=[], fields={}, tags=None, properties={}, disk_format="",
                          container_format="", catalogue=catalogue)
        executor = ImageExecutor(glance, desired, Source(), settings)
        done.append((plan, executor.converge(plan, Plan).steps))  # nothing waits: no plan again

    for listed in plans:
        try:  # one image, its fresh read included, must not stop the others
            retire(listed)
        except Exception as err:  # pylint: disable=broad-except
            failures.append(_failure(listed.image["name"], listed.image["id"], err))
    return Collection(tuple(carried), tuple(done), tuple(failures))


def _retired(image: dict[str, Any], policy: str) -> dict[str, Any]:
    """The image as retiring it by ``policy`` leaves it."""
    retired = UpdateMetadata(image["id"], tuple(retire_operations(image["name"], policy, utc_now()))).predict(
        image, None)
    return {**retired, "status": "deactivated"} if policy == DEACTIVATE else retired


def _diff_view(image: dict[str, Any]) -> dict[str, Any]:
    return {key: image.get(key) for key in ("name", "status", "visibility", "os_hidden", RETIRED_KEY)}


def _failure(name: str, image_id: str, err: Exception) -> dict[str, str]:
    known = known_error(err, translate_sdk_error)
    if known is not None:
        return {"name": name, "image_id": image_id, "msg": redact_text(str(known))}
    report = bug_report(err)
    return {"name": name, "image_id": image_id, "msg": redact_text(f"{report['bug']}: {err}"),
            "bug": report["bug"], "traceback": redact_text(report["traceback"])}
