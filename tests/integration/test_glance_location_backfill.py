"""glance_location_backfill on legacy state made for real on the local cloud.

Images are uploaded into every store; then their locations are made to look like a database from
before multi-store (no ``store``), some get a wrong tag, one Swift location takes the legacy
credentials form, and one image gets a location of a scheme no store serves.
"""
from __future__ import annotations

import json
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

import openstack
import pytest
from glance_helpers import Glance

UNKNOWN_URL = "gridfs://legacy-cluster/images/abc"


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


@dataclass
class Legacy:
    ids: dict[str, str]             # name -> image id
    expected: dict[str, set]        # image id -> the stores its locations should end up with


@pytest.fixture(scope="module")
def legacy(glance, cloud):
    ids = {
        "fast": glance.upload("legacy-fast", "fast", os.urandom(4096)),
        "cheap": glance.upload("legacy-cheap", "cheap", os.urandom(4096)),           # nested prefix
        "swift": glance.upload("legacy-swift", "swift", os.urandom(9_000_000)),      # segmented
        "swift_cred": glance.upload("legacy-swift-cred", "swift", os.urandom(1024)),
        "ceph": glance.upload("legacy-ceph", "ceph", os.urandom(4096)),
        "cheap_mistagged": glance.upload("legacy-cheap-wrong", "cheap", os.urandom(4096)),
        "fast_mistagged": glance.upload("legacy-fast-wrong", "fast", os.urandom(4096)),
        "unmatched": glance.upload("legacy-unmatched", "fast", os.urandom(4096)),
    }
    glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id IN "
                   "(:a, :b, :c, :d, :e)", a=ids["fast"], b=ids["cheap"], c=ids["swift"],
                   d=ids["swift_cred"], e=ids["ceph"])
    glance.execute("UPDATE image_locations SET meta_data = '{\"store\": \"fast\"}' WHERE image_id = :i",
                   i=ids["cheap_mistagged"])
    glance.execute("UPDATE image_locations SET meta_data = '{\"store\": \"swift\"}' WHERE image_id = :i",
                   i=ids["fast_mistagged"])
    key = cloud["secrets"]["glance_password"]
    glance.execute(
        "UPDATE image_locations SET value = :v WHERE image_id = :i",
        v=f"swift+http://service%3Aglance:{key}@127.0.0.1:5000/v3/glance/{ids['swift_cred']}",
        i=ids["swift_cred"])
    glance.execute(
        "INSERT INTO image_locations (image_id, value, meta_data, deleted, status, created_at) "
        "VALUES (:i, :v, '{}', 0, 'active', NOW())", i=ids["unmatched"], v=UNKNOWN_URL)
    expected = {ids[name]: {name.split("_", maxsplit=1)[0]} for name in ids}
    expected[ids["unmatched"]] = {"fast", None}  # the unknown-scheme location stays untagged
    return Legacy(ids, expected)


@pytest.fixture(scope="module")
def shared() -> dict:
    """What one test hands the next (the database run's journal and the state before it)."""
    return {}


@pytest.fixture(scope="module")
def backfill(run_playbook, cloud, legacy, tmp_path_factory):
    journal_dir = tmp_path_factory.mktemp("journals")

    def run(**options):
        result = run_playbook("backfill.yml", image_ids=list(legacy.ids.values()), journal_dir=str(journal_dir),
                              glance_api_conf=cloud["glance"]["api_conf"], **options)
        assert result.returncode == 0, result.output
        return {**result.results["result"], "ansible_output": result.output}

    return run


def secrets_of(cloud):
    return [cloud["secrets"]["glance_password"], cloud["secrets"]["glance_db_password"]]


def test_check_mode_plans_everything_and_changes_nothing(backfill, glance, legacy):
    ids = legacy.ids
    before = glance.rows(ids.values())
    result = backfill(check=True, fix_mismatched=True)
    counts = result["counts"]
    assert result["changed"] is True
    assert counts["images_scanned"] == len(ids)
    assert (counts["missing"], counts["mistagged"], counts["unmatched"], counts["correct"]) == (5, 2, 1, 1)
    # cheap: Glance tags the nested prefix wrongly; swift_cred: Glance finds no store at all
    assert counts["glance_would_get_wrong"] == 2
    # api cannot write what Glance re-derives differently: cheap, cheap_mistagged
    assert counts["skipped"] == 2 and counts["planned_writes"] == 5
    assert counts["written"] == 0
    assert glance.rows(ids.values()) == before
    skipped = {p["image_id"] for p in result["problems"]}
    assert skipped == {ids["cheap"], ids["cheap_mistagged"]}
    assert result["unmatched"][0]["reason"] == "no store has scheme gridfs"
    assert set(result["diff"]["before"]) == {ids[n] for n in ("fast", "swift", "swift_cred", "ceph", "fast_mistagged")}


def test_api_backend_writes_what_glance_agrees_with_and_skips_the_rest(backfill, glance, legacy, cloud):
    ids = legacy.ids
    result = backfill(backend="api", fix_mismatched=True)
    assert result["changed"] is True
    assert result["counts"]["written"] == 5 and result["counts"]["skipped"] == 2
    assert result["counts"]["failed"] == 0 and result["counts"]["rederived"] == 0
    stores = glance.stores(ids.values())
    for name in ("fast", "swift", "swift_cred", "ceph", "fast_mistagged"):
        assert stores[ids[name]] == {name.split("_", maxsplit=1)[0]}, name
    assert stores[ids["cheap"]] == {None} and stores[ids["cheap_mistagged"]] == {"fast"}
    journal = Path(result["journal"])
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    text = journal.read_text() + json.dumps(result)
    for secret in secrets_of(cloud):
        assert secret not in text


