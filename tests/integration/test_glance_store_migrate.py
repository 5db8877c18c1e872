"""glance_store_migrate from the local cloud's Swift store into its Ceph (rbd) store."""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from conftest import REPO
from glance_helpers import Glance, glance_swift
from process_tree import kill_module_when

SEGMENTED = 12_000_000  # over the swift store's 8 MB large-object size: a manifest and segments


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


@pytest.fixture(scope="module")
def swift(cloud):
    return glance_swift(cloud)


@pytest.fixture
def prefix():
    return f"mig-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def migrate(run_playbook, cloud, tmp_path):
    def run(prefix, **options):
        options.setdefault("name_pattern", f"{prefix}-*")
        options.setdefault("glance_api_conf", cloud["glance"]["api_conf"])
        options.setdefault("journal_dir", str(tmp_path / "journals"))
        return run_playbook("migrate.yml", **options)
    return run


def in_swift(swift, image_ids):
    """Every object of Glance's container that belongs to these images (manifests and segments)."""
    return [o.name for o in swift.objects("glance") if any(o.name.startswith(i) for i in image_ids)]


def journal_steps(path):
    lines = [json.loads(line) for line in open(path, encoding="utf-8")]
    return [(entry["image"], entry["step"]) for entry in lines[1:]]


def test_images_move_to_rbd_verified_and_swift_is_emptied(migrate, glance, swift, prefix, cloud):
    sizes = {"small": 1_500_000, "segmented": SEGMENTED, "empty-ish": 1}
    data = {name: os.urandom(size) for name, size in sizes.items()}
    ids = {name: glance.upload(f"{prefix}-{name}", "swift", blob) for name, blob in data.items()}
    assert len(in_swift(swift, ids.values())) > len(ids)  # the big one is segmented

    plan = migrate(prefix, check=True).results["result"]
    assert plan["changed"] is True and plan["counts"]["planned"] == 3
    assert plan["bytes_planned"] == sum(sizes.values())
    assert all(glance.stores_of(i) == ["swift"] for i in ids.values())  # check mode changed nothing

    result = migrate(prefix).results["result"]
    assert result["changed"] is True, result
    assert result["counts"]["migrated"] == 3 and result["counts"]["remaining"] == 0
    assert result["bytes_copied"] == sum(sizes.values()) and result["verification"] == "data"
    for name, image_id in ids.items():
        image = glance.get(image_id)
        assert image["stores"] == "ceph"
        assert image["os_hash_value"] == hashlib.sha512(data[name]).hexdigest()
        assert glance.image.get(f"/images/{image_id}/file").content == data[name]
    assert in_swift(swift, ids.values()) == []
    steps = journal_steps(result["journal"])
    for image_id in ids.values():
        mine = [step for owner, step in steps if owner == image_id]
        assert mine == ["copy", "wait", "verify", "remove_source", "result"]
    assert cloud["secrets"]["glance_password"] not in json.dumps(result)

    again = migrate(prefix).results["result"]
    assert again["changed"] is False and again["counts"]["already_done"] == 3
    assert "journal" not in again


def test_corrupt_swift_data_is_refused_and_the_source_kept(migrate, glance, swift, prefix):
    blob = os.urandom(2_000_000)
    image_id = glance.upload(f"{prefix}-corrupt", "swift", blob)
    # bit rot in Swift, behind Glance's back: same length, other bytes
    swift.upload_object("glance", image_id, data=bytes(b ^ 0xFF for b in blob[:100]) + blob[100:])
    outcome = migrate(prefix)
    result = outcome.results["result"]
    assert outcome.returncode == 0 and result["failed"] is True  # the playbook ignores errors
    assert result["counts"]["failed"] == 1 and result["msg"].startswith("1 of 1 images failed")
    failure = result["images"][0]
    assert "does not match the image's os_hash_value" in failure["reason"]
    assert "restore it from a backup" in failure["fix"]
    assert glance.stores_of(image_id) == ["swift"]
    assert in_swift(swift, [image_id]) == [image_id]


