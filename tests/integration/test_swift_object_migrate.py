"""swift_object_migrate from the local cloud's Swift into its Ceph RADOS Gateway, over S3."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from urllib.parse import quote

import boto3
import openstack
import pytest
from botocore.config import Config

from conftest import REPO
from process_tree import kill_tree, wait_for_module

MIB = 2**20
PART = 5 * MIB  # the part size every run here uses


class Swift:
    """The Swift account of a cloud of clouds.yaml, through its raw API; paths as Swift names them."""

    def __init__(self, cloud_name: str):
        self.store = openstack.connect(cloud=cloud_name).object_store

    def request(self, method, path, ok=(200, 201, 202, 204), **kwargs):
        # escaped dots stop the HTTP client from resolving "." and ".." segments away
        response = self.store.request(quote(path).replace(".", "%2E"), method, **kwargs)
        assert response.status_code in ok, (method, path, response.status_code, response.text)
        return response

    def put(self, container, name, data=b"", headers=None):
        self.request("PUT", f"/{container}")
        return self.request("PUT", f"/{container}/{name}", data=data, headers=headers or {})

    def slo(self, container, name, pieces, headers=None):
        """An SLO of ``pieces`` in ``<container>_segments``; returns the segment paths."""
        self.request("PUT", f"/{container}")
        manifest = []
        for number, piece in enumerate(pieces):
            path = f"/{container}_segments/{name}/{number:08d}"
            self.put(f"{container}_segments", f"{name}/{number:08d}", piece)
            manifest.append({"path": path, "etag": hashlib.md5(piece).hexdigest(), "size_bytes": len(piece)})
        self.request("PUT", f"/{container}/{name}", params={"multipart-manifest": "put"},
                     data=json.dumps(manifest), headers=headers or {})
        return [entry["path"] for entry in manifest]

    def dlo(self, container, name, pieces, headers=None):
        for number, piece in enumerate(pieces):
            self.put(f"{container}_segments", f"dlo/{name}/{number:08d}", piece)
        # quoted, as python-swiftclient writes it: Swift unquotes the header
        self.put(container, name, b"", {**(headers or {}),
                                        "X-Object-Manifest": quote(f"{container}_segments/dlo/{name}/")})

    def names(self, container):
        response = self.request("GET", f"/{container}", ok=(200, 204, 404), params={"format": "json"})
        return [item["name"] for item in response.json()] if response.status_code == 200 else []


def utf8_header(text: str) -> str:
    """A header value that goes on the wire as UTF-8 (http.client sends latin-1)."""
    return text.encode().decode("latin-1")


@pytest.fixture(scope="module")
def s3(cloud):
    rgw = cloud["ceph"]["rgw"]
    return boto3.client("s3", endpoint_url=rgw["endpoint"], aws_access_key_id=rgw["s3_access_key"],
                        aws_secret_access_key=rgw["s3_secret_key"], region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


@pytest.fixture(scope="module", autouse=True)
def buckets_removed_afterwards(s3):
    """The local OSD keeps its data in RAM: this module's buckets go when it is done."""
    yield
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"].startswith(("objmig-", "objdel-", "objkill-", "objbad-", "objtwo-", "objcf-", "objshr-")):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket["Name"], Key=item["Key"])
            for upload in s3.list_multipart_uploads(Bucket=bucket["Name"]).get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket["Name"], Key=upload["Key"], UploadId=upload["UploadId"])
            s3.delete_bucket(Bucket=bucket["Name"])


@pytest.fixture(scope="module")
def swift(cloud):
    return Swift(cloud["admin_cloud"])


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def migrate(run_playbook, cloud, tmp_path):
    rgw = cloud["ceph"]["rgw"]

    def run(**options):
        options = {"journal_dir": str(tmp_path / "journals"), "s3_endpoint_url": rgw["endpoint"],
                   "s3_access_key": rgw["s3_access_key"], "s3_secret_key": rgw["s3_secret_key"], **options}
        return run_playbook("object_migrate.yml", **options)
    return run


