from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._image import steps
from ansible_collections.storeops.openstack.plugins.module_utils._image.activation import (
    Deactivate,
    Reactivate,
    apply_activation,
    with_activation,
)

ACTIVE = {"id": "i1", "status": "active"}
DEACTIVATED = {"id": "i1", "status": "deactivated"}
COPY = steps.Copy("i1", ("ceph",))
PATCH = steps.UpdateMetadata("i1", ())


@pytest.mark.parametrize("image, planned, inactive, expected", [
    (ACTIVE, (), True, (Deactivate("i1"),)),
    (DEACTIVATED, (), True, ()),                                     # already inactive: nothing
    (DEACTIVATED, (PATCH,), True, (PATCH,)),                         # metadata needs no reactivation
    (DEACTIVATED, (COPY,), True, (Reactivate("i1"), COPY, Deactivate("i1"))),
    (DEACTIVATED, (), False, (Reactivate("i1"),)),                   # present reactivates
    (ACTIVE, (COPY,), False, (COPY,)),
    (None, (steps.Create(("fast",)),), True, (steps.Create(("fast",)), Deactivate(None))),
    (DEACTIVATED, (steps.Create(("fast",), replaces="i1"), steps.Retire("i1")), False,
     (steps.Create(("fast",), replaces="i1"), steps.Retire("i1"))),  # the new version is active
    (ACTIVE, (steps.Wait("i2", None),), True, (steps.Wait("i2", None),)),
])
def test_with_activation(image, planned, inactive, expected):
    assert with_activation(steps.Plan(planned, image), inactive).steps == expected


def test_predicted_status_and_apply():
    assert Deactivate(None).predict(ACTIVE, None)["status"] == "deactivated"
    assert Reactivate("i1").predict(DEACTIVATED, None)["status"] == "active"

    class Glance:
        calls = []

        def image_action(self, image_id, action):
            self.calls.append((image_id, action))

        def image(self, image_id):
            return {"id": image_id, "status": "deactivated"}

    assert apply_activation(Glance(), Deactivate(None), {"id": "new"}) == {"id": "new", "status": "deactivated"}
    apply_activation(Glance(), Reactivate("i1"), DEACTIVATED)
    assert Glance.calls == [("new", "deactivate"), ("i1", "reactivate")]
