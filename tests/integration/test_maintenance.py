"""The maintenance playbook on seeded legacy state: a full run, a second run, each role alone,
bad vars files, an AWX-style run through ansible-runner, and the host state the run leaves."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import testinfra
import yaml
from botocore.config import Config
from markdown_it import MarkdownIt

from browser import png_colours, rendered_dom, screenshot
from cloud_secrets import cloud_secrets, leaked
from conftest import REPO
from glance_helpers import Glance

MAINTENANCE = "storeops.openstack.maintenance"


@pytest.fixture(scope="module")
def glance(cloud):
    return Glance(cloud)


def seed(tmp_path_factory, label: str) -> dict:
    """Legacy state of its own (a fresh prefix) and the vars file for it."""
    work = tmp_path_factory.mktemp(label)
    prefix = f"mnt{uuid.uuid4().hex[:6]}"
    vars_file = work / "vars.yml"
    subprocess.run([sys.executable, str(REPO / "tools" / "seed_legacy.py"), "--prefix", prefix,
                    "--vars-out", str(vars_file), "--force"], check=True, stdout=subprocess.DEVNULL)
    variables = yaml.safe_load(vars_file.read_text())
    variables.update(maintenance_report_dir=str(work / "reports"),
                     location_backfill_journal_dir=str(work / "journals"),
                     store_migration_journal_dir=str(work / "journals"))
    return {"prefix": prefix, "vars": variables, "work": work}


@pytest.fixture(scope="module")
def seeded(cloud, tmp_path_factory) -> dict:
    return seed(tmp_path_factory, "maintenance")


@pytest.fixture(scope="module")
def maintenance(playbook_command, seeded):
    def run(**overrides) -> subprocess.CompletedProcess:
        argv, env = playbook_command(MAINTENANCE, **{**seeded["vars"], **overrides})
        return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=1800,
                              check=False)
    return run


@pytest.fixture(scope="module")
def first_run(maintenance, seeded):
    proc = maintenance()
    report = Path(seeded["vars"]["maintenance_report_dir"]) / "report.json"
    return proc, json.loads(report.read_text()) if report.exists() else {}


def images_named(glance, prefix):
    listed = glance.image.get("/images", params={"limit": 1000}).json()["images"]
    return {i["name"]: i for i in listed if i["name"].startswith(prefix)}


def test_full_run_converges_the_legacy_state(first_run, glance, seeded):
    proc, report = first_run
    assert proc.returncode == 0, proc.stdout[-3000:]
    stages = {stage["name"]: stage for stage in report["stages"]}
    assert list(stages) == ["catalog", "backfill", "migration", "verify"]
    assert stages["catalog"]["changed"] == 2 and stages["catalog"]["bytes_moved"] == 6_000_000
    assert stages["backfill"]["changed"] >= 4  # two nested-trap, one fast, one swift (and leftovers)
    assert stages["migration"]["changed"] == 4 and stages["migration"]["bytes_moved"] == 16_200_000
    assert stages["verify"]["status"] == "unchanged" and report["totals"]["failed"] == 0
    images = images_named(glance, seeded["prefix"])
    for name, image in images.items():
        if "-cheap-" in name:  # the nested-prefix trap, tagged right
            assert glance.stores([image["id"]])[image["id"]] == {"cheap"}
        if "-swift-" in name:
            assert image["stores"] == "ceph"
    catalogued = images[f"{seeded['prefix']}-catalog-cirros"]
    assert sorted(catalogued["stores"].split(",")) == ["ceph", "fast"]
    assert "Report:" in proc.stdout
    # every store's images before and after; the cloud is shared (other tests add and remove
    # images meanwhile), so the numbers are checked against this test's own images, as lower bounds
    stores = {store["store"]: store for store in report["stores"]}
    assert set(stores) >= set(seeded["vars"]["maintenance_expected_stores"])
    # before: the three tagged legacy swift images (12 + 3 + 0.5 MB) and the tagged ceph one
    assert stores["swift"]["images_before"] >= 3 and stores["swift"]["bytes_before"] >= 15_500_000
    assert stores["ceph"]["images_before"] >= 1 and stores["ceph"]["bytes_before"] >= 400_000
    for store in seeded["vars"]["maintenance_expected_stores"]:
        mine = [image for image in images.values() if store in image["stores"].split(",")
                and image["status"] == "active"]
        assert stores[store]["images_after"] >= len(mine), store
        assert stores[store]["bytes_after"] >= sum(image["size"] for image in mine), store
    # after: the four migrated, the ceph one and the two catalogue images (6 MB) in ceph
    assert stores["ceph"]["images_after"] >= 7 and stores["ceph"]["bytes_after"] >= 22_600_000


def test_the_first_run_reads_in_a_browser_and_as_markdown(first_run, seeded, tmp_path):
    """Runs before the second run rewrites the reports: the totals must be the first run's."""
    report = first_run[1]
    reports = Path(seeded["vars"]["maintenance_report_dir"])
    assert json.loads((reports / "report.json").read_text())["totals"] == report["totals"]
    colours = png_colours(screenshot(reports / "report.html", tmp_path / "report.png"))
    bar_colour = re.search(r"\.bar-changed \{ fill: #([0-9a-f]{3}); \}", (reports / "report.html").read_text()).group(1)
    changed_bar = bytes(int(digit * 2, 16) for digit in bar_colour)  # #2a8 is 22 aa 88
    assert changed_bar in {colour[:3] for colour in colours}, "the page shows no bar: not the report rendered"
    dom = rendered_dom(reports / "report.html")
    totals = report["totals"]
    assert f"{totals['failed']} failures, {totals['changed']} changes, {totals['remaining']} items left" in dom
    assert "22.2 MB moved" in dom and str(totals["bytes_moved"]) not in dom  # human units, never raw bytes
    assert dom.count("<svg") == len(report["stages"]) + len(report["stores"]) and "<script" not in dom
    stores = {store["store"]: store for store in report["stores"]}
    assert stores["swift"]["images_removed"] == 4 and stores["ceph"]["bytes_added"] == 22_200_000
    html = MarkdownIt("commonmark").enable("table").render((reports / "report.md").read_text())
    assert html.count("<table>") == 2  # the stages, and the stores
    assert '<td style="text-align:right">16.2 MB</td>' in html  # the migration's bytes, right-aligned
    assert str(report["stages"][2]["bytes_moved"]) not in html


