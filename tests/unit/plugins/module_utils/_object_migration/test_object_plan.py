"""The pure decisions of swift_object_migrate: buckets, part sizes, what a key is, what to do, what proves a copy."""
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    MD5,
    S3_ETAG,
    SOURCE_CONTAINER,
    SOURCE_ETAG,
    SOURCE_NAME,
    source_identity,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import (
    ABSENT,
    CONFLICT,
    CURRENT,
    MIB,
    STALE,
    Conflict,
    Copy,
    Current,
    SourceKey,
    aligned_part_sizes,
    bucket_for,
    bucket_problem,
    buckets_for,
    classify_key,
    delete_proof,
    is_segment_container,
    multipart_etag,
    needs_segment_etags,
    part_size_for,
    plan_object,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    PLAIN,
    SLO,
    Segment,
    SourceObject,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import ObjectInfo

from segment_samples import md5, slo


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


def test_multipart_etag():
    parts = [b"a" * 10, b"b" * 3]
    digests = [hashlib.md5(p).digest() for p in parts]
    assert multipart_etag(digests) == hashlib.md5(b"".join(digests)).hexdigest() + "-2"


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


def test_the_plan_for_a_key_follows_its_verdict():
    assert plan_object(SOURCE, None, "skip") == Copy(None)
    assert plan_object(SOURCE, ObjectInfo("k", 5, SOURCE.etag, metadata=ours()), "skip") == \
        Current(SOURCE.etag, SOURCE.etag)
    stale = plan_object(SOURCE, ObjectInfo("k", 5, SOURCE.etag, metadata=ours(**{SOURCE_ETAG: "old"})), "skip")
    assert isinstance(stale, Copy) and stale.replaces == SOURCE.etag and "changed" in stale.reason


@pytest.mark.parametrize("on_conflict", ["skip", "fail"])
def test_a_conflict_is_planned_as_one_unless_overwrite_is_asked(on_conflict):
    theirs = ObjectInfo("k", 3, "app-etag")
    assert isinstance(plan_object(SOURCE, theirs, on_conflict), Conflict)
    overwrite = plan_object(SOURCE, theirs, "overwrite")
    assert overwrite.replaces == "app-etag" and overwrite.reason.startswith("overwritten (on_conflict: overwrite)")


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
    assert classify_key(SOURCE, "abc-2", 5, unstamped, ("abc-2",)).state == STALE
    assert classify_key(SOURCE, "abc", 5, unstamped, ("abc",)).state == CONFLICT  # a single PUT records both


def test_the_segments_etags_are_needed_only_for_an_unrecorded_multipart_key_naming_a_manifest():
    manifest = SourceKey("AUTH_p", "photos", "a b/ü", "s" * 32, 5, SLO)
    unstamped = ours(**{MD5: None, S3_ETAG: None})
    assert needs_segment_etags(manifest, ObjectInfo("k", 5, "abc-2", metadata=unstamped))
    assert not needs_segment_etags(manifest, ObjectInfo("k", 5, "abc", metadata=unstamped))  # a single PUT
    assert not needs_segment_etags(manifest, ObjectInfo("k", 5, "abc-2", metadata=ours()))  # recorded
    assert not needs_segment_etags(SOURCE, ObjectInfo("k", 5, "abc-2", metadata=unstamped))  # plain
    assert not needs_segment_etags(manifest, None)


def test_a_multipart_key_with_our_identity_but_an_etag_we_cannot_recompute_is_a_conflict():
    # an application's multipart write that kept the metadata of our unfinished copy
    unstamped = ours(**{MD5: None, S3_ETAG: None})
    verdict = classify_key(SOURCE, "abc-2", 5, unstamped, ("def-2",))
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
