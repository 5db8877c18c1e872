"""A catalogue's entries checked before any is acted on: glance_image's spec, a metadata standard."""
from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.filter.catalogue_problems import catalogue_problems
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.schema import check_entries

SCS_PROPERTIES = {
    "architecture": "x86_64", "os_distro": "ubuntu", "os_version": "24.04", "hw_disk_bus": "scsi",
    "image_source": "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img",
    "image_description": "https://ubuntu.com/server/docs", "image_original_user": "ubuntu",
    "image_build_date": "2026-11-30 04:12", "replace_frequency": "monthly", "provided_until": "none",
    "uuid_validity": "last-3", "hotfix_hours": "0",
}
SCS_ENTRY = {"name": "ubuntu-24.04", "url": "https://example.org/noble.img", "min_disk": 4, "min_ram": 512,
             "properties": SCS_PROPERTIES}


def problems(entries, defaults=None, standard="none"):
    with pytest.raises(InvalidInputError) as raised:
        check_entries(entries, defaults or {}, standard)
    assert "\n" not in str(raised.value)
    found = raised.value.details["problems"]
    assert all("\n" not in problem for problem in found)
    return found


def test_a_valid_catalogue_is_returned_as_checked_options_with_glance_images_defaults():
    (params,) = check_entries([{"name": "a", "filename": "/srv/a.img"}], {"disk_format": "raw"})
    assert params["disk_format"] == "raw" and params["state"] == "present" and params["keep_versions"] == 1


def test_a_bad_type_names_the_entry_and_the_option():
    (problem,) = problems([{"name": "a", "filename": "/srv/a.img"}, {"name": "b", "filename": "/b", "min_ram": "lots"}])
    assert problem.startswith("images[1] (b): ") and "min_ram" in problem and "correct it" in problem


def test_an_unknown_option_or_the_catalogues_own_is_named_with_the_fix():
    own, unknown = problems([{"name": "a", "filename": "/a", "colour": "blue", "catalogue_name": "x"}])
    assert unknown == "images[0] (a): colour is not a glance_image option (in the entry or defaults); " \
                      "remove it or correct its name"
    assert own.startswith("images[0] (a): catalogue_name is the catalogue's option; set it beside images")


def test_every_problem_of_every_entry_is_reported_together():
    found = problems([{"name": "a", "filename": "/a", "disk_format": "qcow"},
                      {"name": "good", "filename": "/g"},
                      {"name": "c", "filename": "/c", "url": "https://example.org/c.img"},
                      {"name": "d"},
                      {"filename": "/nameless"}])
    assert [problem.split(":")[0] for problem in found] == [
        "images[0] (a)", "images[2] (c)", "images[3] (d)", "images[4]"]
    assert "disk_format must be one of" in found[0] and "filename|url" in found[1]
    assert "missing: filename, url" in found[2] and "add its name" in found[3]


def test_a_default_is_checked_too_and_named_as_such():
    (problem,) = problems([{"name": "a", "filename": "/a"}], {"colour": "blue"})
    assert "colour is not a glance_image option (in the entry or defaults)" in problem


def test_an_absent_entry_needs_no_source():
    assert check_entries([{"name": "gone", "state": "absent"}], {})[0]["state"] == "absent"


def test_credentials_in_a_url_are_never_echoed():
    secret = "https://mirror-user:s3cr3t-pass@mirror.example.org/img/a.img"
    found = problems([{"name": "a", "url": secret, "disk_format": secret, "colour": "x"}])
    assert found and not any("s3cr3t-pass" in problem or "mirror-user" in problem for problem in found)
    assert any("disk_format" in problem for problem in found)


def test_scs_0102_accepts_an_entry_with_every_mandatory_key_in_its_format():
    assert check_entries([SCS_ENTRY], {}, "scs-0102")[0]["properties"] == SCS_PROPERTIES


def test_scs_0102_names_each_missing_mandatory_key():
    properties = {key: value for key, value in SCS_PROPERTIES.items() if key not in ("os_version", "uuid_validity")}
    found = problems([{**SCS_ENTRY, "min_ram": None, "properties": properties}], standard="scs-0102")
    assert found == [
        "images[0] (ubuntu-24.04): min_ram is missing, which scs-0102 requires; set it to the RAM in MiB the "
        "image needs to boot (an integer, 1 or more)",
        "images[0] (ubuntu-24.04): properties.os_version is missing, which scs-0102 requires; set it to the "
        "distribution's version, e.g. 24.04",
        "images[0] (ubuntu-24.04): properties.uuid_validity is missing, which scs-0102 requires; set it to a "
        "date YYYY-MM-DD, last-N, none, notice or forever",
    ]


@pytest.mark.parametrize("key, value", [
    ("image_build_date", "30.11.2026"), ("image_build_date", "2026-11-30T04:12"), ("replace_frequency", "often"),
    ("provided_until", "2026-13-01"), ("uuid_validity", "last-0"), ("hotfix_hours", "soon"),
])
def test_scs_0102_names_a_malformed_value_and_the_format(key, value):
    (problem,) = problems([{**SCS_ENTRY, "properties": {**SCS_PROPERTIES, key: value}}], standard="scs-0102")
    assert problem.startswith(f"images[0] (ubuntu-24.04): properties.{key} is '{value}', which scs-0102 does "
                              "not allow; set it to ")


def test_no_standard_asks_for_no_metadata():
    assert check_entries([{"name": "a", "filename": "/a"}], {})[0]["properties"] == {}


def test_the_roles_filter_returns_the_same_problems_and_none_for_a_valid_catalogue():
    entries = [{"name": "a", "filename": "/a", "min_ram": "lots"}, {"name": "b", "filename": "/b"}]
    assert catalogue_problems(entries, {}) == problems(entries)
    assert catalogue_problems([SCS_ENTRY], {}, "scs-0102") == []


def test_glance_images_own_checks_beyond_its_spec_run_before_anything_too():
    found = problems([{"name": "a", "filename": "/a", "keep_versions": -1},
                      {"name": "b", "url": "https://example.org/b.img", "disk_format": "detect"}])
    assert found == ["images[0] (a): keep_versions must be 0 or more",
                     "images[1] (b): disk_format: detect inspects a filename; give the url's disk_format"]


def test_an_entrys_option_replaces_the_defaults_mutually_exclusive_partner():
    (params,) = check_entries([{"name": "a", "filename": "/a", "all_stores": True}],
                              {"stores": ["fast"], "url": "https://example.org/a.img"})
    assert params["all_stores"] is True and params["stores"] is None
    assert params["filename"] == "/a" and params["url"] is None
