"""Which segments may go with their manifest: the reference index of a run's manifests."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.refs import (
    SegmentReferences,
    dlo_prefix,
    object_id,
)


def segs(*names):
    return [("c_segments", name) for name in names]


def test_paths_and_dlo_headers_become_ids():
    assert object_id("/c_segments/a/b/0001") == ("c_segments", "a/b/0001")
    assert dlo_prefix("c segments/vidéo/2%41") == ("c segments", "vidéo/2%41")  # unquoted already


def test_an_unshared_slo_takes_its_segments():
    refs = SegmentReferences(["c"])
    refs.add_slo(("c", "m"), segs("m/1", "m/2"))
    assert refs.release(("c", "m"), segs("m/1", "m/2")) == (segs("m/1", "m/2"), {})


def test_segments_another_slo_names_are_kept_until_that_one_goes_too():
    refs = SegmentReferences(["c"])
    refs.add_slo(("c", "a"), segs("s/1", "s/2"))
    refs.add_slo(("c", "b"), segs("s/2", "s/3"))
    deletable, kept = refs.release(("c", "a"), segs("s/1", "s/2"))
    assert deletable == segs("s/1")
    assert kept == {("c_segments", "s/2"): "also read by the manifest c/b"}
    assert refs.release(("c", "b"), segs("s/2", "s/3")) == (segs("s/2", "s/3"), {})


def test_a_dlo_prefix_is_raw_so_video_covers_video2():
    refs = SegmentReferences(["c"])
    refs.add_dlo(("c", "all"), "c_segments", "video")
    refs.add_dlo(("c", "two"), "c_segments", "video2/")
    assert refs.readers(("c_segments", "video2/0001")) == {("c", "all"), ("c", "two")}
    assert refs.readers(("c_segments", "video/0001")) == {("c", "all")}
    assert refs.readers(("c_segments", "vide")) == set()
    deletable, kept = refs.release(("c", "all"), segs("video/0001", "video2/0001"))
    assert deletable == segs("video/0001") and list(kept) == segs("video2/0001")
    assert refs.release(("c", "two"), segs("video2/0001")) == (segs("video2/0001"), {})


def test_objects_the_run_copies_on_their_own_are_never_taken_as_segments():
    refs = SegmentReferences(["glance"], prefix="")
    refs.add_dlo(("glance", "img"), "glance", "img-")  # glance's segments sit beside the manifest
    deletable, kept = refs.release(("glance", "img"), [("glance", "img-00001")])
    assert deletable == [] and "copies on its own" in kept[("glance", "img-00001")]
    assert refs.live_readers(("glance", "img-00001")) == []  # its own copy may delete it now
    outside_prefix = SegmentReferences(["glance"], prefix="other/")
    assert outside_prefix.release(("glance", "img"), [("glance", "img-00001")]) == ([("glance", "img-00001")], {})


def test_an_object_a_live_manifest_reads_is_not_deleted_on_its_own():
    refs = SegmentReferences(["c", "c_segments"])
    refs.add_slo(("c", "m"), segs("m/1"))
    assert refs.live_readers(("c_segments", "m/1")) == [("c", "m")]
    refs.release(("c", "m"), segs("m/1"))
    assert refs.live_readers(("c_segments", "m/1")) == []


def test_segment_containers_are_the_ones_other_containers_manifests_read():
    refs = SegmentReferences(["c", "store", "self", "outside_run_is_ignored"])
    refs.add_slo(("c", "m"), [("store", "x/1")])
    refs.add_dlo(("c", "d"), "outside", "p")
    refs.add_dlo(("self", "img"), "self", "img-")  # its own container: no order to keep
    assert refs.containers_read_from_others() == {"store"}
