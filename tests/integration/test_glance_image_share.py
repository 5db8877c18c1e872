"""glance_image against the local cloud: members, upstream checksums, exact properties, inactive,
kernel and ramdisk, and the catalogue entries that pass them."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import uuid
from functools import partial

import openstack
import pytest

from glance_helpers import image_task

RESERVED = ("os_hash_algo", "os_hash_value", "owner_specified.openstack.sha256", "stores", "os_hidden")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A loopback HTTP server (a thread of this process) over a folder the tests write into."""
    folder = tmp_path_factory.mktemp("web")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def ensure(run_playbook):
    name = f"gis-{uuid.uuid4().hex[:8]}"
    run = image_task(run_playbook, name)
    run.image_name = name
    return run


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.img"
    path.write_bytes(os.urandom(65_536))
    return path


def digest(data: bytes, algo: str) -> str:
    return hashlib.new(algo, data).hexdigest()


def test_exact_properties_remove_unnamed_user_properties_only(ensure, admin_images, tiny):
    made = ensure(filename=tiny, stores=["fast"], properties={
        "os_distro": "cirros", "os_version": "0.6", "hw_disk_bus": "scsi", "site": "a"})
    assert made["changed"] is True, made
    image_id = made["image"]["id"]
    before = admin_images.get(f"/images/{image_id}").json()
    merged = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"})
    assert merged["changed"] is True
    assert admin_images.get(f"/images/{image_id}").json()["os_distro"] == "cirros"
    preview = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                     properties_state="exact", check=True)
    assert preview["changed"] is True and preview["diff"]["after"]["properties"] == {"hw_disk_bus": "virtio"}
    assert admin_images.get(f"/images/{image_id}").json()["os_version"] == "0.6"
    exact = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                   properties_state="exact")
    assert [a["action"] for a in exact["actions"]] == ["update_metadata"], exact["actions"]
    after = admin_images.get(f"/images/{image_id}").json()
    assert "os_distro" not in after and "os_version" not in after and "site" not in after
    assert after["hw_disk_bus"] == "virtio"
    assert {k: after[k] for k in RESERVED} == {k: before[k] for k in RESERVED}
    again = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                   properties_state="exact")
    assert again["changed"] is False, again["actions"]
    admin_images.delete(f"/images/{image_id}")


def test_checksums_file_verifies_a_filename_upload_and_a_wrong_line_leaves_nothing(ensure, admin_images, web,
                                                                                   tiny):
    folder, base = web
    data = tiny.read_bytes()
    (folder / "SUMS-ok").write_text(f"SHA256 (other.img) = {'0' * 64}\n"
                                    f"{digest(data, 'sha256')} *{tiny.name}\n")
    (folder / "SUMS-bad").write_text(f"{'0' * 64}  {tiny.name}\n")
    wrong = ensure(filename=tiny, stores=["fast"], checksum=f"sha256:{base}/SUMS-bad")
    assert wrong["failed"] is True and f"checksum: the file's sha256 is {digest(data, 'sha256')}" in wrong["msg"]
    assert admin_images.get("/images", params={"name": ensure.image_name}).json()["images"] == []
    made = ensure(filename=tiny, stores=["fast"], checksum=f"sha256:{base}/SUMS-ok")
    assert made["changed"] is True and made["identity"] == "sha256:" + digest(data, "sha256"), made
    image = admin_images.get(f"/images/{made['image']['id']}").json()
    assert image["os_hash_value"] == digest(data, "sha512") and image["status"] == "active"
    again = ensure(filename=tiny, stores=["fast"], checksum=f"sha256:{base}/SUMS-ok")
    assert again["changed"] is False and again["identified_by"] == "owner_specified.openstack.sha256"
    admin_images.delete(f"/images/{image['id']}")


