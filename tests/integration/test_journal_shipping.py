"""journal_url on the local cloud: a backfill killed while it ships, a name another writer took,
and the location_backfill role's journals undone from Swift.

One image gets 200 untagged locations; the backfill (database back end) writes them in pages of
50, one transaction each, and ships every 100 entries. The test holds row locks on the last page,
so the run stops there, deterministically, after its first shipment: it is killed there (the
module's whole process tree: Ansible's worker calls setsid), or another writer's object is put
at the run's next name before the locks go.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import openstack
import pytest
import sqlalchemy
from glance_helpers import Glance

from conftest import REPO
from process_tree import kill_module_when

LOCATIONS, PAGE = 200, 50
HELD = LOCATIONS - PAGE  # the last page's rows are locked: the run stops after writing the others


class SwiftJournals:
    """A Swift container of this test's own, through the admin cloud (as the module writes it)."""

    options: dict = {}

    def __init__(self, cloud):
        self.name = f"storeops-jship-{uuid.uuid4().hex[:8]}"
        self.store = openstack.connect(cloud=cloud["admin_cloud"]).object_store

    def url(self, prefix):
        return f"swift://{self.name}/{prefix}"

    def _request(self, method, path, ok, **kwargs):
        response = self.store.request(f"/{self.name}/{path}".replace(".", "%2E"), method, **kwargs)
        assert response.status_code in ok, (method, path, response.status_code)
        return response

    def names(self, prefix):
        response = self.store.request(f"/{self.name}", "GET", params={"format": "json", "prefix": prefix})
        return [item["name"] for item in response.json()] if response.status_code == 200 else []

    def get(self, name):
        return self._request("GET", name, (200,)).content

    def put_new(self, name, data):
        """Whether ``data`` went to ``name``: never over an object already there."""
        return self._request("PUT", name, (201, 412), data=data,
                             headers={"If-None-Match": "*"}).status_code == 201

    def remove(self):
        for name in self.names(""):
            self._request("DELETE", name, (204, 404))
        self.store.request(f"/{self.name}", "DELETE")


class S3Journals:
    """An RGW bucket of this test's own, with the cloud's S3 credentials."""

    def __init__(self, cloud):
        rgw = cloud["ceph"]["rgw"]
        self.name = f"storeops-jship-{uuid.uuid4().hex[:8]}"
        self.options = {"journal_s3_endpoint_url": rgw["endpoint"], "journal_s3_access_key": rgw["s3_access_key"],
                        "journal_s3_secret_key": rgw["s3_secret_key"]}
        self.client = boto3.client("s3", endpoint_url=rgw["endpoint"], aws_access_key_id=rgw["s3_access_key"],
                                   aws_secret_access_key=rgw["s3_secret_key"], region_name="us-east-1")

    def url(self, prefix):
        return f"s3://{self.name}/{prefix}"

    def names(self, prefix):
        try:
            listed = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        except self.client.exceptions.NoSuchBucket:
            return []
        return [item["Key"] for item in listed.get("Contents", [])]

    def get(self, name):
        return self.client.get_object(Bucket=self.name, Key=name)["Body"].read()

    def put_new(self, name, data):
        try:
            self.client.put_object(Bucket=self.name, Key=name, Body=data, IfNoneMatch="*")
        except self.client.exceptions.ClientError as err:
            if err.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def remove(self):
        for name in self.names(""):
            self.client.delete_object(Bucket=self.name, Key=name)
        if self.names("") == [] and self.name in [b["Name"] for b in self.client.list_buckets()["Buckets"]]:
            self.client.delete_bucket(Bucket=self.name)


@pytest.fixture(params=["swift", "s3"])
def journals(request, cloud):
    store = (SwiftJournals if request.param == "swift" else S3Journals)(cloud)
    yield store
    store.remove()


@pytest.fixture
def swift_journals(cloud):
    store = SwiftJournals(cloud)
    yield store
    store.remove()


@pytest.fixture
def glance(cloud):
    return Glance(cloud)


