"""The S3 driver's guards, on a fake S3 client: conditional writes, and the multipart writer's upload."""
from __future__ import annotations

import datetime
import types

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.s3 import (
    PartLayout,
    S3Account,
    WriteOptions,
    translate_s3_error,
    write_condition,
)

ME, OTHER = "storeops-user", "application-user"


def client_error(code, operation="PutObject"):
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeClient:
    """One bucket's key ``k`` with the ETag ``key_etag`` (None: no key); writes are recorded."""

    meta = types.SimpleNamespace(events=types.SimpleNamespace(register=lambda *_args, **_kwargs: None))

    def __init__(self, key_etag=None, uploads=(), refuse_writes=False):
        self.key_etag = key_etag
        self.uploads = list(uploads)
        self.refuse_writes = refuse_writes
        self.completed, self.aborted, self.created, self.puts = [], [], [], []
        self.owner_asked = 0
        self.part_sizes = []

    def list_buckets(self):
        self.owner_asked += 1
        return {"Owner": {"ID": ME}, "Buckets": []}

    def head_object(self, Bucket, Key):  # pylint: disable=invalid-name
        if self.key_etag is None:
            raise client_error("404", "HeadObject")
        return {"ContentLength": 1, "ETag": f'"{self.key_etag}"', "Metadata": {}}

    def put_object(self, **kwargs):
        if self.refuse_writes:
            raise client_error("PreconditionFailed")
        self.puts.append(kwargs)

    def list_multipart_uploads(self, **_kwargs):
        return {"Uploads": self.uploads}

    def list_parts(self, **_kwargs):
        return {"Parts": [{"PartNumber": 1, "ETag": '"11"', "Size": 3}]}

    def create_multipart_upload(self, **kwargs):
        self.created.append(kwargs)
        return {"UploadId": "ours"}

    def upload_part(self, Body, **_kwargs):  # pylint: disable=invalid-name
        self.part_sizes.append(len(Body))
        return {"ETag": '"00"'}

    def complete_multipart_upload(self, UploadId, **_kwargs):  # pylint: disable=invalid-name
        self.completed.append(UploadId)

    def abort_multipart_upload(self, UploadId, **_kwargs):  # pylint: disable=invalid-name
        self.aborted.append(UploadId)


def bucket(client):
    return S3Account(client, "http://s3", part_size=4, uploads_in_flight=1).bucket("b")


def upload(upload_id, initiator):
    return {"Key": "k", "UploadId": upload_id, "Initiated": datetime.datetime(2026, 1, 1),
            "Initiator": {"ID": initiator}, "Owner": {"ID": initiator}}


def test_write_conditions_name_the_etag_seen_or_no_key():
    assert write_condition("seen-etag") == {"IfMatch": "seen-etag"}
    assert write_condition(None) == {"IfNoneMatch": "*"}


def test_a_missing_key_is_not_found_in_the_bucket():
    with pytest.raises(StorageNotFoundError, match="s3 store: no object 'k' in bucket b"):
        bucket(FakeClient()).stat("k")


def test_a_put_carries_its_md5_condition_and_fields():
    client = FakeClient()
    bucket(client).put("k", b"abc", WriteOptions({"ContentType": "text/plain"}, write_condition(None)))
    (put,) = client.puts
    assert put["ContentMD5"] == "kAFQmDzST7DWlj99KOF/cg==" and put["IfNoneMatch"] == "*"
    assert put["ContentType"] == "text/plain" and put["Key"] == "k"


def test_a_write_without_a_condition_of_its_own_expects_no_key_at_its_path():
    client = FakeClient("app-etag")
    bucket(client).put("k", b"abc")
    assert client.puts[0]["IfNoneMatch"] == "*"
    writer = bucket(client).writer("k")
    writer.write(b"abcdef")
    with pytest.raises(StorageConflictError, match="it now has ETag app-etag"):
        writer.commit()


def test_an_empty_condition_is_unconditional_for_a_put_and_a_multipart_upload_alike():
    client = FakeClient("app-etag")
    bucket(client).put("k", b"abc", WriteOptions(condition={}))
    writer = bucket(client).multipart_writer("k", PartLayout(4), WriteOptions(condition={}))
    writer.write(b"abcdef")
    writer.commit()
    assert "IfNoneMatch" not in client.puts[0] and client.completed == ["ours"]


def test_a_refused_conditional_put_is_a_conflict():
    with pytest.raises(StorageConflictError, match="the conditional write was refused"):
        bucket(FakeClient(refuse_writes=True)).put("k", b"abc", WriteOptions(condition=write_condition("seen")))


