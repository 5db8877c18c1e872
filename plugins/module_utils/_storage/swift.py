# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swift store driver: objects of one Swift container, through an openstacksdk connection.

openstacksdk rather than python-swiftclient: it is already the collection's dependency, and it
shares the modules' authentication (Keystone token renewal included). Every request path is
percent-encoded from the names (``swift_quote``). Beyond the driver interface, ``SwiftDriver``
offers what only Swift has: its own listing entries, an object's headers, an SLO's manifest,
the container's headers, the delete of one object alone (a manifest without its segments), a
streamed PUT of an object of any size and a zero-byte PUT (a DLO manifest), both refusing to
replace an object; ``SwiftAccount`` lists an account's containers.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Mapping
from urllib.parse import quote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import (
    ObjectInfo,
    StorageDriver,
    Stream,
    Writer,
)

SEGMENT_SIZE = 64 * 2**20
DELETE_STREAMS = 8  # DELETEs in flight where Swift has no bulk delete
_NEW_ONLY = {"If-None-Match": "*"}  # Swift answers 412 rather than replace an object
_END, _ABORT = object(), object()  # what a streamed PUT's body is told besides its chunks
# keystoneauth re-sends a request with the same ``data`` after a 401 (once re-authenticated), a
# connection failure or a retriable status: a streamed body is consumed by then, and the copy
# would store what is left of it (nothing, or its tail). Such a PUT goes once, whatever comes.
_ONE_SHOT = {"allow_reauth": False, "connect_retries": 0, "status_code_retries": 0}


def swift_quote(path: str) -> str:
    """A Swift path as a request path: every byte of the names but ``/`` percent-encoded.

    Swift unquotes the request path once, so ``b%41`` must go as ``b%2541`` (else it reads
    ``bA``), ``#`` and ``?`` as ``%23`` and ``%3F`` (else they start a fragment or a query).
    Dots go as ``%2E``: the HTTP client resolves ``.`` and ``..`` segments away (``a/../b``
    would address ``b``), but leaves escaped ones alone.
    """
    return quote(path, safe="/").replace(".", "%2E")


class _SwiftHttp:
    """Requests to one Swift account; a path is ``/container/object`` as Swift names it (unquoted)."""

    def __init__(self, store):
        self._store = store

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs):
        """Queries go in ``params``; a status outside ``ok`` raises StoreOpsError."""
        response = self._store.request(swift_quote(path), method, **kwargs)
        if response.status_code not in ok:
            raise StoreOpsError(f"swift store: {method} {path} failed with HTTP {response.status_code}",
                                status_code=response.status_code)
        return response

    def stream(self, path: str, offset: int):
        """The unchecked streamed response of a GET of ``path`` from ``offset``."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        return self._store.request(swift_quote(path), "GET", stream=True, headers=headers)

    def listing(self, path: str, prefix: str, marker: str | None, page_size: int) -> Iterator[dict[str, Any]]:
        """The listing entries of a container (``/name``) or of the account (``/``), paged."""
        params = {"format": "json", "prefix": prefix, "limit": page_size}
        if marker:
            params["marker"] = marker
        while True:
            response = self.request("GET", path, ok=(200, 204, 404), params=params)
            page = response.json() if response.status_code == 200 else []
            yield from page
            if len(page) < page_size:
                return
            params["marker"] = page[-1]["name"]


class _HttpReader(Stream):
    """A streamed HTTP body, read as stored (no content decoding); ``headers`` are the GET's."""

    def __init__(self, response):
        self._response = response
        self.headers = response.headers

    def read(self, size: int = -1) -> bytes:
        return self._response.raw.read(None if size is None or size < 0 else size, decode_content=False)

    def close(self) -> None:
        self._response.close()


class _Aborted(Exception):
    """Raised inside a streamed PUT's body: the request breaks off before its last chunk."""


