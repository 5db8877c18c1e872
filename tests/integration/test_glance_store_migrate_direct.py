"""glance_store_migrate with method=direct: Swift to Ceph (rbd) or to a file store without Glance carrying the bytes."""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid

import pytest
import rados
import rbd

from cloud_secrets import cloud_secrets, leaked
from conftest import REPO
from process_tree import kill_module_when
# the copy-image tests' fixtures: Glance, its Swift container, the migrate playbook
from test_glance_store_migrate import glance, in_swift, migrate, swift  # noqa: F401  pylint: disable=unused-import

SEGMENTED = 10_000_000  # over the swift store's 8 MB large-object size: a DLO manifest and segments


@pytest.fixture(scope="module")
def pool(cloud):
    cluster = rados.Rados(conffile=cloud["ceph"]["conf"])
    cluster.connect()
    ioctx = cluster.open_ioctx(cloud["ceph"]["rbd_pool"])
    yield ioctx
    ioctx.close()
    cluster.shutdown()


@pytest.fixture
def prefix():
    return f"dir-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def direct(migrate):
    def run(prefix, **options):
        return migrate(prefix, method="direct", **options)
    return run


def rbd_names(pool, image_ids):
    return sorted(n for n in rbd.RBD().list(pool) if any(n.startswith(i) for i in image_ids))


def partial_size(pool, image_id) -> int:
    """How much the module wrote into its uncommitted target image so far (0 while there is none)."""
    try:
        with rbd.Image(pool, f"{image_id}.partial", read_only=True) as partial:
            return partial.size()
    except rbd.ImageNotFound:
        return 0


