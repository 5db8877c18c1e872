"""journal_url: parsing (credentials refused), shipping through a driver's put, a shipped run read back in order."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import types

import pytest
from botocore.exceptions import ClientError

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError, StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._storage import journal_url
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.journal_url import (
    JournalUrl,
    fetch_journal,
    journal_shipment,
    parse_journal_url,
)


def test_a_journal_url_names_its_container_or_bucket_and_prefix():
    assert parse_journal_url("swift://journals/awx/backfill/") == JournalUrl("swift", "journals", "awx/backfill")
    assert parse_journal_url("s3://bucket") == JournalUrl("s3", "bucket", "")


@pytest.mark.parametrize("url", ["s3://AKIAKEY:s3cr3t/with/slash@bucket/prefix", "swift://user:s3cr3t@c/p",
                                 "s3://AKIAKEY@bucket/prefix"])
def test_a_journal_url_with_credentials_is_refused_in_one_line(url):
    with pytest.raises(InvalidInputError) as raised:
        parse_journal_url(url)
    message = str(raised.value)
    assert message.startswith("journal_url: credentials do not belong in the URL")
    assert "journal_s3_access_key" in message and "\n" not in message
    assert "s3cr3t" not in message and "AKIAKEY" not in message


@pytest.mark.parametrize("url", ["https://swift/c/p", "swift://", "/srv/journals", "file:///srv/journals"])
def test_other_urls_are_refused_naming_the_two_forms(url):
    with pytest.raises(InvalidInputError, match=r"^journal_url: .* is no journal URL; write swift://container/prefix"):
        parse_journal_url(url)


def test_an_s3_journal_needs_its_credentials():
    params = {"journal_url": "s3://bucket/prefix", "journal_s3_endpoint_url": "http://rgw"}
    with pytest.raises(InvalidInputError, match="^journal_url: an s3:// journal needs journal_s3_access_key, "
                                                "journal_s3_secret_key"):
        journal_shipment(params, lambda: None, "/tmp/run.jsonl", print)


class FakeS3Client:
    """A bucket's keys, written as S3 does (``IfNoneMatch: *`` refuses a key that is there);
    ``landing_puts`` store their key but answer with a timeout, as a lost response does."""

    meta = types.SimpleNamespace(events=types.SimpleNamespace(register=lambda *_args, **_kwargs: None))

    def __init__(self, refused=False, encrypted=False):
        self.puts, self.buckets = [], []
        self.objects: dict[str, bytes] = {}
        self.refused = refused
        self.encrypted = encrypted  # SSE-KMS or SSE-C: the ETag is no MD5 of the object
        self.landing_puts = 0

    def head_bucket(self, Bucket):  # pylint: disable=invalid-name
        if self.refused:
            raise ClientError({"Error": {"Code": "403"}}, "HeadBucket")
        if Bucket not in self.buckets:
            raise ClientError({"Error": {"Code": "404"}}, "HeadBucket")

    def create_bucket(self, Bucket):  # pylint: disable=invalid-name
        self.buckets.append(Bucket)

    def head_object(self, Bucket, Key):  # pylint: disable=invalid-name,unused-argument
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
        data = self.objects[Key]
        digest = hashlib.md5(data + b"key" if self.encrypted else data).hexdigest()
        return {"ContentLength": len(data), "ETag": f'"{digest}"'}

    def get_object(self, Bucket, Key):  # pylint: disable=invalid-name,unused-argument
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, **kwargs):
        self.puts.append(kwargs)
        if kwargs.get("IfNoneMatch") == "*" and kwargs["Key"] in self.objects:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
        self.objects[kwargs["Key"]] = kwargs["Body"]
        if self.landing_puts:
            self.landing_puts -= 1
            raise ClientError({"Error": {"Code": "RequestTimeout"}}, "PutObject")


def s3_journal(tmp_path, monkeypatch, client):
    """A journal shipping into ``client``'s bucket ``journals``, and who connected with what."""
    connected = []

    def connect(endpoint, access_key, secret_key, region, verify, pool_size):
        connected.append((endpoint, access_key, secret_key, region, verify, pool_size))
        return journal_url.S3Account(client, endpoint)

    monkeypatch.setattr(journal_url.S3Account, "connect", connect)
    params = {"journal_url": "s3://journals/awx", "journal_s3_endpoint_url": "http://rgw",
              "journal_s3_access_key": "ak", "journal_s3_secret_key": "sk"}
    path = str(tmp_path / "glance_store_migrate-20260101T000000Z-7.jsonl")
    warnings = []
    shipment = journal_shipment(params, lambda: None, path, warnings.append)
    return JsonlJournal(path, {"journal": "test"}, shipment), shipment, warnings, connected