def module_alive(pid):
    """Whether ``pid`` still runs (a zombie waiting for its parent's wait() does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(s3, bucket):
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def bucket_exists(s3, bucket):
    return bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_container_moves_with_bytes_metadata_and_manifests_whole(migrate, swift, s3, tag):
    container = f"objmig-{tag}"
    small = {f"small/{n:03d}": os.urandom(1000 + n) for n in range(20)}
    for name, data in small.items():
        swift.put(container, name, data)
    swift.put(container, "empty")
    unicode_name = "naïve/résumé ✓ 日本.txt"
    swift.put(container, unicode_name, "grüße".encode())
    swift.put(container, "described", b"<h1>hi</h1>", {
        "Content-Type": "text/html", "Content-Encoding": "identity",
        "Content-Disposition": 'attachment; filename="hi.html"', "X-Object-Meta-Owner": "ops",
        "X-Object-Meta-Colour": utf8_header("grün"), "X-Delete-At": "4102444800"})
    slo_pieces = [os.urandom(4 * MIB + 1), os.urandom(4 * MIB), os.urandom(3 * MIB)]  # 11 MiB: 3 parts
    swift.slo(container, "big-slo", slo_pieces,
              {"Content-Type": "application/x-tar", "X-Object-Meta-Kind": "backup"})
    dlo_pieces = [os.urandom(3 * MIB), os.urandom(3 * MIB), os.urandom(3 * MIB)]  # 9 MiB: 2 parts
    swift.dlo(container, "big-dlo", dlo_pieces, {"Content-Type": "application/gzip"})
    expected = {**small, "empty": b"", unicode_name: "grüße".encode(), "described": b"<h1>hi</h1>",
                "big-slo": b"".join(slo_pieces), "big-dlo": b"".join(dlo_pieces)}

    plan = migrate(containers=[container], check=True).results["result"]
    assert plan["changed"] is True and not plan.get("failures"), plan
    assert plan["counts"]["planned"] == len(expected)
    assert plan["bytes_planned"] == sum(map(len, expected.values()))
    assert plan["containers"][0]["bucket_created"] is True
    assert not bucket_exists(s3, container)  # check mode created nothing

    result = migrate(containers=[container]).results["result"]
    assert result["changed"] is True and not result.get("failures"), result
    assert result["counts"]["copied"] == len(expected) and result["counts"]["failed"] == 0
    assert result["bytes_read"] == sum(map(len, expected.values()))
    assert result["containers"] == [{"container": container, "bucket": container, "bucket_created": True,
                                     "objects": len(expected), "copied": len(expected), "already_done": 0,
                                     "planned": 0, "conflict": 0, "failed": 0, "left": 0,
                                     "bytes": sum(map(len, expected.values()))}]
    assert sorted(keys(s3, container)) == sorted(expected)  # segment objects are not copied on their own
    for name, data in expected.items():
        assert body(s3, container, name) == data, name
    kinds = {o["name"]: o["kind"] for o in result["objects"]}
    assert kinds["big-slo"] == "slo" and kinds["big-dlo"] == "dlo" and kinds["empty"] == "plain"

    described = s3.head_object(Bucket=container, Key="described")
    assert described["ContentType"] == "text/html"
    assert described["ContentEncoding"] == "identity"
    assert described["ContentDisposition"] == 'attachment; filename="hi.html"'
    metadata = described["Metadata"]
    assert metadata["owner"] == "ops" and metadata["colour"] == "=?UTF-8?B?Z3LDvG4=?="
    assert metadata["storeops-md5"] == hashlib.md5(b"<h1>hi</h1>").hexdigest()
    assert metadata["storeops-source-etag"] == metadata["storeops-md5"]
    assert metadata["storeops-source-last-modified"].endswith("GMT")
    assert result["unsupported_metadata"] == [{"container": container, "name": "described",
                                               "headers": {"x-delete-at": "4102444800"}}]
    big = s3.head_object(Bucket=container, Key="big-slo")
    assert big["ContentType"] == "application/x-tar" and big["Metadata"]["kind"] == "backup"
    assert big["Metadata"]["storeops-md5"] == hashlib.md5(expected["big-slo"]).hexdigest()
    assert big["Metadata"]["storeops-source-kind"] == "slo"
    assert big["ETag"].strip('"').endswith("-3")  # multipart, 5 MiB parts
    assert s3.head_object(Bucket=container, Key="big-dlo")["Metadata"]["storeops-md5"] == \
        hashlib.md5(expected["big-dlo"]).hexdigest()
    assert sorted(swift.names(container)) == sorted(expected)  # delete_source is off

    again = migrate(containers=[container]).results["result"]
    assert again["changed"] is False, again
    assert again["counts"]["already_done"] == len(expected) and again["bytes_read"] == 0
    assert again["already_migrated"][0]["reason"] == "already migrated: same source ETag and size"


def test_delete_source_removes_verified_objects_with_their_segments(migrate, swift, s3, tag):
    container = f"objdel-{tag}"
    swift.put(container, "plain", b"keep me safe")
    swift.slo(container, "slo", [os.urandom(3 * MIB), os.urandom(3 * MIB)])
    swift.dlo(container, "dlo", [os.urandom(3 * MIB), os.urandom(3 * MIB)])

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert result["counts"]["copied"] == 3 and result["counts"]["source_deleted"] == 3, result
    assert swift.names(container) == [] and swift.names(f"{container}_segments") == []
    assert body(s3, container, "plain") == b"keep me safe"

    again = migrate(containers=[container], delete_source=True).results["result"]
    assert again["changed"] is False and again["counts"]["objects"] == 0


# Names a Swift request path must escape: "%41" is not "A", "#" and "?" start no fragment or
# query, "%2F" is not "/", and a ".." segment is part of the name, not a step up.
AWKWARD_NAMES = ["b%41", "bA", "a#1", "what?x=1", "%2F", "a/../b", "b", "sp ace/ü"]


def test_names_round_trip_byte_for_byte_and_delete_only_their_own_source(migrate, swift, s3, tag):
    container = f"objmig-names-{tag}"
    objects = {name: os.urandom(64) + name.encode() for name in AWKWARD_NAMES}
    for name, data in objects.items():
        swift.put(container, name, data)
    assert sorted(swift.names(container)) == sorted(objects)  # Swift holds them under these names

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert not result.get("failures"), result
    assert result["counts"]["copied"] == result["counts"]["source_deleted"] == len(objects)
    assert sorted(keys(s3, container)) == sorted(objects)
    for name, data in objects.items():
        assert body(s3, container, name) == data, name
    assert swift.names(container) == []


def test_segmented_objects_whose_names_need_quoting(migrate, swift, s3, tag):
    container = f"objmig #%41 ü-{tag}"  # a Swift container name S3 refuses: bucket_names maps it
    bucket = f"objmig-seg-{tag}"
    slo_pieces = [os.urandom(3 * MIB), os.urandom(3 * MIB)]
    dlo_pieces = [os.urandom(3 * MIB), os.urandom(MIB)]
    # the segments are named after their objects, under <container>_segments
    swift.slo(container, "slo b%41 #1?x=1", slo_pieces)
    swift.dlo(container, "dlo b%41 #1?x=1", dlo_pieces)
    expected = {"slo b%41 #1?x=1": b"".join(slo_pieces), "dlo b%41 #1?x=1": b"".join(dlo_pieces)}

    result = migrate(containers=[container], bucket_names={container: bucket},
                     delete_source=True).results["result"]
    assert not result.get("failures"), result
    assert result["counts"]["copied"] == result["counts"]["source_deleted"] == 2
    assert sorted(keys(s3, bucket)) == sorted(expected)
    for name, data in expected.items():
        assert body(s3, bucket, name) == data, name
    assert swift.names(container) == [] and swift.names(f"{container}_segments") == []


@pytest.mark.parametrize("how", ["bucket_names", "bucket_name_template", "all_containers"])
def test_two_containers_into_one_bucket_are_refused_before_anything(migrate, swift, s3, cloud, tag, how):
    first, second, bucket = f"objtwo-a-{tag}", f"objtwo-b-{tag}", f"objtwo-{tag}"
    if how == "all_containers":  # every container of the member's account, into one bucket
        swift = Swift(cloud["member_cloud"])
        options = {"cloud_name": cloud["member_cloud"], "all_containers": True,
                   "bucket_name_template": bucket, "check": True}
    elif how == "bucket_name_template":
        options = {"containers": [first, second], "bucket_name_template": bucket, "delete_source": True}
    else:
        options = {"containers": [first, second], "bucket_names": {first: bucket, second: bucket},
                   "delete_source": True}
    dumps = {first: os.urandom(1000), second: os.urandom(1000)}
    for container, data in dumps.items():
        swift.put(container, "db.dump", data)

    run = migrate(**options)
    result = run.results["result"]
    assert result["failed"] is True
    message = result["msg"]
    assert f"'{first}'" in message and f"'{second}'" in message and f"bucket '{bucket}'" in message
    assert "\n" not in message and "Traceback" not in run.output
    assert not bucket_exists(s3, bucket)
    for container, data in dumps.items():
        assert swift.request("GET", f"/{container}/db.dump").content == data


def test_an_application_write_after_cut_over_is_a_conflict_never_reverted(migrate, swift, s3, tag):
    container = f"objcf-{tag}"
    old = {"app": os.urandom(1000), "keeps-metadata": os.urandom(6 * MIB), "changed": b"version 1"}
    for name, data in old.items():
        swift.put(container, name, data)
    first = migrate(containers=[container]).results["result"]
    assert first["counts"]["copied"] == 3, first
    ours = s3.head_object(Bucket=container, Key="keeps-metadata")["Metadata"]

    # after cut-over the application writes; one of its writes copies the old metadata along
    new = {"app": b"the application's newer bytes", "keeps-metadata": os.urandom(6 * MIB)}
    s3.put_object(Bucket=container, Key="app", Body=new["app"])
    s3.put_object(Bucket=container, Key="keeps-metadata", Body=new["keeps-metadata"], Metadata=ours)
    swift.put(container, "changed", b"version 2")  # and a Swift object changes: ours, copied again

    again = migrate(containers=[container], delete_source=True).results["result"]
    for name, data in new.items():
        assert body(s3, container, name) == data, name  # not reverted
    assert sorted(swift.names(container)) == ["app", "keeps-metadata"]  # their sources stay
    for name in new:
        assert swift.request("GET", f"/{container}/{name}").content == old[name]
    assert body(s3, container, "changed") == b"version 2"
    assert not again.get("failed") and again["counts"]["conflict"] == 2, again
    assert again["counts"]["copied"] == 1 and again["counts"]["source_deleted"] == 1
    conflicts = {c["name"]: c for c in again["conflicts"]}
    assert sorted(conflicts) == ["app", "keeps-metadata"]
    assert "did not copy" in conflicts["app"]["reason"] and "written again" in conflicts["keeps-metadata"]["reason"]
    assert "on_conflict: overwrite" in conflicts["app"]["fix"]
    assert ours["storeops-source-name"] == "keeps-metadata" and ours["storeops-source-container"] == container

    failing = migrate(containers=[container], on_conflict="fail").results["result"]
    assert failing["failed"] is True and "on_conflict: fail" in failing["msg"], failing
    assert "2 of 2 keys" in failing["msg"] and any(f"{container}/{name}:" in failing["msg"] for name in new)
    for name, data in new.items():
        assert body(s3, container, name) == data, name

    overwritten = migrate(containers=[container], on_conflict="overwrite").results["result"]
    assert not overwritten.get("failed") and overwritten["counts"]["copied"] == 2, overwritten
    for name in new:
        assert body(s3, container, name) == old[name], name
    assert migrate(containers=[container]).results["result"]["counts"]["already_done"] == 2


@pytest.mark.parametrize("forgery", ["single-put", "multipart"])
def test_a_key_with_forged_metadata_never_leads_to_deleting_the_source(migrate, swift, s3, tag, forgery):
    container = f"objcf-{tag}"
    data = os.urandom(1000 if forgery == "single-put" else 6 * MIB)
    etag = swift.put(container, "victim", data).headers["Etag"].strip('"')
    forged = os.urandom(len(data))  # same size, other bytes
    s3.create_bucket(Bucket=container)
    if forgery == "single-put":  # 0.1.0's record: the source ETag and MD5 claimed
        s3.put_object(Bucket=container, Key="victim", Body=forged,
                      Metadata={"storeops-source-etag": etag, "storeops-md5": etag})
    else:  # today's whole record, the S3 ETag included: only the bytes tell
        upload = s3.create_multipart_upload(Bucket=container, Key="victim")["UploadId"]
        parts = [s3.upload_part(Bucket=container, Key="victim", UploadId=upload, PartNumber=number,
                                Body=forged[start:start + PART])["ETag"]
                 for number, start in enumerate(range(0, len(forged), PART), 1)]
        s3.complete_multipart_upload(Bucket=container, Key="victim", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(parts, 1)]})
        written = s3.head_object(Bucket=container, Key="victim")["ETag"].strip('"')
        s3.copy_object(Bucket=container, Key="victim", CopySource={"Bucket": container, "Key": "victim"},
                       MetadataDirective="REPLACE", Metadata={
                           "storeops-source-etag": etag, "storeops-md5": etag, "storeops-s3-etag": written,
                           "storeops-source-account": swift.store.get_endpoint().rstrip("/").rpartition("/")[2],
                           "storeops-source-container": container, "storeops-source-name": "victim"})

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert swift.request("GET", f"/{container}/victim").content == data  # the source is kept
    assert body(s3, container, "victim") == forged  # and the key is not ours to overwrite
    assert not result.get("failed") and result["counts"]["conflict"] == 1, result
    assert result["counts"]["source_deleted"] == 0
    # the single PUT's ETag gives it away at once; the multipart one only when read back
    expected = "bytes are not the Swift object's" if forgery == "multipart" else "did not copy"
    assert expected in result["conflicts"][0]["reason"]


def test_a_genuine_multipart_copy_by_0_1_0_is_ours_and_its_source_goes_once_read_back(migrate, swift, s3, tag):
    container = f"objcf-{tag}"
    data = os.urandom(6 * MIB)
    etag = swift.put(container, "legacy", data).headers["Etag"].strip('"')
    s3.create_bucket(Bucket=container)
    upload = s3.create_multipart_upload(Bucket=container, Key="legacy", Metadata={  # as 0.1.0 wrote it
        "storeops-source-etag": etag, "storeops-md5": etag})["UploadId"]
    parts = [s3.upload_part(Bucket=container, Key="legacy", UploadId=upload, PartNumber=number,
                            Body=data[start:start + PART])["ETag"]
             for number, start in enumerate(range(0, len(data), PART), 1)]
    s3.complete_multipart_upload(Bucket=container, Key="legacy", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(parts, 1)]})

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert body(s3, container, "legacy") == data
    assert not result.get("failed") and result["counts"]["already_done"] == 1, result
    assert result["counts"]["source_deleted"] == 1 and result["bytes_read"] == 0  # Swift is not read again
    assert result["already_migrated"][0]["proof"] == "the S3 object, read back, holds the source's bytes"
    assert swift.names(container) == []


def test_a_multipart_key_with_our_identity_and_no_recorded_etag_is_ours_only_if_recomputable(
        migrate, swift, s3, tag):
    """As if killed between completing the upload and recording its ETag: the metadata without them."""
    container = f"objcf-{tag}"
    swift.slo(container, "aligned", [os.urandom(PART), os.urandom(PART)])  # parts follow the segments
    swift.put(container, "plain", os.urandom(2 * PART + 1))  # its parts' ETag needs every byte read
    assert migrate(containers=[container]).results["result"]["counts"]["copied"] == 2
    for key in ("aligned", "plain"):
        metadata = s3.head_object(Bucket=container, Key=key)["Metadata"]
        unstamped = {k: v for k, v in metadata.items() if k not in ("storeops-md5", "storeops-s3-etag")}
        s3.copy_object(Bucket=container, Key=key, CopySource={"Bucket": container, "Key": key},
                       MetadataDirective="REPLACE", Metadata=unstamped)
        assert "-" in s3.head_object(Bucket=container, Key=key)["ETag"]

    result = migrate(containers=[container]).results["result"]
    outcomes = {o["name"]: o["outcome"] for o in result["objects"] + result["conflicts"]}
    assert outcomes == {"aligned": "copied", "plain": "conflict"}, result


def test_segments_another_slo_shares_stay_until_it_is_copied(migrate, swift, s3, tag):
    container = f"objshr-{tag}"
    pieces = [os.urandom(1000) for _number in range(3)]
    for number, piece in enumerate(pieces):
        swift.put(f"{container}_segments", f"s/{number}", piece)

    def slo(name, numbers):
        manifest = [{"path": f"/{container}_segments/s/{n}", "etag": hashlib.md5(pieces[n]).hexdigest(),
                     "size_bytes": len(pieces[n])} for n in numbers]
        swift.request("PUT", f"/{container}")
        swift.request("PUT", f"/{container}/{name}", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
    slo("a", [0, 1])
    slo("b", [1, 2])  # s/1 is in both

    result = migrate(containers=[container], delete_source=True, concurrency=1).results["result"]
    assert body(s3, container, "a") == pieces[0] + pieces[1]
    assert body(s3, container, "b") == pieces[1] + pieces[2], result
    assert not result.get("failed") and result["counts"]["source_deleted"] == 2, result
    kept = {o["name"]: o.get("segments_kept") for o in result["objects"]}
    assert kept["a"] == [{"segment": f"{container}_segments/s/1", "reason": f"also read by the manifest {container}/b"}]
    assert swift.names(container) == [] and swift.names(f"{container}_segments") == []  # b took s/1 along


def test_a_segment_written_again_after_the_copy_stays_in_swift(migrate, swift, s3, tag):
    """An SLO's ETag does not change when a segment is overwritten: the segment itself is checked."""
    container = f"objdel-{tag}"
    pieces = [os.urandom(3 * MIB), os.urandom(3 * MIB)]
    segments = swift.slo(container, "slo", pieces)
    first = migrate(containers=[container]).results["result"]
    assert first["counts"]["copied"] == 1, first
    newer = os.urandom(3 * MIB)
    swift.request("PUT", segments[1], data=newer)

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert body(s3, container, "slo") == b"".join(pieces)
    assert swift.names(container) == [], result  # the manifest, proven by the copy, goes
    assert swift.request("GET", segments[1]).content == newer  # the segment written since stays
    assert swift.names(f"{container}_segments") == ["slo/00000001"], result
    kept = [o.get("segments_kept") for o in result["already_migrated"] if o["name"] == "slo"]
    assert kept == [[{"segment": segments[1].lstrip("/"),
                      "reason": "it no longer holds what the manifest promised (written again since)"}]]


