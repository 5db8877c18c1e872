"""Two runs of a maintenance stage at once (AWX schedules collide): both end ok, the result is one.

The runs are started together on the same images; what each did is read back from its result
and from Glance, never from global counts (other tests run beside these).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import uuid

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import GlanceDatabase
from conftest import REPO
from glance_helpers import Glance


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


def at_once(playbook_command, tmp_path, playbook: str, count: int, **options) -> list[dict]:
    """Start ``count`` runs of the playbook together; return each one's registered result."""
    started = []
    for n in range(count):
        out = tmp_path / f"run{n}.json"
        argv, env = playbook_command(playbook, out=str(out), **options)
        started.append((subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                         stderr=subprocess.STDOUT, text=True), out))
    results = []
    for proc, out in started:
        output = proc.communicate(timeout=900)[0]
        assert proc.returncode == 0, output
        results.append(json.loads(out.read_text())["result"])
    return results


def test_two_backfills_at_once_write_each_location_once(playbook_command, glance, cloud, tmp_path):
    data = {"fast": os.urandom(2000), "cheap": os.urandom(2000)}  # cheap's prefix nests in fast's
    ids = {glance.upload(f"overlap-{uuid.uuid4().hex[:8]}-{store}", store, blob): store
           for store, blob in data.items() for _copy in range(3)}
    for image_id in ids:
        glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id = :i", i=image_id)
    runs = at_once(playbook_command, tmp_path, "backfill.yml", 2, backend="database",
                   glance_api_conf=cloud["glance"]["api_conf"], image_ids=list(ids),
                   journal_dir=str(tmp_path / "journals"), batch_size=1)
    assert all(not run.get("failed") for run in runs), runs
    assert sum(run["counts"]["written"] for run in runs) == len(ids)  # each location exactly once
    assert glance.stores(ids) == {image_id: {store} for image_id, store in ids.items()}
    journaled = [json.loads(line)["image_id"] for run in runs if "journal" in run
                 for line in open(run["journal"], encoding="utf-8").readlines()[1:]]
    assert sorted(journaled) == sorted(ids)  # each run journals only what it wrote


def test_two_migrations_at_once_both_end_ok_and_move_each_image_once(playbook_command, glance, cloud, tmp_path):
    prefix = f"overlap-{uuid.uuid4().hex[:8]}"
    blobs = {glance.upload(f"{prefix}-{n}", "swift", blob): blob
             for n, blob in enumerate(os.urandom(1_500_000) for _count in range(3))}
    runs = at_once(playbook_command, tmp_path, "migrate.yml", 2, name_pattern=f"{prefix}-*",
                   glance_api_conf=cloud["glance"]["api_conf"], journal_dir=str(tmp_path / "journals"))
    assert all(not run.get("failed") and run["counts"]["failed"] == 0 for run in runs), runs
    for image_id, blob in blobs.items():
        assert glance.stores_of(image_id) == ["ceph"]
        assert glance.get(image_id)["os_hash_value"] == hashlib.sha512(blob).hexdigest()
        assert glance.image.get(f"/images/{image_id}/file").content == blob
    # each image copied by one run only: the other waited on Glance's import lock, or found it done
    copies = [json.loads(line)["image"] for run in runs if "journal" in run
              for line in open(run["journal"], encoding="utf-8").readlines()[1:]
              if json.loads(line)["step"] == "copy" and json.loads(line)["outcome"] == "started"]
    assert sorted(copies) == sorted(blobs)


def test_two_registrations_of_one_copy_at_once_add_one_location(glance, cloud):
    """Two direct migrations of one image register its verified copy at once, in Glance's MariaDB:
    the second waits for the first's transaction and finds the location there."""
    image_id = glance.upload(f"overlap-{uuid.uuid4().hex[:8]}-register", "fast", os.urandom(2000))
    url = f"file://{cloud['glance']['stores']['cheap']['data_dir']}/{image_id}"  # as a direct copy's
    database = GlanceDatabase(cloud["glance"]["database_url"])
    second_saw: list[bool] = []

    def register() -> None:
        with database.session("second run") as session, session.transaction():
            second_saw.append(session.insert_location(image_id, url, {"store": "cheap"}))

    try:
        with database.session("first run") as session, session.transaction():
            assert session.insert_location(image_id, url, {"store": "cheap"})
            second = threading.Thread(target=register)
            second.start()
            second.join(timeout=3)
            assert second.is_alive()  # held by the first run's lock on the image
        second.join(timeout=60)
        assert second_saw == [True]  # the image has the location: the second run goes on as registered
        assert [found for (_image, found) in glance.rows([image_id])].count(url) == 1
    finally:
        glance.execute("UPDATE image_locations SET deleted = 1 WHERE image_id = :i AND value = :u", i=image_id, u=url)
        glance.image.delete(f"/images/{image_id}")


def test_two_direct_migrations_at_once_move_each_image_once(playbook_command, glance, cloud, tmp_path):
    """Neither run writes into the other's partial copy: an image one of them is copying is left to it
    (in_progress), and each image's bytes are written once."""
    prefix = f"overlap-{uuid.uuid4().hex[:8]}"
    blobs = {glance.upload(f"{prefix}-{n}", "swift", blob): blob
             for n, blob in enumerate(os.urandom(size) for size in (1_500_000, 10_000_000, 1_500_000))}
    runs = at_once(playbook_command, tmp_path, "migrate.yml", 2, name_pattern=f"{prefix}-*", method="direct",
                   glance_api_conf=cloud["glance"]["api_conf"], journal_dir=str(tmp_path / "journals"))
    assert all(not run.get("failed") and run["counts"]["failed"] == 0 for run in runs), runs
    fsid, pool = cloud["ceph"]["fsid"], cloud["ceph"]["rbd_pool"]
    for image_id, blob in blobs.items():
        assert glance.stores_of(image_id) == ["ceph"]
        assert glance.rows([image_id]) == {(image_id, f"rbd://{fsid}/{pool}/{image_id}/snap"): {"store": "ceph"}}
        assert glance.image.get(f"/images/{image_id}/file").content == blob
    written = [json.loads(line)["image"] for run in runs if "journal" in run
               for line in open(run["journal"], encoding="utf-8").readlines()[1:]
               if json.loads(line)["step"] == "write" and "written" in json.loads(line)["outcome"]]
    assert sorted(written) == sorted(blobs)
