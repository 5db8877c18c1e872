# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What glance_image is asked for, and the steps a plan is made of.

A plan is the image it starts from and a tuple of frozen steps. The planner (``plan.py``) makes
it; the executor applies each step with its one handler; check mode returns the steps, and the
diff comes from each step's ``predict``. A new kind of step goes here, its handler in
``executor.py``; steps of one option family (``members.py``, ``activation.py``) live in that
family's file with the planning that adds them.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import image_stores

_CAPITAL = re.compile(r"(?<!^)([A-Z])")


@dataclass(frozen=True)
class Desired:
    """The image the run is asked for."""

    name: str
    owner: str                       # project id; only its images are considered
    image_id: str | None
    has_content: bool
    stores: list[str]
    fields: dict[str, Any]           # visibility, min_disk, min_ram, protected (None: leave)
    tags: list[str] | None
    properties: dict[str, str]
    disk_format: str
    container_format: str
    properties_exact: bool = False   # properties_state: exact (remove user properties not named)
    catalogue: str | None = None     # catalogue_name: its images only, marked with it


@dataclass(frozen=True)
class Step:
    """One thing a run does to Glance; its ``kind`` (the class name in snake case, as in
    ``delete_leftover``) names it in the module's ``actions``."""

    changes: ClassVar[bool] = True  # waits and yields change nothing

    @property
    def kind(self) -> str:
        return _CAPITAL.sub(r"_\1", type(self).__name__).lower()

    def as_dict(self) -> dict[str, Any]:
        """The step as the module returns it; an optional field left unset is left out."""
        shown = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None or item.default is not None:
                shown[item.name] = list(value) if isinstance(value, tuple) else value
        return {"action": self.kind, **shown}

    def predict(self, image: dict[str, Any] | None, desired: Desired) -> dict[str, Any] | None:
        """The image as this step would leave it (check mode's diff); most steps leave it as is."""
        return image


@dataclass(frozen=True)
class Wait(Step):
    """Another run's upload is live: wait for it, then plan again."""

    changes: ClassVar[bool] = False
    image_id: str
    run: str | None


@dataclass(frozen=True)
class Yield(Step):
    """Recorded, not planned: this run's new image lost to another run's and was withdrawn."""

    changes: ClassVar[bool] = False
    image_id: str
    withdrawn: str


@dataclass(frozen=True)
class DeleteLeftover(Step):
    """A pending image (or lease image) of a run that died."""

    image_id: str
    status: str | None


@dataclass(frozen=True)
class Retire(Step):
    """Rename a replaced image out of the way and retire it by ``policy`` (``lifecycle.py``)."""

    image_id: str
    policy: str = "hide"


@dataclass(frozen=True)
class Create(Step):
    """A new image: created pending, filled, verified and published, then copied where missing."""

    stores: tuple[str, ...]
    replaces: str | None = None

    def predict(self, image, desired):
        return {"name": desired.name, "status": "active", "disk_format": desired.disk_format,
                "stores": ",".join(self.stores), "os_hidden": False, "tags": desired.tags or [],
                **{k: v for k, v in desired.fields.items() if v is not None},
                "visibility": desired.fields.get("visibility") or "private", **desired.properties}


@dataclass(frozen=True)
class Copy(Step):
    """Fill an existing image's missing stores with copy-image, never by uploading again."""

    image_id: str
    stores: tuple[str, ...]

    def predict(self, image, desired):
        return {**image, "stores": ",".join(image_stores(image) + list(self.stores))}


@dataclass(frozen=True)
class UpdateMetadata(Step):
    """Make the image's metadata what is asked, in one JSON-patch."""

    image_id: str
    operations: tuple[dict[str, Any], ...]

    def predict(self, image, desired):
        image = dict(image)
        for operation in self.operations:
            key = operation["path"][1:].replace("~1", "/").replace("~0", "~")
            if operation["op"] == "remove":
                image.pop(key, None)
            else:
                image[key] = operation["value"]
        return image


@dataclass(frozen=True)
class DeleteOldVersion(Step):
    """A retired version beyond ``keep_versions``."""

    image_id: str


@dataclass(frozen=True)
class KeepOldVersion(Step):
    """A retired version the policy would delete, kept: protected, or its rbd snapshot has clones."""

    changes: ClassVar[bool] = False
    image_id: str
    reason: str


@dataclass(frozen=True)
class DeleteStoreCopy(Step):
    """Remove the image from one store (``state: absent`` with ``stores``)."""

    image_id: str
    store: str

    def predict(self, image, desired):
        return {**image, "stores": ",".join(s for s in image_stores(image) if s != self.store)}


@dataclass(frozen=True)
class Delete(Step):
    """Delete the image (``state: absent``)."""

    image_id: str

    def predict(self, image, desired):
        return None


@dataclass(frozen=True)
class Plan:
    """The steps, in order, and the image they start from (None: there is none)."""

    steps: tuple[Step, ...] = ()
    image: dict[str, Any] | None = None
