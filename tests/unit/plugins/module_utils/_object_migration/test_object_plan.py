"""The pure decisions of swift_object_migrate: names, sizes, metadata, and the stream checks."""
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    SourceMismatchError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    MD5,
    S3_ETAG,
    SOURCE_CONTAINER,
    SOURCE_ETAG,
    SOURCE_NAME,
    source_identity,
    target_fields,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import (
    ABSENT,
    CONFLICT,
    CURRENT,
    MIB,
    STALE,
    SourceKey,
    aligned_part_sizes,
    bucket_for,
    bucket_problem,
    buckets_for,
    classify_key,
    delete_proof,
    is_segment_container,
    multipart_etag,
    part_size_for,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    DLO,
    PLAIN,
    SLO,
    Segment,
    SourceObject,
    dlo_etag,
    listing_promise,
    slo_etag,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.verify import (
    ResumeCheck,
    ResumeMismatchError,
    StreamCheck,
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("name", ["backups", "a.b-c", "abc", "x" * 63])
def test_bucket_names_s3_accepts(name):
    assert bucket_problem(name) is None


@pytest.mark.parametrize("name", ["Backups", "a_b", "ab", "x" * 64, "-ab", "ab-", "a..b", "a.-b",
                                  "192.168.1.1", "glance images"])
def test_bucket_names_s3_refuses(name):
    assert bucket_problem(name)


def test_bucket_for_uses_the_map_then_the_template():
    names = {"Static_Content": "static-content"}
    assert bucket_for("Static_Content", names, "{container}") == "static-content"
    assert bucket_for("logs", names, "old-{container}") == "old-logs"


def test_a_bad_bucket_name_names_the_container_and_the_option():
    with pytest.raises(InvalidInputError, match=r"container 'My_Stuff' maps to bucket 'My_Stuff'.*bucket_names"):
        bucket_for("My_Stuff", {}, "{container}")
    with pytest.raises(InvalidInputError, match="bucket_name_template"):
        bucket_for("logs", {}, "{project}-{container}")


@pytest.mark.parametrize("containers, names, template", [
    (["a-db", "b-db"], {"a-db": "dumps", "b-db": "dumps"}, "{container}"),
    (["a-db", "b-db"], {}, "dumps"),  # a template without {container}
    (["a-db", "dumps"], {"a-db": "dumps"}, "{container}"),  # the map gives one what the template gives the other
])
def test_two_containers_into_one_bucket_are_refused(containers, names, template):
    with pytest.raises(InvalidInputError, match=r"^containers 'a-db', '(b-db|dumps)' all map to bucket 'dumps'.*bucket_names$"):
        buckets_for(containers, names, template)


def test_each_container_its_own_bucket():
    assert buckets_for(["a-db", "b-db"], {"a-db": "dumps"}, "{container}-x") == {"a-db": "dumps", "b-db": "b-db-x"}


@pytest.mark.parametrize("names", [{"a-db": 2024}, {"a-db": ["dumps"]}, {"a-db": None}, {2024: "dumps"}])
def test_bucket_names_of_other_types_are_one_line(names):
    with pytest.raises(InvalidInputError, match="^bucket_names: .* write both as quoted strings"):
        buckets_for(["a-db"], names, "{container}")


def test_segment_containers_by_name():
    assert is_segment_container("backups_segments")
    assert is_segment_container("backups+segments")
    assert not is_segment_container("segments")


@pytest.mark.parametrize("size, preferred, expected", [
    (0, 16 * MIB, 16 * MIB),
    (100 * MIB, 1 * MIB, 5 * MIB),                 # never under S3's smallest part
    (10000 * 16 * MIB, 16 * MIB, 16 * MIB),        # exactly 10,000 parts
    (10000 * 16 * MIB + 1, 16 * MIB, 17 * MIB),    # one byte more: the parts grow by a whole MiB
    (5 * 2**40, 16 * MIB, 525 * MIB),              # the largest S3 object
])
def test_part_size_keeps_under_ten_thousand_parts(size, preferred, expected):
    chosen = part_size_for(size, preferred)
    assert chosen == expected
    assert -(-size // chosen) <= 10000


def test_part_size_refuses_what_cannot_fit():
    with pytest.raises(InvalidInputError):
        part_size_for(10000 * 5 * 2**30 + 1, 16 * MIB)


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


def feed(check, data, step):
    for start in range(0, len(data), step):
        check.feed(data[start:start + step])
    return check.finish()


def test_a_plain_object_checks_its_etag():
    data = os.urandom(10000)
    source = SourceObject("p", len(data), md5(data), "", PLAIN)
    assert feed(StreamCheck(source), data, 999) == md5(data)
    damaged = data[:-1] + b"!"
    with pytest.raises(SourceMismatchError, match="damaged in Swift"):
        feed(StreamCheck(source), damaged, 999)


def slo(pieces):
    segments = [Segment(f"/c_segments/s/{i}", len(p), md5(p)) for i, p in enumerate(pieces)]
    source = SourceObject("s", sum(map(len, pieces)), slo_etag(segments), "", SLO)
    return source, segments


@pytest.mark.parametrize("step", [1, 7, 1000, 10**6])
def test_a_manifest_checks_every_segment_whatever_the_chunking(step):
    pieces = [os.urandom(300), b"", os.urandom(1), os.urandom(4096)]
    source, segments = slo(pieces)
    assert feed(StreamCheck(source, segments, slo_etag(segments)), b"".join(pieces), step) == md5(b"".join(pieces))


def test_a_damaged_segment_stops_the_stream_at_that_segment():
    pieces = [os.urandom(300), os.urandom(300), os.urandom(300)]
    source, segments = slo(pieces)
    check = StreamCheck(source, segments, slo_etag(segments))
    check.feed(pieces[0])
    with pytest.raises(SourceMismatchError, match=r"segment /c_segments/s/1 reads with MD5"):
        check.feed(b"x" * 300)


def test_a_short_stream_and_a_long_one_are_refused():
    pieces = [os.urandom(300), os.urandom(300)]
    source, segments = slo(pieces)
    check = StreamCheck(source, segments, slo_etag(segments))
    check.feed(pieces[0])
    with pytest.raises(SourceMismatchError, match="read 300 bytes"):
        check.finish()
    with pytest.raises(SourceMismatchError, match="more than"):
        StreamCheck(source, segments, slo_etag(segments)).feed(b"".join(pieces) + b"!")


def test_a_manifest_whose_entries_do_not_make_its_etag_is_refused():
    pieces = [os.urandom(300)]
    source, segments = slo(pieces)
    with pytest.raises(SourceMismatchError, match="manifest changed"):
        feed(StreamCheck(source, segments, "0" * 32), pieces[0], 100)


def test_ranged_segments_are_not_checked_against_their_whole_objects_etag():
    # a range's bytes have no ETag of their own (the executor keeps such a source)
    segments = [Segment("/c/whole", 100, md5(b"z" * 1000), "0-99")]
    source = SourceObject("r", 100, slo_etag(segments), "", SLO)
    assert feed(StreamCheck(source, segments, slo_etag(segments)), b"z" * 100, 10) == md5(b"z" * 100)


def test_etags_swift_gives_manifests():
    segments = [Segment("a", 1, md5(b"a")), Segment("b", 1, md5(b"b"))]
    joined = hashlib.md5((md5(b"a") + md5(b"b")).encode()).hexdigest()
    assert slo_etag(segments) == joined == dlo_etag(segments)
    assert slo_etag([Segment("a", 1, md5(b"a"), "0-0")]) == hashlib.md5(f"{md5(b'a')}:0-0;".encode()).hexdigest()


def test_multipart_etag():
    parts = [b"a" * 10, b"b" * 3]
    digests = [hashlib.md5(p).digest() for p in parts]
    assert multipart_etag(digests) == hashlib.md5(b"".join(digests)).hexdigest() + "-2"


def uploaded(parts):
    return [{"PartNumber": n, "Size": len(p), "ETag": f'"{md5(p)}"'} for n, p in enumerate(parts, 1)]


@pytest.mark.parametrize("step", [1, 3, 5, 100])
def test_resumed_parts_are_checked_against_the_bytes_read_again(step):
    parts = [b"a" * 5, b"b" * 5]
    check = ResumeCheck("k", uploaded(parts))
    assert check.size == 10
    data = memoryview(b"".join(parts))
    for start in range(0, len(data), step):
        check.feed(data[start:start + step])


def test_a_resumed_part_from_other_bytes_is_refused():
    check = ResumeCheck("k", uploaded([b"a" * 5, b"b" * 5]))
    with pytest.raises(ResumeMismatchError, match="part 2"):
        check.feed(memoryview(b"a" * 5 + b"c" * 5))


def segs(*sizes_mib):
    return [Segment(f"s{i}", int(size * MIB), "e") for i, size in enumerate(sizes_mib)]


def test_segments_become_parts_whenever_s3_allows():
    assert aligned_part_sizes(segs(6, 6, 1)) == [6 * MIB, 6 * MIB, 1 * MIB]
    assert aligned_part_sizes(segs(64, 64)) == [64 * MIB, 64 * MIB]  # streamed: no part held
    assert aligned_part_sizes(segs(4, 6)) is None      # a part but the last under 5 MiB
    assert aligned_part_sizes(segs(5 * 1024 + 1, 6)) is None  # S3 has no part over 5 GiB
    assert aligned_part_sizes(segs(6, 0, 6)) is None   # S3 has no empty part
    assert aligned_part_sizes([Segment("r", 6 * MIB, "e", "0-10")]) is None
    assert aligned_part_sizes(None) is None


def test_segments_hashed_by_the_upload_are_checked_without_hashing_the_stream_again():
    pieces = [os.urandom(300), os.urandom(200)]
    source, segments = slo(pieces)
    check = StreamCheck(source, segments, slo_etag(segments), hashed_elsewhere=True)
    check.feed(b"".join(pieces))
    check.segment_hashed(0, hashlib.md5(pieces[0]).digest())
    check.segment_hashed(1, hashlib.md5(pieces[1]).digest())
    assert check.finish() == md5(b"".join(pieces))
    other = StreamCheck(source, segments, slo_etag(segments), hashed_elsewhere=True)
    with pytest.raises(SourceMismatchError, match="segment /c_segments/s/0"):
        other.segment_hashed(0, hashlib.md5(b"other").digest())
    unhashed = StreamCheck(source, segments, slo_etag(segments), hashed_elsewhere=True)
    unhashed.feed(b"".join(pieces))
    with pytest.raises(SourceMismatchError, match="ended in segment 1 of 2"):
        unhashed.finish()


# -- what a key found in S3 is ------------------------------------------------------------------

SOURCE = SourceKey("AUTH_p", "photos", "a b/ü", md5(b"hello"), 5)


def ours(**changes):
    """The metadata this collection writes for SOURCE with a single PUT."""
    metadata = {**source_identity("AUTH_p", "photos", "a b/ü"), SOURCE_ETAG: SOURCE.etag,
                MD5: SOURCE.etag, S3_ETAG: SOURCE.etag}
    metadata.update(changes)
    return {key: value for key, value in metadata.items() if value is not None}


def test_the_identity_is_ascii_and_round_trips():
    identity = source_identity("AUTH_p", "ph/otos", "a b/ü%41")
    assert all(value.isascii() for value in identity.values())
    assert identity[SOURCE_NAME] == "a%20b/%C3%BC%2541" and identity[SOURCE_CONTAINER] == "ph%2Fotos"


def test_no_key_is_absent():
    assert classify_key(SOURCE, None, None, None).state == ABSENT


def test_our_copy_of_this_version_is_current():
    assert classify_key(SOURCE, SOURCE.etag, 5, ours()).state == CURRENT


def test_our_multipart_copy_counts_with_the_etag_written_or_the_md5_an_s3_recomputes():
    stamped = ours(**{S3_ETAG: "abc-3"})
    assert classify_key(SOURCE, "abc-3", 5, stamped).state == CURRENT  # RGW keeps it through the copy
    assert classify_key(SOURCE, SOURCE.etag, 5, stamped).state == CURRENT  # AWS recomputes: the MD5


def test_the_swift_object_changed_since_our_copy_is_stale():
    assert classify_key(SourceKey("AUTH_p", "photos", "a b/ü", md5(b"hullo"), 5), SOURCE.etag, 5, ours()).state \
        == STALE


def test_an_application_write_after_cut_over_is_a_conflict():
    verdict = classify_key(SOURCE, md5(b"newer"), 5, {})
    assert verdict.state == CONFLICT and "did not copy" in verdict.reason


def test_a_write_that_kept_our_metadata_is_a_conflict():
    # an application that copies the old metadata onto its new bytes: the ETag gives it away
    verdict = classify_key(SOURCE, md5(b"newer"), 5, ours())
    assert verdict.state == CONFLICT and "written again" in verdict.reason


def test_the_copy_of_another_source_is_a_conflict():
    other = ours(**source_identity("AUTH_p", "videos", "a b/ü"))
    verdict = classify_key(SOURCE, SOURCE.etag, 5, other)
    assert verdict.state == CONFLICT and "AUTH_p/videos/a b/ü" in verdict.reason


def test_an_unfinished_multipart_copy_of_ours_is_copied_again():
    unstamped = ours(**{MD5: None, S3_ETAG: None})
    assert classify_key(SOURCE, "abc-2", 5, unstamped, lambda: ("abc-2",)).state == STALE
    assert classify_key(SOURCE, "abc", 5, unstamped, lambda: ("abc",)).state == CONFLICT  # a single PUT records both


def test_a_multipart_key_with_our_identity_but_an_etag_we_cannot_recompute_is_a_conflict():
    # an application's multipart write that kept the metadata of our unfinished copy
    unstamped = ours(**{MD5: None, S3_ETAG: None})
    verdict = classify_key(SOURCE, "abc-2", 5, unstamped, lambda: ("def-2",))
    assert verdict.state == CONFLICT and "not one the source's segments make" in verdict.reason
    assert classify_key(SOURCE, "abc-2", 5, unstamped).state == CONFLICT


def test_copies_by_0_1_0_count_as_ours_when_their_record_is_the_sources():
    legacy = {SOURCE_ETAG: SOURCE.etag, MD5: SOURCE.etag}
    assert classify_key(SOURCE, SOURCE.etag, 5, legacy).state == CURRENT
    assert classify_key(SOURCE, "abc-2", 5, legacy).state == CURRENT  # multipart
    assert classify_key(SOURCE, md5(b"other"), 5, legacy).state == CONFLICT  # rewritten, old metadata kept
    assert classify_key(SOURCE, SOURCE.etag, 5, {SOURCE_ETAG: SOURCE.etag, MD5: "0" * 32}).state == CONFLICT
    assert classify_key(SourceKey("AUTH_p", "photos", "a b/ü", "f" * 32, 5), SOURCE.etag, 5, legacy).state \
        == CONFLICT  # the source changed: whose is it? not provably ours
    manifest = SourceKey("AUTH_p", "photos", "a b/ü", "s" * 32, 5, SLO)
    assert classify_key(manifest, "abc-2", 5, {SOURCE_ETAG: "s" * 32, MD5: SOURCE.etag}).state == CURRENT


# -- proof before the source goes ----------------------------------------------------------------

def test_a_single_put_is_proven_by_its_etag_being_the_plain_sources_md5():
    source = SourceObject("p", 5, md5(b"hello"), "", PLAIN)
    assert delete_proof(source, md5(b"hello"))
    assert delete_proof(source, md5(b"forged")) is None  # read it back


def test_metadata_never_proves_anything():
    source = SourceObject("p", 5, md5(b"hello"), "", PLAIN)
    # a forger's key: its recorded MD5 is the source's, its bytes (so its ETag) are not
    assert delete_proof(source, md5(b"forgd"), md5=None) is None


def test_a_manifest_is_proven_by_the_md5_read_or_the_parts_sent():
    pieces = [os.urandom(10), os.urandom(10)]
    source, segments = slo(pieces)
    whole = md5(b"".join(pieces))
    assert delete_proof(source, whole) is None  # a manifest's Swift ETag is no MD5
    assert delete_proof(source, whole, md5=whole)
    assert delete_proof(source, "abc-2", sent_etag="abc-2")
    assert delete_proof(source, "abc-2", sent_etag="abd-2") is None


def test_parts_that_follow_segments_are_proven_by_the_segment_etags():
    pieces = [os.urandom(10), os.urandom(10)]
    source, segments = slo(pieces)
    aligned = multipart_etag(hashlib.md5(p).digest() for p in pieces)
    assert delete_proof(source, aligned, segments=segments, manifest_etag=source.etag)
    assert delete_proof(source, aligned, segments=segments, manifest_etag="changed") is None
    assert delete_proof(source, multipart_etag([hashlib.md5(b"x").digest()] * 2), segments=segments,
                        manifest_etag=source.etag) is None
    ranged = [Segment(s.name, s.size, s.etag, "0-9") for s in segments]
    assert delete_proof(source, aligned, segments=ranged, manifest_etag=source.etag) is None
