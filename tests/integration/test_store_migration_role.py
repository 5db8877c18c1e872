"""The store_migration role through the collection's playbook storeops.openstack.migrate_store."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from glance_helpers import Glance


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


@pytest.fixture
def migrate_store(run_playbook, cloud, tmp_path):
    def run(prefix, **variables):
        values = {"store_migration_cloud": cloud["admin_cloud"],
                  "store_migration_source_store": "swift", "store_migration_target_store": "ceph",
                  "store_migration_glance_api_conf": cloud["glance"]["api_conf"],
                  "store_migration_name_pattern": f"{prefix}-*",
                  "store_migration_journal_dir": str(tmp_path / "journals"), **variables}
        # None leaves a variable out of the vars file
        return run_playbook("storeops.openstack.migrate_store",
                            **{key: value for key, value in values.items() if value is not None})
    return run


def test_untagged_images_stop_the_preflight_until_backfill_is_asked(migrate_store, glance):
    prefix = f"role-{uuid.uuid4().hex[:8]}"
    legacy = glance.upload(f"{prefix}-legacy", "swift", os.urandom(2000))
    tagged = glance.upload(f"{prefix}-tagged", "swift", os.urandom(3000))
    glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id = :i", i=legacy)
    refused = migrate_store(prefix)
    assert refused.returncode != 0
    assert "image(s) have a location in swift without a store tag" in refused.output
    assert glance.stores_of(tagged) == ["swift"]  # the preflight stopped everything

    done = migrate_store(prefix, store_migration_backfill_first=True,
                         store_migration_require_complete=True)
    assert done.returncode == 0, done.output
    assert glance.stores_of(legacy) == ["ceph"] and glance.stores_of(tagged) == ["ceph"]

    again = migrate_store(prefix, store_migration_require_complete=True)
    assert again.returncode == 0 and "changed=0" in again.output


def test_argument_specs_reject_a_bad_vars_file_before_anything_runs(migrate_store):
    missing = migrate_store("none", store_migration_target_store=None)
    assert missing.returncode != 0
    assert "missing required arguments: store_migration_target_store" in missing.output
    assert "Plan the migration" not in missing.output
    wrong = migrate_store("none", store_migration_concurrency="many")
    assert wrong.returncode != 0 and "store_migration_concurrency" in wrong.output
    assert "Plan the migration" not in wrong.output


def test_unknown_store_fails_the_preflight_clearly(migrate_store):
    failed = migrate_store("none", store_migration_target_store="nosuch")
    assert failed.returncode != 0
    assert "target_store: Glance has no store 'nosuch'; its stores are ceph, cheap, fast, swift" in failed.output
    assert "Migrate the image data" not in failed.output


def test_check_mode_of_the_playbook_moves_nothing(playbook_command, cloud, glance, tmp_path):
    prefix = f"role-{uuid.uuid4().hex[:8]}"
    image = glance.upload(f"{prefix}-a", "swift", os.urandom(2000))
    argv, env = playbook_command("storeops.openstack.migrate_store", **{
        "store_migration_cloud": cloud["admin_cloud"], "store_migration_source_store": "swift",
        "store_migration_target_store": "ceph", "store_migration_glance_api_conf": cloud["glance"]["api_conf"],
        "store_migration_name_pattern": f"{prefix}-*", "store_migration_journal_dir": str(tmp_path / "journals")})
    proc = subprocess.run(argv + ["--check"], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert glance.stores_of(image) == ["swift"]  # --check plans; it copies and deletes nothing
    assert not (tmp_path / "journals").exists() or not any((tmp_path / "journals").iterdir())


def test_direct_method_preflight_refuses_missing_credentials_in_one_line_before_anything_runs(
        migrate_store, glance, tmp_path):
    prefix = f"role-{uuid.uuid4().hex[:8]}"
    image = glance.upload(f"{prefix}-a", "swift", os.urandom(2000))
    unreadable = migrate_store(prefix, store_migration_method="direct",
                               store_migration_glance_api_conf=str(tmp_path / "missing.conf"))
    assert unreadable.returncode != 0
    assert (f"store_migration: method direct reads the stores with the credentials of glance-api.conf, and "
            f"store_migration_glance_api_conf {tmp_path / 'missing.conf'} is not a readable file: set it to "
            f"Glance's glance-api.conf, readable on localhost\n") in unreadable.output
    assert "Plan the migration" not in unreadable.output  # nothing asked of Glance or a store
    assert glance.stores_of(image) == ["swift"]
    assert not (tmp_path / "journals").exists()


def test_direct_method_takes_the_database_url_from_glance_api_conf(migrate_store, glance):
    prefix = f"role-{uuid.uuid4().hex[:8]}"
    image = glance.upload(f"{prefix}-a", "swift", os.urandom(2000))
    done = migrate_store(prefix, store_migration_method="direct", store_migration_backend="database")
    assert done.returncode == 0, done.output
    assert glance.stores_of(image) == ["ceph"]


def test_the_migration_runs_in_slices_each_printing_one_progress_line(migrate_store, glance):
    prefix = f"role-{uuid.uuid4().hex[:8]}"
    images = [glance.upload(f"{prefix}-{n}", "swift", os.urandom(1000)) for n in range(2)]
    run = migrate_store(prefix, store_migration_limit=1, store_migration_require_complete=True)
    assert run.returncode == 0, run.output
    lines = [line for line in run.output.splitlines() if "store_migration slice" in line]
    assert [line.split('"msg": "')[1].split(",")[0] for line in lines] == [
        "store_migration slice 1: 1/2 images", "store_migration slice 2: 2/2 images"], run.output
    assert "2.0 kB of 2.0 kB" in lines[-1] and lines[-1].endswith('done, 0 failed"')
    assert all(glance.stores_of(image) == ["ceph"] for image in images)