@pytest.fixture
def locations(glance):
    """An image of the fast store with LOCATIONS untagged locations; their ids, in page order."""
    image_id = glance.upload(f"storeops-jship-{uuid.uuid4().hex[:8]}", "fast", os.urandom(1024))
    try:
        with glance.db.begin() as conn:
            first = conn.execute(sqlalchemy.text("SELECT id, value FROM image_locations WHERE image_id = :i"),
                                 {"i": image_id}).one()
            conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{}' WHERE id = :l"), {"l": first.id})
            conn.execute(sqlalchemy.text(
                "INSERT INTO image_locations (image_id, value, meta_data, deleted, status, created_at) "
                "VALUES (:i, :v, '{}', 0, 'active', NOW())"),
                [{"i": image_id, "v": f"{first.value}-copy-{n:03d}"} for n in range(1, LOCATIONS)])
            ids = conn.execute(sqlalchemy.text("SELECT id FROM image_locations WHERE image_id = :i ORDER BY id"),
                               {"i": image_id}).scalars().all()
        yield image_id, ids
    finally:
        glance.execute("DELETE FROM image_locations WHERE image_id = :i AND value LIKE '%-copy-%'", i=image_id)
        glance.image.delete(f"/images/{image_id}")


class RowLocks:
    """Rows of image_locations locked by a transaction of the test's (the run's UPDATE waits on them)."""

    def __init__(self, glance, ids):
        self._conn = glance.db.connect()
        self._transaction = self._conn.begin()
        self._conn.execute(sqlalchemy.text("SELECT id FROM image_locations WHERE id IN :ids FOR UPDATE").bindparams(
            sqlalchemy.bindparam("ids", expanding=True)), {"ids": list(ids)})

    def release(self):
        self._transaction.rollback()
        self._conn.close()


def tagged(glance, image_id):
    """The ids of the image's locations a committed transaction gave a store."""
    with glance.db.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT id, meta_data FROM image_locations WHERE image_id = :i"),
                            {"i": image_id})
        return {row.id for row in rows if json.loads(row.meta_data or "{}").get("store")}


def entries(journal: bytes):
    """The location ids a backfill journal's bytes record (its header lines left out)."""
    return [entry["location_id"] for entry in map(json.loads, journal.splitlines()) if "location_id" in entry]


def run_of(names, prefix):
    """The one run under ``prefix``, checking its objects are 0, 1, 2... with no gap."""
    runs = {name.split("/")[1] for name in names}
    assert len(runs) == 1, names
    run = runs.pop()
    assert names == [f"{prefix}/{run}/{sequence:08d}.jsonl" for sequence in range(len(names))]
    return run


def backfill_options(cloud, journals, image_id, journal_dir, **options):
    return {"image_ids": [image_id], "backend": "database", "batch_size": PAGE, "journal_dir": str(journal_dir),
            "glance_api_conf": cloud["glance"]["api_conf"], **journals.options, **options}


def test_a_killed_run_leaves_a_gap_free_prefix_that_undoes_and_a_rerun_converges(
        playbook_command, run_playbook, cloud, glance, journals, locations, tmp_path):
    image_id, ids = locations
    before = glance.rows([image_id])
    killed_dir = tmp_path / "killed"

    def run(**options):
        result = run_playbook("backfill.yml", **backfill_options(cloud, journals, image_id, tmp_path / "later",
                                                                 **options))
        assert result.returncode == 0, result.output
        return result.results["result"]

    argv, env = playbook_command("backfill.yml", out=str(tmp_path / "killed.json"), **backfill_options(
        cloud, journals, image_id, killed_dir, journal_url=journals.url("awx")))
    locks = RowLocks(glance, ids[HELD:])
    try:
        # the first shipment is there, and the last unlocked page committed: the run now waits on the locks
        killed = kill_module_when(argv, env, REPO, "glance_location_backfill", timeout=120,
                                  ready=lambda: journals.names("awx/") and len(tagged(glance, image_id)) == HELD)
    finally:
        locks.release()  # the killed run's waiting transaction is rolled back
    assert killed and not (tmp_path / "killed.json").exists()  # no result: the module died
    names = journals.names("awx/")
    run_id = run_of(names, "awx")
    shipped = b"".join(journals.get(name) for name in names)
    (local,) = killed_dir.glob("glance_location_backfill-*.jsonl")
    journal = local.read_bytes()
    assert journal.startswith(shipped)  # what shipped is the local journal's head, all but the last entries
    assert entries(journal) == ids[:HELD] == sorted(tagged(glance, image_id))  # every landed write is on record
    shipped_ids = entries(shipped)
    assert len(shipped_ids) >= 100  # at least the first shipment: 100 entries

    again = run(journal_url=journals.url("awx"))
    assert again["counts"]["written"] == PAGE and again["journal_url"]
    assert tagged(glance, image_id) == set(ids)  # converged
    assert run()["changed"] is False

    undone = run(mode="undo", journal=f"{journals.url('awx')}/{run_id}")  # the killed job's files are gone
    assert undone["counts"]["restored"] == len(shipped_ids), undone
    assert tagged(glance, image_id) == set(ids) - set(shipped_ids)
    rest = run(mode="undo", journal=str(local))  # the local journal holds the rest
    counts = rest["counts"]
    assert (counts["restored"], counts["already_restored"]) == (HELD - len(shipped_ids), len(shipped_ids))
    run(mode="undo", journal=again["journal_url"])
    assert glance.rows([image_id]) == before