def wait_until_unwatched(pool, name, timeout=60.0) -> float:
    """Seconds until no client watches rbd image ``name`` (a killed client's watch lapses after
    Ceph's osd_client_watch_timeout, 30 s by default); 0 when it is gone or was never watched."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with rbd.Image(pool, name, read_only=True) as image:
                if not list(image.watchers_list()):
                    break
        except rbd.ImageNotFound:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{name} still watched after {timeout}s")
    return time.monotonic() - started


def downloaded(glance, image_id) -> str:
    digest = hashlib.sha512()
    for chunk in glance.image.get(f"/images/{image_id}/file", stream=True).iter_content(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def steps_of(path, image_id):
    lines = [json.loads(line) for line in open(path, encoding="utf-8")][1:]
    return [entry["step"] for entry in lines if entry["image"] == image_id]


@pytest.mark.parametrize("backend, verification", [("database", "download"), ("api", "data")])
def test_plain_and_segmented_images_move_verified_in_glance_layout(direct, glance, swift, pool, prefix,
                                                                   cloud, backend, verification):
    data = {"plain": os.urandom(1_500_000), "segmented": os.urandom(SEGMENTED)}
    ids = {name: glance.upload(f"{prefix}-{name}", "swift", blob) for name, blob in data.items()}
    assert len(in_swift(swift, ids.values())) > len(ids)  # the big one is a manifest and segments

    plan = direct(prefix, check=True, backend=backend).results["result"]
    assert plan["counts"]["planned"] == 2 and plan["method"] == "direct"
    assert plan["route"].startswith("direct: swift read with the credentials of glance-api.conf")
    assert f"registered via {backend}" in plan["route"]
    assert all(glance.stores_of(i) == ["swift"] for i in ids.values())
    assert rbd_names(pool, ids.values()) == []

    result = direct(prefix, backend=backend, verification=verification).results["result"]
    assert result["changed"] is True and result["counts"]["migrated"] == 2, result
    assert result["bytes_copied"] == sum(map(len, data.values()))
    fsid, pool_name = cloud["ceph"]["fsid"], cloud["ceph"]["rbd_pool"]
    for name, image_id in ids.items():
        image = glance.get(image_id)
        assert image["stores"] == "ceph"
        assert [loc["url"] for loc in image["locations"]] == [f"rbd://{fsid}/{pool_name}/{image_id}/snap"]
        assert glance.rows([image_id]) == {(image_id, image["locations"][0]["url"]): {"store": "ceph"}}
        assert downloaded(glance, image_id) == hashlib.sha512(data[name]).hexdigest()
        with rbd.Image(pool, image_id) as written:  # glance_store's layout: protected snapshot "snap"
            assert [s["name"] for s in written.list_snaps()] == ["snap"] and written.is_protected_snap("snap")
        # the read-back proved the bytes; a download is owed (marked) from before the source's removal
        marked, confirmed = (["mark"], ["download"]) if verification == "download" else ([], [])
        assert steps_of(result["journal"], image_id) == [
            "write", "register", "verify", *marked, "remove_source", *confirmed, "result"]
        assert "storeops_download_unconfirmed" not in image
    assert in_swift(swift, ids.values()) == []
    assert rbd_names(pool, ids.values()) == sorted(ids.values())  # no partial left
    journal = open(result["journal"], encoding="utf-8").read()
    assert leaked(cloud_secrets(cloud), json.dumps(result)) == [] and leaked(cloud_secrets(cloud), journal) == []

    again = direct(prefix, backend=backend).results["result"]
    assert again["changed"] is False and again["counts"]["already_done"] == 2


def test_swift_source_is_deleted_as_glance_store_names_it_and_nothing_else(direct, glance, swift, prefix):
    """The source's manifest and numbered segments go in bulk, not one by one through Glance, and
    an object another tool put under the manifest's prefix is kept (Glance's delete takes every
    object the prefix lists)."""
    data = os.urandom(SEGMENTED)
    image_id = glance.upload(f"{prefix}-dlo", "swift", data)
    glance_store_names = in_swift(swift, [image_id])
    bystander = f"{image_id}-notes"  # zero bytes: the DLO still reads as the image
    swift.put(f"/glance/{bystander}", data=b"", headers={"Content-Type": "text/plain"}).raise_for_status()
    try:
        result = direct(prefix).results["result"]
        assert result["counts"]["migrated"] == 1, result
        assert downloaded(glance, image_id) == hashlib.sha512(data).hexdigest()
        assert in_swift(swift, [image_id]) == [bystander]
        removal = [entry for entry in map(json.loads, open(result["journal"], encoding="utf-8"))
                   if entry.get("step") == "remove_source"]
        segments = len(glance_store_names) - 1  # the manifest and its segments
        assert [entry["detail"] for entry in removal] == [f"swift object and {segments} segment(s) deleted here"]
    finally:
        swift.delete(f"/glance/{bystander}")


def test_swift_to_file_moves_verified_in_glance_layout_registered_via_database(direct, glance, swift, prefix,
                                                                               cloud):
    blob = os.urandom(300_000)
    image_id = glance.upload(f"{prefix}-file", "swift", blob)
    refused = direct(prefix, target_store="fast", backend="api", check=True).results["result"]
    assert refused["failed"] is True and refused["msg"].startswith("backend: Glance's API refuses file:// locations")
    assert "\n" not in refused["msg"] and glance.stores_of(image_id) == ["swift"]

    result = direct(prefix, target_store="fast").results["result"]
    assert result["changed"] is True and result["counts"]["migrated"] == 1, result
    datadir = cloud["glance"]["stores"]["fast"]["data_dir"]
    assert f"written to directory {datadir} on this host" in result["route"]
    url = f"file://{datadir}/{image_id}"
    image = glance.get(image_id)
    assert image["stores"] == "fast" and [loc["url"] for loc in image["locations"]] == [url]
    assert glance.rows([image_id]) == {(image_id, url): {"store": "fast"}}
    assert downloaded(glance, image_id) == hashlib.sha512(blob).hexdigest()
    assert [n for n in os.listdir(datadir) if n.startswith(image_id)] == [image_id]  # no partial left
    assert steps_of(result["journal"], image_id) == ["write", "register", "verify", "remove_source", "result"]
    assert in_swift(swift, [image_id]) == []

    again = direct(prefix, target_store="fast").results["result"]
    assert again["changed"] is False and again["counts"]["already_done"] == 1


def test_corrupt_swift_source_is_refused_nothing_registered_and_source_kept(direct, glance, swift, pool, prefix):
    blob = os.urandom(2_000_000)
    image_id = glance.upload(f"{prefix}-corrupt", "swift", blob)
    swift.upload_object("glance", image_id, data=bytes(b ^ 0xFF for b in blob[:100]) + blob[100:])
    result = direct(prefix).results["result"]
    assert result["failed"] is True and result["counts"]["failed"] == 1
    assert "does not match the image's os_hash_value" in result["images"][0]["reason"]
    assert "restore it from a backup" in result["images"][0]["fix"]
    assert glance.stores_of(image_id) == ["swift"] and in_swift(swift, [image_id]) == [image_id]
    assert rbd_names(pool, [image_id]) == []  # the partial target was dropped


def test_killed_mid_copy_then_rerun_converges_without_orphans(playbook_command, direct, glance, swift, pool,
                                                              prefix, cloud, tmp_path):
    blob = os.urandom(64 << 20)
    image_id = glance.upload(f"{prefix}-kill", "swift", blob)
    argv, env = playbook_command("migrate.yml", name_pattern=f"{prefix}-*", method="direct",
                                 journal_dir=str(tmp_path / "first"), glance_api_conf=cloud["glance"]["api_conf"],
                                 out=str(tmp_path / "out.json"))
    kill_module_when(argv, env, REPO, "glance_store_migrate", lambda: partial_size(pool, image_id) > 0)
    assert glance.stores_of(image_id) == ["swift"]  # nothing registered for unverified bytes
    assert rbd_names(pool, [image_id]) == [f"{image_id}.partial"]

    # at once: the killed client's watch still holds the partial, as a live run's would
    early = direct(prefix).results["result"]
    assert early["counts"]["in_progress"] == 1 and not early.get("failed"), early
    assert "another run is copying this image now" in early["images"][0]["reason"], early
    assert glance.stores_of(image_id) == ["swift"] and rbd_names(pool, [image_id]) == [f"{image_id}.partial"]

    assert 5 < wait_until_unwatched(pool, f"{image_id}.partial")  # Ceph's own timeout, not this test's
    result = direct(prefix).results["result"]
    assert not result.get("failed") and result["counts"]["migrated"] == 1, result
    assert glance.stores_of(image_id) == ["ceph"] and in_swift(swift, [image_id]) == []
    assert rbd_names(pool, [image_id]) == [image_id]  # no orphan, no partial
    assert downloaded(glance, image_id) == hashlib.sha512(blob).hexdigest()


def test_partial_image_of_a_deleted_image_is_listed_then_removed(direct, glance, pool, prefix):
    gone = str(uuid.uuid4())
    rbd.RBD().create(pool, f"{gone}.partial", 1024)
    plan = direct(prefix, check=True).results["result"]
    assert gone in plan["orphans"] and f"{gone}.partial" in rbd.RBD().list(pool)
    result = direct(prefix).results["result"]
    assert gone in result["orphans"] and result["changed"] is True
    assert f"{gone}.partial" not in rbd.RBD().list(pool)


def test_bad_inputs_are_one_line_and_change_nothing(direct, glance, prefix, tmp_path, cloud):
    image_id = glance.upload(f"{prefix}-bad", "swift", os.urandom(1000))
    conf = tmp_path / "glance-api.conf"
    text = open(cloud["glance"]["api_conf"], encoding="utf-8").read()
    conf.write_text(text.replace("swift_store_config_file = ", "swift_store_config_file = /nonexistent"))
    nocreds = direct(prefix, glance_api_conf=str(conf)).results["result"]
    nodb_conf = tmp_path / "nodb.conf"
    nodb_conf.write_text("\n".join(line for line in text.splitlines() if not line.startswith("connection")))
    nodb = direct(prefix, glance_api_conf=str(nodb_conf)).results["result"]
    swift_conf = re.search(r"(?m)^swift_store_config_file\s*=\s*(\S+)", text).group(1)
    wrong_key = tmp_path / "swift-store.conf"
    wrong_key.write_text(re.sub(r"(?m)^key\s*=.*$", "key = not-the-key", open(swift_conf, encoding="utf-8").read()))
    badkey_conf = tmp_path / "badkey.conf"
    badkey_conf.write_text(text.replace(swift_conf, str(wrong_key)))
    badkey = direct(prefix, glance_api_conf=str(badkey_conf)).results["result"]
    for result, words in ((nocreds, "swift_store_config_file of store swift"),
                          (nodb, "backend=database needs database_connection"),
                          (badkey, f"of {wrong_key}: Keystone refused these credentials")):
        assert result["failed"] is True and words in result["msg"], result
        assert "\n" not in result["msg"] and "Traceback" not in json.dumps(result)
    assert glance.stores_of(image_id) == ["swift"]