@pytest.mark.parametrize("seen, now", [(None, "app-etag"), ("seen-etag", "app-etag"), ("seen-etag", None)])
def test_a_key_written_meanwhile_is_a_conflict_before_the_upload_completes(seen, now):
    client = FakeClient(now)
    writer = bucket(client).multipart_writer("k", PartLayout(4), WriteOptions(condition=write_condition(seen)))
    writer.write(b"abcdef")
    with pytest.raises(StorageConflictError):
        writer.commit()
    assert client.completed == []
    writer.cancel()
    assert client.aborted == ["ours"]


def test_a_key_as_the_condition_expects_completes():
    client = FakeClient("seen-etag")
    writer = bucket(client).multipart_writer("k", PartLayout(4), WriteOptions({"Metadata": {"a": "b"}},
                                                                              write_condition("seen-etag")))
    writer.write(b"abcdef")
    writer.commit()
    assert client.completed == ["ours"] and client.created[0]["Metadata"] == {"a": "b"}


def test_an_upload_another_user_started_is_never_adopted():
    client = FakeClient(uploads=[upload("theirs", OTHER)])
    writer = bucket(client).multipart_writer("k", PartLayout(4), WriteOptions(), resume=True)
    assert writer.upload_id == "ours"


def test_our_own_upload_is_resumed_but_never_aborted():
    client = FakeClient(uploads=[upload("earlier-run", ME), upload("theirs", OTHER)])
    writer = bucket(client).multipart_writer("k", PartLayout(4), WriteOptions(), resume=True)
    assert writer.upload_id == "earlier-run" and writer.size == writer.resumed_bytes == 3
    writer.cancel()
    assert client.aborted == []


def test_a_resumed_upload_goes_on_with_its_part_size_without_changing_the_callers_layout():
    layout = PartLayout(4)
    client = FakeClient(uploads=[upload("earlier-run", ME)])
    writer = bucket(client).multipart_writer("k", layout, WriteOptions(), resume=True)
    writer.write(b"abcdefg")
    writer.commit()
    assert layout == PartLayout(4)
    assert client.part_sizes == [3, 3, 1]  # after the resumed part of 3 bytes


def test_the_owner_is_asked_once_for_every_bucket():
    client = FakeClient(uploads=[upload("earlier-run", ME)])
    account = S3Account(client, "http://s3")
    for name in ("a", "b"):
        assert account.bucket(name).pending_upload("k") == "earlier-run"
    assert client.owner_asked == 1


def test_s3_errors_name_what_to_fix():
    translated = translate_s3_error(client_error("SignatureDoesNotMatch"))
    assert str(translated) == "s3: PutObject failed with SignatureDoesNotMatch: the secret key does not " \
                              "match the access key: check s3_secret_key"
    assert translated.details["s3_error"] == "SignatureDoesNotMatch"
    assert translate_s3_error(KeyError("x")) is None


class _Body:
    def __init__(self, xml):
        self._xml = xml.encode()

    def stream(self, **_kwargs):
        yield self._xml


def sent_copy(status, xml):
    """A real boto3 client whose requests never leave: each is recorded just before it is sent."""
    client = boto3.client("s3", endpoint_url="http://s3.invalid", aws_access_key_id="a",
                          aws_secret_access_key="s", region_name="us-east-1")
    sent = []

    def answer(request, **_kwargs):
        sent.append(request)
        return AWSResponse(request.url, status, {}, _Body(xml))

    client.meta.events.register("before-send.s3", answer)
    return S3Account(client, "http://s3.invalid").bucket("b"), sent


def test_a_metadata_rewrite_sends_its_condition_as_s3_and_rgw_read_it():
    driver, sent = sent_copy(200, '<CopyObjectResult><ETag>"new"</ETag></CopyObjectResult>')
    driver.replace_metadata("k", "seen-etag", {"Metadata": {"a": "b"}})
    (request,) = sent
    assert request.headers["x-amz-copy-source-if-match"] == b"seen-etag"
    assert request.headers["x-amz-copy-if-match"] == b"seen-etag"  # RGW 16 reads only this one
    assert request.headers["x-amz-metadata-directive"] == b"REPLACE" and request.headers["x-amz-meta-a"] == b"b"


def test_a_metadata_rewrite_refused_by_its_condition_is_a_conflict():
    driver, _sent = sent_copy(412, "<Error><Code>PreconditionFailed</Code><Message>m</Message></Error>")
    with pytest.raises(StorageConflictError, match="k changed in S3.*the conditional write was refused"):
        driver.replace_metadata("k", "seen-etag", {"Metadata": {"a": "b"}})