def test_an_s3_journal_ships_each_flush_as_one_checked_put_into_its_bucket(tmp_path, monkeypatch):
    client = FakeS3Client()
    journal, shipment, warnings, connected = s3_journal(tmp_path, monkeypatch, client)
    assert client.buckets == ["journals"]  # made before anything else happens
    # the run: the file's name and a random part (two job slices may name their files alike)
    assert re.fullmatch(r"awx/glance_store_migrate-20260101T000000Z-7-[0-9a-f]{8}", shipment.run)
    assert shipment.url == f"s3://journals/{shipment.run}"
    journal.write({"step": "copy"})
    client.landing_puts = 1
    journal.close()  # stored, but answered with a timeout: a warning
    journal.close()  # the retry finds its own bytes there
    first, retry = client.puts
    assert first["Key"] == retry["Key"] == f"{shipment.run}/00000000.jsonl"
    assert first["IfNoneMatch"] == retry["IfNoneMatch"] == "*"  # not even a retry writes over a key
    assert retry["Body"] == (tmp_path / "glance_store_migrate-20260101T000000Z-7.jsonl").read_bytes()
    assert retry["ContentMD5"] == base64.b64encode(hashlib.md5(retry["Body"]).digest()).decode()
    assert connected == [("http://rgw", "ak", "sk", "us-east-1", True, 2)]
    assert len(warnings) == 1 and journal.result_fields()["journal_url"] == shipment.url


def test_an_encrypted_buckets_landed_retry_is_found_by_its_bytes_not_its_etag(tmp_path, monkeypatch):
    client = FakeS3Client(encrypted=True)
    journal, shipment, warnings, _connected = s3_journal(tmp_path, monkeypatch, client)
    journal.write({"step": "copy"})
    client.landing_puts = 1
    journal.close()  # stored, but answered with a timeout
    journal.close()  # the retry's object is there: the same bytes under an ETag that is no MD5
    assert len(client.puts) == 2 and len(warnings) == 1 and "did not write" not in warnings[0]
    assert journal.result_fields()["journal_url"] == shipment.url


def test_an_encrypted_buckets_object_of_another_writer_is_refused_though_of_the_same_size(tmp_path, monkeypatch):
    client = FakeS3Client(encrypted=True)
    journal, shipment, warnings, _connected = s3_journal(tmp_path, monkeypatch, client)
    journal.write({"step": "copy"})
    client.objects[f"{shipment.run}/00000000.jsonl"] = bytes(os.path.getsize(journal.path))
    journal.close()
    assert len(warnings) == 1 and "which this run did not write; it was kept" in warnings[0]


