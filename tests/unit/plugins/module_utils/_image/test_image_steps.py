"""glance_image's plan steps: as the module returns them, and whether they change anything."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.module_utils._image.steps import (
    Create,
    DeleteLeftover,
    DeleteStoreCopy,
    Retire,
    UpdateMetadata,
    Wait,
    Yield,
)


def test_steps_are_returned_as_the_actions_they_always_were():
    """One dict per step, named by the step's kind; an optional field left unset is left out."""
    assert Create(("fast", "ceph")).as_dict() == {"action": "create", "stores": ["fast", "ceph"]}
    assert Create(("fast",), replaces="i1").as_dict() == {"action": "create", "stores": ["fast"],
                                                          "replaces": "i1"}
    assert DeleteLeftover("l1", None).as_dict() == {"action": "delete_leftover", "image_id": "l1",
                                                    "status": None}
    assert DeleteStoreCopy("i1", "ceph").as_dict() == {"action": "delete_store_copy", "image_id": "i1",
                                                       "store": "ceph"}
    assert Wait("l1", "run-a").as_dict() == {"action": "wait", "image_id": "l1", "run": "run-a"}
    assert Yield("theirs", "mine").as_dict() == {"action": "yield", "image_id": "theirs", "withdrawn": "mine"}


def test_only_waits_and_yields_change_nothing():
    assert not Wait("l1", None).changes and not Yield("a", "b").changes
    assert Retire("i1").changes and UpdateMetadata("i1", ()).changes


def test_a_step_predicts_without_touching_the_image_it_is_given():
    image = {"id": "i1", "stores": "fast,ceph", "tags": []}
    assert DeleteStoreCopy("i1", "ceph").predict(image, None)["stores"] == "fast"
    changed = UpdateMetadata("i1", ({"op": "replace", "path": "/tags", "value": ["x"]},)).predict(image, None)
    assert changed["tags"] == ["x"] and image == {"id": "i1", "stores": "fast,ceph", "tags": []}
