"""The checks while copying: the bytes read are those Swift promised, resumed parts the source's."""
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import SourceMismatchError
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    PLAIN,
    SLO,
    Segment,
    SourceObject,
    slo_etag,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.verify import (
    ResumeCheck,
    ResumeMismatchError,
    StreamCheck,
)

from segment_samples import md5, slo


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
