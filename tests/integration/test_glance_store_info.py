"""glance_store_info against the local cloud, through the collection installed from its tarball."""
from __future__ import annotations

import json
import tarfile

import pytest


@pytest.fixture(scope="module")
def run(run_playbook, cloud):
    result = run_playbook("store_info.yml", glance_api_conf=cloud["glance"]["api_conf"])
    assert result.returncode == 0, result.output
    return result


def test_admin_sees_every_store_with_its_type(run, cloud):
    admin = run.results["admin"]
    assert admin["changed"] is False
    assert admin["details_visible"] is True
    assert {s["id"]: s["type"] for s in admin["stores"]} == {
        "fast": "file", "cheap": "file", "swift": "swift", "ceph": "rbd"}
    assert admin["default_store"] == "fast"
    assert [s["id"] for s in admin["stores"] if s["default"]] == ["fast"]
    assert {"glance-direct", "web-download", "copy-image"} <= set(admin["import_methods"])


def test_store_properties_match_the_cloud(run, cloud):
    stores = {s["id"]: s for s in run.results["admin"]["stores"]}
    assert stores["fast"]["properties"]["data_dir"] == cloud["glance"]["stores"]["fast"]["data_dir"]
    assert stores["cheap"]["properties"]["data_dir"] == cloud["glance"]["stores"]["cheap"]["data_dir"]
    assert stores["ceph"]["properties"]["pool"] == "images"
    assert stores["ceph"]["properties"]["fsid"] == cloud["ceph"]["fsid"]
    assert stores["swift"]["properties"]["container"] == "glance"


def test_url_prefixes_from_the_api_and_from_glance_api_conf(run, cloud):
    from_api = {s["id"]: s["url_prefixes"] for s in run.results["admin"]["stores"]}
    data_dir = cloud["glance"]["stores"]["fast"]["data_dir"]
    assert from_api["fast"] == [{"url_prefix": "file://" + data_dir, "source": "api"}]
    assert from_api["ceph"] == [{"url_prefix": f"rbd://{cloud['ceph']['fsid']}/images/", "source": "api"}]
    assert from_api["swift"] == []
    assert any("swift" in note for note in run.results["admin"]["url_prefix_notes"])
    from_conf = {s["id"]: s["url_prefixes"] for s in run.results["admin_conf"]["stores"]}
    assert from_conf["swift"] == [
        {"url_prefix": "swift+config://ref1/glance/", "source": "config"},
        {"url_prefix": "swift+http://***@127.0.0.1:5000/v3/glance/", "source": "config"}]
    assert run.results["admin_conf"]["url_prefix_notes"] == []


def test_the_old_name_stores_still_gives_url_prefixes_and_warns(run):
    old_name = run.results["old_name"]
    from_explicit = {s["id"]: s["url_prefixes"] for s in old_name["stores"]}
    # the given prefix is no_log (it may hold credentials), so Ansible masks it in the result
    assert from_explicit["swift"] == [{"url_prefix": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "source": "explicit"}]
    assert from_explicit["fast"] == []  # url_prefix_sources: [explicit] only
    deprecations = old_name["deprecations"]
    assert [d["collection_name"] for d in deprecations] == ["storeops.openstack"]
    assert "stores" in deprecations[0]["msg"] and deprecations[0]["version"] == "2.0.0"


def test_check_mode_returns_the_same(run):
    admin, check = run.results["admin"], run.results["admin_check"]
    assert check["changed"] is False
    assert check["stores"] == admin["stores"]


def test_member_degrades_to_the_public_listing_and_says_so(run):
    member = run.results["member"]
    assert member["details_visible"] is False
    assert [s["id"] for s in member["stores"]] == ["fast", "cheap", "swift", "ceph"]
    assert all(s["type"] is None and s["properties"] is None for s in member["stores"])
    assert any("admin" in warning for warning in member["warnings"])
    assert any("count only the images they see" in warning for warning in member["warnings"])


def test_usage_counts_each_stores_images_only_when_asked(run):
    # the cloud is shared, so the counts themselves are checked in test_maintenance against its own images
    assert all("images" not in store and "bytes" not in store for store in run.results["admin"]["stores"])
    for result in ("admin_conf", "member"):
        usage = {s["id"]: (s["images"], s["bytes"]) for s in run.results[result]["stores"]}
        assert set(usage) == {"fast", "cheap", "swift", "ceph"}, result
        assert all(isinstance(n, int) and isinstance(b, int) and n >= 0 and b >= 0 for n, b in usage.values())
    admin = {s["id"]: s["images"] for s in run.results["admin_conf"]["stores"]}
    assert sum(admin.values()) > 0  # the cloud's seeded images are somewhere


def test_unknown_cloud_name_is_a_clean_one_line_error(run):
    bad = run.results["bad_cloud"]
    assert bad["failed"] is True
    assert bad["msg"].startswith("cloud: ") and "no-such-cloud" in bad["msg"]
    assert "\n" not in bad["msg"]
    # ansible-core >= 2.19 adds "exception": "(traceback unavailable)" to every failure
    assert "Traceback" not in json.dumps(bad) and "File \\\"" not in json.dumps(bad)


def test_wrong_password_is_a_clean_error_without_the_password(run):
    bad = run.results["bad_auth"]
    assert bad["failed"] is True
    assert "authentication failed" in bad["msg"]
    assert "not-the-password" not in run.output
    assert "not-the-password" not in json.dumps(run.results)


def test_action_group_module_defaults(run):
    assert [s["id"] for s in run.results["via_defaults"]["stores"]] == ["fast", "cheap", "swift", "ceph"]


def test_no_cloud_secret_in_any_output(run, cloud):
    everything = run.output + json.dumps(run.results)
    for name, secret in cloud["secrets"].items():
        assert secret not in everything, name


def test_tarball_is_clean(tarball_install):
    tarball, collections = tarball_install
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "plugins/modules/glance_store_info.py" in names
    assert "meta/runtime.yml" in names
    leaked = [n for n in names if n.split("/")[0] in {".localcloud", ".venv", ".build", ".ansible", ".ci", "tools", "bench", ".git"}
              or "__pycache__" in n or n.endswith(".pyc")]
    assert leaked == []
    assert (collections / "ansible_collections" / "storeops" / "openstack" / "MANIFEST.json").is_file()
