from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image import plan as _image_plan
from ansible_collections.storeops.openstack.plugins.module_utils._image import steps
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    CATALOGUE_KEY,
    RETIRED_AT_KEY,
    Lifecycle,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import (
    DIFFERENT,
    LEASE_FOR_KEY,
    LEASE_OF_KEY,
    PENDING_KEY,
    REPLACES_KEY,
    RETIRED_KEY,
    SAME,
    UNKNOWN,
    choose_image,
    identify,
    lease_live,
    lease_marker,
    lease_run,
    metadata_patch,
    plan_absent,
    predicted_image,
    rival,
    target_stores,
    upload_method,
)

SHA = "a" * 64
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
LONG_AGO = "2026-12-01T11:00:00Z"


def desired(**overrides):
    values = dict(name="cirros", owner="p1", image_id=None, has_content=True, stores=["fast"],
                  fields={"visibility": "public", "min_disk": None, "min_ram": None, "protected": None},
                  tags=None, properties={}, disk_format="raw", container_format="bare")
    values.update(overrides)
    return steps.Desired(**values)


def image(image_id="i1", **attrs):
    return {"id": image_id, "name": "cirros", "owner": "p1", "status": "active", "stores": "fast",
            "visibility": "public", "tags": [], "created_at": LONG_AGO, "updated_at": LONG_AGO, **attrs}


def plan_present(images, wanted, relation, on_content_change, keep_versions, now=NOW, leases=(), **policy):
    return _image_plan.plan_present(images, wanted, relation, on_content_change,
                                    Lifecycle(keep_versions=keep_versions, **policy), now, leases)


SHA512 = {"os_hash_algo": "sha512", "os_hash_value": "c" * 128}


@pytest.mark.parametrize("attrs, hashes, relation, decided_by", [
    ({"owner_specified.openstack.sha256": SHA}, {"sha256": SHA}, SAME, "owner_specified.openstack.sha256"),
    ({"owner_specified.shade.sha256": SHA}, {"sha256": "b" * 64}, DIFFERENT, "owner_specified.shade.sha256"),
    (SHA512, {"sha512": "c" * 128}, SAME, "os_hash_value"),
    (SHA512, {"sha256": SHA}, UNKNOWN, None),
    ({"checksum": "d" * 32}, {"md5": "d" * 32}, SAME, "checksum"),
    # a forged sha256 property loses to Glance's own hash whenever the run knows the sha512
    ({**SHA512, "owner_specified.openstack.sha256": SHA}, {"sha256": SHA, "sha512": "e" * 128},
     DIFFERENT, "os_hash_value"),
    ({**SHA512, "owner_specified.openstack.sha256": SHA}, {"sha512": "c" * 128}, SAME, "os_hash_value"),
    # with only a sha256 known, the property decides
    ({**SHA512, "owner_specified.openstack.sha256": SHA}, {"sha256": SHA}, SAME,
     "owner_specified.openstack.sha256"),
])
def test_identify(attrs, hashes, relation, decided_by):
    assert identify(image(**attrs), hashes) == (relation, decided_by)


def test_new_image_is_created():
    plan = plan_present([], desired(), None, "fail", 1)
    assert plan.steps == (steps.Create(("fast",)),) and plan.image is None


def test_same_content_fills_missing_stores_and_patches_metadata_once():
    plan = plan_present([image(stores="fast")], desired(stores=["fast", "ceph"], tags=["x"]), SAME, "fail", 1)
    assert plan.steps == (steps.Copy("i1", ("ceph",)),
                          steps.UpdateMetadata("i1", ({"op": "replace", "path": "/tags", "value": ["x"]},)))


def test_everything_matching_is_no_action():
    assert plan_present([image()], desired(), SAME, "fail", 1).steps == ()


def test_different_content_fails_by_default_naming_the_option():
    with pytest.raises(InvalidInputError, match="on_content_change: replace"):
        plan_present([image()], desired(), DIFFERENT, "fail", 1)


def test_replace_retires_and_keeps_versions():
    retired = [image(f"r{n}", name=f"cirros.retired-{n}", created_at=f"2026-0{n}", **{RETIRED_KEY: "cirros"})
               for n in (1, 2, 3)]
    plan = plan_present([image(), *retired], desired(), DIFFERENT, "replace", 2)
    assert plan.steps == (steps.Create(("fast",), replaces="i1"), steps.Retire("i1"),
                          steps.DeleteOldVersion("r2"), steps.DeleteOldVersion("r1"))
    plan = plan_present([image()], desired(), DIFFERENT, "replace", 0)
    assert plan.steps == (steps.Create(("fast",), replaces="i1"), steps.Retire("i1"),
                          steps.DeleteOldVersion("i1"))


