# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The s3 store driver: objects of one S3 bucket (boto3, path-style addressing, as Ceph RGW serves it).

``S3Account`` holds one client for an endpoint and its credentials, and hands out a driver per
bucket. Beyond the driver interface, ``S3Driver`` offers what only S3 has: conditional writes
(``WriteOptions.condition``, from ``write_condition``), a multipart writer cut by a
``PartLayout`` whose parts may stream through with an MD5 known before they are read, the
unfinished upload of a key, a metadata rewrite in place, and its buckets. ``translate_s3_error``
turns botocore's errors into one-line errors naming what to fix.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import base64
import hashlib
import io
import queue
import threading
import traceback
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    MissingDependencyError,
    SourceMismatchError,
    StorageConflictError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import (
    ObjectInfo,
    StorageDriver,
    Writer,
    or_none,
)

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
except ImportError:
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    BOTO3_IMPORT_ERROR = None

PART_SIZE = 8 * 2**20


@dataclass(frozen=True)
class PartLayout:
    """How an upload is cut: ``size`` each, or ``sizes`` one by one (then ``size`` after them)."""

    size: int
    sizes: tuple[int, ...] | None = None
    md5s: tuple[bytes, ...] | None = None  # the MD5 each of ``sizes`` must have: those parts stream
    on_part: Callable[[int, bytes], None] | None = None  # called with (index, md5) once S3 took a streamed part

    def part(self, index: int) -> int:
        return self.sizes[index] if self.sizes and index < len(self.sizes) else self.size


@dataclass(frozen=True)
class WriteOptions:
    """What an S3 write carries besides its bytes."""

    fields: Mapping[str, Any] = field(default_factory=dict)  # PutObject's arguments: Metadata, ContentType...
    # ``write_condition(...)``; by default no key may be at the path; an empty one: unconditional, as in S3
    condition: Mapping[str, str] = field(default_factory=lambda: write_condition(None))


class _PartBody:
    """A streamed part's bytes, handed from the writer to its upload thread a chunk at a time.

    Only a few chunks wait between the two: the part is never held whole.
    """

    def __init__(self, size: int):
        self.size = size
        self.unsent = size  # not yet handed over by the writer
        self._unread = size
        self._chunks: queue.Queue = queue.Queue(maxsize=4)
        self._view = memoryview(b"")
        self.ended = False  # the upload is over (done, failed or cancelled): nobody reads on

    def put(self, view: memoryview) -> None:
        while not self.ended:
            try:
                self._chunks.put(view, timeout=0.5)
            except queue.Full:
                continue
            self.unsent -= len(view)
            return
        raise _PartEnded()

    def read(self, size: int = -1):
        while not self._view and self._unread:
            if self.ended:
                raise _PartEnded()  # not an OSError: the upload stops, it is not retried
            try:
                self._view = self._chunks.get(timeout=0.5)
            except queue.Empty:
                continue
        taken = self._view[:size if size >= 0 else len(self._view)]
        self._view = self._view[len(taken):]
        self._unread -= len(taken)
        return taken


class _PartEnded(Exception):
    """A streamed part's upload ended before all its bytes went."""