class StreamedPut:
    """One object's PUT whose body is what ``write`` is given, so that no object is held whole:
    the HTTP client pulls the body in a thread of its own. ``finish`` returns once Swift stored
    exactly the bytes written (its ETag is their MD5); ``abort`` breaks the chunked body off
    before its end, and Swift stores nothing of a body that did not end, as of a killed process's.
    It is sent once (``_ONE_SHOT``): a token Swift refuses (revoked) fails it, nothing stored, and
    the next request of the connection renews the token (keystoneauth renews one near its expiry
    before any request). No probe before each PUT: a HEAD costs about what a 4 MB segment's PUT does."""

    def __init__(self, http: "_SwiftHttp", path: str, headers: Mapping[str, str]):
        self.path = path
        self.size = 0
        self._md5 = hashlib.md5()
        self._chunks: queue.Queue = queue.Queue(maxsize=2)  # a few chunks in memory, whatever the size
        self._outcome: Any = None  # the PUT's response, or what it raised
        self._thread = threading.Thread(target=self._put, args=(http, headers), daemon=True,
                                        name="swift-put")
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        while True:
            chunk = self._chunks.get()
            if chunk is _ABORT:
                raise _Aborted()
            if chunk is _END:
                return
            yield chunk

    def _put(self, http: "_SwiftHttp", headers: Mapping[str, str]) -> None:
        try:
            self._outcome = http.request("PUT", self.path, ok=(201, 412), data=self._body(),
                                         headers={**headers, **_NEW_ONLY}, **_ONE_SHOT)
        except BaseException as err:  # pylint: disable=broad-except
            self._outcome = err  # the writing thread raises it

    def _send(self, item) -> None:
        while self._thread.is_alive():
            try:
                self._chunks.put(item, timeout=1)
                return
            except queue.Full:
                continue
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        raise StoreOpsError(f"swift store: PUT {self.path} ended before its body did")

    def write(self, data: bytes) -> None:
        self._md5.update(data)
        self.size += len(data)
        self._send(bytes(data))

    def finish(self) -> None:
        self._send(_END)
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        if self._outcome.status_code == 412:
            raise StorageConflictError(f"swift store: {self.path} appeared while it was written; it is kept",
                                       path=self.path)
        etag = (self._outcome.headers.get("Etag") or "").strip('"')
        if etag != self._md5.hexdigest():
            raise StoreOpsError(f"swift store: {self.path} was stored with ETag {etag or 'none'}, "
                                "not the MD5 of the bytes sent")

    def abort(self) -> None:
        if self._thread.is_alive():
            try:
                self._send(_ABORT)
            except BaseException:  # pylint: disable=broad-except
                pass  # the PUT failed by itself: nothing of it was stored either
            self._thread.join()