def test_an_object_another_writer_put_at_the_next_name_is_kept(
        playbook_command, cloud, glance, journals, locations, tmp_path):
    image_id, ids = locations
    out = tmp_path / "result.json"
    argv, env = playbook_command("backfill.yml", out=str(out), **backfill_options(
        cloud, journals, image_id, tmp_path / "journals", journal_url=journals.url("taken")))
    foreign = b'{"journal": "another run\'s object"}\n'
    locks = RowLocks(glance, ids[HELD:])
    proc = subprocess.Popen(argv, env=env, cwd=REPO,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (journals.names("taken/") and len(tagged(glance, image_id)) == HELD):
            assert time.monotonic() < deadline and proc.poll() is None, (
                "the run never reached the locked page", out.exists() and out.read_text())
            time.sleep(0.05)
        while True:  # the next name, whatever shipped by now
            names = journals.names("taken/")
            taken = f"taken/{run_of(names, 'taken')}/{len(names):08d}.jsonl"
            if journals.put_new(taken, foreign):
                break
    finally:
        locks.release()
        proc.wait(timeout=300)
    result = json.loads(out.read_text())["result"]
    assert result["counts"]["written"] == LOCATIONS and not result.get("failed"), result
    assert journals.get(taken) == foreign, result  # not overwritten
    assert journals.names("taken/")[-1] == taken, result  # and nothing shipped after it
    assert not result.get("journal_url")  # the shipped copy is not whole: no URL to undo from
    warning = [text for text in result.get("warnings", []) if "which this run did not write" in text]
    assert len(warning) == 1, result
    assert warning[0].startswith(f"journal_url: {journals.url('taken')}/") and taken in warning[0]
    local = Path(result["journal"])
    assert str(local) in warning[0]
    assert entries(local.read_bytes()) == ids  # the local journal is whole


@pytest.fixture
def two_images(glance):
    """Two images of the fast store whose one location each is untagged."""
    ids = [glance.upload(f"storeops-jship-{uuid.uuid4().hex[:8]}", "fast", os.urandom(1024)) for _n in range(2)]
    try:
        glance.execute("UPDATE image_locations SET meta_data = '{}' WHERE image_id IN (:a, :b)", a=ids[0], b=ids[1])
        yield ids
    finally:
        for image_id in ids:
            glance.image.delete(f"/images/{image_id}")


def test_the_role_ships_each_slice_and_each_undoes_from_its_url(
        run_playbook, cloud, glance, swift_journals, two_images, tmp_path):
    before = glance.rows(two_images)
    url = swift_journals.url("awx/role")
    run = run_playbook("role.yml", role_under_test="location_backfill", location_backfill_backend="database",
                       location_backfill_image_ids=two_images, location_backfill_limit=1,
                       location_backfill_glance_api_conf=cloud["glance"]["api_conf"],
                       location_backfill_journal_dir=str(tmp_path / "role"), location_backfill_journal_url=url)
    assert run.returncode == 0, run.output
    result = run.results["backfill"]
    assert (result["slices"], result["counts"]["written"]) == (2, 2), result
    urls = result["journal_urls"]
    assert len(urls) == 2 and all(one.startswith(url + "/glance_location_backfill-") for one in urls), urls
    assert result["journal_url"] == urls[-1]
    assert glance.stores(two_images) == {image_id: {"fast"} for image_id in two_images}, result
    for journal in result["journals"]:
        os.unlink(journal)  # the execution environment's files are gone with the job
    for shipped in reversed(urls):
        undo = run_playbook("backfill.yml", mode="undo", backend="database", journal=shipped, image_ids=two_images,
                            journal_dir=str(tmp_path / "undo"), glance_api_conf=cloud["glance"]["api_conf"])
        assert undo.returncode == 0, undo.output
        assert undo.results["result"]["counts"]["restored"] == 1, undo.results
    assert glance.rows(two_images) == before, result
