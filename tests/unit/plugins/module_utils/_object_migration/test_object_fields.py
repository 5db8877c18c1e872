"""What Swift says about an object, and the S3 fields and record its copy carries."""
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    MD5,
    SOURCE_ETAG,
    target_fields,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    DLO,
    SLO,
    Segment,
    SourceObject,
    dlo_etag,
    listing_promise,
    slo_etag,
)

from segment_samples import md5


def swift_headers(**extra):
    # as requests hands them over: UTF-8 bytes decoded as latin-1
    headers = {"Content-Length": "5", "Etag": md5(b"hello"), "Last-Modified": "Sat, 21 Nov 2026 10:00:00 GMT",
               "Content-Type": "text/plain", "X-Object-Meta-Colour": "grün".encode().decode("latin-1"),
               "X-Object-Meta-Owner": "ops", "Content-Disposition": "attachment",
               "X-Delete-At": "4000000000", "X-Trans-Id": "tx1", "Expires": "Sun, 22 Nov 2026 10:00:00 GMT"}
    headers.update(extra)
    return headers


def test_metadata_maps_to_s3_and_reports_what_it_cannot_hold():
    source = SourceObject.from_headers("a", swift_headers())
    fields, unsupported = target_fields(source, "AUTH_p", "c")
    assert fields["ContentType"] == "text/plain"
    assert fields["ContentDisposition"] == "attachment"
    assert fields["Expires"].year == 2026
    assert fields["Metadata"]["owner"] == "ops"
    assert fields["Metadata"]["colour"] == "=?UTF-8?B?Z3LDvG4=?="  # RFC 2047: S3 metadata is ASCII
    assert fields["Metadata"][SOURCE_ETAG] == md5(b"hello")
    assert unsupported == {"x-delete-at": "4000000000"}
    assert "x-trans-id" not in str(fields)


def test_a_user_key_named_like_the_record_is_reported_not_overwritten():
    source = SourceObject.from_headers("a", swift_headers(**{"X-Object-Meta-Storeops-Md5": "forged"}))
    fields, unsupported = target_fields(source, "AUTH_p", "c")
    assert "x-object-meta-storeops-md5" in unsupported
    assert MD5 not in fields["Metadata"]


def test_kinds_from_headers():
    slo = SourceObject.from_headers("a", {"X-Static-Large-Object": "True", "Etag": '"abc"', "Content-Length": "9"})
    dlo = SourceObject.from_headers("b", {"X-Object-Manifest": "c_segments/b/", "Etag": '"def"'})
    assert (slo.kind, slo.etag, slo.size) == (SLO, "abc", 9)
    assert (dlo.kind, dlo.manifest) == (DLO, "c_segments/b/")


@pytest.mark.parametrize("header, manifest", [
    ("c_segments/b%2541%20%231/", "c_segments/b%41 #1/"),  # quoted, as python-swiftclient writes it
    ("c_segments/%C3%BC/", "c_segments/ü/"),
    ("c_segments/\xc3\xbc/", "c_segments/ü/"),  # raw UTF-8, as http.client hands it over (latin-1)
])
def test_a_dlo_manifest_is_unquoted_as_swift_reads_it(header, manifest):
    assert SourceObject.from_headers("d", {"X-Object-Manifest": header}).manifest == manifest


def test_listing_promises():
    assert listing_promise({"name": "a", "bytes": 5, "hash": "h"}) == ("h", 5)
    assert listing_promise({"name": "a", "bytes": 9, "hash": "manifest", "slo_etag": '"s"'}) == ("s", 9)
    assert listing_promise({"name": "a", "bytes": 0, "hash": md5(b"")}) is None  # maybe a DLO


def test_etags_swift_gives_manifests():
    segments = [Segment("a", 1, md5(b"a")), Segment("b", 1, md5(b"b"))]
    joined = hashlib.md5((md5(b"a") + md5(b"b")).encode()).hexdigest()
    assert slo_etag(segments) == joined == dlo_etag(segments)
    assert slo_etag([Segment("a", 1, md5(b"a"), "0-0")]) == hashlib.md5(f"{md5(b'a')}:0-0;".encode()).hexdigest()
