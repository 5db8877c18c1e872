"""glance_image against the local cloud: uploads, stores, content changes, absent, bad input."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import openstack
import pytest

from conftest import REPO
from glance_helpers import image_task
from process_tree import kill_tree, wait_for_module

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
    return image_task(run_playbook, name)


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


def test_replace_uploads_verifies_and_retires_keeping_versions(ensure, glance, files, name, cloud):
    old_id = images_named(glance, name)[0]["id"]  # in the rbd store too: its clones are checked
    ceph = {"ceph_conf": cloud["ceph"]["conf"], "ceph_user": "admin"}
    result = ensure(filename=files[1], stores=["fast"], on_content_change="replace", keep_versions=1)
    assert result["changed"] is True and result["image"]["id"] != old_id
    retired = glance.get(f"/images/{old_id}").json()
    assert retired["os_hidden"] is True and retired["name"].startswith(f"{name}.retired-")
    assert retired["storeops.openstack.retired_from"] == name
    assert [i["id"] for i in images_named(glance, name)] == [result["image"]["id"]]
    newest_retired = result["image"]["id"]
    again = ensure(filename=files[0], stores=["fast"], on_content_change="replace", keep_versions=1,
                   ceph_access=ceph)
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


def big_file(path, mib):
    """``mib`` MiB, each 8 MiB chunk different: long enough to kill a run in the middle."""
    chunk = os.urandom(8 << 20)
    with open(path, "wb") as handle:
        for index in range(mib // 8):
            handle.write(index.to_bytes(8, "big") + chunk[8:])
    return path


def start(argv, env):
    return subprocess.Popen(argv, env=env, cwd=REPO,  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until(condition, timeout=120, what="the condition"):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return found


def pending_of(glance, name):
    return [i for i in images_named(glance, name) if "storeops.openstack.pending" in i]


def importing(glance, name):
    return [i for i in images_named(glance, name) if i.get("os_glance_importing_to_stores")]


def assert_converged(glance, name, path, stores):
    final = images_named(glance, name)
    assert [i["status"] for i in final] == ["active"], final
    assert final[0]["os_hash_value"] == sha(path, "sha512")
    assert sorted(final[0]["stores"].split(",")) == sorted(stores)
    assert "storeops.openstack.pending" not in final[0] and final[0]["os_hidden"] is False


def pending_in(status):
    return lambda glance, name: [i for i in pending_of(glance, name) if i["status"] == status]


def published_and_copying(glance, name):
    return [i for i in importing(glance, name) if "storeops.openstack.pending" not in i]


# Where the killed run is stopped: stores, upload method, image size (MiB), how the test sees it.
KILL_POINTS = {
    "during upload": (["fast"], "direct", 384, pending_in("saving")),
    "during glance-direct import": (["fast", "ceph"], "glance-direct", 128, pending_in("importing")),
    "during copy-image after publish": (["fast", "ceph"], "direct", 128, published_and_copying),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_then_rerun_converges(playbook_command, glance, tmp_path, point):
    """The killed run's module process dies too (process_tree.kill_tree), not just the playbook."""
    stores, method, mib, reached = KILL_POINTS[point]
    big = big_file(tmp_path / "big.img", mib)
    fresh = f"gi-kill-{uuid.uuid4().hex[:8]}"
    argv, env = playbook_command("image.yml", name=fresh, filename=str(big), stores=stores,
                                 upload_method=method, lease_seconds=8, out=str(tmp_path / "out.json"))
    proc = start(argv, env)
    wait_for_module(proc.pid, "glance_image")
    wait_until(lambda: reached(glance, fresh), what=point)
    killed = kill_tree(proc.pid)
    proc.wait()
    wait_until(lambda: not any(pid_alive(pid) for pid in killed), timeout=10,
               what="the killed run's processes, the module's among them, to end")
    rerun = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stdout
    result = json.loads((tmp_path / "out.json").read_text())["result"]
    assert not result.get("failed"), result.get("msg")
    wait_until(lambda: not importing(glance, fresh), what="Glance to settle the killed copy")
    assert_converged(glance, fresh, big, stores)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize("delay", [0, 3])
def test_two_runs_at_once_converge_on_one_image(playbook_command, glance, tmp_path, delay):
    path = big_file(tmp_path / "shared.img", 256)  # still uploading when the second run looks
    fresh = f"gi-two-{uuid.uuid4().hex[:8]}"
    runs = []
    for index in range(2):
        out = tmp_path / f"out{index}.json"
        argv, env = playbook_command("image.yml", name=fresh, filename=str(path),
                                     stores=["fast", "cheap"], out=str(out))
        runs.append((start(argv, env), out))
        time.sleep(delay)
    for proc, out in runs:
        assert proc.wait(timeout=900) == 0, proc.stdout.read()
        result = json.loads(out.read_text())["result"]
        assert not result.get("failed"), result.get("msg")
    assert_converged(glance, fresh, path, ["fast", "cheap"])