def test_a_dlo_manifest_with_a_body_keeps_itself_and_its_segments(migrate, swift, s3, tag):
    """X-Object-Manifest set on a non-empty object: the listing shows the body, GET the segments."""
    container = f"objdel-{tag}"
    pieces = [os.urandom(1000), os.urandom(1000)]
    for number, piece in enumerate(pieces):
        swift.put(f"{container}_segments", f"dlo/{number:08d}", piece)
    swift.put(container, "dlo", b"a body of its own", {"X-Object-Manifest": f"{container}_segments/dlo/"})

    result = migrate(containers=[container], delete_source=True).results["result"]
    assert body(s3, container, "dlo") == b"".join(pieces), result
    assert swift.names(container) == ["dlo"], result
    assert swift.names(f"{container}_segments") == ["dlo/00000000", "dlo/00000001"]
    assert result["objects"][0]["reason"].startswith("source kept with its segments: a DLO whose manifest"), result


def test_segments_a_range_of_a_nested_slo_reads_are_protected(migrate, swift, s3, tag):
    """``a`` reads a range of ``other/n``, an SLO outside the run; ``b`` reads n's segment directly."""
    container, other = f"objshr-{tag}", f"objshr-{tag}-other"
    piece = os.urandom(2000)
    swift.put(f"{container}_segments", "s/0", piece)
    segment = {"path": f"/{container}_segments/s/0", "etag": hashlib.md5(piece).hexdigest(), "size_bytes": 2000}
    swift.request("PUT", f"/{other}")
    swift.request("PUT", f"/{container}")
    swift.request("PUT", f"/{other}/n", params={"multipart-manifest": "put"}, data=json.dumps([segment]))
    swift.request("PUT", f"/{container}/a", params={"multipart-manifest": "put"},
                  data=json.dumps([{"path": f"/{other}/n", "etag": None, "size_bytes": None, "range": "0-999"}]))
    swift.request("PUT", f"/{container}/b", params={"multipart-manifest": "put"}, data=json.dumps([segment]))

    result = migrate(containers=[container], delete_source=True, concurrency=1).results["result"]
    assert body(s3, container, "a") == piece[:1000] and body(s3, container, "b") == piece, result
    assert swift.names(container) == ["a"], result  # a's range has no MD5 to prove it by
    assert swift.request("GET", f"/{other}/n").content == piece  # b took n's segment along
    kept = {o["name"]: o.get("segments_kept") for o in result["objects"]}
    assert kept["b"] == [{"segment": f"{container}_segments/s/0", "reason": f"also read by the manifest {container}/a"}]