class FakeSwift:
    """An openstacksdk object store holding one account's objects, as Swift answers a PUT
    (``If-None-Match: *`` refuses an object that is there) and a HEAD."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.puts = []

    def request(self, path, method, data=None, headers=None, **_kwargs):
        response = types.SimpleNamespace(status_code=201, headers={})
        if method == "PUT" and path.count("/") > 1:
            self.puts.append((path, headers))
            if (headers or {}).get("If-None-Match") == "*" and path in self.objects:
                response.status_code = 412
            else:
                self.objects[path] = data
        elif method == "HEAD":
            found = self.objects.get(path)
            response.status_code = 404 if found is None else 200
            if found is not None:
                response.headers = {"Content-Length": str(len(found)), "Etag": hashlib.md5(found).hexdigest()}
        return response


@pytest.mark.parametrize("kind", ["swift", "s3"])
def test_a_shipment_never_writes_over_an_object_it_did_not_write(kind, tmp_path, monkeypatch):
    if kind == "s3":
        client = FakeS3Client()
        journal, shipment, warnings, _connected = s3_journal(tmp_path, monkeypatch, client)
        objects, key = client.objects, f"{shipment.run}/00000000.jsonl"
    else:
        swift, warnings = FakeSwift(), []
        conn = types.SimpleNamespace(object_store=swift)
        path = str(tmp_path / "glance_store_migrate-20260101T000000Z-7.jsonl")
        shipment = journal_shipment({"journal_url": "swift://journals/awx"}, lambda: conn, path, warnings.append)
        journal = JsonlJournal(path, {"journal": "test"}, shipment)
        objects, key = swift.objects, f"/journals/{shipment.run}/00000000%2Ejsonl"
    objects[key] = b"someone else's\n"
    journal.write({"step": "copy"})
    journal.close()
    assert objects[key] == b"someone else's\n"
    assert len(warnings) == 1 and "which this run did not write; it was kept" in warnings[0]
    assert journal.result_fields() == {"journal": journal.path}
    assert (tmp_path / "glance_store_migrate-20260101T000000Z-7.jsonl").read_text().count("\n") == 2


def test_s3_refusing_the_journal_bucket_fails_in_one_line_naming_the_journal_options(monkeypatch):
    monkeypatch.setattr(journal_url.S3Account, "connect",
                        lambda endpoint, *_args, **_kwargs: journal_url.S3Account(FakeS3Client(refused=True), endpoint))
    params = {"journal_url": "s3://journals/awx", "journal_s3_endpoint_url": "http://rgw",
              "journal_s3_access_key": "ak", "journal_s3_secret_key": "wrong-secret"}
    with pytest.raises(StoreOpsError) as raised:
        journal_shipment(params, lambda: None, "/tmp/run.jsonl", print)
    assert str(raised.value) == (
        "journal_url: S3 at http://rgw refused the bucket journals (403): check journal_s3_endpoint_url, "
        "journal_s3_access_key and journal_s3_secret_key, and that the bucket is these keys' own")


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A run shipped into a file store standing for the container (journal_store is the only seam)."""
    store = FileDriver(str(tmp_path / "store"))
    monkeypatch.setattr(journal_url, "journal_store", lambda url, params, conn_of, create=True: store)
    for sequence, lines in enumerate([b'{"journal": "k"}\n{"n": 0}\n', b'{"n": 1}\n', b'{"n": 2}\n']):
        store.put(f"awx/run-9/{sequence:08d}.jsonl", lines)
    store.put("awx/run-9/notes.txt", b"not a journal object\n")
    store.put("awx/run-90/00000000.jsonl", b"another run\n")
    return store


def test_a_shipped_run_is_read_back_in_sequence_order_into_a_private_file(shipped, tmp_path):
    path = fetch_journal("swift://journals/awx/run-9", {}, lambda: None, str(tmp_path / "local"))
    with open(path, "rb") as copy:
        assert copy.read() == b'{"journal": "k"}\n{"n": 0}\n{"n": 1}\n{"n": 2}\n'
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_shipped_run_with_a_gap_is_refused_before_anything_is_read(shipped, tmp_path):
    shipped.delete("awx/run-9/00000001.jsonl")
    with pytest.raises(InvalidInputError, match=r"^journal: swift://journals/awx/run-9 lacks "
                                                r"awx/run-9/00000001\.jsonl \(found awx/run-9/00000002\.jsonl"):
        fetch_journal("swift://journals/awx/run-9", {}, lambda: None, str(tmp_path / "local"))
    assert not (tmp_path / "local").exists() or not list((tmp_path / "local").iterdir())


def test_a_url_of_no_run_is_refused(shipped, tmp_path):
    with pytest.raises(InvalidInputError, match="^journal: swift://journals/awx/run-1 holds no shipped journal"):
        fetch_journal("swift://journals/awx/run-1", {}, lambda: None, str(tmp_path))
    with pytest.raises(InvalidInputError, match="^journal: swift://journals names no run"):
        fetch_journal("swift://journals", {}, lambda: None, str(tmp_path))