def test_second_run_reports_nothing_left_to_do(first_run, maintenance, seeded):
    proc = maintenance()
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads((Path(seeded["vars"]["maintenance_report_dir"]) / "report.json").read_text())
    assert report["nothing_left_to_do"] is True, report["totals"]
    assert all(stage["status"] == "unchanged" for stage in report["stages"])
    assert "Nothing left to do." in proc.stdout
    markdown = (Path(seeded["vars"]["maintenance_report_dir"]) / "report.md").read_text()
    assert "**Nothing left to do**" in markdown


def test_host_state_after_the_run(first_run, seeded, cloud):
    """pytest-testinfra on the host that ran the playbook (this one)."""
    host = testinfra.get_host("local://")
    reports = seeded["vars"]["maintenance_report_dir"]
    directory = host.file(reports)
    assert directory.is_directory and directory.mode == 0o700
    for name in ("report.md", "report.html", "report.json"):
        report = host.file(f"{reports}/{name}")
        assert report.exists and report.mode == 0o600 and report.size > 200
        assert leaked(cloud_secrets(cloud), report.content_string) == [], name
    leftovers = host.run(f"find {reports} {seeded['work']} -name '*.partial' -o -name '.ansible_tmp*'"
                         " -o -name 'ansible-tmp-*'")
    assert leftovers.rc == 0 and leftovers.stdout == ""
    journals = host.run(f"find {seeded['work']}/journals -type f ! -perm 600")
    assert journals.stdout == ""  # every journal is 0600


