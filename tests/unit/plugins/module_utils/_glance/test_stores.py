from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.module_utils._glance.stores import (
    default_store,
    describe_stores,
    store_usage,
    tagged_locations,
    with_url_prefixes,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix

LISTED = [
    {"id": "fast", "description": "Fast", "default": "true"},
    {"id": "web", "description": "Web", "read-only": "true"},
    {"id": "ceph", "description": "Ceph"},
]
DETAILED = [
    {"id": "fast", "type": "file", "properties": {"data_dir": "/srv/images"}, "default": "true"},
    {"id": "web", "type": "http", "properties": {}, "read-only": "true"},
    {"id": "ceph", "type": "rbd", "properties": {"pool": "images", "fsid": "f-1"}},
]


def test_describe_stores_merges_detail_and_parses_flags():
    stores = describe_stores(LISTED, DETAILED)
    assert stores == [
        {"id": "fast", "description": "Fast", "default": True, "read_only": False,
         "type": "file", "properties": {"data_dir": "/srv/images"}},
        {"id": "web", "description": "Web", "default": False, "read_only": True,
         "type": "http", "properties": {}},
        {"id": "ceph", "description": "Ceph", "default": False, "read_only": False,
         "type": "rbd", "properties": {"pool": "images", "fsid": "f-1"}},
    ]
    assert default_store(stores) == "fast"


def test_without_detail_type_and_properties_are_unknown_not_empty():
    stores = describe_stores(LISTED, None)
    assert [s["type"] for s in stores] == [None, None, None]
    assert [s["properties"] for s in stores] == [None, None, None]
    assert [s["read_only"] for s in stores] == [False, True, False]


def test_no_default_store():
    assert default_store(describe_stores([{"id": "a"}], None)) is None


def test_each_store_gets_its_own_url_prefixes_with_credentials_redacted():
    prefixes = [StorePrefix("fast", "file:///srv/images", "config"),
                StorePrefix("ceph", "swift+http://svc:key@ks/v3/glance/", "override"),
                StorePrefix("gone", "file:///old", "config")]
    stores = with_url_prefixes(describe_stores(LISTED, None), prefixes)
    assert [store["url_prefixes"] for store in stores] == [
        [{"url_prefix": "file:///srv/images", "source": "config"}],
        [],
        [{"url_prefix": "swift+http://***@ks/v3/glance/", "source": "override"}],
    ]


def test_tagged_locations_keeps_only_that_store_and_tolerates_missing_metadata():
    image = {"locations": [{"url": "a", "metadata": {"store": "ceph"}}, {"url": "b", "metadata": None},
                           {"url": "c", "metadata": {"store": "fast"}}, {"url": "d"}]}
    assert [loc["url"] for loc in tagged_locations(image, "ceph")] == ["a"]
    assert tagged_locations({"locations": None}, "ceph") == []


def test_store_usage_counts_active_images_in_every_store_they_list():
    images = [
        {"status": "active", "stores": "fast,ceph", "size": 100},
        {"status": "active", "stores": "ceph", "size": 50},
        {"status": "active", "stores": "ceph", "size": None},  # Glance's size is null until known
        {"status": "queued", "stores": "", "size": None},
        {"status": "deactivated", "stores": "fast", "size": 7},
        {"status": "active", "stores": "removed-backend", "size": 9},
    ]
    assert store_usage(images, ["fast", "web", "ceph"]) == {
        "fast": {"images": 1, "bytes": 100}, "web": {"images": 0, "bytes": 0},
        "ceph": {"images": 3, "bytes": 150}}