def test_a_dlo_prefix_that_is_a_prefix_of_another_keeps_the_other_ones_segments(migrate, swift, s3, tag):
    container, segments = f"objshr-{tag}", f"objshr-{tag}_segments"
    pieces = {name: os.urandom(1000) for name in ("video/1", "video/2", "video2/1", "video2/2")}
    for name, piece in pieces.items():
        swift.put(segments, name, piece)
    swift.put(container, "all", b"", {"X-Object-Manifest": f"{segments}/video"})  # raw: video2/... too
    swift.put(container, "two", b"", {"X-Object-Manifest": f"{segments}/video2/"})

    result = migrate(containers=[container], delete_source=True, concurrency=1).results["result"]
    assert body(s3, container, "all") == b"".join(pieces.values())
    assert body(s3, container, "two") == pieces["video2/1"] + pieces["video2/2"], result
    assert not result.get("failed") and result["counts"]["source_deleted"] == 2, result
    kept = {o["name"]: o.get("segments_kept", []) for o in result["objects"]}
    assert [k["segment"] for k in kept["all"]] == [f"{segments}/video2/1", f"{segments}/video2/2"]
    assert swift.names(container) == [] and swift.names(segments) == []


def test_a_segment_container_the_run_migrates_goes_after_the_manifests_that_read_it(migrate, swift, s3, tag):
    container, segments = f"objshr-{tag}", f"objshr-{tag}_segments"
    pieces = [os.urandom(1000), os.urandom(1000)]
    swift.slo(container, "m", pieces)
    # the segment container named first: its objects, copied and deleted first, would break m
    result = migrate(containers=[segments, container], delete_source=True, concurrency=1,
                     bucket_names={segments: f"objshr-{tag}-segments"}).results["result"]
    assert body(s3, container, "m") == b"".join(pieces), result
    assert [body(s3, f"objshr-{tag}-segments", f"m/{n:08d}") for n in range(2)] == pieces
    assert not result.get("failed") and result["counts"]["source_deleted"] == 3, result
    manifest = next(o for o in result["objects"] if o["name"] == "m")
    assert {k["reason"] for k in manifest["segments_kept"]} == {
        "an object this run copies on its own: it goes after its own copy"}
    assert swift.names(container) == [] and swift.names(segments) == []


