from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import PENDING_KEY, RETIRED_KEY
from ansible_collections.storeops.openstack.plugins.module_utils._image.references import (
    pick_reference,
    reference_properties,
)

KERNEL_ID = "0b0b0b0b-1111-2222-3333-444455556666"


def named(image_id, owner="p1", status="active", **attrs):
    return {"id": image_id, "name": "vmlinuz", "owner": owner, "status": status, **attrs}


def test_an_id_wins_and_a_name_picks_the_one_active_image_the_owners_first():
    assert pick_reference("kernel", KERNEL_ID, {"id": KERNEL_ID}, [], "p1") == KERNEL_ID
    candidates = [named("k1"), named("k2", owner="p9"), named("k3", status="deactivated"),
                  named("k4", **{PENDING_KEY: "run"}), named("k5", **{RETIRED_KEY: "vmlinuz"})]
    assert pick_reference("kernel", "vmlinuz", None, candidates, "p1") == "k1"
    assert pick_reference("kernel", "vmlinuz", None, candidates[1:], "p1") == "k2"


@pytest.mark.parametrize("candidates, message", [
    ([], "^ramdisk: no active image 'vmlinuz' is visible"),
    ([named("k1"), named("k2")], r"^ramdisk: 2 images are named 'vmlinuz' \(k1, k2\); give its id$"),
])
def test_no_or_several_matches_are_one_line_errors(candidates, message):
    with pytest.raises(InvalidInputError, match=message):
        pick_reference("ramdisk", "vmlinuz", None, candidates, "p1")


def test_reference_properties_looks_up_ids_by_id_and_names_by_name():
    class Glance:
        asked = []

        def image(self, image_id):
            self.asked.append(("id", image_id))
            return {"id": image_id}

        def images_where(self, name):
            self.asked.append(("name", name))
            return [named("k1")]

    found = reference_properties(Glance(), {"kernel": "vmlinuz", "ramdisk": KERNEL_ID}, "p1")
    assert found == {"kernel_id": "k1", "ramdisk_id": KERNEL_ID}
    assert Glance.asked == [("name", "vmlinuz"), ("id", KERNEL_ID)]
    assert reference_properties(Glance(), {"kernel": None, "ramdisk": None}, "p1") == {}