def test_a_live_upload_is_waited_for_and_a_killed_ones_leftover_cleaned(playbook_command, glance,
                                                                        tmp_path):
    """The second run must not delete the first one's upload while it runs; once the first is
    killed (module too), its lease expires and the second deletes the leftover and converges."""
    big = big_file(tmp_path / "big.img", 768)  # still uploading once the second run planned
    fresh = f"gi-wait-{uuid.uuid4().hex[:8]}"
    first_argv, env = playbook_command("image.yml", name=fresh, filename=str(big), stores=["fast"],
                                       lease_seconds=8, out=str(tmp_path / "first.json"))
    first = start(first_argv, env)
    uploading = wait_until(lambda: [i for i in images_named(glance, fresh) if i["status"] == "saving"],
                           what="the first run's upload")[0]
    second_argv, env = playbook_command("image.yml", name=fresh, filename=str(big), stores=["fast"],
                                        out=str(tmp_path / "second.json"))
    second = start(second_argv, env)
    wait_for_module(second.pid, "glance_image")
    time.sleep(4)  # the second run lists and plans while the first uploads
    assert glance.get(f"/images/{uploading['id']}").json()["status"] == "saving"
    assert first.poll() is None, first.stdout.read()
    kill_tree(first.pid)
    first.wait()
    assert second.wait(timeout=900) == 0, second.stdout.read()
    result = json.loads((tmp_path / "second.json").read_text())["result"]
    assert not result.get("failed"), result.get("msg")
    kinds = [a["action"] for a in result["actions"]]
    assert kinds[0] == "wait" and kinds[-1] == "create" and set(kinds[1:-1]) == {"delete_leftover"}
    assert uploading["id"] in [a["image_id"] for a in result["actions"] if a["action"] == "delete_leftover"]
    assert_converged(glance, fresh, big, ["fast"])


def test_replace_that_failed_after_publishing_is_finished_by_the_next_run(ensure, glance, files):
    """The copy into the second store times out after the new image was published: two published
    images share the name until the next run retires the old one."""
    first, second = files
    fresh = f"gi-repl-{uuid.uuid4().hex[:8]}"
    old = ensure(name=fresh, filename=first, stores=["fast"])["image"]["id"]
    failed = ensure(name=fresh, filename=second, stores=["fast", "ceph"], on_content_change="replace",
                    upload_method="direct", timeout=0)
    assert failed["failed"] is True and "timed out" in failed["msg"]
    assert len(images_named(glance, fresh)) == 2  # the state the next run must get out of
    again = ensure(name=fresh, filename=second, stores=["fast", "ceph"], on_content_change="replace")
    assert not again.get("failed"), again.get("msg")
    assert [a["action"] for a in again["actions"]][:1] == ["retire"]
    current = images_named(glance, fresh)
    assert [i["id"] for i in current] == [again["image"]["id"]] and again["image"]["id"] != old
    assert current[0]["os_hash_value"] == sha(second, "sha512")
    assert glance.get(f"/images/{old}").json()["storeops.openstack.retired_from"] == fresh
    assert ensure(name=fresh, filename=second, stores=["fast", "ceph"],
                  on_content_change="replace")["changed"] is False


def test_url_is_imported_by_glance_and_rerun_is_unchanged(run_playbook, glance, served_file):
    url, path = served_file
    fresh = f"gi-web-{uuid.uuid4().hex[:8]}"
    first = run_playbook("image.yml", name=fresh, url=url, stores=["fast", "cheap"]).results["result"]
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    image = glance.get(f"/images/{first['image']['id']}").json()
    assert image["status"] == "active" and sorted(image["stores"].split(",")) == ["cheap", "fast"]
    assert image["os_hash_value"] == sha(path, "sha512")
    assert image["storeops.openstack.source_url"] == url and image["os_hidden"] is False
    assert first["inspection"] == {"inspected_by": "glance", "disk_format": image["disk_format"],
                                   "virtual_size": image["virtual_size"]}
    again = run_playbook("image.yml", name=fresh, url=url, stores=["fast", "cheap"]).results["result"]
    assert again["changed"] is False
    glance.delete(f"/images/{image['id']}")


