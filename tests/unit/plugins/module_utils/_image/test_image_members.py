from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image import steps
from ansible_collections.storeops.openstack.plugins.module_utils._image.members import (
    Sharing,
    UpdateMembers,
    apply_members,
    with_members,
)


def desired(visibility="shared"):
    return steps.Desired(name="cirros", owner="p1", image_id=None, has_content=True, stores=["fast"],
                         fields={"visibility": visibility}, tags=None, properties={}, disk_format="raw",
                         container_format="bare")


IMAGE = {"id": "i1", "name": "cirros", "owner": "p1", "visibility": "shared"}
LISTED = [{"member_id": "p2", "status": "accepted"}, {"member_id": "p3", "status": "pending"}]


def listing(members):
    asked = []

    def list_members(image_id):
        asked.append(image_id)
        return members
    return list_members, asked


@pytest.mark.parametrize("exact, consumer, add, remove, accept", [
    (False, None, ("p4",), (), ()),
    (True, None, ("p4",), ("p3",), ()),
    (False, "p4", ("p4",), (), ("p4",)),
])
def test_members_are_added_and_with_exact_removed_in_one_step(exact, consumer, add, remove, accept):
    plan = steps.Plan((steps.UpdateMetadata("i1", ()),), IMAGE)
    list_members, asked = listing(LISTED)
    planned, view = with_members(plan, desired(), Sharing(("p2", "p4"), exact, consumer), list_members)
    assert planned.steps == (steps.UpdateMetadata("i1", ()), UpdateMembers("i1", add, remove, accept))
    assert asked == ["i1"] and view.before == {"p2": "accepted", "p3": "pending"}
    assert set(view.after) == {"p2", "p4"} | ({"p3"} - set(remove))
    assert view.after["p4"] == ("accepted" if accept else "pending")


def test_nothing_to_do_adds_no_step_and_an_accepted_consumer_is_not_accepted_again():
    plan = steps.Plan((), IMAGE)
    planned, view = with_members(plan, desired(), Sharing(("p2", "p3"), True, "p2"), listing(LISTED)[0])
    assert planned == plan and view.before == view.after


def test_a_new_image_gets_its_members_right_after_it_is_created_without_listing():
    plan = steps.Plan((steps.Create(("fast",), replaces="i1"), steps.Retire("i1")), IMAGE)
    list_members, asked = listing(LISTED)
    planned, view = with_members(plan, desired(), Sharing(("p2",), False), list_members)
    assert planned.steps == (plan.steps[0], UpdateMembers(None, ("p2",), (), ()), plan.steps[1])
    assert asked == [] and view.before == {} and view.after == {"p2": "pending"}
    assert with_members(steps.Plan((steps.Wait("i9", None),), None), desired(), Sharing(("p2",), False),
                        list_members)[0].steps == (steps.Wait("i9", None),)


@pytest.mark.parametrize("visibility, image", [("private", IMAGE), (None, {**IMAGE, "visibility": "public"}),
                                               (None, None)])
def test_members_need_a_shared_image(visibility, image):
    plan = steps.Plan(() if image else (steps.Create(("fast",)),), image)
    with pytest.raises(InvalidInputError, match="^members: Glance keeps members only on shared images"):
        with_members(plan, desired(visibility), Sharing(("p2",), False), listing([])[0])


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def test_apply_members_adds_removes_and_accepts_as_the_consumer():
    owner, consumer = Recorder(), Recorder()
    image = {"id": "new"}
    assert apply_members(owner, consumer, UpdateMembers(None, ("p2",), ("p3",), ("p2",)), image) is image
    assert owner.calls == [("add_member", "new", "p2"), ("remove_member", "new", "p3")]
    assert consumer.calls == [("set_member_status", "new", "p2", "accepted")]