def test_glance_style_segments_beside_their_dlo_are_objects_of_their_own_and_go_last(migrate, swift, s3, tag):
    container = f"objshr-{tag}"
    pieces = {"img-00001": os.urandom(1000), "img-00002": os.urandom(1000)}
    for name, piece in pieces.items():
        swift.put(container, name, piece)
    swift.put(container, "img", b"", {"X-Object-Manifest": f"{container}/img-"})
    expected = {"img": b"".join(pieces.values()), **pieces}

    first = migrate(containers=[container], delete_source=True).results["result"]
    assert {name: body(s3, container, name) for name in expected} == expected, first
    assert not first.get("failed") and first["counts"]["copied"] == 3, first
    assert "img" not in swift.names(container)
    # a segment is deleted only once no manifest in Swift reads it: at once or by the next run
    second = migrate(containers=[container], delete_source=True).results["result"]
    assert not second.get("failed"), second
    assert swift.names(container) == []
    assert {name: body(s3, container, name) for name in expected} == expected


@pytest.mark.parametrize("kind", ["plain", "slo"])  # an SLO of 6 MiB segments goes up one part per segment
def test_killed_in_a_large_object_the_rerun_resumes_from_its_parts(
        playbook_command, migrate, swift, s3, cloud, tag, tmp_path, kind):
    container = f"objkill-{tag}"
    if kind == "plain":
        data = os.urandom(96 * MIB)
        swift.put(container, "large", data)
    else:
        pieces = [os.urandom(6 * MIB) for _number in range(16)]
        swift.slo(container, "large", pieces)
        data = b"".join(pieces)
    rgw = cloud["ceph"]["rgw"]
    argv, env = playbook_command("object_migrate.yml", containers=[container], s3_endpoint_url=rgw["endpoint"],
                                 s3_access_key=rgw["s3_access_key"], s3_secret_key=rgw["s3_secret_key"],
                                 part_size_mb=5, uploads_per_object=1, out=str(tmp_path / "out.json"))
    proc = subprocess.Popen(argv, env=env, cwd=REPO, start_new_session=True,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_module(proc.pid, "swift_object_migrate")
    upload_id, parts = None, []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(parts) < 4:
        time.sleep(0.05)
        if bucket_exists(s3, container):
            uploads = s3.list_multipart_uploads(Bucket=container).get("Uploads", [])
            if uploads:
                upload_id = uploads[0]["UploadId"]
                parts = s3.list_parts(Bucket=container, Key="large", UploadId=upload_id).get("Parts", [])
    killed = kill_tree(proc.pid)  # the module runs in a session of its own: the tree, not the group
    proc.wait()
    deadline = time.monotonic() + 10
    while any(map(module_alive, killed)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(module_alive, killed)), "a process of the killed run survived"
    assert upload_id and len(parts) >= 4, "the run was not caught in the middle of the object"
    assert "large" not in keys(s3, container)  # nothing visible before the upload completes
    held = s3.list_parts(Bucket=container, Key="large", UploadId=upload_id)["Parts"]

    result = migrate(containers=[container], uploads_per_object=1).results["result"]
    assert result["counts"]["copied"] == 1, result
    copied = result["objects"][0]
    assert copied["upload_id"] == upload_id, result  # the same multipart upload, not a new one
    assert copied["bytes_resumed"] == sum(part["Size"] for part in held) >= 4 * PART
    if kind == "slo":
        assert {part["Size"] for part in held} == {6 * MIB}  # the parts are the segments
    assert copied["bytes_sent"] == len(data) - copied["bytes_resumed"]
    assert body(s3, container, "large") == data
    assert s3.list_multipart_uploads(Bucket=container).get("Uploads", []) == []
    assert swift.names(container) == ["large"]  # nothing lost: the source stays (no delete_source)
    assert migrate(containers=[container]).results["result"]["counts"]["already_done"] == 1  # converged


@pytest.mark.parametrize("segment_mib", [3, 6])  # 6 MiB segments are the upload's parts
def test_a_corrupted_segment_is_refused_and_nothing_is_written(migrate, swift, s3, tag, segment_mib):
    container = f"objbad-{tag}"
    pieces = [os.urandom(segment_mib * MIB) for _number in range(3)]
    segments = swift.slo(container, "broken", pieces)
    swift.request("PUT", segments[1], data=os.urandom(segment_mib * MIB))  # same size, other bytes

    run = migrate(containers=[container], delete_source=True)
    result = run.results["result"]
    assert result["failed"] is True and result["counts"]["failed"] == 1, result
    failure = result["failures"][0]
    assert failure["name"] == "broken"
    assert segments[1] in failure["reason"] and "manifest" in failure["reason"]
    assert "repair or re-upload" in failure["fix"]
    assert "broken" not in keys(s3, container)
    assert s3.list_multipart_uploads(Bucket=container).get("Uploads", []) == []  # aborted, not left
    assert swift.names(container) == ["broken"]  # the source is kept


def test_all_containers_skips_segment_containers(migrate, cloud, tag):
    member = Swift(cloud["member_cloud"])
    member.slo(f"acct-{tag}", "obj", [os.urandom(1000)])
    result = migrate(cloud_name=cloud["member_cloud"], all_containers=True, check=True).results["result"]
    assert not result.get("failures"), result
    planned = {entry["container"] for entry in result["containers"]}
    assert f"acct-{tag}" in planned and f"acct-{tag}_segments" not in planned
    skipped = [entry["container"] for entry in result["skipped_containers"]]
    assert f"acct-{tag}_segments" in skipped


@pytest.mark.parametrize("options, message", [
    ({"containers": ["objmig-no-such-container"]},
     "containers: Swift has no container 'objmig-no-such-container' in the account AUTH_"),
    ({"containers": ["{existing}"], "s3_secret_key": "wrong-secret"},
     "s3: ListBuckets failed with SignatureDoesNotMatch: the secret key does not match the access key: "
     "check s3_secret_key"),
    ({"containers": ["{existing}"], "s3_access_key": "NOSUCHKEY"},
     "check s3_access_key"),
    ({"containers": ["{existing}"], "bucket_names": {"{existing}": "Bad_Bucket"}},
     "maps to bucket 'Bad_Bucket', which S3 refuses"),
    ({"containers": ["{existing}"], "part_size_mb": 1}, "part_size_mb must be from 5 to 5120"),
    ({"containers": ["{existing}"], "part_size_mb": 5121}, "part_size_mb must be from 5 to 5120"),
    ({"containers": ["{existing}"], "concurrency": 0}, "concurrency must be from 1 to 64"),
    ({"containers": ["{existing}"], "concurrency": 65}, "concurrency must be from 1 to 64"),
    ({"containers": ["{existing}"], "uploads_per_object": 17}, "uploads_per_object must be from 1 to 16"),
    ({"containers": ["{existing}"], "s3_endpoint_url": "127.0.0.1:7480"},
     "s3_endpoint_url '127.0.0.1:7480' is not an http(s) URL"),
    ({"containers": ["{existing}"], "s3_endpoint_url": "rgw.example.com"},
     "s3_endpoint_url 'rgw.example.com' is not an http(s) URL"),
    ({"containers": ["{existing}"], "bucket_names": {"{existing}": 2024}},
     "2024 is not a container name mapped to a bucket name"),
    ({"containers": ["{existing}"], "bucket_names": {"{existing}": ["a-bucket"]}},
     "write both as quoted strings"),
    ({}, "name the containers to copy in containers, or set all_containers: true"),
])
def test_bad_input_is_one_clean_line_and_changes_nothing(migrate, swift, s3, cloud, tag, options, message):
    existing = f"objin-{tag}"
    swift.put(existing, "x", b"x")
    options = json.loads(json.dumps(options).replace("{existing}", existing))
    run = migrate(**options)
    result = run.results["result"]
    assert result["failed"] is True
    assert message in result["msg"] and "\n" not in result["msg"] and "Traceback" not in run.output
    assert not bucket_exists(s3, existing)  # nothing was created before the error
    assert swift.names(existing) == ["x"]
    assert cloud["ceph"]["rgw"]["s3_secret_key"] not in run.output + json.dumps(result)


def test_a_spent_maintenance_budget_starts_no_slice_and_the_rerun_copies_in_slices(run_playbook, cloud, swift, s3,
                                                                                   tag, tmp_path):
    container = f"objmig-slices-{tag}"
    objects = {f"o{n}": os.urandom(1000) for n in range(2)}
    for name, data in objects.items():
        swift.put(container, name, data)
    rgw = cloud["ceph"]["rgw"]
    variables = {"maintenance_cloud": cloud["admin_cloud"], "maintenance_glance_api_conf": cloud["glance"]["api_conf"],
                 "maintenance_stage_backfill": False, "maintenance_stage_verify": False,
                 "maintenance_stage_objects": True, "object_migration_containers": [container],
                 "object_migration_s3_endpoint_url": rgw["endpoint"], "object_migration_s3_access_key": rgw["s3_access_key"],
                 "object_migration_s3_secret_key": rgw["s3_secret_key"], "object_migration_limit": 1,
                 "object_migration_journal_dir": str(tmp_path / "journals")}

    def maintenance(**budget):
        reports = tmp_path / f"reports{len(budget)}"
        run = run_playbook("storeops.openstack.maintenance", maintenance_report_dir=str(reports), **variables, **budget)
        assert run.returncode == 0, run.output
        (stage,) = json.loads((reports / "report.json").read_text())["stages"]
        return run.output, stage

    # the preflight alone outlasts one second: no slice starts, and what is left is counted
    output, stage = maintenance(maintenance_max_duration=1)
    assert "object_migration slice" not in output and (stage["name"], stage["remaining"]) == ("objects", 2), output
    assert not bucket_exists(s3, container)  # counted in check mode: not even the bucket is made

    output, stage = maintenance()
    lines = [line.split('"msg": "')[1] for line in output.splitlines() if "object_migration slice" in line]
    assert [line.split(",")[0] for line in lines] == [
        "object_migration slice 1: 1/2 objects", "object_migration slice 2: 2/2 objects"], output
    assert lines[-1].endswith('done, 0 failed"')
    assert (stage["changed"], stage["remaining"], stage["status"]) == (2, 0, "changed")
    assert {name: body(s3, container, name) for name in keys(s3, container)} == objects