def test_a_new_upstream_checksum_of_a_latest_url_is_a_new_version(ensure, admin_images, web):
    """Glance fetches ``latest.img`` from loopback; upstream then publishes new bytes and a new
    SHA512SUMS under the same names, listed as ``checksum_name`` says."""
    folder, base = web
    options = {"url": f"{base}/latest.img", "stores": ["fast"], "checksum": f"sha512:{base}/SHA512SUMS",
               "checksum_name": "distro-latest.img", "on_content_change": "replace", "keep_versions": 0}
    versions = [os.urandom(65_536), os.urandom(65_536)]
    ids = []
    for data in versions:
        (folder / "latest.img").write_bytes(data)
        (folder / "SHA512SUMS").write_text(f"{digest(data, 'sha512')}  distro-latest.img\n")
        made = ensure(**options)
        assert made["changed"] is True and made["verified_by"] == "os_hash_value", made
        assert made["identity"] == "sha512:" + digest(data, "sha512")
        assert ensure(**options)["changed"] is False
        ids.append(made["image"]["id"])
    assert [a["action"] for a in made["actions"]] == ["create", "retire", "delete_old_version"]
    current = admin_images.get("/images", params={"name": ensure.image_name}).json()["images"]
    assert [i["id"] for i in current] == [ids[1]] and current[0]["os_hash_value"] == digest(versions[1], "sha512")
    admin_images.delete(f"/images/{ids[1]}")


def test_members_are_shared_accepted_by_the_consumer_then_removed_exactly(ensure, admin_images, cloud, tiny):
    member = openstack.connect(cloud=cloud["member_cloud"])
    member_project = member.current_project_id
    options = {"filename": tiny, "stores": ["fast"], "visibility": "shared"}
    private = ensure(**{**options, "visibility": "private"}, members=[member_project])
    assert private["failed"] is True and private["msg"].startswith("members: Glance keeps members only on shared")
    made = ensure(**options, members=["storeops-member"], accept_as=cloud["member_cloud"])
    assert made["changed"] is True and not made.get("failed"), made
    image_id = made["image"]["id"]
    assert [a["action"] for a in made["actions"]] == ["create", "update_members"]
    assert made["diff"]["after"]["members"] == {member_project: "accepted"}
    members = admin_images.get(f"/images/{image_id}/members").json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [(member_project, "accepted")]
    assert image_id in [i["id"] for i in member.image.get("/images", params={"name": ensure.image_name}).json()["images"]]
    assert ensure(**options, members=[member_project], accept_as=cloud["member_cloud"])["changed"] is False
    preview = ensure(**options, members=[], members_state="exact", check=True)
    assert preview["changed"] is True and preview["diff"]["after"]["members"] == {}
    assert len(admin_images.get(f"/images/{image_id}/members").json()["members"]) == 1
    removed = ensure(**options, members=[], members_state="exact")
    assert removed["actions"] == [{"action": "update_members", "image_id": image_id, "add": [],
                                   "remove": [member_project], "accept": []}]
    assert admin_images.get(f"/images/{image_id}/members").json()["members"] == []
    assert ensure(**options, members=[], members_state="exact")["changed"] is False
    admin_images.delete(f"/images/{image_id}")


def test_catalogue_entries_pass_boot_sizes_hw_properties_checksum_files_and_members(
        run_playbook, admin_images, cloud, web, tiny):
    folder, base = web
    (folder / "CATALOGUE-SUMS").write_text(f"{digest(tiny.read_bytes(), 'sha256')}  upstream.img\n")
    member_project = openstack.connect(cloud=cloud["member_cloud"]).current_project_id
    entry = {"name": f"gis-cat-{uuid.uuid4().hex[:8]}", "filename": str(tiny), "stores": ["fast"],
             "checksum": f"sha256:{base}/CATALOGUE-SUMS", "checksum_name": "upstream.img",
             "min_disk": 2, "min_ram": 256, "properties": {"hw_disk_bus": "virtio"},
             "properties_state": "exact", "visibility": "shared", "members": [member_project]}
    runs = [run_playbook("role.yml", role_under_test="image_catalog", image_catalog_images=[entry])
            for _run in ("first", "again")]
    assert all(run.returncode == 0 for run in runs), runs[0].output
    first, second = (run.results["catalog"]["images"][0] for run in runs)
    assert first["changed"] is True and not first.get("failed"), first
    assert second["changed"] is False, second["actions"]
    image = admin_images.get(f"/images/{first['image']['id']}").json()
    assert (image["min_disk"], image["min_ram"], image["hw_disk_bus"]) == (2, 256, "virtio")
    assert image["owner_specified.openstack.sha256"] == digest(tiny.read_bytes(), "sha256")
    members = admin_images.get(f"/images/{image['id']}/members").json()["members"]
    assert [m["member_id"] for m in members] == [member_project]
    admin_images.delete(f"/images/{image['id']}")


