from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._redact import redact, redact_text


@pytest.mark.parametrize("url, expected", [
    ("swift+https://service:glance:s3cr3t@keystone.example:5000/v3/glance/abc",
     "swift+https://***@keystone.example:5000/v3/glance/abc"),
    ("s3://AKIAXYZ:wJal/rXUt+nFEMI@rgw.example/bucket/img",
     "s3://***@rgw.example/bucket/img"),
    ("s3+https://access:secret@host:7480/b/o", "s3+https://***@host:7480/b/o"),
    ("https://token@host/path", "https://***@host/path"),
    ("swift+config://ref1/glance/abc", "swift+config://ref1/glance/abc"),
    ("rbd://fsid/images/abc/snap", "rbd://fsid/images/abc/snap"),
    ("file:///srv/images/with@sign", "file:///srv/images/with@sign"),
    ("http://example.com/a@b", "http://example.com/a@b"),
])
def test_redact_text_hides_user_info_only(url, expected):
    assert redact_text(url) == expected


def test_redact_text_handles_several_urls_in_a_message():
    message = "copy from s3://a:b@h1/x to swift+http://u:k@h2/y failed"
    assert redact_text(message) == "copy from s3://***@h1/x to swift+http://***@h2/y failed"


def test_redact_walks_nested_structures_and_keeps_other_types():
    value = {
        "locations": [{"url": "s3://a:b@h/x", "metadata": {"store": "s3"}}],
        "pair": ("swift+https://u:k@h/c", 3),
        "count": 7,
        "ok": True,
        "none": None,
    }
    assert redact(value) == {
        "locations": [{"url": "s3://***@h/x", "metadata": {"store": "s3"}}],
        "pair": ("swift+https://***@h/c", 3),
        "count": 7,
        "ok": True,
        "none": None,
    }
