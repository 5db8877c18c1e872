from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import (
    redact,
    redact_text,
    secrets_in,
)


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
    # the user info runs to the last @ before the host: secrets may hold "@" and "/"
    ("https://user:p@ss@mirror.example/x.img", "https://***@mirror.example/x.img"),
    ("https://user:p@ss@mirror.example", "https://***@mirror.example"),
    ("s3://AKIAXYZ:wJal@rXUt@rgw.example:7480/bucket/img", "s3://***@rgw.example:7480/bucket/img"),
    ("s3://AK:se@cr/et+k@rgw/bucket/a@b", "s3://***@rgw/bucket/a@b"),
    ("mysql+pymysql://glance:p@ss/w@127.0.0.1:3306/glance?charset=utf8",
     "mysql+pymysql://***@127.0.0.1:3306/glance?charset=utf8"),
    ("https://u:p@[::1]:8080/x", "https://***@[::1]:8080/x"),
    # ... and a path's "@" stays, with or without user info before it
    ("swift://u:k@host/v1/AUTH_x/c/a@b", "swift://***@host/v1/AUTH_x/c/a@b"),
    ("http://127.0.0.1:8080/v1/AUTH_x/c/a@b", "http://127.0.0.1:8080/v1/AUTH_x/c/a@b"),
    ("https://u:p@host/x?mail=a@b.example", "https://***@host/x?mail=a@b.example"),
    ("https://host:443/x?mail=a@b.example", "https://host:443/x?mail=a@b.example"),
])
def test_redact_text_hides_user_info_only(url, expected):
    assert redact_text(url) == expected


def test_a_path_at_sign_followed_by_more_path_hides_too_much_never_too_little():
    assert redact_text("swift://u:k@host/v1/AUTH_x/c/a@b/d") == "swift://***@b/d"


@pytest.mark.parametrize("text, expected", [
    ("https://rgw:7480/b/x.img?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101"
     "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Security-Token=FQo%2Bx"
     "&X-Amz-Signature=0a1b2c",
     "https://rgw:7480/b/x.img?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
     "&X-Amz-Date=20250101T000000Z&X-Amz-Security-Token=***&X-Amz-Signature=***"),
    ("https://s3.example/b/o?AWSAccessKeyId=AKIA&Expires=1700000000&Signature=abc%3D",
     "https://s3.example/b/o?AWSAccessKeyId=***&Expires=1700000000&Signature=***"),
    ("http://swift:8080/v1/AUTH_a/c/o?temp_url_sig=da39a3ee&temp_url_expires=1700000000",
     "http://swift:8080/v1/AUTH_a/c/o?temp_url_sig=***&temp_url_expires=1700000000"),
    ("postgresql://db/glance?sslmode=require&sslpassword=k3y#frag",
     "postgresql://db/glance?sslmode=require&sslpassword=***#frag"),
    ("https://mirror/x.img?user=alice&password=hunter2", "https://mirror/x.img?user=alice&password=***"),
    ("connect failed: host=db password=hunter2 dbname=glance",
     "connect failed: host=db password=*** dbname=glance"),
    ("https://mirror/x.img?api_key=abc&access_token=def&format=raw",
     "https://mirror/x.img?api_key=***&access_token=***&format=raw"),
    ("glance-api.conf line 40: swift_store_key = s3cr3t is not valid",
     "glance-api.conf line 40: swift_store_key = *** is not valid"),
])
def test_redact_text_hides_credentials_in_query_strings(text, expected):
    assert redact_text(text) == expected


def test_ordinary_name_value_pairs_stay():
    text = "https://mirror/x.img?format=raw&monkey=1 and sort_dir=asc"
    assert redact_text(text) == text


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


def test_redact_masks_what_secret_names_hold_numbers_too():
    value = {"auth": {"username": "u", "password": 31415, "application_credential_secret": "s"},
             "s3_secret_key": "k", "token": None, "verify": False, "keyring": "/etc/ceph/keyring"}
    assert redact(value) == {
        "auth": {"username": "u", "password": "***", "application_credential_secret": "***"},
        "s3_secret_key": "***", "token": None, "verify": False, "keyring": "/etc/ceph/keyring"}


def test_secrets_in_finds_named_values_url_passwords_and_query_credentials():
    params = {
        "cloud": {"auth": {"auth_url": "http://k/v3", "username": "admin", "password": 31415},
                  "key": "/etc/client.key"},
        "url": "https://alice:p@ss/w@mirror/x.img?X-Amz-Signature=5ig",
        "stores": [{"url_prefix": "swift+https://svc:glance:s3cr3t@ks/v3/glance"}],
        "token_url": "https://token@host/x",   # a user name alone is no secret to hide everywhere
        "wait": True,
        "timeout": 180,
    }
    assert secrets_in(params) == {"31415", "/etc/client.key", "p@ss/w", "5ig", "glance:s3cr3t"}
