"""Count the HTTP requests a child process (ansible-playbook and its modules) sends to the cloud.

A forward proxy on loopback that records each request line and passes it on unchanged; the
child gets it through ``HTTP_PROXY`` (requests, hence keystoneauth and openstacksdk, honour it for
the local cloud's plain-http endpoints). Counting in the client, not in Glance's request log: the
one local cloud serves every test run at once, and its log holds them all.

Made for small requests (listings, PATCHes): bodies are read whole, chunked ones included.
"""
from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization"}


class RequestCounter:
    """``with RequestCounter() as counter:`` run the child with ``counter.env``, then read
    ``counter.to(url)``: the requests sent to that endpoint (scheme://host:port) while it ran."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []   # (method, absolute URL), in order
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        proxy = f"http://127.0.0.1:{self._server.server_address[1]}"
        return {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}

    def record(self, method: str, url: str) -> None:
        with self._lock:
            self.requests.append((method, url))

    def to(self, endpoint: str) -> list[tuple[str, str]]:
        """The requests sent to ``endpoint`` (``http://127.0.0.1:9292``)."""
        base = urlsplit(endpoint)
        with self._lock:
            return [(method, url) for method, url in self.requests
                    if urlsplit(url).netloc == base.netloc]

    def by_path(self, endpoint: str) -> Counter:
        """How often each ``METHOD path`` (query left off) went to ``endpoint``: what a figure is made of."""
        return Counter(f"{method} {urlsplit(url).path}" for method, url in self.to(endpoint))

    def __enter__(self) -> RequestCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(counter: RequestCounter):
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the counts are the output
            pass

        def _body(self) -> bytes | None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        def _forward(self) -> None:
            counter.record(self.command, self.path)
            target = urlsplit(self.path)
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=600)
            try:
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request(self.command, path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    return Forward
