# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small storage driver interface, after distribution's ``StorageDriver``.

Every back end offers the same six operations: ``stat``, ``list`` (by prefix, in pages after a
marker: the listing is never held whole), ``reader`` (a stream from an offset), ``writer`` (a
stream that can be resumed after an interruption and is only visible once committed),
``delete``, and ``url_prefix`` (where the back end's objects live, as Glance would write it).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import queue
import stat
import traceback
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote, unquote, urlsplit

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    MissingDependencyError,
    SourceMismatchError,
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
)

try:
    import rados
    import rbd
except ImportError:
    RBD_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    RBD_IMPORT_ERROR = None

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
except ImportError:
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    BOTO3_IMPORT_ERROR = None

CHUNK = 4 * 2**20
DEFAULT_CEPH_CONF = "/etc/ceph/ceph.conf"
PARTIAL = ".partial"  # suffix of an object being written: invisible to stat and list


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int
    etag: str | None = None
    modified: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class _Stream:
    """What every reader and writer shares: ``close()``, and use as a context manager."""

    def close(self) -> None:
        """Release the stream."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Writer(_Stream):
    """A stream into one object. ``size`` counts every byte written, resumed ones included.

    ``close()`` releases it and keeps what was written for a later resume.
    """

    size = 0

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        """Make the object visible under its path."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Drop what was written."""
        raise NotImplementedError