class _SwiftWriter(Writer):
    """Segments in ``<container>_segments/<path>/<number>``, an SLO manifest on commit.

    The segments written so far are the resume point: a resumed writer lists them. A fresh writer
    refuses a path that already has segments (python-swiftclient keeps its own there): it deletes
    only the segments it wrote or resumed.
    """

    def __init__(self, driver: "SwiftDriver", path: str, resume: bool):
        self._driver = driver
        self._segments_driver = driver.segments()
        self._path = path
        self._buffer = bytearray()
        self._segments: list[dict[str, Any]] = []
        self._names: list[str] = []  # the segments' object names, which ``cancel`` deletes
        self._segments_driver.ensure_container()
        existing = list(self._segments_driver.listing(f"{path}/"))
        if existing and not resume:
            raise StorageConflictError(
                f"swift store: {len(existing)} segment(s) already under {self._segments_driver.container}/{path}/ "
                "(another upload's, perhaps python-swiftclient's); nothing was deleted: resume the upload, or "
                "remove them once you checked whose they are", path=path)
        for item in existing:
            self._add_segment(item["name"], item["hash"], item["bytes"])
        self.size = sum(segment["size_bytes"] for segment in self._segments)

    def _add_segment(self, name: str, etag: str, size: int) -> None:
        self._names.append(name)
        self._segments.append({"path": f"/{self._segments_driver.container}/{name}", "etag": etag,
                               "size_bytes": size})

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        size = self._driver.segment_size
        while len(self._buffer) >= size:
            self._put_segment(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def _put_segment(self, data: bytes) -> None:
        name = f"{self._path}/{len(self._segments):08d}"
        self._segments_driver.put(name, data)
        self._add_segment(name, hashlib.md5(data).hexdigest(), len(data))

    def commit(self) -> None:
        if not self._segments:  # small: one plain object, no manifest
            self._driver.put(self._path, bytes(self._buffer))
            return
        if self._buffer:
            self._put_segment(bytes(self._buffer))
        self._driver.put_manifest(self._path, self._segments)

    def cancel(self) -> None:
        for name in self._names:
            self._segments_driver.delete_only(name)
        self._segments, self._names = [], []


class SwiftDriver(StorageDriver):
    """Objects of one Swift container; a path is an object's name, as Swift stores it (unquoted)."""

    kind = "swift"

    def __init__(self, conn, container: str, segment_size: int = SEGMENT_SIZE):
        self._conn = conn
        self._http = _SwiftHttp(conn.object_store)
        self.container = container
        self.where = f"container {container}"
        self.segment_size = segment_size
        self._bulk_page: int | None = None

    def _object(self, path: str) -> str:
        return f"/{self.container}/{path}"

    def segments(self) -> "SwiftDriver":
        """The driver of the container this one's writers put their segments in (``<container>_segments``)."""
        return SwiftDriver(self._conn, f"{self.container}_segments", self.segment_size)

    def ensure_container(self) -> None:
        self._http.request("PUT", f"/{self.container}", ok=(201, 202))

    def container_headers(self) -> Mapping[str, str] | None:
        """The container's headers (its versioning, say); None when there is no such container."""
        response = self._http.request("HEAD", f"/{self.container}", ok=(200, 204, 404))
        return None if response.status_code == 404 else response.headers

    def container_exists(self) -> bool:
        return self.container_headers() is not None

    def head(self, path: str) -> Mapping[str, str]:
        """The object's headers, as Swift describes it (a manifest as its assembled whole)."""
        response = self._http.request("HEAD", self._object(path), ok=(200, 404))
        if response.status_code == 404:
            raise self.not_found(path)
        return response.headers

    def stat(self, path: str) -> ObjectInfo:
        headers = self.head(path)
        metadata = {key[len("X-Object-Meta-"):].lower(): value for key, value in headers.items()
                    if key.lower().startswith("x-object-meta-")}
        return ObjectInfo(path, int(headers.get("Content-Length", 0)),
                          (headers.get("Etag") or "").strip('"') or None, headers.get("Last-Modified"),
                          metadata)

    def manifest(self, path: str) -> list[dict[str, Any]]:
        """An SLO's own entries (``name`` as ``/container/object``, ``bytes``, ``hash``, ``range``...)."""
        return self._http.request("GET", self._object(path), params={"multipart-manifest": "get"}).json()

    def listing(self, prefix: str = "", marker: str | None = None,
                page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Swift's own listing entries (``name``, ``bytes``, ``hash``, ``slo_etag``...), paged."""
        return self._http.listing(f"/{self.container}", prefix, marker, page_size)

    def list(self, prefix: str = "", marker: str | None = None,
             page_size: int = 1000) -> Iterator[ObjectInfo]:
        for item in self.listing(prefix, marker, page_size):
            yield ObjectInfo(item["name"], item["bytes"], item.get("hash"), item.get("last_modified"))

    def reader(self, path: str, offset: int = 0):
        """A stream of the object, ``headers`` those of its GET (a manifest's describe the whole)."""
        response = self._http.stream(self._object(path), offset)
        if response.status_code not in (200, 206):
            response.close()
            if response.status_code == 404:
                raise self.not_found(path)
            if response.status_code == 416:  # offset at the end: nothing left to read
                return io.BytesIO(b"")
            raise StoreOpsError(f"swift store: GET {path} failed with HTTP {response.status_code}")
        return _HttpReader(response)

    def writer(self, path: str, resume: bool = False) -> Writer:
        return _SwiftWriter(self, path, resume)

    def put(self, path: str, data: bytes, new: bool = False) -> None:
        """One plain object in one PUT; Swift checks it against its MD5 and answers once it is stored.

        ``new``: only where no object is (``If-None-Match: *``); else StorageConflictError, the object kept.
        """
        headers = {"ETag": hashlib.md5(data).hexdigest(), **({"If-None-Match": "*"} if new else {})}
        response = self._http.request("PUT", self._object(path), ok=(201, 412), data=data, headers=headers)
        if response.status_code == 412:
            raise StorageConflictError(f"swift store: {path} already exists in {self.where}; it was kept",
                                       path=path)

    def put_manifest(self, path: str, segments: list[dict[str, Any]]) -> None:
        """An SLO of ``segments`` (each ``path``, ``etag``, ``size_bytes``), which Swift checks."""
        self._http.request("PUT", self._object(path), ok=(201,), params={"multipart-manifest": "put"},
                           json=segments)

    def streamed_put(self, path: str, headers: Mapping[str, str]) -> StreamedPut:
        """A new object written as a stream; StorageConflictError at ``finish`` when one is there."""
        return StreamedPut(self._http, self._object(path), headers)

    def put_new(self, path: str, headers: Mapping[str, str]) -> None:
        """A new zero-byte object with ``headers`` (a DLO manifest); StorageConflictError when one is there."""
        response = self._http.request("PUT", self._object(path), ok=(201, 412), data=b"",
                                      headers={**headers, **_NEW_ONLY})
        if response.status_code == 412:
            raise StorageConflictError(f"swift store: {self.container}/{path} is there already; it is kept",
                                       path=path)

    def delete_only(self, path: str) -> None:
        """Delete this object alone (a manifest without its segments); one already gone is no error."""
        self._http.request("DELETE", self._object(path), ok=(200, 204, 404))

    def delete_many(self, paths: list[str]) -> None:
        """Delete these objects of the container, each alone; ones already gone are no error.

        One bulk-delete request per page where the cluster offers it (its ``/info`` lists
        ``bulk_delete``), else a few DELETEs at a time: one by one, a 2 GiB image of 4 MiB
        segments takes a Glance API host half a minute to delete.
        """
        page = self._bulk_delete_page()
        if not page:
            with ThreadPoolExecutor(DELETE_STREAMS, thread_name_prefix="swift-delete") as pool:
                list(pool.map(self.delete_only, paths))
            return
        for start in range(0, len(paths), page):
            body = "\n".join(swift_quote(self._object(path)) for path in paths[start:start + page])
            response = self._http.request("POST", "/", params={"bulk-delete": "true"}, data=body.encode(),
                                          headers={"Content-Type": "text/plain", "Accept": "application/json"})
            try:
                answer = response.json()
            except ValueError:  # a proxy without the bulk middleware in its pipeline, or in front of it
                answer = {}
            status, errors = answer.get("Response Status", ""), answer.get("Errors") or []
            if errors or not status.startswith("200"):
                failed = "; ".join(f"{name}: {why}" for name, why in errors[:3])
                raise StoreOpsError(f"swift store: bulk delete in {self.where} answered {status or 'nothing'}"
                                    f"{f' ({failed})' if failed else ''}")

    def _bulk_delete_page(self) -> int:
        """How many objects one bulk-delete request may name; 0 where the cluster has none."""
        if self._bulk_page is None:
            try:
                offered = self._conn.object_store.get_info().bulk_delete
            except Exception:  # pylint: disable=broad-except
                offered = None  # /info hidden (expose_info = false): no bulk delete assumed
            self._bulk_page = int((offered or {}).get("max_deletes_per_request") or 0)
        return self._bulk_page

    def delete(self, path: str) -> None:
        # an SLO goes with its segments; the manifest delete refuses plain objects
        is_slo = self.head(path).get("X-Static-Large-Object", "").lower() == "true"
        self._http.request("DELETE", self._object(path), ok=(200, 204, 404),
                           params={"multipart-manifest": "delete"} if is_slo else None)


class SwiftAccount:
    """The Swift account of a connection: its name, its containers, a driver for each."""

    def __init__(self, conn, segment_size: int = SEGMENT_SIZE):
        self._conn = conn
        self._http = _SwiftHttp(conn.object_store)
        self._segment_size = segment_size

    def name(self) -> str:
        """The account, as the object-store endpoint ends (``AUTH_<project>``)."""
        return self._conn.object_store.get_endpoint().rstrip("/").rpartition("/")[2]

    def containers(self) -> Iterator[str]:
        return (item["name"] for item in self._http.listing("/", "", None, 1000))

    def container(self, name: str) -> SwiftDriver:
        return SwiftDriver(self._conn, name, self._segment_size)
