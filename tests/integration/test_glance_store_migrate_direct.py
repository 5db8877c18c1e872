"""glance_store_migrate with method=direct: Swift to Ceph (rbd) without Glance carrying the bytes."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid

import pytest
import rados
import rbd

from conftest import REPO
from glance_helpers import Glance, glance_swift
from process_tree import command_line, descendants, kill_tree, wait_for_module

SEGMENTED = 10_000_000  # over the swift store's 8 MB large-object size: a DLO manifest and segments


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


@pytest.fixture(scope="module")
def swift(cloud):
    return glance_swift(cloud)


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
def migrate(run_playbook, cloud, tmp_path):
    def run(prefix, **options):
        options.setdefault("name_pattern", f"{prefix}-*")
        options.setdefault("glance_api_conf", cloud["glance"]["api_conf"])
        options.setdefault("journal_dir", str(tmp_path / "journals"))
        options.setdefault("method", "direct")
        return run_playbook("migrate.yml", **options)
    return run


def in_swift(swift, image_ids):
    return [o.name for o in swift.objects("glance") if any(o.name.startswith(i) for i in image_ids)]


def rbd_names(pool, image_ids):
    return sorted(n for n in rbd.RBD().list(pool) if any(n.startswith(i) for i in image_ids))


def downloaded(glance, image_id) -> str:
    digest = hashlib.sha512()
    for chunk in glance.image.get(f"/images/{image_id}/file", stream=True).iter_content(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def steps_of(path, image_id):
    lines = [json.loads(line) for line in open(path, encoding="utf-8")][1:]
    return [entry["step"] for entry in lines if entry["image"] == image_id]


@pytest.mark.parametrize("backend", ["database", "api"])
def test_plain_and_segmented_images_move_verified_in_glance_layout(migrate, glance, swift, pool, prefix,
                                                                   cloud, backend):
    data = {"plain": os.urandom(1_500_000), "segmented": os.urandom(SEGMENTED)}
    ids = {name: glance.upload(f"{prefix}-{name}", "swift", blob) for name, blob in data.items()}
    assert len(in_swift(swift, ids.values())) > len(ids)  # the big one is a manifest and segments

    plan = migrate(prefix, check=True, backend=backend).results["result"]
    assert plan["counts"]["planned"] == 2 and plan["method"] == "direct"
    assert plan["route"].startswith("direct: swift read with the credentials of glance-api.conf")
    assert f"registered via {backend}" in plan["route"]
    assert all(glance.stores_of(i) == ["swift"] for i in ids.values())
    assert rbd_names(pool, ids.values()) == []

    result = migrate(prefix, backend=backend).results["result"]
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
        assert steps_of(result["journal"], image_id) == [
            "write", "register", "verify", "remove_source", "download", "result"]
    assert in_swift(swift, ids.values()) == []
    assert rbd_names(pool, ids.values()) == sorted(ids.values())  # no partial left
    assert cloud["secrets"]["glance_password"] not in json.dumps(result)
    assert cloud["secrets"]["glance_db_password"] not in json.dumps(result)

    again = migrate(prefix, backend=backend).results["result"]
    assert again["changed"] is False and again["counts"]["already_done"] == 2


def test_corrupt_swift_source_is_refused_nothing_registered_and_source_kept(migrate, glance, swift, pool, prefix):
    blob = os.urandom(2_000_000)
    image_id = glance.upload(f"{prefix}-corrupt", "swift", blob)
    swift.upload_object("glance", image_id, data=bytes(b ^ 0xFF for b in blob[:100]) + blob[100:])
    result = migrate(prefix).results["result"]
    assert result["failed"] is True and result["counts"]["failed"] == 1
    assert "does not match the image's os_hash_value" in result["images"][0]["reason"]
    assert "restore it from a backup" in result["images"][0]["fix"]
    assert glance.stores_of(image_id) == ["swift"] and in_swift(swift, [image_id]) == [image_id]
    assert rbd_names(pool, [image_id]) == []  # the partial target was dropped


def test_killed_mid_copy_then_rerun_converges_without_orphans(playbook_command, migrate, glance, swift, pool,
                                                              prefix, cloud, tmp_path):
    blob = os.urandom(64 << 20)
    image_id = glance.upload(f"{prefix}-kill", "swift", blob)
    argv, env = playbook_command("migrate.yml", name_pattern=f"{prefix}-*", method="direct",
                                 journal_dir=str(tmp_path / "first"), glance_api_conf=cloud["glance"]["api_conf"],
                                 out=str(tmp_path / "out.json"))
    proc = subprocess.Popen(argv, env=env, cwd=REPO, start_new_session=True,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_module(proc.pid, "glance_store_migrate")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and f"{image_id}.partial" not in rbd.RBD().list(pool):
            time.sleep(0.02)
        time.sleep(0.3)  # some bytes into the partial image
        module = [pid for pid in descendants(proc.pid) if "AnsiballZ_glance_store_migrate" in command_line(pid)]
    finally:
        killed = kill_tree(proc.pid)
        proc.wait()
    assert module and set(module) <= set(killed)
    deadline = time.monotonic() + 30
    while any("AnsiballZ" in command_line(pid) for pid in module) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert glance.stores_of(image_id) == ["swift"]  # nothing registered for unverified bytes
    assert rbd_names(pool, [image_id]) in ([f"{image_id}.partial"], [image_id])

    result = migrate(prefix).results["result"]
    assert not result.get("failed") and result["counts"]["migrated"] == 1, result
    assert glance.stores_of(image_id) == ["ceph"] and in_swift(swift, [image_id]) == []
    assert rbd_names(pool, [image_id]) == [image_id]  # no orphan, no partial
    assert downloaded(glance, image_id) == hashlib.sha512(blob).hexdigest()


def test_partial_image_of_a_deleted_image_is_listed_then_removed(migrate, glance, pool, prefix):
    gone = str(uuid.uuid4())
    rbd.RBD().create(pool, f"{gone}.partial", 1024)
    plan = migrate(prefix, check=True).results["result"]
    assert gone in plan["orphans"] and f"{gone}.partial" in rbd.RBD().list(pool)
    result = migrate(prefix).results["result"]
    assert gone in result["orphans"] and result["changed"] is True
    assert f"{gone}.partial" not in rbd.RBD().list(pool)


def test_bad_inputs_are_one_line_and_change_nothing(migrate, glance, prefix, tmp_path, cloud):
    image_id = glance.upload(f"{prefix}-bad", "swift", os.urandom(1000))
    conf = tmp_path / "glance-api.conf"
    text = open(cloud["glance"]["api_conf"], encoding="utf-8").read()
    conf.write_text(text.replace("swift_store_config_file = ", "swift_store_config_file = /nonexistent"))
    nocreds = migrate(prefix, glance_api_conf=str(conf)).results["result"]
    nodb_conf = tmp_path / "nodb.conf"
    nodb_conf.write_text("\n".join(line for line in text.splitlines() if not line.startswith("connection")))
    nodb = migrate(prefix, glance_api_conf=str(nodb_conf)).results["result"]
    for result, words in ((nocreds, "swift_store_config_file of store swift"),
                          (nodb, "backend=database needs database_connection")):
        assert result["failed"] is True and words in result["msg"], result
        assert "\n" not in result["msg"] and "Traceback" not in json.dumps(result)
    assert glance.stores_of(image_id) == ["swift"]