def test_bad_vars_file_is_rejected_before_anything_is_touched(maintenance, seeded, glance):
    catalog = [dict(seeded["vars"]["image_catalog_images"][0], visibility="everyone")]
    proc = maintenance(image_catalog_images=catalog, maintenance_report_dir=str(seeded["work"] / "bad"))
    assert proc.returncode != 0
    assert "image_catalog_images" in proc.stdout and "visibility" in proc.stdout
    assert "Read Glance's stores" not in proc.stdout
    no_source = [{"name": "nosource"}]
    proc = maintenance(image_catalog_images=no_source, maintenance_report_dir=str(seeded["work"] / "bad"))
    assert "images[0] (nosource): state is present but any of the following are missing: filename, url" in proc.stdout
    assert not (seeded["work"] / "bad").exists()


def test_each_role_alone(run_playbook, seeded, glance):
    image = dict(seeded["vars"]["image_catalog_images"][1], name=f"{seeded['prefix']}-alone")
    plan = run_playbook("role.yml", role_under_test="image_catalog", entry_point="plan",
                        image_catalog_images=[image])
    assert plan.returncode == 0, plan.output
    assert plan.results["catalog_plan"]["changed"] == 1 and plan.results["catalog"] is None
    assert "create" in [a["action"] for a in plan.results["catalog_plan"]["images"][0]["actions"]]
    assert images_named(glance, image["name"]) == {}  # the plan changed nothing
    catalog = run_playbook("role.yml", role_under_test="image_catalog", image_catalog_images=[image])
    assert catalog.returncode == 0, catalog.output
    assert catalog.results["catalog"]["images"][0]["changed"] is True
    assert catalog.results["catalog"]["changed"] == 1 and catalog.results["catalog"]["failed"] == 0
    backfill = run_playbook("role.yml", role_under_test="location_backfill",
                            location_backfill_glance_api_conf=seeded["vars"]["maintenance_glance_api_conf"],
                            location_backfill_journal_dir=str(seeded["work"] / "journals"))
    assert backfill.returncode == 0, backfill.output
    assert backfill.results["backfill"]["counts"]["images_scanned"] > 0
    report_dir = seeded["work"] / "alone"
    report = run_playbook("role.yml", role_under_test="maintenance_report",
                          maintenance_report_dir=str(report_dir),
                          location_backfill_result=backfill.results["backfill"])
    assert report.returncode == 0, report.output
    assert [s["name"] for s in report.results["report"]["stages"]] == ["backfill"]
    assert (report_dir / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.fixture
def presigned_catalog_entry(cloud, seeded):
    """A catalogue entry whose source is an RGW object behind a presigned URL: the URL carries the
    S3 access key (X-Amz-Credential) and a signature that opens the object to anyone holding it."""
    rgw = cloud["ceph"]["rgw"]
    s3 = boto3.client("s3", endpoint_url=rgw["endpoint"], aws_access_key_id=rgw["s3_access_key"],
                      aws_secret_access_key=rgw["s3_secret_key"], region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket, data = f"mnt-presigned-{uuid.uuid4().hex[:8]}", os.urandom(1_000_000)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="web.img", Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "web.img"}, ExpiresIn=3600)
    yield {"name": f"{seeded['prefix']}-catalog-presigned", "url": url, "stores": ["fast"],
           "checksum": "sha256:" + hashlib.sha256(data).hexdigest()}
    s3.delete_object(Bucket=bucket, Key="web.img")
    s3.delete_bucket(Bucket=bucket)