def test_database_backend_writes_the_rest_and_rerun_is_unchanged(backfill, glance, legacy, shared):
    ids, expected = legacy.ids, legacy.expected
    before = glance.rows(ids.values())
    result = backfill(backend="database", fix_mismatched=True)
    assert result["changed"] is True
    assert result["counts"]["written"] == 2 and result["counts"]["skipped"] == 0
    assert glance.stores(ids.values()) == expected
    shared["journal"], shared["before"] = result["journal"], before
    for backend in ("database", "api"):
        again = backfill(backend=backend, fix_mismatched=True)
        assert again["changed"] is False, backend
        assert again["counts"]["planned_writes"] == 0 and again["counts"]["correct"] == 8


def test_undo_restores_exactly_then_the_role_backfills_again_in_slices(backfill, run_playbook, cloud, glance, legacy,
                                                                       shared, tmp_path):
    ids, expected = legacy.ids, legacy.expected
    journal, before = shared["journal"], shared["before"]
    result = backfill(mode="undo", backend="database", journal=journal)
    assert result["changed"] is True and result["counts"]["restored"] == 2
    assert glance.rows(ids.values()) == before
    again = backfill(mode="undo", backend="database", journal=journal)
    assert again["changed"] is False and again["counts"]["already_restored"] == 2
    # one image per slice: two slices reach the end state of the one run above, a line each
    redo = run_playbook("role.yml", role_under_test="location_backfill", location_backfill_backend="database",
                        location_backfill_fix_mismatched=True, location_backfill_image_ids=list(ids.values()),
                        location_backfill_glance_api_conf=cloud["glance"]["api_conf"], location_backfill_limit=1,
                        location_backfill_journal_dir=str(tmp_path))
    assert redo.returncode == 0, redo.output
    result = redo.results["backfill"]
    assert (result["slices"], result["counts"]["written"], len(result["journals"])) == (2, 2, 2)
    lines = [line.split('"msg": "')[1] for line in redo.output.splitlines() if "location_backfill slice" in line]
    assert [line.split(",")[0] for line in lines] == [
        "location_backfill slice 1: 7/8 images", "location_backfill slice 2: 8/8 images"], redo.output
    assert lines[-1].endswith('done, 0 failed"')
    assert glance.stores(ids.values()) == expected


def test_glance_lazy_update_keeps_our_tags(glance, legacy):
    ids, expected = legacy.ids, legacy.expected
    for image_id in ids.values():
        glance.image.get(f"/images/{image_id}").raise_for_status()  # a single GET triggers it
    assert glance.stores(ids.values()) == expected


def test_unmatched_location_is_left_alone(glance, legacy):
    ids = legacy.ids
    rows = glance.rows([ids["unmatched"]])
    assert rows[(ids["unmatched"], UNKNOWN_URL)] == {}


def test_non_admin_gets_a_clean_error(run_playbook, cloud, legacy, tmp_path):
    ids = legacy.ids
    result = run_playbook("backfill.yml", cloud_name=cloud["member_cloud"], image_ids=list(ids.values()),
                          journal_dir=str(tmp_path), glance_api_conf=cloud["glance"]["api_conf"])
    failed = result.results["result"]
    assert failed["failed"] is True
    assert failed["msg"].startswith("glance_location_backfill needs admin credentials")


def test_undo_with_the_api_backend_is_refused_clearly(backfill, tmp_path):
    result = backfill(mode="undo", backend="api", journal=str(tmp_path / "none.jsonl"))
    assert result["failed"] is True
    assert result["msg"].startswith("mode=undo needs backend=database")


def test_a_journal_shipped_to_swift_is_undone_from_there(run_playbook, glance, legacy, cloud, tmp_path):
    """An AWX-like run: the local journal is gone after the job, undo reads the shipped objects.

    Last in this file: it leaves its two images untagged again, as undone."""
    untagged = [legacy.ids["fast"], legacy.ids["swift_cred"]]

    def backfill_untagged(**options):  # these two images only: whatever the other tests left
        result = run_playbook("backfill.yml", image_ids=untagged, journal_dir=str(tmp_path), backend="database",
                              glance_api_conf=cloud["glance"]["api_conf"], **options)
        assert result.returncode == 0, result.output
        return result.results["result"]

    glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id IN (:a, :b)", a=untagged[0], b=untagged[1])
    before = glance.rows(untagged)
    container = f"storeops-journals-{uuid.uuid4().hex[:8]}"
    swift = openstack.connect(cloud=cloud["admin_cloud"]).object_store
    try:
        result = backfill_untagged(journal_url=f"swift://{container}/awx/backfill")
        assert result["counts"]["written"] == 2
        run = result["journal_url"].rpartition("/")[2]  # the local file's name, and a random part
        assert result["journal_url"] == f"swift://{container}/awx/backfill/{run}"
        assert run.startswith(Path(result["journal"]).name[:-len(".jsonl")] + "-")
        names = [item.name for item in swift.objects(container)]
        assert names == [f"awx/backfill/{run}/00000000.jsonl"]  # two entries: one flush, at the end
        shipped = swift.download_object(names[0], container=container)
        assert shipped == Path(result["journal"]).read_bytes()
        for secret in secrets_of(cloud):
            assert secret.encode() not in shipped
        os.unlink(result["journal"])  # the execution environment's files are gone with the job

        undone = backfill_untagged(mode="undo", journal=result["journal_url"])
        assert undone["changed"] is True and undone["counts"]["restored"] == 2
        assert glance.rows(untagged) == before
        assert list(tmp_path.iterdir()) == []  # the undo's copy of the shipped journal is removed
    finally:
        for item in swift.objects(container):
            swift.delete_object(item, container=container)
        swift.delete_container(container)
