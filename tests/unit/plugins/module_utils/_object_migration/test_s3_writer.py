"""The S3 multipart writer's guards, on a fake S3 client (RGW 16 ignores CompleteMultipartUpload's condition)."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StorageNotFoundError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.drivers import (
    ObjectInfo,
    PartLayout,
    S3Driver,
    write_condition,
)

ME, OTHER = "storeops-user", "application-user"


class FakeClient:
    def __init__(self, uploads=()):
        self.uploads = list(uploads)
        self.completed, self.aborted = [], []

    def list_buckets(self):
        return {"Owner": {"ID": ME}, "Buckets": []}

    def list_multipart_uploads(self, **_kwargs):
        return {"Uploads": self.uploads}

    def list_parts(self, **_kwargs):
        return {"Parts": []}

    def create_multipart_upload(self, **_kwargs):
        return {"UploadId": "ours"}

    def upload_part(self, **_kwargs):
        return {"ETag": '"00"'}

    def complete_multipart_upload(self, UploadId, **_kwargs):  # pylint: disable=invalid-name
        self.completed.append(UploadId)

    def abort_multipart_upload(self, UploadId, **_kwargs):  # pylint: disable=invalid-name
        self.aborted.append(UploadId)


def driver(client, key_etag=None):
    """An S3Driver on ``client`` whose key has ``key_etag`` (None: no key)."""
    s3 = S3Driver.__new__(S3Driver)
    s3.client, s3.bucket, s3.uploads_in_flight, s3._own_id = client, "b", 1, None  # pylint: disable=protected-access

    def stat(path):
        if key_etag is None:
            raise StorageNotFoundError(path)
        return ObjectInfo(path, 1, key_etag, None, {})
    s3.stat = stat
    return s3


def upload(upload_id, initiator):
    return {"Key": "k", "UploadId": upload_id, "Initiated": datetime.datetime(2026, 1, 1),
            "Initiator": {"ID": initiator}, "Owner": {"ID": initiator}}


@pytest.mark.parametrize("seen, now", [(None, "app-etag"), ("seen-etag", "app-etag"), ("seen-etag", None)])
def test_a_key_written_meanwhile_is_a_conflict_before_the_upload_completes(seen, now):
    client = FakeClient()
    writer = driver(client, now).writer("k", layout=PartLayout(4), condition=write_condition(seen))
    writer.write(b"abcdef")
    with pytest.raises(StorageConflictError):
        writer.commit()
    assert client.completed == []
    writer.cancel()
    assert client.aborted == ["ours"]


def test_a_key_as_the_condition_expects_completes():
    client = FakeClient()
    writer = driver(client, "seen-etag").writer("k", layout=PartLayout(4), condition=write_condition("seen-etag"))
    writer.write(b"abcdef")
    writer.commit()
    assert client.completed == ["ours"]


def test_an_upload_another_user_started_is_never_adopted():
    client = FakeClient([upload("theirs", OTHER)])
    writer = driver(client).writer("k", resume=True, layout=PartLayout(4))
    assert writer.upload_id == "ours"


def test_our_own_upload_is_resumed_but_never_aborted():
    client = FakeClient([upload("earlier-run", ME), upload("theirs", OTHER)])
    writer = driver(client).writer("k", resume=True, layout=PartLayout(4))
    assert writer.upload_id == "earlier-run"
    writer.cancel()
    assert client.aborted == []