def test_awx_style_run_through_ansible_runner(first_run, seeded, tarball_install, cloud, tmp_path, glance,
                                              presigned_catalog_entry):
    """Roles set_fact their modules' results, and AWX keeps every job event: no secret of any kind
    may be in one. The credentials come as AWX may hand them over (a cloud dict in the extra
    vars), and one catalogue image comes from a presigned URL."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    clouds = yaml.safe_load(Path(cloud["clouds_yaml"]).read_text())["clouds"]
    extravars = dict(seeded["vars"], maintenance_cloud=clouds[cloud["admin_cloud"]],
                     image_catalog_images=seeded["vars"]["image_catalog_images"] + [presigned_catalog_entry])
    private = tmp_path / "runner"
    (private / "env").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (private / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": str(tarball_install[1]), "OS_CLIENT_CONFIG_FILE": cloud["clouds_yaml"],
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}))
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    env_before = dict(os.environ)
    try:
        run = ansible_runner.run(private_data_dir=str(private), playbook=MAINTENANCE, quiet=True)
        assert dict(os.environ) == env_before
        assert run.status == "successful" and run.rc == 0
        assert "localhost" in run.stats["ok"] and not run.stats["failures"]
        events = list(run.events)
        stats = [e for e in events if e["event"] == "playbook_on_stats"][0]
        published = stats["event_data"]["artifact_data"]["storeops_maintenance"]
        assert published["stages"]["catalog"] == "changed" and published["stages"]["migration"] == "unchanged"
        assert published["totals"]["failed"] == 0
        text = json.dumps(events) + "".join(p.read_text(errors="replace")
                                            for p in (private / "artifacts").rglob("*") if p.is_file())
        assert "module_args" in text  # the events do hold the modules' invocations
        signature = parse_qs(urlsplit(presigned_catalog_entry["url"]).query)["X-Amz-Signature"][0]
        secrets = {**cloud_secrets(cloud), "presigned URL": presigned_catalog_entry["url"],
                   "presigned URL signature": signature}
        assert leaked(secrets, text) == []
    finally:
        for image in images_named(glance, presigned_catalog_entry["name"]).values():
            glance.image.delete(f"/images/{image['id']}")


def test_execution_environment_definition(tarball_install, tmp_path):
    collections = tarball_install[1]
    introspect = subprocess.run([str(Path(sys.executable).parent / "ansible-builder"), "introspect",
                                 "--sanitize", str(collections)],
                                capture_output=True, text=True, check=True)
    assert "openstacksdk" in introspect.stdout and "python3-rbd [platform:dpkg]" in introspect.stdout
    definition = tmp_path / "execution-environment.yml"
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump(
        {"collections": [{"name": str(tarball_install[0]), "type": "file"}]}))
    definition.write_text(yaml.safe_dump({
        "version": 3, "images": {"base_image": {"name": "quay.io/centos/centos:stream9"}},
        "dependencies": {"galaxy": "requirements.yml", "python_interpreter": {"python_path": "/usr/bin/python3"},
                         "ansible_core": {"package_pip": "ansible-core>=2.16"},
                         "ansible_runner": {"package_pip": "ansible-runner"}}}))
    subprocess.run([str(Path(sys.executable).parent / "ansible-builder"), "create", "-f", str(definition),
                    "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                   check=True, capture_output=True, text=True)
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile and "introspect" in containerfile
    assert (tmp_path / "context" / "_build" / "requirements.yml").exists()


def test_two_overlapping_runs_of_one_vars_file_converge(cloud, playbook_command, tmp_path_factory, glance):
    """AWX schedules collide: two runs of the same vars file 1.5 s apart both end ok, and every
    catalogue name has one image, with the catalogue file's content."""
    fresh = seed(tmp_path_factory, "overlap")
    argv, env = playbook_command(MAINTENANCE, **fresh["vars"])
    runs = []
    for pause in (1.5, 0):
        runs.append(subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                     stderr=subprocess.STDOUT, text=True))
        time.sleep(pause)
    outputs = [proc.communicate(timeout=1800)[0] for proc in runs]
    for proc, output in zip(runs, outputs):
        assert proc.returncode == 0, output[-3000:]
    for entry in fresh["vars"]["image_catalog_images"]:
        same_name = [i for hidden in ("false", "true") for i in glance.image.get(
            "/images", params={"name": entry["name"], "os_hidden": hidden}).json()["images"]]
        assert [i["status"] for i in same_name] == ["active"], (entry["name"], same_name)
        assert same_name[0]["owner_specified.openstack.sha256"] == entry["checksum"].split(":", 1)[1]
        assert same_name[0]["os_hash_value"] == hashlib.sha512(Path(entry["filename"]).read_bytes()).hexdigest()