def test_expired_leftovers_are_cleaned_and_not_taken_for_the_image():
    legacy = image("l1", status="saving", **{PENDING_KEY: "true"})
    expired = image("l2", status="queued", **{PENDING_KEY: lease_marker("r2", 60, NOW - timedelta(seconds=61))})
    plan = plan_present([legacy, expired], desired(), None, "fail", 1)
    assert plan.steps == (steps.DeleteLeftover("l1", "saving"), steps.DeleteLeftover("l2", "queued"),
                          steps.Create(("fast",)))


def test_a_live_lease_makes_the_plan_a_wait():
    live = image("l1", status="saving", **{PENDING_KEY: lease_marker("run-a", 60, NOW)})
    plan = plan_present([live, image("i1")], desired(), DIFFERENT, "replace", 1)
    assert plan.steps == (steps.Wait("l1", "run-a"),)


def test_lease_live_by_marker_or_by_recent_change():
    marker = lease_marker("run-a", 30, NOW)
    assert lease_run(image(**{PENDING_KEY: marker})) == "run-a"
    assert lease_live(image(**{PENDING_KEY: marker}), NOW + timedelta(seconds=29))
    assert not lease_live(image(**{PENDING_KEY: marker}), NOW + timedelta(seconds=31))
    # Glance's upload put back an old marker when it saved: the change itself keeps it live
    old = lease_marker("run-a", 30, NOW - timedelta(seconds=300))
    assert lease_live(image(updated_at="2026-12-01T12:00:10Z", **{PENDING_KEY: old}),
                      NOW + timedelta(seconds=39))
    assert not lease_live(image(updated_at="2026-12-01T12:00:10Z", **{PENDING_KEY: old}),
                          NOW + timedelta(seconds=41))
    # a marker of an older version ("true") lives for the default lease after its last change
    assert lease_live(image(updated_at="2026-12-01T11:59:30Z", **{PENDING_KEY: "true"}), NOW)
    assert not lease_live(image(**{PENDING_KEY: "true"}), NOW)


def pending(image_id, created_at, marker_time=NOW, **attrs):
    return image(image_id, status="queued", created_at=created_at,
                 **{PENDING_KEY: lease_marker(f"run-{image_id}", 60, marker_time)}, **attrs)


def test_rival_the_oldest_live_pending_image_wins_then_the_lowest_id():
    a, b = pending("b-id", "2026-12-01T12:00:00Z"), pending("a-id", "2026-12-01T12:00:01Z")
    assert rival([a, b], desired(), "a-id", None, NOW)["id"] == "b-id"
    assert rival([a, b], desired(), "b-id", None, NOW) is None
    same_second = [pending("x2", "2026-12-01T12:00:00Z"), pending("x1", "2026-12-01T12:00:00Z")]
    assert rival(same_second, desired(), "x2", None, NOW)["id"] == "x1"
    assert rival(same_second, desired(), "x1", None, NOW) is None
    assert rival([pending("x1", "2026-12-01T12:00:00Z")], desired(), "x1", None, NOW) is None


def test_rival_an_expired_or_foreign_pending_image_does_not_count_a_published_one_wins():
    expired = pending("old", "2026-12-01T10:00:00Z", marker_time=NOW - timedelta(hours=1))
    foreign = pending("f1", "2026-12-01T10:00:00Z", owner="p2")
    mine = pending("m1", "2026-12-01T12:00:00Z")
    assert rival([expired, foreign, mine], desired(), "m1", None, NOW) is None
    finished = image("done", created_at="2026-12-01T12:00:05Z")
    assert rival([finished, mine], desired(), "m1", None, NOW)["id"] == "done"
    # the image this run replaces, and the retired ones, are no rivals
    retired = image("r1", name="cirros.retired-1", **{RETIRED_KEY: "cirros"})
    assert rival([finished, retired, mine], desired(), "m1", "done", NOW) is None


def test_other_projects_images_are_never_chosen_changed_or_deleted():
    foreign = [image("f1", owner="p2"), image("f2", owner="p2", **{PENDING_KEY: "true"}),
               image("f3", owner="p2", name="cirros.retired-1", **{RETIRED_KEY: "cirros"})]
    plan = plan_present(foreign, desired(), None, "replace", 0)
    assert plan.image is None and plan.steps == (steps.Create(("fast",)),)
    assert plan_absent(foreign, desired(), None).steps == ()
    with pytest.raises(InvalidInputError, match="^id: image f1 belongs to project p2, not p1; give owner"):
        plan_present(foreign, desired(image_id="f1"), SAME, "fail", 1)
    assert choose_image(foreign, desired(owner="p2"))["id"] == "f1"


