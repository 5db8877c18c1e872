"""A streamed PUT on the wire: a chunked body that ends only when finished, and never ends when aborted."""
from __future__ import annotations

import hashlib
import socket
import threading

import pytest
import requests

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver


class _Wire:
    """A one-request HTTP server that keeps every byte it was sent, answering once the body ended."""

    def __init__(self, status=201, etag=None):
        self.received = b""
        self._status, self._etag = status, etag
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        conn, _address = self._server.accept()
        with conn:
            while not self.received.endswith(b"\r\n0\r\n\r\n"):
                data = conn.recv(65536)
                if not data:  # the client broke the request off
                    return
                self.received += data
            body = self.received.partition(b"\r\n\r\n")[2]
            etag = self._etag or hashlib.md5(_unchunk(body)).hexdigest()
            conn.sendall(f"HTTP/1.1 {self._status} X\r\nEtag: {etag}\r\nContent-Length: 0\r\n\r\n".encode())

    def done(self):
        self._thread.join(10)
        self._server.close()
        return self.received


def _unchunk(body: bytes) -> bytes:
    data = b""
    while body:
        size, _crlf, body = body.partition(b"\r\n")
        data, body = data + body[:int(size, 16)], body[int(size, 16) + 2:]
    return data


class _Store:
    """openstacksdk's object store proxy as far as the driver uses it: requests to one endpoint."""

    def __init__(self, url):
        self._url, self._session = url, requests.Session()

    def request(self, path, method, **kwargs):
        return self._session.request(method, self._url + path, **kwargs)


def driver_of(wire):
    return SwiftDriver(type("Conn", (), {"object_store": _Store(wire.url)})(), "glance")


def test_a_finished_put_sends_every_chunk_then_the_end_and_is_checked_against_its_md5():
    wire = _Wire()
    put = driver_of(wire).streamed_put("obj", {"X-Object-Meta-A": "b"})
    for chunk in (b"abc", b"", b"defg"):
        put.write(chunk)
    put.finish()
    sent = wire.done()
    assert sent.startswith(b"PUT /glance/obj HTTP/1.1") and b"If-None-Match: *" in sent
    assert b"X-Object-Meta-A: b" in sent and b"Transfer-Encoding: chunked" in sent
    assert _unchunk(sent.partition(b"\r\n\r\n")[2]) == b"abcdefg" and put.size == 7


def test_an_aborted_put_never_ends_its_body_so_nothing_is_stored():
    wire = _Wire()
    put = driver_of(wire).streamed_put("obj", {})
    put.write(b"half of it")
    put.abort()
    sent = wire.done()
    assert sent.endswith(b"a\r\nhalf of it\r\n")  # the chunk went, the terminating 0-chunk never did


@pytest.mark.parametrize("status, etag, error, message", [
    (201, "0" * 32, StoreOpsError, "was stored with ETag 0{32}, not the MD5 of the bytes sent"),
    (412, None, StorageConflictError, "appeared while it was written; it is kept"),
])
def test_a_put_stored_otherwise_than_sent_fails(status, etag, error, message):
    wire = _Wire(status, etag)
    put = driver_of(wire).streamed_put("obj", {})
    put.write(b"abc")
    with pytest.raises(error, match=message):
        put.finish()
    wire.done()