def test_inactive_deactivates_and_present_reactivates(ensure, admin_images, tiny):
    made = ensure(filename=tiny, stores=["fast"], state="inactive")
    assert [a["action"] for a in made["actions"]] == ["create", "deactivate"], made
    image_id = made["image"]["id"]
    assert admin_images.get(f"/images/{image_id}").json()["status"] == "deactivated"
    assert ensure(filename=tiny, stores=["fast"], state="inactive")["changed"] is False
    copied = ensure(filename=tiny, stores=["fast", "cheap"], state="inactive")
    assert [a["action"] for a in copied["actions"]] == ["reactivate", "copy", "deactivate"], copied
    image = admin_images.get(f"/images/{image_id}").json()
    assert image["status"] == "deactivated" and sorted(image["stores"].split(",")) == ["cheap", "fast"]
    preview = ensure(filename=tiny, stores=["fast", "cheap"], check=True)
    assert preview["diff"]["before"]["deactivated"] is True and preview["diff"]["after"]["deactivated"] is False
    assert admin_images.get(f"/images/{image_id}").json()["status"] == "deactivated"
    assert ensure(filename=tiny, stores=["fast", "cheap"])["actions"] == [{"action": "reactivate",
                                                                          "image_id": image_id}]
    assert admin_images.get(f"/images/{image_id}").json()["status"] == "active"
    assert ensure(filename=tiny, stores=["fast", "cheap"])["changed"] is False
    admin_images.delete(f"/images/{image_id}")


def test_kernel_and_ramdisk_by_name_or_id_and_a_chosen_id(ensure, admin_images, tiny):
    parts = ensure(name=f"{ensure.image_name}-vmlinuz", filename=tiny, stores=["fast"])
    kernel_id = parts["image"]["id"]
    chosen = str(uuid.uuid4())
    options = {"filename": tiny, "stores": ["fast"], "image_id": chosen,
               "kernel": f"{ensure.image_name}-vmlinuz", "ramdisk": kernel_id}
    made = ensure(**options)
    assert made["changed"] is True and made["image"]["id"] == chosen, made
    image = admin_images.get(f"/images/{chosen}").json()
    assert image["kernel_id"] == kernel_id and image["ramdisk_id"] == kernel_id
    assert ensure(**options)["changed"] is False
    missing = ensure(**{**options, "kernel": "no-such-kernel-image"})
    assert missing["failed"] is True and missing["msg"].startswith("kernel: no active image 'no-such-kernel-image'")
    admin_images.delete(f"/images/{chosen}")
    admin_images.delete(f"/images/{kernel_id}")


@pytest.mark.parametrize("options, message", [
    ({"checksum": "sha256:{base}/NO-SUCH-SUMS"}, "checksum: cannot fetch the checksums file http://127.0.0.1:"),
    ({"checksum": "sha256:{base}/CATALOGUE-SUMS"}, "lists no sha256 for 'tiny.img'; give checksum_name"),
    ({"checksum": "sha256:" + "0" * 64, "checksum_name": "tiny.img"}, "checksum_name: only a checksums-file"),
    ({"visibility": "shared", "members": [], "accept_as": "{member_cloud}"}, "which is not in members"),
])
def test_bad_sharing_and_checksum_input_is_one_line_and_changes_nothing(ensure, admin_images, cloud, web,
                                                                        tiny, options, message):
    (web[0] / "CATALOGUE-SUMS").write_text(f"{'0' * 64}  upstream.img\n")
    filled = {k: v.format(base=web[1], member_cloud=cloud["member_cloud"]) if isinstance(v, str) else v
              for k, v in options.items()}
    failed = ensure(filename=tiny, stores=["fast"], **filled)
    assert failed["failed"] is True and message in failed["msg"] and "\n" not in failed["msg"], failed
    assert admin_images.get("/images", params={"name": ensure.image_name}).json()["images"] == []