def test_an_unfinished_replace_is_finished():
    old = image("old", created_at="2026-12-01T10:00:00Z")
    new = image("new", **{REPLACES_KEY: "old"})
    retired = image("r1", name="cirros.retired-1", created_at="2026-12-01T09:00:00Z",
                    **{RETIRED_KEY: "cirros"})
    plan = plan_present([old, new, retired], desired(), SAME, "replace", 1)
    assert plan.image["id"] == "new"
    assert plan.steps == (steps.Retire("old"), steps.DeleteOldVersion("r1"))
    # two published images without that link stay an error naming both
    with pytest.raises(InvalidInputError, match="2 images are named"):
        plan_present([old, image("other")], desired(), SAME, "fail", 1)


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
    assert plan.steps == (steps.DeleteStoreCopy("i1", "ceph"),)
    with pytest.raises(InvalidInputError, match="last copy"):
        plan_absent([image(stores="fast,ceph")], desired(), ["fast", "ceph"])
    assert plan_absent([image()], desired(), None).steps == (steps.Delete("i1"),)
    assert plan_absent([], desired(), None).steps == ()


def test_metadata_patch_publishes_and_escapes_property_names():
    current = image(visibility="private", os_hidden=True, **{PENDING_KEY: "true"})
    operations = metadata_patch(current, desired(properties={"a/b": "1"}), publish=True)
    assert operations == [
        {"op": "replace", "path": "/visibility", "value": "public"},
        {"op": "add", "path": "/a~1b", "value": "1"},
        {"op": "replace", "path": "/os_hidden", "value": False},
        {"op": "remove", "path": f"/{PENDING_KEY}"},
    ]


def test_exact_properties_remove_only_unnamed_user_properties_in_the_same_patch():
    kept = {"os_hash_algo": "sha512", "os_hash_value": "c" * 128, "os_glance_importing_to_stores": "",
            "owner_specified.openstack.sha256": SHA, "storeops.openstack.source_url": "http://x/a.img",
            "os_hidden": False, "stores": "fast", "checksum": "d" * 32, "size": 3, "min_disk": 0}
    current = image(os_distro="ubuntu", os_version="24.04", **{"hw_disk_bus": "scsi", "a/b": "1"}, **kept)
    operations = metadata_patch(current, desired(properties={"hw_disk_bus": "virtio"}, properties_exact=True),
                                publish=False)
    assert operations == [
        {"op": "replace", "path": "/hw_disk_bus", "value": "virtio"},
        {"op": "remove", "path": "/a~1b"},
        {"op": "remove", "path": "/os_distro"},
        {"op": "remove", "path": "/os_version"},
    ]
    assert metadata_patch(current, desired(properties={"hw_disk_bus": "virtio"}), publish=False) == operations[:1]
    after = steps.UpdateMetadata("i1", tuple(operations)).predict(current, desired())
    assert metadata_patch(after, desired(properties={"hw_disk_bus": "virtio"}, properties_exact=True),
                          publish=False) == []
    assert all(after[key] == value for key, value in kept.items())


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
    assert upload_method(lambda: both, False, "auto", 3) == "glance-direct"
    assert upload_method(lambda: both, False, "auto", 1) == "direct"
    assert upload_method(lambda: ["web-download"], False, "auto", 3) == "direct"
    assert upload_method(lambda: both, False, "direct", 3) == "direct"
    assert upload_method(lambda: both, True, "auto", 2) == "web-download"
    for requested, stores in (("direct", 3), ("auto", 1)):  # the methods cannot change the answer
        assert upload_method(lambda: pytest.fail("asked for the import methods"), False, requested, stores) == "direct"
    with pytest.raises(InvalidInputError, match="^url: this cloud does not enable the web-download"):
        upload_method(lambda: ["glance-direct"], True, "auto", 1)
    with pytest.raises(InvalidInputError, match="^upload_method: this cloud does not enable glance-direct"):
        upload_method(lambda: ["web-download"], False, "glance-direct", 1)


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


def lease_image(lease_id, target, marker_time, updated_at=LONG_AGO):
    return {"id": lease_id, "name": f"storeops-lease-{target}", "owner": "p1", "status": "queued",
            "updated_at": updated_at, LEASE_OF_KEY: target, LEASE_FOR_KEY: "cirros",
            PENDING_KEY: lease_marker("run-a", 60, marker_time)}