def test_corrupt_target_copy_fails_data_verification_and_is_removed(migrate, glance, prefix, cloud):
    blob = os.urandom(1_000_000)
    image_id = glance.upload(f"{prefix}-badcopy", "swift", blob)
    kept = migrate(prefix, target_store="fast", delete_source=False).results["result"]
    assert kept["counts"]["migrated"] == 1 and glance.stores_of(image_id) == ["swift", "fast"]
    copy = Path(cloud["glance"]["stores"]["fast"]["data_dir"]) / image_id
    copy.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # the target copy rots after the copy
    result = migrate(prefix, target_store="fast").results["result"]
    assert result["counts"]["failed"] == 1
    assert "copy's sha512 or size" in result["images"][0]["reason"]
    assert glance.stores_of(image_id) == ["swift"] and not copy.exists()
    again = migrate(prefix, target_store="fast").results["result"]  # copies afresh and finishes
    assert again["counts"]["migrated"] == 1 and glance.stores_of(image_id) == ["fast"]
    assert copy.read_bytes() == blob


@pytest.mark.parametrize("kill_at", ["copy", "wait"])
def test_killed_with_its_module_then_rerun_converges_without_copying_twice(
        playbook_command, migrate, glance, swift, prefix, cloud, tmp_path, kill_at):
    """``copy``: while Glance copies into ceph; ``wait``: the copy landed, the source is not yet removed."""
    blob = os.urandom(96 << 20)
    image_id = glance.upload(f"{prefix}-kill", "swift", blob)
    journals = tmp_path / "first"
    argv, env = playbook_command("migrate.yml", name_pattern=f"{prefix}-*", journal_dir=str(journals),
                                 glance_api_conf=cloud["glance"]["api_conf"],
                                 out=str(tmp_path / "out.json"))
    kill_module_when(argv, env, REPO, "glance_store_migrate", lambda: any(
        f'"step": "{kill_at}"' in p.read_text() for p in journals.glob("*.jsonl")))
    first = [step for owner, step in journal_steps(next(journals.glob("*.jsonl"))) if owner == image_id]
    assert first[-1] == kill_at and "remove_source" not in first
    stores = glance.stores_of(image_id)
    assert "swift" in stores and (kill_at == "copy" or "ceph" in stores)

    result = migrate(prefix).results["result"]
    assert not result.get("failed") and result["counts"]["migrated"] == 1, result
    steps = [step for owner, step in journal_steps(result["journal"]) if owner == image_id]
    assert "copy" not in steps and "retry" not in steps  # picked up, not copied again
    assert steps[-3:] == ["verify", "remove_source", "result"]
    assert glance.stores_of(image_id) == ["ceph"] and in_swift(swift, [image_id]) == []
    assert hashlib.sha512(blob).hexdigest() == glance.get(image_id)["os_hash_value"]
    downloaded = hashlib.sha512()
    for chunk in glance.image.get(f"/images/{image_id}/file", stream=True).iter_content(1 << 20):
        downloaded.update(chunk)
    assert downloaded.hexdigest() == hashlib.sha512(blob).hexdigest()  # nothing lost


def test_each_named_image_left_out_is_reported_with_why(migrate, glance, prefix):
    moving = glance.upload(f"{prefix}-move", "swift", os.urandom(1000))
    deactivated = glance.upload(f"{prefix}-deactivated", "swift", os.urandom(1000))
    glance.image.post(f"/images/{deactivated}/actions/deactivate").raise_for_status()
    elsewhere = glance.upload(f"{prefix}-elsewhere", "fast", os.urandom(1000))
    unknown = str(uuid.uuid4())
    plan = migrate(prefix, check=True, image_ids=[moving, deactivated, elsewhere, unknown]).results["result"]
    result = migrate(prefix, image_ids=[moving, deactivated, elsewhere, unknown]).results["result"]
    for run in (plan, result):
        assert {item["id"]: item["reason"] for item in run["skipped"]} == {
            deactivated: "status is deactivated, not active (the status option)",
            elsewhere: "no copy in swift",
            unknown: "Glance lists no such image to these credentials (deleted, or not theirs to see)",
        }
        assert run["counts"]["skipped"] == 3
    assert result["counts"]["migrated"] == 1 and glance.stores_of(moving) == ["ceph"]
    assert glance.stores_of(deactivated) == ["swift"] and glance.get(deactivated)["status"] == "deactivated"
    glance.image.post(f"/images/{deactivated}/actions/reactivate").raise_for_status()
    migrate(prefix)  # leave nothing in swift behind


