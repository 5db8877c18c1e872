from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import (
    CORRECT,
    MISSING,
    MISTAGGED,
    UNMATCHED,
    StoreMatcher,
    parse_url,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix

PREFIXES = [
    StorePrefix("fast", "file:///srv/images", "config"),
    StorePrefix("cheap", "file:///srv/images2", "config"),
    StorePrefix("deep", "file:///srv/images/deep/", "config"),
    StorePrefix("swift", "swift+config://ref1/glance/", "config"),
    StorePrefix("swift", "swift+http://service%3Aglance:newkey@ks:5000/v3/glance/", "config"),
    StorePrefix("other", "swift+http://service%3Aother:k@ks:5000/v3/glance/", "config"),
    StorePrefix("ceph", "rbd://fs1/images/", "api"),
    StorePrefix("obj", "s3://rgw:7480/glance", "config"),
    StorePrefix("seeded", "swift+config://ref9/img_", "config", open_segment=True),
    StorePrefix("web", "http", "api"),
]
ORDER = ["fast", "cheap", "deep", "swift", "other", "ceph", "obj", "seeded", "web"]
MATCHER = StoreMatcher(PREFIXES, ORDER)


@pytest.mark.parametrize("url, store", [
    ("file:///srv/images/abc", "fast"),
    ("file:///srv/images", "fast"),
    ("file:///srv/images2/abc", "cheap"),               # nested prefix: Glance picks fast
    ("file:///srv/images/deep/abc", "deep"),            # longest prefix wins
    ("swift+config://ref1/glance/abc", "swift"),
    ("swift+http://service%3Aglance:oldkey@ks:5000/v3/glance/abc", "swift"),   # rotated key
    ("swift+http://service:glance:oldkey@ks:5000/v3/glance/abc", "swift"),     # unquoted user
    ("swift+http://service%3Aother:k@ks:5000/v3/glance/abc", "other"),          # other account
    ("rbd://fs1/images/abc/snap", "ceph"),
    ("s3://AK:se/cret@rgw:7480/glance/abc", "obj"),     # legacy credentials, secret with "/"
    ("s3://rgw:7480/glance/abc", "obj"),
    ("swift+config://ref9/img_3a/3a1f", "seeded"),
    ("https://example.com/cirros.img", "web"),
])
def test_best_store(url, store):
    assert MATCHER.best(url) == (store, "")


@pytest.mark.parametrize("url, reason", [
    ("file:///srv/imagesX/abc", "no store prefix matches"),
    ("rbd://other-fsid/images/abc/snap", "no store prefix matches"),
    ("s3://rgw:7480/glance2/abc", "no store prefix matches"),
    ("cinder://vol/abc", "no store has scheme cinder"),
    ("swift+http://service%3Astranger:k@ks:5000/v3/glance/abc", "no store prefix matches"),
    ("just-a-path", "not a URL"),
])
def test_unmatched_urls_say_why(url, reason):
    assert MATCHER.best(url) == (None, reason)


def test_two_stores_with_one_prefix_are_ambiguous():
    matcher = StoreMatcher([StorePrefix("a", "file:///x", "explicit"), StorePrefix("b", "file:///x", "explicit")], ["a", "b"])
    assert matcher.best("file:///x/1") == (None, "ambiguous: stores a, b share the prefix")


def test_glance_rule_takes_the_first_startswith():
    assert MATCHER.glance_pick("file:///srv/images2/abc") == "fast"
    assert MATCHER.glance_pick("file:///srv/images/deep/abc") == "fast"
    assert MATCHER.glance_pick("s3://AK:SK@rgw:7480/glance/abc") == "obj"
    # Glance compares the raw URL: a rotated swift key no longer starts with its prefix
    assert MATCHER.glance_pick("swift+http://service%3Aglance:oldkey@ks:5000/v3/glance/a") is None


def test_judge_categories():
    assert MATCHER.judge("file:///srv/images/a", "fast").category == CORRECT
    missing = MATCHER.judge("file:///srv/images2/a", None)
    assert (missing.category, missing.best, missing.glance_pick) == (MISSING, "cheap", "fast")
    assert missing.glance_would_get_wrong
    assert not MATCHER.judge("file:///srv/images/a", None).glance_would_get_wrong
    wrong = MATCHER.judge("file:///srv/images2/a", "fast")
    assert (wrong.category, wrong.current, wrong.best) == (MISTAGGED, "fast", "cheap")
    assert not wrong.glance_would_get_wrong
    unmatched = MATCHER.judge("cinder://x/y", None)
    assert (unmatched.category, unmatched.reason) == (UNMATCHED, "no store has scheme cinder")


def test_parse_url_tells_ports_from_credentials():
    assert parse_url("http://host:8080/a@b").user is None
    assert parse_url("s3://AK:1234@host/b").user == "AK"
    assert parse_url("swift+http://svc%3Aglance:k@h/v3/c/o").user == "svc:glance"
    assert parse_url("file:///srv/a@b").rest == "/srv/a@b"


def test_a_location_may_be_in_a_store_unless_a_known_prefix_says_otherwise():
    assert MATCHER.may_be_in("file:///srv/images/abc", "fast")
    assert not MATCHER.may_be_in("file:///srv/images2/abc", "fast")   # another store's prefix
    assert not MATCHER.may_be_in("gridfs://legacy/abc", "fast")       # fast's prefix is known
    assert MATCHER.may_be_in("gridfs://legacy/abc", "unlisted")       # nothing tells for this store
    assert not MATCHER.may_be_in("file:///srv/images/abc", "unlisted")