class S3MultipartWriter(Writer):
    """A multipart upload; the parts S3 holds for it are the resume point (ListParts).

    Parts go up on ``uploads_in_flight`` threads while the next part is filled; the parts in
    flight hold at most ``uploads_in_flight`` x ``layout.size`` bytes. A part whose MD5 is known
    before it is read (``layout.md5s``: a segment's ETag) streams through instead, unhashed and
    unheld: S3 checks it against that MD5, and the writer waits for S3's answer at its end.
    """

    def __init__(self, driver: "S3Driver", client, path: str, layout: PartLayout, options: WriteOptions,
                 resume: bool):
        """``client``: the driver's boto3 client; ``resume`` adopts this user's unfinished upload of ``path``."""
        self._driver = driver
        self._condition = dict(options.condition)
        self._client = client
        self._path = path
        self._parts: list[dict[str, Any]] = []
        self._in_flight: list[tuple[dict[str, Any], Future]] = []
        self._layout = layout
        self.upload_id = driver.pending_upload(path) if resume else None
        self._adopted = self.upload_id is not None
        if self.upload_id:
            self._parts = _contiguous(driver.uploaded_parts(path, self.upload_id))
            if self._parts and not layout.sizes:  # go on as the upload began
                self._layout = replace(layout, size=self._parts[0]["Size"])
        else:
            self.upload_id = self._client.create_multipart_upload(
                Bucket=driver.bucket, Key=path, **options.fields)["UploadId"]
        self.resumed_parts = list(self._parts)
        self.resumed_bytes = sum(part["Size"] for part in self._parts)
        self.size = self.resumed_bytes
        self._pool = ThreadPoolExecutor(driver.uploads_in_flight, thread_name_prefix="s3-part")
        self._limit = driver.uploads_in_flight
        self._part = bytearray()  # the part being filled, allocated whole when its first byte comes
        self._filled = 0
        self._md5 = hashlib.md5()
        self._streamed: tuple[dict[str, Any], _PartBody, Future] | None = None

    def _next_index(self) -> int:
        return len(self._parts) + len(self._in_flight)

    def write(self, data) -> None:
        data = memoryview(data)
        self.size += len(data)
        while data:
            if not self._part and not self._streamed:
                self._begin_part()
            if self._streamed:
                body = self._streamed[1]
                taken = data[:body.unsent]
                self._hand_over(body, taken)
                if not body.unsent:
                    self._settle_streamed()
            else:
                taken = data[:len(self._part) - self._filled]
                # copied straight into the part and hashed on the way: no list of chunks to join
                self._part[self._filled:self._filled + len(taken)] = taken
                self._md5.update(taken)
                self._filled += len(taken)
                if self._filled == len(self._part):
                    self._cut()
            data = data[len(taken):]

    def _begin_part(self) -> None:
        index = self._next_index()
        size = self._layout.part(index)
        md5s = self._layout.md5s
        if not (md5s and index < len(md5s)):
            self._part = bytearray(size)
            return
        part = {"PartNumber": index + 1, "Size": size, "MD5": md5s[index]}
        body = _PartBody(size)
        future = self._pool.submit(self._stream_part, part, body)
        self._streamed = (part, body, future)

    def _stream_part(self, part: dict[str, Any], body: _PartBody) -> dict[str, Any]:
        try:
            return self._client.upload_part(
                Bucket=self._driver.bucket, Key=self._path, UploadId=self.upload_id,
                PartNumber=part["PartNumber"], Body=body, ContentLength=body.size,
                ContentMD5=base64.b64encode(part["MD5"]).decode())
        finally:
            body.ended = True

    def _hand_over(self, body: _PartBody, data: memoryview) -> None:
        try:
            body.put(data)
        except _PartEnded:
            self._settle_streamed()  # raises what ended the upload
            raise

    def _settle_streamed(self) -> None:
        part, _body, future = self._streamed
        self._streamed = None
        try:
            part["ETag"] = future.result()["ETag"]
        except ClientError as err:
            if _code(err) != "BadDigest":
                raise
            raise SourceMismatchError(
                f"{self._path}: part {part['PartNumber']} does not have MD5 {part['MD5'].hex()}, its "
                "segment's ETag in the manifest (S3 answered BadDigest): the segment was changed or "
                "damaged after the manifest was made") from None
        self._parts.append(part)
        if self._layout.on_part:
            self._layout.on_part(part["PartNumber"] - 1, part["MD5"])

    def _end_streamed(self) -> None:
        """Stop a streamed part's upload short: S3 gets fewer bytes than announced and refuses it."""
        if self._streamed:
            self._streamed[1].ended = True
            self._streamed = None

    def _cut(self) -> None:
        part, md5 = self._part, self._md5.digest()
        del part[self._filled:]  # a last part shorter than its layout's
        self._part, self._filled, self._md5 = bytearray(), 0, hashlib.md5()
        self._put_part(part, md5)

    def _put_part(self, data: bytearray, md5: bytes) -> None:
        # memory, not a count, bounds what is in flight: parts of a layout may be longer
        budget = self._limit * self._layout.size
        while self._in_flight and sum(p["Size"] for p, _f in self._in_flight) + len(data) > budget:
            self._settle_oldest()
        part = {"PartNumber": self._next_index() + 1, "Size": len(data), "MD5": md5}
        # a bytearray goes out in one send: botocore wraps bytes in a BytesIO read 16 KiB at a time
        future = self._pool.submit(
            self._client.upload_part, Bucket=self._driver.bucket, Key=self._path,
            UploadId=self.upload_id, PartNumber=part["PartNumber"], Body=data,
            ContentMD5=base64.b64encode(md5).decode())
        self._in_flight.append((part, future))

    def _settle_oldest(self) -> None:
        part, future = self._in_flight.pop(0)
        part["ETag"] = future.result()["ETag"]
        self._parts.append(part)

    def part_md5s(self) -> list[bytes]:
        """Every part's binary MD5, in order (S3's multipart ETag is made of them)."""
        return [part.get("MD5") or bytes.fromhex(part["ETag"].strip('"')) for part in self._parts]

    def commit(self) -> None:
        if self._streamed:
            raise SourceMismatchError(f"{self._path}: the stream ended inside part "
                                      f"{self._streamed[0]['PartNumber']}")
        if self._filled or not (self._parts or self._in_flight):
            self._cut()
        while self._in_flight:
            self._settle_oldest()
        self._check_condition()
        with _conditional(self._path):
            self._client.complete_multipart_upload(
                Bucket=self._driver.bucket, Key=self._path, UploadId=self.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                           for p in self._parts]}, **self._condition)
        self._pool.shutdown()

    def _check_condition(self) -> None:
        """RGW 16 ignores a condition on CompleteMultipartUpload: the key is HEADed just before.

        This narrows the window in which an application's write is overwritten to milliseconds.
        """
        if not self._condition:
            return
        now = or_none(self._driver.stat, self._path)
        found = now and now.etag
        if found != self._condition.get("IfMatch"):
            raise StorageConflictError(f"s3: {self._path} changed in S3 while this run wrote it "
                                       f"(it now has ETag {found or 'none'})")

    def cancel(self) -> None:
        """Abort the upload, if this writer started it: one adopted from an earlier run stays."""
        self._end_streamed()
        self._pool.shutdown(cancel_futures=True)
        if not self._adopted:
            self._client.abort_multipart_upload(Bucket=self._driver.bucket, Key=self._path,
                                                UploadId=self.upload_id)

    def close(self) -> None:
        # parts already on their way still land: a later run resumes after them
        self._end_streamed()
        self._pool.shutdown(wait=True)


