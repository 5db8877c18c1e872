"""glance_image against the local cloud: uploads, stores, content changes, absent, bad input."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
import uuid

import openstack
import pytest

from conftest import REPO

ALL_STORES = ["fast", "cheap", "swift", "ceph"]


@pytest.fixture(scope="module")
def glance(cloud):
    return openstack.connect(cloud=cloud["admin_cloud"]).image


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    first, second = folder / "first.img", folder / "second.img"
    first.write_bytes(os.urandom(9_000_000))     # over the swift store's segment size
    second.write_bytes(os.urandom(3_000_000))
    return first, second


@pytest.fixture(scope="module")
def name():
    return f"gi-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def ensure(run_playbook, name):
    def run(**options):
        options.setdefault("name", name)
        outcome = run_playbook("image.yml", **{k: str(v) if hasattr(v, "__fspath__") else v
                                               for k, v in options.items()})
        assert outcome.returncode == 0, outcome.output
        return outcome.results["result"]
    return run


def images_named(glance, name):
    found = []
    for hidden in ("false", "true"):
        found += glance.get("/images", params={"name": name, "os_hidden": hidden}).json()["images"]
    return found


def sha(path, algo):
    return hashlib.new(algo, path.read_bytes()).hexdigest()


def test_upload_to_one_store_verified_and_published(ensure, glance, files, name):
    first = files[0]
    result = ensure(filename=first, stores=["fast"], visibility="public", tags=["demo"],
                    properties={"os_distro": "cirros"})
    assert result["changed"] is True and result["store_outcomes"] == {"fast": "uploaded"}
    image = glance.get(f"/images/{result['image']['id']}").json()
    assert image["status"] == "active" and image["stores"] == "fast"
    assert image["visibility"] == "public" and image["os_hidden"] is False
    assert image["os_hash_value"] == sha(first, "sha512")
    assert image["owner_specified.openstack.sha256"] == sha(first, "sha256")
    assert image["os_distro"] == "cirros" and image["tags"] == ["demo"]
    assert "storeops.openstack.pending" not in image
    assert result["identity"] == "sha256:" + sha(first, "sha256")


def test_rerun_is_unchanged_and_checksum_skips_reading(ensure, files):
    first, second = files
    again = ensure(filename=first, stores=["fast"], visibility="public", tags=["demo"],
                   properties={"os_distro": "cirros"})
    assert again["changed"] is False and again["actions"] == []
    # the checksum of the first file with the second file's path: not read, so no difference seen
    unread = ensure(filename=second, checksum="sha256:" + sha(first, "sha256"), stores=["fast"])
    assert unread["changed"] is False


def test_more_stores_are_filled_by_copy_image(ensure, glance, files, name):
    result = ensure(filename=files[0], stores=ALL_STORES)
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["copy"]
    assert result["store_outcomes"] == {"cheap": "copied", "swift": "copied", "ceph": "copied"}
    image = glance.get(f"/images/{result['image']['id']}").json()
    assert sorted(image["stores"].split(",")) == sorted(ALL_STORES)
    assert ensure(filename=files[0], stores=ALL_STORES)["changed"] is False


def test_content_change_fails_by_default_and_changes_nothing(ensure, glance, files, name):
    before = images_named(glance, name)
    failed = ensure(filename=files[1], stores=["fast"])
    assert failed["failed"] is True and "on_content_change: replace" in failed["msg"]
    assert images_named(glance, name) == before


def test_replace_uploads_verifies_and_retires_keeping_versions(ensure, glance, files, name):
    old_id = images_named(glance, name)[0]["id"]
    result = ensure(filename=files[1], stores=["fast"], on_content_change="replace", keep_versions=1)
    assert result["changed"] is True and result["image"]["id"] != old_id
    retired = glance.get(f"/images/{old_id}").json()
    assert retired["os_hidden"] is True and retired["name"].startswith(f"{name}.retired-")
    assert retired["storeops.openstack.retired_from"] == name
    assert [i["id"] for i in images_named(glance, name)] == [result["image"]["id"]]
    newest_retired = result["image"]["id"]
    again = ensure(filename=files[0], stores=["fast"], on_content_change="replace", keep_versions=1)
    assert [a["action"] for a in again["actions"]] == ["create", "retire", "delete_old_version"]
    assert glance.get(f"/images/{old_id}").status_code == 404
    assert glance.get(f"/images/{newest_retired}").json()["os_hidden"] is True


def test_absent_per_store_then_refusing_the_last_copy_then_whole(ensure, glance, files, name):
    ensure(filename=files[0], stores=["fast", "ceph"])
    removed = ensure(state="absent", stores=["ceph"])
    assert removed["changed"] is True and removed["image"]["stores"] == ["fast"]
    refused = ensure(state="absent", stores=["fast"])
    assert refused["failed"] is True and "last copy" in refused["msg"]
    gone = ensure(state="absent")
    assert gone["changed"] is True and images_named(glance, name) == []
    assert ensure(state="absent")["changed"] is False


def test_check_mode_makes_no_change(ensure, glance, files):
    fresh = f"gi-check-{uuid.uuid4().hex[:8]}"
    planned = ensure(name=fresh, filename=files[0], stores=["fast", "ceph"], visibility="public", check=True)
    assert planned["changed"] is True and [a["action"] for a in planned["actions"]] == ["create"]
    assert planned["diff"]["before"] == {}
    assert planned["diff"]["after"]["stores"] == ["fast", "ceph"]
    assert planned["diff"]["after"]["visibility"] == "public"
    assert images_named(glance, fresh) == []


@pytest.mark.parametrize("options, message", [
    ({"filename": "/nonexistent/disk.img"}, "filename: cannot read /nonexistent/disk.img"),
    ({"filename": "/tmp"}, "filename: /tmp is a directory"),
    ({"stores": ["nope"]}, "stores: unknown store nope; this cloud has fast, cheap, swift, ceph"),
    ({"stores": ["fast"], "all_stores": True}, "parameters are mutually exclusive: stores|all_stores"),
    ({"disk_format": "floppy"}, "value of disk_format must be one of"),
    ({"checksum": "sha256:" + "0" * 64, "stores": ["fast"]}, "checksum: the file's sha256 is"),
])
def test_bad_input_is_one_line_and_changes_nothing(ensure, glance, files, options, message):
    fresh = f"gi-bad-{uuid.uuid4().hex[:8]}"
    options = {"filename": files[0], **options}
    failed = ensure(name=fresh, **options)
    assert failed["failed"] is True
    assert message in failed["msg"] and "\n" not in failed["msg"]
    assert images_named(glance, fresh) == []


def test_killed_mid_upload_then_rerun_converges(playbook_command, glance, tmp_path):
    big = tmp_path / "big.img"
    with open(big, "wb") as handle:
        chunk = os.urandom(8 << 20)
        for index in range(48):                  # 384 MiB, each 8 MiB chunk different
            handle.write(index.to_bytes(8, "big") + chunk[8:])
    fresh = f"gi-kill-{uuid.uuid4().hex[:8]}"
    argv, env = playbook_command("image.yml", name=fresh, filename=str(big), stores=["fast"],
                                 out=str(tmp_path / "out.json"))
    proc = subprocess.Popen(argv, env=env, cwd=REPO, start_new_session=True,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            i["status"] in ("saving", "uploading") for i in images_named(glance, fresh)):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = images_named(glance, fresh)
    assert left and left[0]["status"] != "active" and left[0]["storeops.openstack.pending"] == "true"
    rerun = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stdout
    time.sleep(2)  # Glance finishes failing the killed upload in the background
    final = images_named(glance, fresh)
    assert [i["status"] for i in final] == ["active"]
    assert final[0]["os_hash_value"] == sha(big, "sha512")


def test_url_is_imported_by_glance_and_rerun_is_unchanged(run_playbook, glance, served_file):
    url, path = served_file
    fresh = f"gi-web-{uuid.uuid4().hex[:8]}"
    first = run_playbook("image.yml", name=fresh, url=url, stores=["fast", "cheap"]).results["result"]
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    image = glance.get(f"/images/{first['image']['id']}").json()
    assert image["status"] == "active" and sorted(image["stores"].split(",")) == ["cheap", "fast"]
    assert image["os_hash_value"] == sha(path, "sha512")
    assert image["storeops.openstack.source_url"] == url and image["os_hidden"] is False
    again = run_playbook("image.yml", name=fresh, url=url, stores=["fast", "cheap"]).results["result"]
    assert again["changed"] is False
    glance.delete(f"/images/{image['id']}")
