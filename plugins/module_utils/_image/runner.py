# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One glance_image run, from the module's checked options to its result.

Lists the images, decides whether the chosen one holds the source's content, plans, and (unless
in check mode) has the executor carry the plan out; the result and the diff come from the plan's
steps (check mode: the image they predict) or from what the executor did.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.hashing import hash_file
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import image_stores
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import (
    ExecutionResult,
    ImageExecutor,
    Lease,
    Settings,
    Source,
    lease_images,
    utc_now,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.activation import DEACTIVATED, with_activation
from ansible_collections.storeops.openstack.plugins.module_utils._image.formats import DETECT, inspect_file
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    CATALOGUE_KEY,
    RETIRED_KEY,
    Lifecycle,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.listing import ImageListing
from ansible_collections.storeops.openstack.plugins.module_utils._image.members import MembersView, Sharing, with_members
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import (
    DIFFERENT,
    SAME,
    SOURCE_URL_KEY,
    UNKNOWN,
    choose_image,
    foreign_count,
    identify,
    plan_absent,
    plan_present,
    predicted_image,
    prunes_versions,
    target_stores,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.properties import user_properties
from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import Create, Desired, Plan, Wait

SUMMARY_FIELDS = ("id", "name", "status", "visibility", "owner", "size", "os_hash_algo",
                  "os_hash_value", "os_hidden", "protected", "min_disk", "min_ram", "tags", "disk_format")


@dataclass(frozen=True)
class ImageRequest:
    """The module's options, checked; ``owner`` is the project id whose images the run considers."""

    name: str
    image_id: str | None
    owner: str
    owner_given: bool            # new images are then created for that project
    state: str
    stores: list[str] | None
    all_stores: bool
    all_stores_must_succeed: bool
    disk_format: str
    container_format: str
    fields: dict[str, Any]       # visibility, min_disk, min_ram, protected (None: leave)
    tags: list[str] | None
    properties: dict[str, Any]
    properties_exact: bool       # properties_state: exact
    on_content_change: str
    lifecycle: Lifecycle
    upload_method: str
    lease_seconds: int
    timeout: int
    sharing: Sharing | None = None   # members asked for (None: leave them)
    catalogue: str | None = None
    ceph_access: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImageRun:
    """What a run planned or did, and the module result it makes."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    execution: ExecutionResult
    identity: str | None
    identified_by: str | None
    notes: tuple[str, ...]
    members: MembersView | None = None
    inspection: dict[str, Any] | None = None

    def as_result(self, with_diff: bool) -> dict[str, Any]:
        execution = self.execution
        result = {
            "changed": execution.changed,
            "actions": [step.as_dict() for step in execution.steps],
            "image": _summary(execution.image),
            "store_outcomes": dict(execution.store_outcomes),
            "identity": self.identity,
            "identified_by": self.identified_by,
            "verified_by": execution.verified_by,
            "notes": list(self.notes),
            "inspection": self.inspection,
        }
        if execution.changed and with_diff:
            result["diff"] = {"before": _diff_view(self.before), "after": _diff_view(self.after)}
            if self.members:
                result["diff"]["before"]["members"] = self.members.before
                result["diff"]["after"]["members"] = self.members.after
        return result


def ensure_image(glance: GlanceClient, request: ImageRequest, source: Source, check_mode: bool,
                 consumer: GlanceClient | None = None, listing: ImageListing | None = None) -> ImageRun:
    """Plan, then (unless ``check_mode`` or nothing is to be done) carry the plan out;
    ``consumer``: the connection of ``accept_as``; ``listing``: a catalogue run's images, listed
    once, to plan from instead of listing this entry's."""
    stores = target_stores((listing or glance).stores(), request.stores, request.all_stores,
                           for_upload=request.state != "absent")
    desired = _desired(request, source, stores)
    planner = _Planner(listing or glance, request, desired, source)
    first, images = planner()
    if listing is not None and first.steps:
        # the listing is as old as the run: a change is planned (and carried out) from Glance now
        planner = _Planner(glance, request, desired, source)
        first, images = planner()
    if source.filename and any(isinstance(step, (Create, Wait)) for step in first.steps):
        # before any byte is sent: a wait may end in this run creating the image after all
        source.inspection = inspect_file(source.filename, desired.disk_format)
        if desired.disk_format == DETECT:
            desired = replace(desired, disk_format=source.inspection.disk_format)
    if check_mode or not first.steps:
        execution = ExecutionResult(first.steps, first.image)
        after = predicted_image(first, desired)
    else:
        settings = Settings(request.timeout, request.all_stores_must_succeed, Lease(request.lease_seconds),
                            request.upload_method, request.owner if request.owner_given else None,
                            consumer=consumer, ceph_access=request.ceph_access or {})
        executor = ImageExecutor(glance, desired, source, settings)
        execution = executor.converge(first, lambda: planner()[0])
        after = execution.image
    foreign = foreign_count(images, desired)
    notes = execution.notes + ((f"{foreign} image(s) of this name in other projects were left "
                                f"alone (owner is {request.owner})",) if foreign else ())
    return ImageRun(first.image, after, execution, source.identity, planner.identified_by, notes,
                    planner.members, _inspection(source, execution))


def _inspection(source: Source, execution: ExecutionResult) -> dict[str, Any] | None:
    """What decided the new image's format: the file's inspection, or Glance's own for a url."""
    if source.inspection:
        return {"inspected_by": "oslo.utils format inspector", "disk_format": source.inspection.disk_format,
                "virtual_size": source.inspection.virtual_size}
    created = any(isinstance(step, Create) for step in execution.steps)
    if source.url and created and execution.image:
        return {"inspected_by": "glance", "disk_format": execution.image.get("disk_format"),
                "virtual_size": execution.image.get("virtual_size")}
    return None


def _desired(request: ImageRequest, source: Source, stores: list[str]) -> Desired:
    properties = {k: str(v) for k, v in request.properties.items()}
    if source.url:  # readable by every user of the image: never with its credentials
        properties[SOURCE_URL_KEY] = redact_text(source.url)
    if request.catalogue:
        properties[CATALOGUE_KEY] = request.catalogue
    return Desired(name=request.name, owner=request.owner, image_id=request.image_id,
                   has_content=bool(source.filename or source.url), stores=stores,
                   fields=request.fields, tags=request.tags, properties=properties,
                   disk_format=request.disk_format, container_format=request.container_format,
                   properties_exact=request.properties_exact, catalogue=request.catalogue)


class _Planner:
    """Lists the images of the name and plans from them; called again when other runs interfere."""

    def __init__(self, glance: GlanceClient | ImageListing, request: ImageRequest, desired: Desired,
                 source: Source):
        self.glance, self.request, self.desired, self.source = glance, request, desired, source
        self.identified_by: str | None = None
        self.members: MembersView | None = None  # of the first plan: the diff's

    def __call__(self) -> tuple[Plan, list[dict[str, Any]]]:
        glance, request, desired = self.glance, self.request, self.desired
        images = glance.images_where(name=request.name)
        if request.image_id and all(i["id"] != request.image_id for i in images):
            found = glance.image(request.image_id)
            images += [found] if found else []
        if request.state == "absent":
            return plan_absent(images, desired, request.stores), images
        relation, self.identified_by = relation_to_source(choose_image(images, desired), self.source)
        if prunes_versions(images, desired, relation, request.lifecycle):  # renamed: listed apart
            images += glance.images_where(**{RETIRED_KEY: request.name})
        plan = plan_present(images, desired, relation, request.on_content_change, request.lifecycle,
                            utc_now(), lease_images(glance, request.name))
        if request.sharing:
            plan, members = with_members(plan, desired, request.sharing, glance.members)
            self.members = self.members or members
        return with_activation(plan, request.state == "inactive"), images


def relation_to_source(current: dict[str, Any] | None, source: Source) -> tuple[str | None, str | None]:
    """Does the chosen image hold the source's content, and what decided? Reads the file at
    most once per run."""
    if current is None or not (source.filename or source.url):
        return None, None
    if source.url and not source.checksum:
        # images of earlier versions recorded the URL whole
        recorded = redact_text(current.get(SOURCE_URL_KEY) or "")
        return (SAME if recorded == redact_text(source.url) else DIFFERENT), SOURCE_URL_KEY
    relation, decided_by = identify(current, source.hashes)
    if relation == UNKNOWN and source.filename and not source.read:
        source.learn(hash_file(source.filename))
        relation, decided_by = identify(current, source.hashes)
    return (DIFFERENT, None) if relation == UNKNOWN else (relation, decided_by)


def _summary(image: dict[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    summary = {key: image.get(key) for key in SUMMARY_FIELDS}
    summary["stores"] = image_stores(image)
    return summary


def _diff_view(image: dict[str, Any] | None) -> dict[str, Any]:
    if image is None:
        return {}
    return {"stores": image_stores(image), "properties": user_properties(image),
            "deactivated": image.get("status") == DEACTIVATED,
            **{k: image.get(k) for k in SUMMARY_FIELDS if k != "status"}}


def project_id(conn, option: str, project: str | None) -> str:
    """The id of ``project`` (name or id) for ``option``; None or empty is the run's own project."""
    if not project or project == conn.current_project_id:
        return conn.current_project_id
    found = conn.identity.find_project(project, ignore_missing=True)
    if found is None:
        raise InvalidInputError(f"{option}: no project {project!r} is visible to these credentials; "
                                "give a project name or id")
    return found.id