def _contiguous(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parts 1..n without a gap: parallel uploads may have left a later part without an earlier."""
    kept = []
    for number, part in enumerate(sorted(parts, key=lambda p: p["PartNumber"]), start=1):
        if part["PartNumber"] != number:
            break
        kept.append(part)
    return kept


class S3Driver(StorageDriver):
    """Objects of one bucket, through the client of its ``S3Account``."""

    kind = "s3"

    def __init__(self, client, bucket: str, owner_id: Callable[[], str], part_size: int = PART_SIZE,
                 uploads_in_flight: int = 2):
        """``owner_id()``: the canonical ID of the client's user, whose unfinished uploads are this run's."""
        self._client = client
        self.bucket = bucket
        self.where = f"bucket {bucket}"
        self._owner_id = owner_id
        self.part_size = part_size
        self.uploads_in_flight = uploads_in_flight

    def stat(self, path: str) -> ObjectInfo:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=path)
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                raise self.not_found(path) from None
            raise
        return ObjectInfo(path, head["ContentLength"], head.get("ETag", "").strip('"') or None,
                          str(head.get("LastModified")), head.get("Metadata") or {})

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        params = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": page_size}
        if marker:
            params["StartAfter"] = marker
        while True:
            page = self._client.list_objects_v2(**params)
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"], item["Size"], item.get("ETag", "").strip('"') or None,
                                 str(item.get("LastModified")))
            if not page.get("IsTruncated"):
                return
            params.pop("StartAfter", None)
            params["ContinuationToken"] = page["NextContinuationToken"]

    def reader(self, path: str, offset: int = 0):
        ranged = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            return self._client.get_object(Bucket=self.bucket, Key=path, **ranged)["Body"]
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                raise self.not_found(path) from None
            if _code(err) == "InvalidRange" and self.stat(path).size == offset:
                return io.BytesIO(b"")  # at the end: nothing left to read
            raise

    def pending_upload(self, path: str) -> str | None:
        """The newest multipart upload of these credentials for exactly this key.

        An upload another user started is never adopted: its parts are not this run's to finish.
        """
        own_id = self._owner_id()
        uploads = [u for u in self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=path)
                   .get("Uploads", []) if u["Key"] == path
                   and (u.get("Initiator") or u.get("Owner") or {}).get("ID") == own_id]
        uploads.sort(key=lambda upload: upload["Initiated"])
        return uploads[-1]["UploadId"] if uploads else None

    def uploaded_parts(self, path: str, upload_id: str) -> list[dict[str, Any]]:
        parts, marker = [], 0
        while True:
            page = self._client.list_parts(Bucket=self.bucket, Key=path, UploadId=upload_id,
                                           PartNumberMarker=marker)
            parts += [{"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                      for p in page.get("Parts", [])]
            if not page.get("IsTruncated"):
                return parts
            marker = page["NextPartNumberMarker"]

    def writer(self, path: str, resume: bool = False) -> Writer:
        return self.multipart_writer(path, PartLayout(self.part_size), WriteOptions(), resume)

    def multipart_writer(self, path: str, layout: PartLayout, options: WriteOptions,
                         resume: bool = False) -> S3MultipartWriter:
        """A multipart upload cut by ``layout``; ``options.condition`` guards its completion.

        ``resume`` goes on with this user's unfinished upload of the key, if there is one.
        """
        return S3MultipartWriter(self, self._client, path, layout, options, resume)

    def put(self, path: str, data: bytes, options: WriteOptions | None = None) -> None:
        """One small object in one request; S3 checks it against its MD5.

        A key that does not meet ``options.condition`` (by default: any key at ``path``) raises
        StorageConflictError and stays as it is.
        """
        options = options or WriteOptions()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with _conditional(path):
            self._client.put_object(Bucket=self.bucket, Key=path, Body=data, ContentMD5=md5,
                                    **options.condition, **options.fields)

    def replace_metadata(self, path: str, if_match: str, fields: Mapping[str, Any]) -> None:
        """Rewrite an object's metadata: a copy onto itself (RGW copies no data: 0.05 s for 256 MiB).

        Only while the object has the ETag ``if_match``: a write that came in between is never
        given this metadata (StorageConflictError).
        """
        with _conditional(path):
            self._client.copy_object(Bucket=self.bucket, Key=path, CopySource={"Bucket": self.bucket, "Key": path},
                                     MetadataDirective="REPLACE", CopySourceIfMatch=if_match, **fields)

    def bucket_exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                return False
            raise
        return True

    def create_bucket(self) -> None:
        self._client.create_bucket(Bucket=self.bucket)

    def delete(self, path: str) -> None:
        self.stat(path)  # S3 deletes a missing key without complaint
        self._client.delete_object(Bucket=self.bucket, Key=path)


class S3Account:
    """One S3 endpoint and its credentials: a client shared by every bucket's driver."""

    def __init__(self, client, endpoint: str, part_size: int = PART_SIZE, uploads_in_flight: int = 2):
        self._client = client
        # every client this account is given speaks to RGW, not only the one ``connect`` builds
        client.meta.events.register("before-sign.s3.CopyObject", _rgw_copy_condition,
                                    unique_id="storeops-rgw-copy-condition")
        self.endpoint = endpoint
        self._part_size = part_size
        self._uploads_in_flight = uploads_in_flight
        self._owner: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1",
                verify: bool | str = True, pool_size: int = 10, part_size: int = PART_SIZE,
                uploads_in_flight: int = 2) -> "S3Account":
        """``pool_size``: the connections kept open, for every bucket's requests together."""
        if BOTO3_IMPORT_ERROR:
            raise MissingDependencyError("the s3 store needs boto3: pip install boto3",
                                         exception=BOTO3_IMPORT_ERROR)
        client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=region, verify=verify, config=_boto_config(pool_size))
        return cls(client, endpoint, part_size, uploads_in_flight)

    def owner_id(self) -> str:
        """The canonical ID of these credentials' user, asked once (ListBuckets names a bad key)."""
        with self._lock:
            if self._owner is None:
                self._owner = self._client.list_buckets()["Owner"]["ID"]
            return self._owner

    def bucket(self, name: str) -> S3Driver:
        return S3Driver(self._client, name, self.owner_id, self._part_size, self._uploads_in_flight)


