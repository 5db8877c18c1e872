"""A streamed PUT on the wire: a chunked body that ends only when finished, and never ends when aborted;
sent once, through keystoneauth as openstacksdk sends it, whatever Swift answers."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import pytest
from keystoneauth1 import plugin
from keystoneauth1.adapter import Adapter
from keystoneauth1.session import Session

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


class _Tokens(plugin.BaseAuthPlugin):
    """A password plugin as keystoneauth uses it: one token, a new one each time it is invalidated."""

    def __init__(self):
        super().__init__()
        self.tokens = ["t1"]

    def get_token(self, session, **kwargs):
        return self.tokens[-1]

    def invalidate(self):
        self.tokens.append(f"t{len(self.tokens) + 1}")
        return True


def driver_of(wire, auth=None):
    # openstacksdk's object store proxy is a keystoneauth Adapter that returns error statuses
    store = Adapter(Session(auth=auth), endpoint_override=wire.url, raise_exc=False)
    return SwiftDriver(type("Conn", (), {"object_store": store})(), "glance")


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


class _Swift(http.server.ThreadingHTTPServer):
    """Swift's proxy as far as tokens go: ``refused`` tokens get a 401. Every body is read to its end
    before the answer, as Swift's server drains a request it refused; ``stored`` are the objects."""

    def __init__(self, refused=()):
        super().__init__(("127.0.0.1", 0), _SwiftRequest)
        self.refused = set(refused)
        self.stored, self.requests = {}, []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _SwiftRequest(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass

    def _refused(self):
        return self.headers.get("X-Auth-Token") in self.server.refused

    def _answer(self, status, etag=""):
        self.send_response(status)
        if etag:
            self.send_header("Etag", etag)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):  # pylint: disable=invalid-name
        self.server.requests.append(("HEAD", self.headers.get("X-Auth-Token")))
        self._answer(401 if self._refused() else 204)

    def do_PUT(self):  # pylint: disable=invalid-name
        body = b""
        while True:  # chunked
            size = int(self.rfile.readline().strip(), 16)
            body += self.rfile.read(size + 2)[:size]
            if not size:
                break
        self.server.requests.append(("PUT", self.headers.get("X-Auth-Token")))
        if self._refused():
            self._answer(401)
            return
        self.server.stored[self.path] = body
        self._answer(201, hashlib.md5(body).hexdigest())


def streamed(driver, data):
    put = driver.streamed_put("obj", {})
    for start in range(0, len(data), 1000):
        put.write(data[start:start + 1000])
    put.finish()


def test_a_put_with_a_refused_token_is_never_sent_again_and_the_next_request_renews_the_token():
    swift, auth = _Swift(refused={"t1"}), _Tokens()
    driver, data = driver_of(swift, auth), bytes(range(256)) * 40
    with pytest.raises(StoreOpsError, match="HTTP 401") as raised:
        streamed(driver, data)  # keystoneauth would re-send it with its body consumed: an empty object
    assert raised.value.details["status_code"] == 401
    assert swift.requests == [("PUT", "t1")] and swift.stored == {}
    assert driver.container_exists()  # any other request re-authenticates on a 401
    streamed(driver, data)
    assert swift.requests[1:] == [("HEAD", "t1"), ("HEAD", "t2"), ("PUT", "t2")]
    assert swift.stored == {"/glance/obj": data}
    swift.shutdown()
