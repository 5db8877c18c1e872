"""glance_image's lifecycle policy, file format checks and a catalogue's garbage collection, on the local cloud."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import rados
import rbd

from glance_helpers import image_task
from image_files import write_qcow2
from request_counter import RequestCounter
from test_glance_image import glance, images_named  # noqa: F401  pylint: disable=unused-import


@pytest.fixture
def name():
    return f"lc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sources(tmp_path):
    made = []
    for index in range(3):
        path = tmp_path / f"v{index}.img"
        path.write_bytes(os.urandom(64 * 1024))
        made.append(str(path))
    return made


@pytest.fixture
def ensure(run_playbook, name):
    return image_task(run_playbook, name)


@pytest.fixture
def cleanup(glance, name):
    """Deletes every image the test made: named ``name``..., retired versions (renamed) included."""
    yield
    for hidden in (False, True):
        for image in list(glance.images(is_hidden=hidden)):
            if (image.name or "").startswith(name):
                glance.delete_image(image.id, ignore_missing=True)


@pytest.fixture
def catalogue(run_playbook):
    """glance_image_catalog run through playbooks/catalog.yml; returns its registered result."""
    def run(images, **options):
        return run_playbook("catalog.yml", images=images, defaults={"disk_format": "raw"}, **options).results["result"]
    return run


def actions(result):
    return [action["action"] for action in result["actions"]]


@pytest.mark.parametrize("policy, check", [
    ("community", lambda image: image["visibility"] == "community" and not image["os_hidden"]),
    ("deactivate", lambda image: image["status"] == "deactivated" and image["os_hidden"]),
])
def test_retire_policy_retires_the_replaced_version_its_way(ensure, glance, sources, name, policy, check):
    old = ensure(filename=sources[0])["image"]["id"]
    result = ensure(filename=sources[1], on_content_change="replace", retire=policy)
    assert actions(result) == ["create", "retire"] and result["actions"][1]["policy"] == policy
    retired = glance.get(f"/images/{old}").json()
    assert check(retired), retired
    assert retired["storeops.openstack.retired_from"] == name and retired["storeops.openstack.retired_at"]
    again = ensure(filename=sources[1], on_content_change="replace", retire=policy)
    assert again["changed"] is False and actions(again) == []


def test_delete_keeps_a_version_whose_rbd_snapshot_has_clones_until_they_are_gone(
        ensure, glance, cloud, sources):
    access = {"ceph_conf": cloud["ceph"]["conf"], "ceph_user": "admin"}
    old = ensure(filename=sources[0], stores=["fast", "ceph"])["image"]["id"]
    clone = f"lc-clone-{uuid.uuid4().hex[:8]}"
    with rados.Rados(conffile=access["ceph_conf"], rados_id="admin") as cluster, \
            cluster.open_ioctx(cloud["ceph"]["rbd_pool"]) as ioctx:
        rbd.RBD().clone(ioctx, old, "snap", ioctx, clone)
        try:
            result = ensure(filename=sources[1], stores=["fast", "ceph"], on_content_change="replace",
                            retire="delete", ceph_access=access)
            assert actions(result) == ["create", "retire", "keep_old_version"], result["actions"]
            assert clone in result["actions"][2]["reason"]
            kept = glance.get(f"/images/{old}").json()
            assert kept["status"] == "active" and sorted(kept["stores"].split(",")) == ["ceph", "fast"]
        finally:
            rbd.RBD().remove(ioctx, clone)
    result = ensure(filename=sources[1], stores=["fast", "ceph"], delete_after_days=0, ceph_access=access)
    assert actions(result) == ["delete_old_version"]
    assert glance.get(f"/images/{old}").status_code == 404


def test_catalogue_collects_only_its_own_images_check_mode_first(run_playbook, ensure, glance, sources, name, cleanup):
    catalogue, other = f"cat-{name}", f"other-{name}"
    entries = [{"name": f"{name}-keep", "filename": sources[0]}, {"name": f"{name}-drop", "filename": sources[1]}]
    run = {"role_under_test": "image_catalog", "image_catalog_name": catalogue, "image_catalog_exclusive": True}
    assert run_playbook("role.yml", **run, image_catalog_images=entries).returncode == 0
    theirs = ensure(name=f"{name}-drop", filename=sources[2], catalogue_name=other)  # same name, another catalogue
    assert theirs["failed"] and "belongs to catalogue" in theirs["msg"]
    foreign = ensure(name=f"{name}-theirs", filename=sources[2], catalogue_name=other)["image"]["id"]
    dropped = glance.get("/images", params={"name": f"{name}-drop"}).json()["images"][0]["id"]

    planned = run_playbook("role.yml", **run, image_catalog_images=entries[:1], entry_point="plan")
    assert planned.returncode == 0, planned.output
    assert planned.results["catalog_plan"]["gc"]["retired"] == [dropped] and planned.results["catalog_plan"]["gc"]["changed"]
    assert glance.get(f"/images/{dropped}").json()["name"] == f"{name}-drop"

    done = run_playbook("role.yml", **run, image_catalog_images=entries[:1])
    assert done.returncode == 0, done.output
    assert done.results["catalog"]["gc"]["retired"] == [dropped]
    retired = glance.get(f"/images/{dropped}").json()
    assert retired["os_hidden"] and retired["storeops.openstack.retired_from"] == f"{name}-drop"
    assert glance.get(f"/images/{foreign}").json()["name"] == f"{name}-theirs"
    again = run_playbook("role.yml", **run, image_catalog_images=entries[:1])
    assert again.results["catalog"]["gc"] == {**again.results["catalog"]["gc"], "changed": False, "retired": []}


def test_an_exclusive_catalogue_with_no_images_is_refused(run_playbook, name):
    refused = run_playbook("role.yml", role_under_test="image_catalog", image_catalog_name=f"cat-{name}",
                           image_catalog_exclusive=True, image_catalog_images=[])
    assert refused.returncode != 0 and "image_catalog_images is empty" in refused.output


@pytest.mark.parametrize("exclusive", [False, True])  # the garbage collection plans from the same listing
def test_a_catalogue_rerun_changes_nothing_with_at_most_two_glance_requests_per_image(
        run_playbook, playbook_command, cloud, sources, name, tmp_path, cleanup, exclusive):
    entries = [{"name": f"{name}-{index}", "filename": path, "stores": ["fast"]}
               for index, path in enumerate(sources)]
    run = {"role_under_test": "image_catalog", "image_catalog_name": f"cat-{name}", "image_catalog_images": entries,
           "image_catalog_exclusive": exclusive}
    first = run_playbook("role.yml", **run)
    assert first.returncode == 0, first.output
    assert first.results["catalog"]["changed"] == 3 and first.results["catalog"]["failed"] == 0, first.results
    out = tmp_path / "again.json"
    argv, env = playbook_command("role.yml", out=str(out), **run)
    with RequestCounter() as counter:
        proc = subprocess.run(argv, env={**env, **counter.env}, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = json.loads(out.read_text())["catalog"]
    assert [(image["name"], image["changed"], image["failed"]) for image in again["images"]] == [
        (entry["name"], False, False) for entry in entries]
    assert again["gc"] == ({"retired": [], "changed": False, "actions": []} if exclusive else None)
    glance = counter.by_path(cloud["glance"]["url"])
    assert 0 < sum(glance.values()) <= 2 * len(entries), glance
    tokens = [url for method, url in counter.to(cloud["keystone"]["url"]) if method == "POST"]
    assert len(tokens) == 1, tokens  # one module process, one connection, for the whole catalogue


@pytest.mark.parametrize("entry_point", ["main", "ensure"])  # the role's validate filter; the module itself
def test_a_catalogue_with_a_bad_entry_is_refused_whole_naming_it_and_nothing_is_created(
        run_playbook, glance, sources, name, entry_point):
    secret = "s3cret-" + name
    entries = [{"name": f"{name}-good", "filename": sources[0]},
               {"name": f"{name}-bad", "url": f"https://mirror:{secret}@127.0.0.1:9/x.img", "disk_format": "qcow"}]
    done = run_playbook("role.yml", role_under_test="image_catalog", entry_point=entry_point,
                        image_catalog_images=entries)
    expected = f"images[1] ({name}-bad): value of disk_format must be one of"
    # main stops at validate; ensure.yml's module run fails (the role records it and goes on)
    assert (done.returncode != 0) == (entry_point == "main") and expected in done.output, done.output
    assert secret not in done.output and secret not in json.dumps(done.results)
    assert images_named(glance, f"{name}-good") == []


def test_a_catalogue_that_cannot_connect_fails_every_entry_with_the_reason(run_playbook, sources, name):
    entries = [{"name": f"{name}-{index}", "filename": path} for index, path in enumerate(sources[:2])]
    done = run_playbook("role.yml", role_under_test="image_catalog", image_catalog_cloud="no-such-cloud",
                        image_catalog_images=entries)
    assert done.returncode == 0, done.output  # the role records failures; the playbook decides
    catalog = done.results["catalog"]
    assert catalog["failed"] == 2 and catalog["changed"] == 0
    assert [image["name"] for image in catalog["images"]] == [entry["name"] for entry in entries]
    assert all(image["failed"] and "no-such-cloud" in image["msg"] for image in catalog["images"]), catalog


def test_a_qcow2_with_a_backing_file_is_refused_before_any_byte_is_sent(ensure, glance, tmp_path, name):
    path = tmp_path / "backed.qcow2"
    write_qcow2(path, backing_file=b"/etc/passwd")
    result = ensure(filename=str(path), disk_format="qcow2")
    assert result["failed"] and "unsafe qcow2 image (Image has a backing file)" in result["msg"]
    assert "\n" not in result["msg"]
    for hidden in ("false", "true"):
        assert glance.get("/images", params={"name": name, "os_hidden": hidden}).json()["images"] == []


def test_detect_fills_the_format_and_glance_agrees_on_the_virtual_size(ensure, glance, tmp_path):
    path = tmp_path / "small.qcow2"
    write_qcow2(path, virtual_size=64 << 20)
    result = ensure(filename=str(path), disk_format="detect")
    assert result["inspection"] == {"inspected_by": "oslo.utils format inspector", "disk_format": "qcow2",
                                    "virtual_size": 64 << 20}
    stored = glance.get(f"/images/{result['image']['id']}").json()
    assert stored["disk_format"] == "qcow2" and stored["virtual_size"] == 64 << 20
    assert ensure(filename=str(path), disk_format="detect")["changed"] is False


def test_the_catalogue_module_collects_what_it_no_longer_lists_check_mode_first_from_its_one_listing(
        catalogue, ensure, glance, sources, name, cleanup):
    mine, other = f"cat-{name}", f"other-{name}"
    entries = [{"name": f"{name}-keep", "filename": sources[0]}, {"name": f"{name}-drop", "filename": sources[1]}]
    first = catalogue(entries, catalogue_name=mine)
    assert not first["failed"] and first["changed"] and "gc" not in first, first
    foreign = ensure(name=f"{name}-theirs", filename=sources[2], catalogue_name=other)["image"]["id"]
    unmarked = ensure(name=f"{name}-unmarked", filename=sources[2])["image"]["id"]
    kept, dropped = (image["image"]["id"] for image in first["images"])
    exclusive = {"catalogue_name": mine, "catalogue_exclusive": True, "catalogue_retire": "delete"}

    planned = catalogue(entries[:1], check=True, **exclusive)
    assert not planned["failed"] and planned["changed"], planned
    assert planned["gc"] == {"changed": True, "retired": [dropped], "failures": [], "actions": [
        {"name": f"{name}-drop", "action": "retire", "image_id": dropped, "policy": "delete"},
        {"name": f"{name}-drop", "action": "delete_old_version", "image_id": dropped}]}
    (diff,) = planned["diff"]
    assert diff["before_header"] == f"{name}-drop ({dropped})" and diff["after"] == {}, diff
    assert diff["before"]["name"] == f"{name}-drop" and diff["before"]["status"] == "active", diff
    assert glance.get(f"/images/{dropped}").json()["status"] == "active"

    done = catalogue(entries[:1], **exclusive)
    assert not done["failed"] and done["gc"]["retired"] == [dropped] and done["gc"]["actions"] == planned["gc"]["actions"]
    assert glance.get(f"/images/{dropped}").status_code == 404
    for untouched, its_name in ((kept, "keep"), (foreign, "theirs"), (unmarked, "unmarked")):
        assert glance.get(f"/images/{untouched}").json()["name"] == f"{name}-{its_name}"
    again = catalogue(entries[:1], **exclusive)
    assert again["changed"] is False and again["gc"] == {"changed": False, "retired": [], "failures": [], "actions": []}


def test_the_catalogue_module_refuses_an_exclusive_run_without_a_name_or_images(catalogue, glance, sources, name):
    entries = [{"name": f"{name}-a", "filename": sources[0]}]
    unnamed = catalogue(entries, catalogue_exclusive=True)
    assert unnamed["failed"] and "catalogue_name" in unnamed["msg"], unnamed
    empty = catalogue([], catalogue_name=f"cat-{name}", catalogue_exclusive=True)
    assert empty["failed"] and empty["msg"].startswith("images: empty with catalogue_exclusive"), empty
    assert images_named(glance, f"{name}-a") == []


@pytest.mark.parametrize("entry_point", ["main", "ensure"])  # the role's validate filter; the module itself
def test_two_entries_of_one_name_and_owner_are_refused_naming_both_and_nothing_is_created(
        run_playbook, glance, sources, name, entry_point):
    entries = [{"name": f"{name}-a", "filename": sources[0]}, {"name": f"{name}-b", "filename": sources[1]},
               {"name": f"{name}-a", "filename": sources[2]}]
    done = run_playbook("role.yml", role_under_test="image_catalog", entry_point=entry_point,
                        image_catalog_images=entries)
    expected = (f"images[2] ({name}-a): same name and owner (the run's project) as images[0]; "
                "two entries would manage one image, remove or rename one")
    assert (done.returncode != 0) == (entry_point == "main") and expected in done.output, done.output
    assert images_named(glance, f"{name}-a") == [] and images_named(glance, f"{name}-b") == []