def test_the_lease_image_keeps_a_pending_image_alive_and_goes_with_its_leftover():
    stale = pending("p1-img", "2026-12-01T11:00:00Z", marker_time=NOW - timedelta(hours=1))
    renewed = [lease_image("l1", "p1-img", NOW)]
    plan = plan_present([stale], desired(), None, "fail", 1, NOW, renewed)
    assert plan.steps == (steps.Wait("p1-img", "run-p1-img"),)
    expired = [lease_image("l1", "p1-img", NOW - timedelta(hours=1))]
    plan = plan_present([stale], desired(), None, "fail", 1, NOW, expired)
    assert plan.steps == (steps.DeleteLeftover("p1-img", "queued"), steps.DeleteLeftover("l1", "lease"),
                          steps.Create(("fast",)))
    # a lease image of another project or name is neither honoured nor deleted
    foreign = [dict(lease_image("l2", "p1-img", NOW), owner="p2"),
               dict(lease_image("l3", "p1-img", NOW), **{LEASE_FOR_KEY: "other"})]
    plan = plan_present([stale], desired(), None, "fail", 1, NOW, foreign)
    assert plan.steps == (steps.DeleteLeftover("p1-img", "queued"), steps.Create(("fast",)))
    assert rival([stale, pending("m1", "2026-12-01T12:00:00Z")], desired(), "m1", None, NOW, renewed)["id"] == "p1-img"


def test_an_expired_lease_whose_image_is_gone_is_deleted_a_live_one_kept():
    assert plan_present(
        [image()], desired(), SAME, "fail", 1, NOW,
        [lease_image("old", "gone", NOW - timedelta(hours=1)), lease_image("new", "i1", NOW)]).steps == (
        steps.DeleteLeftover("old", "lease"),)


def test_retire_policy_names_the_retire_and_delete_keeps_none():
    plan = plan_present([image()], desired(), DIFFERENT, "replace", 3, retire="community")
    assert plan.steps == (steps.Create(("fast",), replaces="i1"), steps.Retire("i1", "community"))
    plan = plan_present([image()], desired(), DIFFERENT, "replace", 3, retire="delete")
    assert plan.steps[-1] == steps.DeleteOldVersion("i1")


def test_delete_after_days_deletes_aged_versions_on_any_run_but_never_protected_ones():
    aged = [image("r1", name="cirros.retired-1", **{RETIRED_KEY: "cirros", RETIRED_AT_KEY: "2026-11-01T00:00:00Z"}),
            image("r2", name="cirros.retired-2", protected=True,
                  **{RETIRED_KEY: "cirros", RETIRED_AT_KEY: "2026-11-02T00:00:00Z"}),
            image("r3", name="cirros.retired-3", **{RETIRED_KEY: "cirros", RETIRED_AT_KEY: "2026-11-30T00:00:00Z"}),
            image("r4", name="cirros.retired-4", **{RETIRED_KEY: "cirros"})]  # age unknown
    plan = plan_present([image(), *aged], desired(), SAME, "fail", 5, delete_after_days=7)
    assert plan.steps == (steps.DeleteOldVersion("r1"), steps.KeepOldVersion("r2", "protected"))
    assert plan_present([image(), *aged], desired(), SAME, "fail", 5).steps == ()


def test_another_catalogues_images_are_refused_and_never_deleted():
    theirs = image(**{CATALOGUE_KEY: "b"})
    with pytest.raises(InvalidInputError, match="belongs to catalogue 'b', not 'a'"):
        plan_present([theirs], desired(catalogue="a"), SAME, "fail", 1)
    retired = image("r1", name="cirros.retired-1", **{RETIRED_KEY: "cirros", CATALOGUE_KEY: "b"})
    plan = plan_present([image(), retired], desired(catalogue="a"), DIFFERENT, "replace", 0)
    assert steps.DeleteOldVersion("r1") not in plan.steps and steps.DeleteOldVersion("i1") in plan.steps


@pytest.mark.parametrize("state", ["present", "absent"])
def test_another_catalogues_image_given_by_id_is_refused(state):
    theirs = image("t1", name="their-name", **{CATALOGUE_KEY: "b"})
    wanted = desired(catalogue="a", image_id="t1")
    with pytest.raises(InvalidInputError, match="belongs to catalogue 'b', not 'a'"):
        if state == "present":
            plan_present([theirs], wanted, SAME, "fail", 1)
        else:
            plan_absent([theirs], wanted, None)