class StorageDriver:
    kind = "storage"

    def url_prefix(self) -> str:
        raise NotImplementedError

    def stat(self, path: str) -> ObjectInfo:
        raise NotImplementedError

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Objects whose path starts with ``prefix``, in path order, after ``marker``."""
        raise NotImplementedError

    def reader(self, path: str, offset: int = 0):
        """A binary stream (``read(n)``, ``close()``, a context manager) from ``offset``."""
        raise NotImplementedError

    def writer(self, path: str, resume: bool = False) -> Writer:
        raise NotImplementedError

    def delete(self, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def not_found(self, path: str) -> StorageNotFoundError:
        return StorageNotFoundError(f"{self.kind} store: no object {path!r} at {self.url_prefix()}",
                                    backend=self.kind, path=path)


# -- file ------------------------------------------------------------------------------------

class _FileWriter(Writer):
    def __init__(self, target: str, resume: bool):
        self._target = target
        self._partial = target + PARTIAL
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self._handle = open(self._partial, "ab" if resume else "wb")  # pylint: disable=consider-using-with
        self.size = self._handle.tell()

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._partial, self._target)

    def cancel(self) -> None:
        self._handle.close()
        if os.path.exists(self._partial):
            os.unlink(self._partial)

    def close(self) -> None:
        self._handle.close()


class FileDriver(StorageDriver):
    """Objects are files under ``root``; a path's ``/`` separates directories."""

    kind = "file"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _full(self, path: str) -> str:
        full = os.path.normpath(os.path.join(self.root, path))
        if os.path.commonpath([full, self.root]) != self.root or not path:
            raise InvalidInputError(f"file store: path {path!r} leaves {self.root}")
        return full

    def url_prefix(self) -> str:
        return "file://" + self.root.rstrip("/") + "/"

    def stat(self, path: str) -> ObjectInfo:
        try:
            found = os.stat(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None
        if not stat.S_ISREG(found.st_mode):
            raise self.not_found(path)
        return ObjectInfo(path, found.st_size, modified=str(found.st_mtime))

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        for path, entry in self._walk(""):
            if path.startswith(prefix) and (marker is None or path > marker):
                found = entry.stat()
                yield ObjectInfo(path, found.st_size, modified=str(found.st_mtime))

    def _walk(self, relative: str) -> Iterator[tuple[str, os.DirEntry]]:
        # sorted by the full path: a directory sorts as its name followed by "/"
        directory = os.path.join(self.root, relative)
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        keyed = sorted((entry.name + ("/" if entry.is_dir() else ""), entry) for entry in entries)
        for key, entry in keyed:
            if key.endswith("/"):
                yield from self._walk(relative + key)
            elif not entry.name.endswith(PARTIAL):
                yield relative + entry.name, entry

    def reader(self, path: str, offset: int = 0):
        try:
            handle = open(self._full(path), "rb")  # pylint: disable=consider-using-with
        except FileNotFoundError:
            raise self.not_found(path) from None
        handle.seek(offset)
        return handle

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _FileWriter(self._full(path), resume)

    def delete(self, path: str) -> None:
        try:
            os.unlink(self._full(path))
        except FileNotFoundError:
            raise self.not_found(path) from None


# -- rbd -------------------------------------------------------------------------------------

class _RbdReader(_Stream):
    def __init__(self, image, offset: int):
        self._image = image
        self._offset = offset
        self._size = image.size()

    def read(self, size: int = -1) -> bytes:
        left = self._size - self._offset
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        data = self._image.read(self._offset, size)
        self._offset += len(data)
        return data

    def close(self) -> None:
        self._image.close()


class _RbdWriter(Writer):
    def __init__(self, driver: "RbdDriver", path: str, resume: bool):
        self._driver = driver
        self._path = path
        partial = path + PARTIAL
        if not resume:
            try:
                driver.api.remove(driver.ioctx, partial)
            except rbd.ImageNotFound:
                pass
        try:
            self._image = rbd.Image(driver.ioctx, partial)
        except rbd.ImageNotFound:  # nothing to resume
            driver.api.create(driver.ioctx, partial, 0, old_format=False)
            self._image = rbd.Image(driver.ioctx, partial)
        self.size = self._image.size()

    def write(self, data: bytes) -> None:
        # the image grows with what was written, so its size is the resume point
        self._image.resize(self.size + len(data))
        self._image.write(data, self.size)
        self.size += len(data)

    def commit(self) -> None:
        self._image.flush()
        self._image.close()
        self._driver.api.rename(self._driver.ioctx, self._path + PARTIAL, self._path)

    def cancel(self) -> None:
        self._image.close()
        self._driver.api.remove(self._driver.ioctx, self._path + PARTIAL)

    def close(self) -> None:
        self._image.close()


class RbdDriver(StorageDriver):
    """Objects are RBD images of one pool; ``name@snapshot`` reads a snapshot (as Glance stores)."""

    kind = "rbd"

    def __init__(self, pool: str, ceph_conf: str = DEFAULT_CEPH_CONF, user: str | None = None,
                 keyring: str | None = None, connect_timeout: int = 30):
        if RBD_IMPORT_ERROR:
            raise MissingDependencyError(
                "the rbd store needs Ceph's Python bindings (rados, rbd): install python3-rbd",
                exception=RBD_IMPORT_ERROR)
        self.pool = pool
        options = {"keyring": keyring} if keyring else {}
        self._cluster = rados.Rados(conffile=ceph_conf, rados_id=user, conf=options)
        try:
            self._cluster.connect(timeout=connect_timeout)
            self.ioctx = self._cluster.open_ioctx(pool)
        except rados.Error as err:
            self._cluster.shutdown()
            raise StoreOpsError(f"rbd store: cannot open pool {pool!r} with {ceph_conf} "
                                f"as {user or 'the default user'} ({err})") from None
        self.api = rbd.RBD()

    def url_prefix(self) -> str:
        return f"rbd://{self._cluster.get_fsid()}/{self.pool}/"

    def _open(self, path: str):
        name, _sep, snapshot = path.partition("@")
        try:
            return rbd.Image(self.ioctx, name, snapshot=snapshot or None, read_only=True)
        except rbd.ImageNotFound:
            raise self.not_found(path) from None

    def stat(self, path: str) -> ObjectInfo:
        image = self._open(path)
        try:
            return ObjectInfo(path, image.size())
        finally:
            image.close()

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        # librbd lists a pool's names in one call; only the names are held, never the images
        names = sorted(n for n in self.api.list(self.ioctx)
                       if n.startswith(prefix) and not n.endswith(PARTIAL)
                       and (marker is None or n > marker))
        for name in names:
            try:
                yield self.stat(name)
            except StorageNotFoundError:
                continue  # deleted while listing

    def reader(self, path: str, offset: int = 0):
        return _RbdReader(self._open(path), offset)

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _RbdWriter(self, path, resume)

    def delete(self, path: str) -> None:
        try:
            self.api.remove(self.ioctx, path)
        except rbd.ImageNotFound:
            raise self.not_found(path) from None
        except rbd.ImageHasSnapshots:
            raise StoreOpsError(f"rbd store: {path!r} has snapshots; it belongs to something "
                                "else (Glance?), not deleted") from None

    def close(self) -> None:
        self.ioctx.close()
        self._cluster.shutdown()


# -- swift -----------------------------------------------------------------------------------

class _HttpReader(_Stream):
    """A streamed HTTP body, read as stored (no content decoding)."""

    def __init__(self, response):
        self._response = response
        self.headers = response.headers

    def read(self, size: int = -1) -> bytes:
        return self._response.raw.read(None if size is None or size < 0 else size, decode_content=False)

    def close(self) -> None:
        self._response.close()


class _SwiftWriter(Writer):
    """Segments in ``<container>_segments/<path>/<number>``, an SLO manifest on commit.

    The segments written so far are the resume point: a resumed writer lists them.
    """

    def __init__(self, driver: "SwiftDriver", path: str, resume: bool, segment_size: int):
        self._driver = driver
        self._path = path
        self._segment_size = segment_size
        self._buffer = bytearray()
        self._segments: list[dict[str, Any]] = []
        driver.ensure_container(driver.segments_container)
        existing = list(driver.segment_listing(path))
        if resume:
            self._segments = [{"path": f"/{driver.segments_container}/{item['name']}",
                               "etag": item["hash"], "size_bytes": item["bytes"]} for item in existing]
        else:
            for item in existing:
                driver.request("DELETE", f"/{driver.segments_container}/{item['name']}", ok=(204, 404))
        self.size = sum(segment["size_bytes"] for segment in self._segments)

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self._segment_size:
            self._put_segment(bytes(self._buffer[:self._segment_size]))
            del self._buffer[:self._segment_size]

    def _put_segment(self, data: bytes) -> None:
        name = f"{self._path}/{len(self._segments):08d}"
        etag = hashlib.md5(data).hexdigest()
        self._driver.request("PUT", f"/{self._driver.segments_container}/{name}", ok=(201,), data=data,
                             headers={"ETag": etag})
        self._segments.append({"path": f"/{self._driver.segments_container}/{name}", "etag": etag,
                               "size_bytes": len(data)})

    def commit(self) -> None:
        if self._buffer or not self._segments:
            if not self._segments:  # small: one plain object, no manifest
                self._driver.request("PUT", self._driver.object_path(self._path), ok=(201,),
                                     data=bytes(self._buffer))
                return
            self._put_segment(bytes(self._buffer))
        self._driver.request("PUT", self._driver.object_path(self._path), ok=(201,),
                             params={"multipart-manifest": "put"}, json=self._segments)

    def cancel(self) -> None:
        for segment in self._segments:
            self._driver.request("DELETE", segment["path"], ok=(204, 404))
        self._segments = []


def swift_quote(path: str) -> str:
    """A Swift path as a request path: every byte of the names but ``/`` percent-encoded.

    Swift unquotes the request path once, so ``b%41`` must go as ``b%2541`` (else it reads
    ``bA``), ``#`` and ``?`` as ``%23`` and ``%3F`` (else they start a fragment or a query).
    Dots go as ``%2E``: the HTTP client resolves ``.`` and ``..`` segments away (``a/../b``
    would address ``b``), but leaves escaped ones alone.
    """
    return quote(path, safe="/").replace(".", "%2E")


class SwiftDriver(StorageDriver):
    """Objects of one Swift container, through an openstacksdk connection.

    openstacksdk rather than python-swiftclient: it is already the collection's dependency, and
    it shares the modules' authentication (Keystone token renewal included).
    """

    kind = "swift"

    def __init__(self, conn, container: str, segment_size: int = 64 * 2**20):
        self._store = conn.object_store
        self.container = container
        self.segments_container = f"{container}_segments"
        self.segment_size = segment_size

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs):
        """``path`` is ``/container/object`` as Swift names it (unquoted); queries go in ``params``."""
        response = self._store.request(swift_quote(path), method, **kwargs)
        if response.status_code not in ok:
            raise StoreOpsError(f"swift store: {method} {path} failed with HTTP {response.status_code}",
                                status_code=response.status_code)
        return response

    def object_path(self, path: str) -> str:
        return f"/{self.container}/{path}"

    def ensure_container(self, container: str) -> None:
        self.request("PUT", f"/{container}", ok=(201, 202))

    def url_prefix(self) -> str:
        return self._store.get_endpoint().rstrip("/") + f"/{self.container}/"

    def stat(self, path: str) -> ObjectInfo:
        response = self.request("HEAD", self.object_path(path), ok=(200, 404))
        if response.status_code == 404:
            raise self.not_found(path)
        headers = response.headers
        metadata = {key[len("X-Object-Meta-"):].lower(): value for key, value in headers.items()
                    if key.lower().startswith("x-object-meta-")}
        return ObjectInfo(path, int(headers.get("Content-Length", 0)),
                          (headers.get("Etag") or "").strip('"') or None, headers.get("Last-Modified"),
                          metadata)

    def container_exists(self) -> bool:
        return self.request("HEAD", f"/{self.container}", ok=(200, 204, 404)).status_code != 404

    def head(self, path: str):
        """The object's headers, as Swift describes it (a manifest as its assembled whole)."""
        response = self.request("HEAD", self.object_path(path), ok=(200, 404))
        if response.status_code == 404:
            raise self.not_found(path)
        return response.headers

    def manifest(self, path: str) -> list[dict[str, Any]]:
        """The segments of an SLO (``path`` may be ``/container/object`` of another container)."""
        target = path if path.startswith("/") else self.object_path(path)
        return self.request("GET", target, params={"multipart-manifest": "get"}).json()

    def listing(self, container: str, prefix: str = "", marker: str | None = None,
                page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Swift's own listing entries (``name``, ``bytes``, ``hash``, ``slo_etag``...), paged.

        The container ``""`` lists the account's containers.
        """
        params = {"format": "json", "prefix": prefix, "limit": page_size}
        if marker:
            params["marker"] = marker
        while True:
            response = self.request("GET", f"/{container}", ok=(200, 204, 404), params=params)
            page = response.json() if response.status_code == 200 else []
            yield from page
            if len(page) < page_size:
                return
            params["marker"] = page[-1]["name"]

    def segment_listing(self, path: str) -> Iterator[dict[str, Any]]:
        return self.listing(self.segments_container, f"{path}/")

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        for item in self.listing(self.container, prefix, marker, page_size):
            yield ObjectInfo(item["name"], item["bytes"], item.get("hash"), item.get("last_modified"))

    def reader(self, path: str, offset: int = 0):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._store.request(swift_quote(self.object_path(path)), "GET", stream=True,
                                       headers=headers)
        if response.status_code == 404:
            response.close()
            raise self.not_found(path)
        if response.status_code == 416:  # offset at the end: nothing left to read
            response.close()
            return io.BytesIO(b"")
        if response.status_code not in (200, 206):
            response.close()
            raise StoreOpsError(f"swift store: GET {path} failed with HTTP {response.status_code}")
        return _HttpReader(response)

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _SwiftWriter(self, path, resume, self.segment_size)

    def delete(self, path: str) -> None:
        head = self.request("HEAD", self.object_path(path), ok=(200, 404))
        if head.status_code == 404:
            raise self.not_found(path)
        # an SLO goes with its segments; the manifest delete refuses plain objects
        is_slo = head.headers.get("X-Static-Large-Object", "").lower() == "true"
        self.request("DELETE", self.object_path(path), ok=(200, 204, 404),
                     params={"multipart-manifest": "delete"} if is_slo else None)


# -- s3 --------------------------------------------------------------------------------------

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


class _S3Writer(Writer):
    """A multipart upload; the parts S3 holds for it are the resume point (ListParts).

    Parts go up on ``uploads_in_flight`` threads while the next part is filled; the parts in
    flight hold at most ``uploads_in_flight`` x ``layout.size`` bytes. A part whose MD5 is known
    before it is read (``layout.md5s``: a segment's ETag) streams through instead, unhashed and
    unheld: S3 checks it against that MD5, and the writer waits for S3's answer at its end.
    """

    def __init__(self, driver: "S3Driver", path: str, resume: bool, layout: "PartLayout",
                 uploads_in_flight: int, extra: dict[str, Any], condition: dict[str, str] | None = None):
        self._driver = driver
        self._condition = condition or {}
        self._client = driver.client
        self._path = path
        self._parts: list[dict[str, Any]] = []
        self._in_flight: list[tuple[dict[str, Any], Future]] = []
        self._layout = layout
        self.upload_id = driver.pending_upload(path) if resume else None
        self._adopted = self.upload_id is not None
        if self.upload_id:
            self._parts = _contiguous(driver.uploaded_parts(path, self.upload_id))
            if self._parts and not layout.sizes:  # go on as the upload began
                layout.size = self._parts[0]["Size"]
        else:
            self.upload_id = self._client.create_multipart_upload(
                Bucket=driver.bucket, Key=path, **extra)["UploadId"]
        self.resumed_parts = list(self._parts)
        self.resumed_bytes = sum(part["Size"] for part in self._parts)
        self.size = self.resumed_bytes
        self._pool = ThreadPoolExecutor(uploads_in_flight, thread_name_prefix="s3-part")
        self._limit = uploads_in_flight
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
        try:
            found = self._driver.stat(self._path).etag
        except StorageNotFoundError:
            found = None
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


@dataclass
class PartLayout:
    """How an upload is cut: ``size`` each, or ``sizes`` one by one (then ``size`` after them)."""

    size: int
    sizes: list[int] | None = None
    md5s: list[bytes] | None = None  # the MD5 each of ``sizes`` must have: those parts stream
    on_part: Any = None  # called with (index, md5 digest) once S3 took a streamed part

    def part(self, index: int) -> int:
        return self.sizes[index] if self.sizes and index < len(self.sizes) else self.size


def _contiguous(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parts 1..n without a gap: parallel uploads may have left a later part without an earlier."""
    kept = []
    for number, part in enumerate(sorted(parts, key=lambda p: p["PartNumber"]), start=1):
        if part["PartNumber"] != number:
            break
        kept.append(part)
    return kept


class S3Driver(StorageDriver):
    """Objects of one S3 bucket (path-style addressing, as Ceph RGW serves it)."""

    kind = "s3"

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "us-east-1", part_size: int = 8 * 2**20, uploads_in_flight: int = 2,
                 verify: bool | str = True, pool_size: int = 10):
        if BOTO3_IMPORT_ERROR:
            raise MissingDependencyError("the s3 store needs boto3: pip install boto3",
                                         exception=BOTO3_IMPORT_ERROR)
        self.endpoint = endpoint
        self.bucket = bucket
        self.part_size = part_size
        self.uploads_in_flight = uploads_in_flight
        self._own_id: str | None = None  # the canonical ID of these credentials' user, asked once
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=region, verify=verify, config=_boto_config(pool_size))
        self.client.meta.events.register("before-sign.s3.CopyObject", _rgw_copy_condition)

    def url_prefix(self) -> str:
        return self.endpoint.rstrip("/") + f"/{self.bucket}/"

    def stat(self, path: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=path)
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
            page = self.client.list_objects_v2(**params)
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
            return self.client.get_object(Bucket=self.bucket, Key=path, **ranged)["Body"]
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
        if self._own_id is None:
            self._own_id = self.client.list_buckets()["Owner"]["ID"]
        uploads = [u for u in self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=path)
                   .get("Uploads", []) if u["Key"] == path
                   and (u.get("Initiator") or u.get("Owner") or {}).get("ID") == self._own_id]
        uploads.sort(key=lambda upload: upload["Initiated"])
        return uploads[-1]["UploadId"] if uploads else None

    def uploaded_parts(self, path: str, upload_id: str) -> list[dict[str, Any]]:
        parts, marker = [], 0
        while True:
            page = self.client.list_parts(Bucket=self.bucket, Key=path, UploadId=upload_id,
                                          PartNumberMarker=marker)
            parts += [{"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                      for p in page.get("Parts", [])]
            if not page.get("IsTruncated"):
                return parts
            marker = page["NextPartNumberMarker"]

    def writer(self, path: str, resume: bool = False, layout: PartLayout | None = None,
               condition: dict[str, str] | None = None, **extra) -> Writer:
        """``extra`` goes to CreateMultipartUpload: Metadata, ContentType and the like.

        ``condition`` (``write_condition``) goes to CompleteMultipartUpload.
        """
        return _S3Writer(self, path, resume, layout or PartLayout(self.part_size), self.uploads_in_flight,
                         extra, condition)

    def put(self, path: str, data: bytes, condition: dict[str, str] | None = None, **extra) -> None:
        """One small object in one request; S3 checks it against its MD5.

        ``condition`` (``write_condition``): a key that changed meanwhile raises StorageConflictError.
        """
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with _conditional(path):
            self.client.put_object(Bucket=self.bucket, Key=path, Body=data, ContentMD5=md5,
                                   **(condition or {}), **extra)

    def replace_metadata(self, path: str, if_match: str, **extra) -> None:
        """Rewrite an object's metadata: a copy onto itself (RGW copies no data: 0.05 s for 256 MiB).

        Only while the object has the ETag ``if_match``: a write that came in between is never
        given this metadata (StorageConflictError).
        """
        with _conditional(path):
            self.client.copy_object(Bucket=self.bucket, Key=path, CopySource={"Bucket": self.bucket, "Key": path},
                                    MetadataDirective="REPLACE", CopySourceIfMatch=if_match, **extra)

    def bucket_exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                return False
            raise
        return True

    def create_bucket(self) -> None:
        self.client.create_bucket(Bucket=self.bucket)

    def delete(self, path: str) -> None:
        self.stat(path)  # S3 deletes a missing key without complaint
        self.client.delete_object(Bucket=self.bucket, Key=path)


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


# -- locations -------------------------------------------------------------------------------

def parse_location(url: str) -> tuple[str, str, str]:
    """(driver kind, container, path) of a Glance location URL readable from here.

    The container is a directory for ``file``, a pool for ``rbd``; an rbd path names the
    snapshot Glance reads (``image@snap``).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        directory, _sep, name = unquote(parts.path).rpartition("/")
        return FileDriver.kind, directory or "/", name
    if parts.scheme == "rbd":
        pieces = [unquote(piece) for piece in parts.path.strip("/").split("/")]
        if len(pieces) != 3:
            raise InvalidInputError(f"rbd location {url!r} is not rbd://fsid/pool/image/snapshot")
        pool, image, snapshot = pieces
        return RbdDriver.kind, pool, f"{image}@{snapshot}" if snapshot else image
    raise InvalidInputError(
        f"cannot read a {parts.scheme or 'scheme-less'} location from here to verify its data; "
        "use verification=metadata for this store")


def open_driver(kind: str, container: str, access: dict[str, Any]) -> StorageDriver:
    """A driver for a container; ``access`` holds ``ceph_conf``, ``ceph_user``, ``ceph_keyring``."""
    if kind == RbdDriver.kind:
        return RbdDriver(container, access.get("ceph_conf") or DEFAULT_CEPH_CONF,
                         access.get("ceph_user"), access.get("ceph_keyring"))
    return FileDriver(container)
