from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf, parse_ini

GLANCE_API_CONF = """
[DEFAULT]
enabled_backends = fast:file, multi:file,
  legacy:swift, ceph:rbd, obj:s3, vol:cinder, web:http, odd:gridfs
[database]
connection = mysql+pymysql://glance:pw@db/glance
[fast]
filesystem_store_datadir = /srv/images
[multi]
filesystem_store_datadirs = /srv/a:100
filesystem_store_datadirs = /srv/b
[legacy]
swift_store_config_file = /etc/glance/swift.conf
default_swift_reference = ref2
swift_store_container = images
swift_store_multiple_containers_seed = 2
[ceph]
rbd_store_ceph_conf = /etc/ceph/ceph.conf
rbd_store_pool = glance-images
[obj]
s3_store_host = https://rgw.example
s3_store_bucket = glance
"""
FILES = {
    "/etc/glance/glance-api.conf": GLANCE_API_CONF,
    "/etc/glance/swift.conf": "[ref2]\nuser = service:glance\nkey = s3cret\nauth_address = http://ks:5000/v3\n",
    "/etc/ceph/ceph.conf": "[global]\n  fsid = 0c1d-77\nmon host = x\n",
}


def reader(files):
    def read_text(path):
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path]
    return read_text


read = reader(FILES)


def test_parse_ini_keeps_repeated_keys_and_continuations():
    ini = parse_ini(GLANCE_API_CONF)
    assert ini["multi"]["filesystem_store_datadirs"] == ["/srv/a:100", "/srv/b"]
    assert ini["DEFAULT"]["enabled_backends"][0].endswith("odd:gridfs")


def test_prefixes_for_every_driver_from_the_conf():
    conf = GlanceApiConf("/etc/glance/glance-api.conf", read)
    prefixes, notes = conf.prefixes()
    assert [(p.store, p.prefix, p.open_segment) for p in prefixes] == [
        ("fast", "file:///srv/images", False),
        ("multi", "file:///srv/a", False),
        ("multi", "file:///srv/b", False),
        ("legacy", "swift+config://ref2/images_", True),
        ("legacy", "swift+http://service%3Aglance:s3cret@ks:5000/v3/images_", True),
        ("ceph", "rbd://0c1d-77/glance-images/", False),
        ("obj", "s3+https://rgw.example/glance", False),
        ("vol", "cinder://vol", False),
        ("web", "http", False),
    ]
    assert notes == [("odd", "store odd: unknown store type 'gridfs' in /etc/glance/glance-api.conf")]
    assert conf.database_connection() == "mysql+pymysql://glance:pw@db/glance"


def test_a_missing_referenced_file_is_a_note_not_a_failure():
    files = {path: text for path, text in FILES.items() if path != "/etc/ceph/ceph.conf"}
    conf = GlanceApiConf("/etc/glance/glance-api.conf", reader(files))
    prefixes, notes = conf.prefixes()
    assert "ceph" not in {p.store for p in prefixes}
    assert notes[0] == ("ceph", "store ceph (rbd): cannot read /etc/ceph/ceph.conf (No such file or directory)")


def test_defaults_when_options_are_absent():
    conf = GlanceApiConf("g.conf", lambda p: "[DEFAULT]\nenabled_backends = a:file, s:swift\n[s]\n"
                         "swift_store_auth_address = https://ks/v3\nswift_store_user = u\nswift_store_key = k\n")
    prefixes = conf.prefixes()[0]
    assert [p.prefix for p in prefixes] == ["file:///var/lib/glance/images/", "swift+https://u:k@ks/v3/glance/"]


def test_unreadable_conf_names_the_option():
    with pytest.raises(InvalidInputError, match="^glance_api_conf: cannot read /nope"):
        GlanceApiConf("/nope", read)


@pytest.mark.parametrize("seed", ["", "two"])
def test_a_seed_that_is_no_number_is_one_line_naming_file_and_key(seed):
    conf = GlanceApiConf("g.conf", lambda p: "[DEFAULT]\nenabled_backends = s:swift\n[s]\n"
                         f"swift_store_multiple_containers_seed = {seed}\n")
    with pytest.raises(InvalidInputError, match=r"^glance_api_conf: \[s\] swift_store_multiple_containers_seed "
                                                f"= '{seed}' in g.conf is not a whole number"):
        conf.prefixes()


def test_a_conf_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "glance-api.conf"
    path.write_bytes(b"[DEFAULT]\nenabled_backends = f\xe9:file\n")
    with pytest.raises(InvalidInputError, match=f"^glance_api_conf: {path} is not UTF-8 text"):
        GlanceApiConf(str(path))


def test_rbd_access_gives_what_the_store_section_names():
    conf = GlanceApiConf("g.conf", lambda p: "[DEFAULT]\nenabled_backends = ceph:rbd, other:rbd\n[ceph]\n"
                         "rbd_store_ceph_conf = /etc/ceph/a.conf\nrbd_store_user = glance\n[other]\n"
                         "rbd_store_user =\n")
    assert conf.rbd_access("ceph") == {"ceph_conf": "/etc/ceph/a.conf", "ceph_user": "glance"}
    assert conf.rbd_access("other") == {}


def test_swift_credentials_come_from_the_reference_file():
    conf = GlanceApiConf("/etc/glance/glance-api.conf", read)
    assert conf.swift_credentials("legacy") == ({
        "auth_url": "http://ks:5000/v3", "username": "glance", "password": "s3cret",
        "project_name": "service", "user_domain_id": "default", "project_domain_id": "default"},
        "[ref2] of /etc/glance/swift.conf")
    assert conf.rbd_pool("ceph") == "glance-images"


@pytest.mark.parametrize("store_lines, files, words", [
    ("swift_store_multi_tenant = True\n", {}, "multi-tenant swift store"),
    ("swift_store_config_file = /etc/glance/gone.conf\n", {}, "cannot read /etc/glance/gone.conf"),
    ("swift_store_auth_address = http://ks/v3\n", {}, "has no auth_address, user and key"),
])
def test_swift_credentials_that_cannot_be_had_are_refused_in_one_line(store_lines, files, words):
    conf = GlanceApiConf("g.conf", reader({"g.conf": "[s]\n" + store_lines, **files}))
    with pytest.raises(InvalidInputError, match=words) as caught:
        conf.swift_credentials("s")
    assert "\n" not in str(caught.value)


def test_swift_credentials_inline_in_the_store_section():
    conf = GlanceApiConf("g.conf", reader({"g.conf": "[s]\nswift_store_auth_address = http://ks/v3\n"
                                                     "swift_store_user = p:u\nswift_store_key = k\n"}))
    auth, where = conf.swift_credentials("s")
    assert (auth["project_name"], auth["username"], where) == ("p", "u", "[s] of g.conf")


@pytest.mark.parametrize("store_lines, endpoint", [
    ("", (None, "public")),
    ("swift_store_region = RegionTwo\nswift_store_endpoint_type = internalURL\n", ("RegionTwo", "internal")),
])
def test_the_swift_endpoint_is_the_one_glance_uses(store_lines, endpoint):
    assert GlanceApiConf("g.conf", reader({"g.conf": "[s]\n" + store_lines})).swift_endpoint("s") == endpoint
