"""glance_image's executor against a fake Glance: yielding to a rival, the lease renewer."""
from __future__ import annotations

import time

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._image import executor as _image_exec
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import (
    ImageExecutor,
    Lease,
    LeaseRenewer,
    Source,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import (
    PENDING_KEY,
    Desired,
    Plan,
)


class FakeGlance:
    """Holds images by id; a rival run's image appears when this run creates its own."""

    def __init__(self, rival=None):
        self.images, self.rival, self.deleted, self.patches = {}, rival, [], []

    def create_image(self, attributes):
        image_id = "lease" if "mine" in self.images else "mine"
        image = {"id": image_id, "owner": "p1", "status": "queued", "created_at": "2026-12-01T12:00:01Z",
                 "updated_at": "2026-12-01T12:00:01Z", **attributes}
        self.images[image_id] = image
        if self.rival:
            self.images[self.rival["id"]] = self.rival
        return image

    def images_where(self, **_filters):
        return list(self.images.values())

    def image(self, image_id):
        return self.images.get(image_id)

    def delete_image(self, image_id):
        self.deleted.append(image_id)
        self.images.pop(image_id, None)

    def patch(self, image_id, operations):
        self.patches.append((image_id, operations))
        return self.images[image_id]


def desired():
    return Desired(name="cirros", owner="p1", image_id=None, has_content=True, stores=["fast"],
                   fields={}, tags=None, properties={}, disk_format="raw", container_format="bare")


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    monkeypatch.setattr(_image_exec, "SETTLE_SECONDS", 0)


def test_a_run_that_loses_deletes_only_its_own_image_and_adopts_the_winner(tmp_path):
    winner = {"id": "theirs", "name": "cirros", "owner": "p1", "status": "active",
              "created_at": "2026-12-01T12:00:00Z"}
    glance = FakeGlance(rival=winner)
    executor = ImageExecutor(glance, lambda: "direct", 5, True, Lease(60), poll_interval=0)
    plan = Plan()
    plan.add("create", stores=["fast"])
    adopt = Plan(image=winner)
    (tmp_path / "f").write_bytes(b"x")
    final, image = executor.converge(plan, lambda: adopt, desired(), Source(filename=str(tmp_path / "f")))
    assert glance.deleted == ["mine", "lease"] and image is winner and final is adopt
    assert executor.actions == [{"action": "yield", "image_id": "theirs", "withdrawn": "mine"}]


def test_the_renewer_patches_the_lease_while_the_run_works():
    glance = FakeGlance()
    glance.images["mine"] = {"id": "mine"}
    with LeaseRenewer(glance, "mine", Lease(8)):
        time.sleep(2.3)  # renewed every 2 s
    assert len(glance.patches) == 1
    (image_id, [operation]), = glance.patches
    assert image_id == "mine" and operation["path"] == f"/{PENDING_KEY}" and operation["op"] == "replace"
    assert operation["value"].startswith("run ") and " lease 8s until " in operation["value"]