def test_shards_split_the_set_with_no_overlap_and_no_gap(migrate, glance, prefix):
    ids = {glance.upload(f"{prefix}-{n}", "swift", os.urandom(1000)) for n in range(8)}
    halves = [{task["id"] for task in migrate(prefix, check=True, shard_index=index,
                                              shard_count=2).results["result"]["plan"]}
              for index in (0, 1)]
    assert halves[0] | halves[1] == ids and not halves[0] & halves[1]
    bad = migrate(prefix, check=True, shard_index=2, shard_count=2).results["result"]
    assert bad["failed"] is True and bad["msg"].startswith("shard_index must be from 0 to")
    migrate(prefix, delete_source=True)  # leave nothing in swift behind


def test_max_duration_stops_starting_images_and_reports_the_rest(migrate, glance, prefix):
    ids = [glance.upload(f"{prefix}-{n}", "swift", os.urandom(1_000_000)) for n in range(4)]
    result = migrate(prefix, concurrency=1, max_duration=1).results["result"]
    assert result["counts"]["failed"] == 0
    assert result["counts"]["migrated"] >= 1 and result["counts"]["remaining"] >= 1
    assert result["counts"]["migrated"] + result["counts"]["remaining"] == len(ids)
    assert set(result["remaining"]) < set(ids)
    rest = migrate(prefix).results["result"]
    assert rest["counts"]["migrated"] == result["counts"]["remaining"]


def test_untagged_source_locations_are_refused(migrate, glance, prefix):
    image_id = glance.upload(f"{prefix}-legacy", "swift", os.urandom(1000))
    glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id = :i", i=image_id)
    # an untagged location no store serves, on an image outside swift: none of our business
    elsewhere = glance.upload(f"{prefix}-elsewhere", "fast", os.urandom(1000))
    glance.execute("INSERT INTO image_locations (image_id, value, meta_data, deleted, status, created_at) "
                   "VALUES (:i, 'gridfs://legacy-cluster/images/abc', '{}', 0, 'active', NOW())", i=elsewhere)
    result = migrate(prefix).results["result"]
    assert result["changed"] is False and result["counts"]["untagged"] == 1
    assert [item["id"] for item in result["untagged"]] == [image_id]
    assert "glance_location_backfill" in result["untagged"][0]["reason"]
    assert glance.rows([image_id])  # untouched, still one location
    glance.execute("UPDATE image_locations SET meta_data = '{\"store\": \"swift\"}' WHERE image_id = :i",
                   i=image_id)
    migrate(prefix)


def test_bad_input_and_non_admin_get_clean_errors(migrate, cloud, prefix):
    unknown = migrate(prefix, target_store="nosuch").results["result"]
    assert unknown["failed"] is True
    assert unknown["msg"] == ("target_store: Glance has no store 'nosuch'; its stores are "
                              "ceph, cheap, fast, swift")
    same = migrate(prefix, target_store="swift").results["result"]
    assert same["msg"] == "source_store and target_store must differ"
    member = migrate(prefix, cloud_name=cloud["member_cloud"]).results["result"]
    assert member["failed"] is True
    assert member["msg"].startswith("glance_store_migrate needs admin credentials")
    assert "Traceback" not in json.dumps([unknown, same, member])
