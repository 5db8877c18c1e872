from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image_plan import (
    DIFFERENT,
    PENDING_KEY,
    RETIRED_KEY,
    SAME,
    UNKNOWN,
    Desired,
    content_relation,
    metadata_patch,
    plan_absent,
    plan_present,
    predicted_image,
    target_stores,
    upload_method,
)

SHA = "a" * 64


def desired(**overrides):
    values = dict(name="cirros", image_id=None, has_content=True, stores=["fast"],
                  fields={"visibility": "public", "min_disk": None, "min_ram": None, "protected": None},
                  tags=None, properties={}, disk_format="raw", container_format="bare")
    values.update(overrides)
    return Desired(**values)


def image(image_id="i1", **attrs):
    return {"id": image_id, "name": "cirros", "status": "active", "stores": "fast",
            "visibility": "public", "tags": [], **attrs}


@pytest.mark.parametrize("attrs, hashes, relation", [
    ({"owner_specified.openstack.sha256": SHA}, {"sha256": SHA}, SAME),
    ({"owner_specified.shade.sha256": SHA}, {"sha256": "b" * 64}, DIFFERENT),
    ({"os_hash_algo": "sha512", "os_hash_value": "c" * 128}, {"sha512": "c" * 128}, SAME),
    ({"os_hash_algo": "sha512", "os_hash_value": "c" * 128}, {"sha256": SHA}, UNKNOWN),
    ({"checksum": "d" * 32}, {"md5": "d" * 32}, SAME),
])
def test_content_relation(attrs, hashes, relation):
    assert content_relation(image(**attrs), hashes) == relation


def test_new_image_is_created():
    plan = plan_present([], desired(), None, "fail", 1)
    assert [a["action"] for a in plan.actions] == ["create"]


def test_same_content_fills_missing_stores_and_patches_metadata_once():
    plan = plan_present([image(stores="fast")], desired(stores=["fast", "ceph"], tags=["x"]), SAME, "fail", 1)
    assert [a["action"] for a in plan.actions] == ["copy", "update_metadata"]
    assert plan.actions[0]["stores"] == ["ceph"]
    assert plan.actions[1]["operations"] == [{"op": "replace", "path": "/tags", "value": ["x"]}]


def test_everything_matching_is_no_action():
    assert plan_present([image()], desired(), SAME, "fail", 1).actions == []


def test_different_content_fails_by_default_naming_the_option():
    with pytest.raises(InvalidInputError, match="on_content_change: replace"):
        plan_present([image()], desired(), DIFFERENT, "fail", 1)


def test_replace_retires_and_keeps_versions():
    retired = [image(f"r{n}", name=f"cirros.retired-{n}", created_at=f"2026-0{n}", **{RETIRED_KEY: "cirros"})
               for n in (1, 2, 3)]
    plan = plan_present([image(), *retired], desired(), DIFFERENT, "replace", 2)
    assert [(a["action"], a.get("image_id")) for a in plan.actions] == [
        ("create", None), ("retire", "i1"), ("delete_old_version", "r2"), ("delete_old_version", "r1")]
    plan = plan_present([image()], desired(), DIFFERENT, "replace", 0)
    assert [a["action"] for a in plan.actions] == ["create", "retire", "delete_old_version"]


def test_leftovers_are_cleaned_and_not_taken_for_the_image():
    leftover = image("l1", status="saving", **{PENDING_KEY: "true"})
    plan = plan_present([leftover], desired(), None, "fail", 1)
    assert [a["action"] for a in plan.actions] == ["delete_leftover", "create"]


def test_ambiguous_name_lists_the_ids_unless_id_given():
    images = [image("i1"), image("i2")]
    with pytest.raises(InvalidInputError, match=r"2 images are named 'cirros' \(i1, i2\); give id"):
        plan_present(images, desired(), SAME, "fail", 1)
    assert plan_present(images, desired(image_id="i2"), SAME, "fail", 1).image["id"] == "i2"


def test_no_content_and_no_image_is_an_error():
    with pytest.raises(InvalidInputError, match="neither filename nor url"):
        plan_present([], desired(has_content=False), None, "fail", 1)


def test_absent_per_store_refuses_the_last_copy():
    plan = plan_absent([image(stores="fast,ceph")], desired(), ["ceph", "cheap"])
    assert plan.actions == [{"action": "delete_store_copy", "image_id": "i1", "store": "ceph"}]
    with pytest.raises(InvalidInputError, match="last copy"):
        plan_absent([image(stores="fast,ceph")], desired(), ["fast", "ceph"])
    assert [a["action"] for a in plan_absent([image()], desired(), None).actions] == ["delete"]
    assert plan_absent([], desired(), None).actions == []


def test_metadata_patch_publishes_and_escapes_property_names():
    current = image(visibility="private", os_hidden=True, **{PENDING_KEY: "true"})
    operations = metadata_patch(current, desired(properties={"a/b": "1"}), publish=True)
    assert operations == [
        {"op": "replace", "path": "/visibility", "value": "public"},
        {"op": "add", "path": "/a~1b", "value": "1"},
        {"op": "replace", "path": "/os_hidden", "value": False},
        {"op": "remove", "path": f"/{PENDING_KEY}"},
    ]


LISTED = [{"id": "fast"}, {"id": "ceph"}, {"id": "web", "read-only": "true"}]


def test_target_stores():
    assert target_stores(LISTED, None, True, True) == ["fast", "ceph"]
    assert target_stores(LISTED, ["ceph"], False, True) == ["ceph"]
    with pytest.raises(InvalidInputError, match="^stores: unknown store nope; this cloud has fast, ceph, web$"):
        target_stores(LISTED, ["nope"], False, True)
    with pytest.raises(InvalidInputError, match="^stores: web is read-only"):
        target_stores(LISTED, ["web"], False, True)
    assert target_stores(LISTED, ["web"], False, False) == ["web"]  # absent may name it


def test_upload_method():
    both = ["glance-direct", "web-download"]
    assert upload_method(both, False, "auto", 3) == "glance-direct"
    assert upload_method(both, False, "auto", 1) == "direct"
    assert upload_method(["web-download"], False, "auto", 3) == "direct"
    assert upload_method(both, False, "direct", 3) == "direct"
    assert upload_method(both, True, "auto", 2) == "web-download"
    with pytest.raises(InvalidInputError, match="^url: this cloud does not enable the web-download"):
        upload_method(["glance-direct"], True, "auto", 1)
    with pytest.raises(InvalidInputError, match="^upload_method: this cloud does not enable glance-direct"):
        upload_method(["web-download"], False, "glance-direct", 1)


def test_predicted_image_applies_copy_metadata_and_store_removal():
    current = image(stores="fast", tags=["old"], visibility="private")
    plan = plan_present([current], desired(stores=["fast", "ceph"], tags=["new"]), SAME, "fail", 1)
    after = predicted_image(plan, desired())
    assert after["stores"] == "fast,ceph" and after["tags"] == ["new"] and after["visibility"] == "public"
    assert current["stores"] == "fast"  # the plan's image is not modified
    removal = plan_absent([image(stores="fast,ceph")], desired(), ["ceph"])
    assert predicted_image(removal, desired())["stores"] == "fast"
    assert predicted_image(plan_absent([image()], desired(), None), desired()) is None
    created = predicted_image(plan_present([], desired(stores=["fast", "cheap"]), None, "fail", 1), desired(stores=["fast", "cheap"]))
    assert created["stores"] == "fast,cheap" and created["visibility"] == "public" and created["os_hidden"] is False
