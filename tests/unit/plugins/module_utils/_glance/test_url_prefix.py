from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import (
    StorePrefix,
    choose_prefixes,
    cinder_prefix,
    file_prefix,
    prefixes_from_api,
    prefixes_from_explicit,
    rbd_prefix,
    s3_prefix,
    swift_config_prefix,
    swift_credentials_prefix,
)


def test_file():
    assert file_prefix("/var/lib/glance/images") == "file:///var/lib/glance/images"
    assert file_prefix("/srv/images/") == "file:///srv/images/"


def test_rbd_quotes_fsid_and_pool_and_falls_back_to_the_scheme():
    assert rbd_prefix("1b7f-22", "images") == "rbd://1b7f-22/images/"
    assert rbd_prefix("f", "odd/pool name") == "rbd://f/odd%2Fpool%20name/"
    assert rbd_prefix(None, "images") == "rbd://"


def test_swift_config_form_and_container_slashes():
    assert swift_config_prefix("ref1", "glance") == ("swift+config://ref1/glance/", False)
    assert swift_config_prefix("ref1", "/glance/") == ("swift+config://ref1/glance/", False)


def test_swift_credentials_form_quotes_user_and_key_and_picks_scheme():
    assert swift_credentials_prefix("https://ks.example:5000/v3/", "service:glance", "k/ey", "glance") == (
        "swift+https://service%3Aglance:k/ey@ks.example:5000/v3/glance/", False)
    assert swift_credentials_prefix("http://127.0.0.1:5000/v3", "u", "k", "c") == (
        "swift+http://u:k@127.0.0.1:5000/v3/c/", False)
    # no scheme on the auth address: glance_store assumes https
    assert swift_credentials_prefix("ks:5000/v3", None, None, "c") == ("swift+https://ks:5000/v3/c/", False)


def test_swift_multiple_containers_seed_leaves_the_segment_open():
    assert swift_config_prefix("ref1", "glance", seed=3) == ("swift+config://ref1/glance_", True)
    assert swift_credentials_prefix("http://h/v3", "u", "k", "glance", seed=2) == (
        "swift+http://u:k@h/v3/glance_", True)


def test_s3_drops_the_host_scheme_and_keeps_https_in_its_own():
    assert s3_prefix("rgw.example:7480", "images") == "s3://rgw.example:7480/images"
    assert s3_prefix("http://rgw.example", "images") == "s3://rgw.example/images"
    assert s3_prefix("https://rgw.example", "images") == "s3+https://rgw.example/images"


def test_cinder():
    assert cinder_prefix("lvm-fast") == "cinder://lvm-fast"


def test_from_api_covers_what_details_expose_and_notes_the_rest():
    prefixes, notes = prefixes_from_api([
        {"id": "fast", "type": "file", "properties": {"data_dir": "/srv/images"}},
        {"id": "ceph", "type": "rbd", "properties": {"pool": "images", "fsid": "f1"}},
        {"id": "vol", "type": "cinder", "properties": {}},
        {"id": "web", "type": "http", "properties": {}},
        {"id": "swift", "type": "swift", "properties": {"container": "glance"}},
        {"id": "s3", "type": "s3", "properties": {}},
    ])
    assert [(p.store, p.prefix) for p in prefixes] == [
        ("fast", "file:///srv/images"), ("ceph", "rbd://f1/images/"),
        ("vol", "cinder://vol"), ("web", "http")]
    assert [store for store, _text in notes] == ["swift", "s3"]
    assert "glance_api_conf" in notes[0][1]


def test_explicit_accepts_one_or_several_prefixes():
    prefixes = prefixes_from_explicit([{"id": "a", "url_prefix": "file:///a"},
                                       {"id": "b", "url_prefix": ["file:///b", "file:///b2"]}])
    assert [(p.store, p.prefix, p.source) for p in prefixes] == [
        ("a", "file:///a", "explicit"), ("b", "file:///b", "explicit"), ("b", "file:///b2", "explicit")]


@pytest.mark.parametrize("value", [123, [], ["file:///a", 7], "", {"x": 1}])
def test_explicit_refuses_what_is_not_a_prefix_string_naming_the_item(value):
    with pytest.raises(InvalidInputError, match=r"^url_prefixes\[1\]\.url_prefix \(store 'b'\): give a URL"):
        prefixes_from_explicit([{"id": "a", "url_prefix": "file:///a"}, {"id": "b", "url_prefix": value}])


def test_choose_takes_each_store_from_the_first_source_that_has_it():
    by_source = {
        "api": [StorePrefix("a", "file:///api-a", "api"), StorePrefix("b", "file:///api-b", "api")],
        "config": [StorePrefix("b", "file:///conf-b1", "config"), StorePrefix("b", "file:///conf-b2", "config")],
        "explicit": [StorePrefix("a", "file:///mine", "explicit")],
    }
    chosen = choose_prefixes(["explicit", "config", "api"], by_source)
    assert sorted((p.store, p.prefix) for p in chosen) == [
        ("a", "file:///mine"), ("b", "file:///conf-b1"), ("b", "file:///conf-b2")]
    chosen = choose_prefixes(["api", "config"], by_source)
    assert sorted((p.store, p.prefix) for p in chosen) == [("a", "file:///api-a"), ("b", "file:///api-b")]