@pytest.mark.parametrize("checksum, verified_by", [
    ("sha256", "read back through Glance"),
    ("sha512", "os_hash_value"),
    (None, "glance only"),
])
def test_url_import_is_verified_against_the_checksum(run_playbook, glance, served_file, checksum,
                                                     verified_by):
    url, path = served_file
    fresh = f"gi-webv-{uuid.uuid4().hex[:8]}"
    options = {"checksum": f"{checksum}:{sha(path, checksum)}"} if checksum else {}
    result = run_playbook("image.yml", name=fresh, url=url, stores=["fast"], **options).results["result"]
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert result["verified_by"] == verified_by
    image = glance.get(f"/images/{result['image']['id']}").json()
    assert image["os_hash_value"] == sha(path, "sha512")
    if checksum == "sha256":
        assert image["owner_specified.openstack.sha256"] == sha(path, "sha256")
    if checksum is None:
        assert any("nothing but Glance vouches" in w for w in result["warnings"])
    glance.delete(f"/images/{image['id']}")


def test_url_import_with_a_wrong_checksum_fails_and_leaves_nothing(run_playbook, glance, served_file):
    url, _path = served_file
    fresh = f"gi-webx-{uuid.uuid4().hex[:8]}"
    result = run_playbook("image.yml", name=fresh, url=url, stores=["fast"],
                          checksum="sha256:" + "0" * 64).results["result"]
    assert result["failed"] is True and "checksum: the image's sha256 is" in result["msg"]
    assert images_named(glance, fresh) == []


@pytest.fixture(scope="module")
def member(cloud):
    return openstack.connect(cloud=cloud["member_cloud"]).image


@pytest.fixture(scope="module")
def admin_project(cloud):
    return openstack.connect(cloud=cloud["admin_cloud"]).current_project_id


def raw_image(api, name, data, **attrs):
    image_id = api.post("/images", json={"name": name, "disk_format": "raw", "container_format": "bare",
                                         **attrs}).json()["id"]
    api.put(f"/images/{image_id}/file", data=data,
            headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return image_id


@pytest.mark.parametrize("visibility", ["shared", "community", "public"])
def test_another_projects_image_is_never_adopted_or_touched(ensure, glance, member, files,
                                                            admin_project, visibility):
    """A member's image of the same name and content, even claiming to be the pending upload or
    carrying the right sha256, is left exactly as it is: the admin run makes its own."""
    first = files[0]
    fresh = f"gi-own-{uuid.uuid4().hex[:8]}"
    theirs = raw_image(member, fresh, first.read_bytes(), **{
        "owner_specified.openstack.sha256": sha(first, "sha256"),
        "visibility": "private" if visibility == "public" else visibility})
    if visibility == "public":  # only an admin may publicise; the image stays the member's
        glance.patch(f"/images/{theirs}", data=json.dumps(
            [{"op": "replace", "path": "/visibility", "value": "public"}]),
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"}).raise_for_status()
    before = glance.get(f"/images/{theirs}").json()
    made = ensure(name=fresh, filename=first, checksum="sha256:" + sha(first, "sha256"),
                  stores=["fast", "cheap"], tags=["ours"])
    assert made["changed"] is True and made["image"]["id"] != theirs, made
    assert made["image"]["owner"] == admin_project
    if visibility != "community":  # Glance lists community images only when asked for them
        assert any("other projects were left alone" in note for note in made["notes"])
    ensure(name=fresh, state="absent")
    assert glance.get(f"/images/{theirs}").json() == before
    member.delete(f"/images/{theirs}")


def test_a_forged_sha256_property_loses_to_glances_own_hash(ensure, glance, files):
    """An editor sets the sha256 property of other content: a run that read the file (or knows
    the sha512) goes by os_hash_value; with only a sha256 given, the property decides."""
    first, second = files
    fresh = f"gi-forge-{uuid.uuid4().hex[:8]}"
    forged = raw_image(glance, fresh, second.read_bytes(),
                       **{"owner_specified.openstack.sha256": sha(first, "sha256")})
    read = ensure(name=fresh, filename=first, stores=["fast"])
    assert read["failed"] is True and "has other content" in read["msg"]
    by_sha512 = ensure(name=fresh, filename=first, stores=["fast"], checksum="sha512:" + sha(first, "sha512"))
    assert by_sha512["failed"] is True and "has other content" in by_sha512["msg"]
    by_property = ensure(name=fresh, filename=first, stores=["fast"], checksum="sha256:" + sha(first, "sha256"))
    assert by_property["changed"] is False
    assert by_property["identified_by"] == "owner_specified.openstack.sha256"
    honest = ensure(name=fresh, filename=second, stores=["fast"])
    assert honest["changed"] is False and honest["identified_by"] == "os_hash_value"
    glance.delete(f"/images/{forged}")