def _boto_config(pool_size: int):
    settings = {"s3": {"addressing_style": "path",
                       # Content-MD5 guards every body; no second SHA-256 pass over it over http
                       "payload_signing_enabled": False},
                "signature_version": "s3v4", "max_pool_connections": pool_size,
                "retries": {"max_attempts": 5, "mode": "standard"}}
    try:  # botocore >= 1.36 adds its own CRC32 to every body unless told otherwise
        return BotoConfig(**settings, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required")
    except TypeError:
        return BotoConfig(**settings)


_NOT_FOUND = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


def write_condition(replaces: str | None) -> dict[str, str]:
    """The precondition of a write: the key holds the ETag ``replaces``, or (None) no key at all.

    RGW compares the bare ETag, without its quotes.
    """
    return {"IfMatch": replaces} if replaces else {"IfNoneMatch": "*"}


def _rgw_copy_condition(request, **_kwargs) -> None:
    # RGW (Ceph 16, as on the local cloud) reads a copy's precondition from x-amz-copy-if-match,
    # not from the x-amz-copy-source-if-match S3 defines, and copies anyway: send both
    condition = request.headers.get("x-amz-copy-source-if-match")
    if condition is not None:
        request.headers["x-amz-copy-if-match"] = condition


@contextmanager
def _conditional(path: str) -> Iterator[None]:
    """Turns S3's refusal of a conditional write (412) into StorageConflictError."""
    try:
        yield
    except ClientError as err:
        if _code(err) in ("PreconditionFailed", "412"):
            raise StorageConflictError(f"s3: {path} changed in S3 while this run wrote it "
                                       "(the conditional write was refused)") from None
        raise


def _code(err: "ClientError") -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


_S3_FIXES = {
    "InvalidAccessKeyId": "the endpoint does not know this access key: check s3_access_key",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check s3_secret_key",
    "AccessDenied": "these S3 credentials may not do this: check the user's caps or the bucket's policy",
    "InvalidBucketName": "S3 refuses the bucket name: set another in bucket_names",
    "BucketAlreadyExists": "another account owns this bucket name: set another in bucket_names",
    "403": "the bucket belongs to another S3 user, or these keys may not read it: set another in bucket_names",
    "TooManyBuckets": "the S3 user's bucket quota is reached: raise max-buckets for it",
    "QuotaExceeded": "the S3 user's or bucket's quota is reached: raise it",
}


def translate_s3_error(err: Exception, endpoint: str = "") -> StoreOpsError | None:
    """A one-line error naming what to fix, for an error botocore raised; None for others."""
    if BOTO3_IMPORT_ERROR:
        return None
    if isinstance(err, EndpointConnectionError):
        return StoreOpsError(f"s3: cannot reach {endpoint or 'the endpoint'} ({err}); check s3_endpoint_url")
    if isinstance(err, ClientError):
        code = _code(err)
        operation = getattr(err, "operation_name", "request")
        fix = _S3_FIXES.get(code, "see the S3 endpoint's log for the request")
        return StoreOpsError(f"s3: {operation} failed with {code or 'an error'}: {fix}", s3_error=code)
    if isinstance(err, BotoCoreError):
        return StoreOpsError(f"s3: {err}")
    return None
