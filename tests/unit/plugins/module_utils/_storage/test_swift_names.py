"""Swift names reach Swift byte for byte: the request path the driver builds, through the HTTP client."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
import requests

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StorageConflictError

from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver, swift_quote

NAMES = ["b%41", "bA", "a#1", "what?x=1", "%2F", "sp ace/ü", "a/../b", "./c", "x/.", "..", "a//b", "+&=;,"]
ENDPOINT = "http://127.0.0.1:8080/v1/AUTH_x"


@pytest.mark.parametrize("name", NAMES)
def test_the_path_on_the_wire_unquotes_to_the_name(name):
    # requests (and urllib3 under it) re-quote URLs and resolve dot segments: the path must survive both
    sent = requests.Request("GET", ENDPOINT + swift_quote(f"/c/{name}")).prepare().path_url
    assert "?" not in sent and "#" not in sent
    assert unquote(sent) == f"/v1/AUTH_x/c/{name}"


class _Response:
    status_code = 200
    headers = {"Content-Length": "0"}

    def close(self):
        pass


class _Recorder:
    """An openstacksdk object store that records the paths asked for."""

    def __init__(self):
        self.paths = []

    def request(self, path, _method, **_kwargs):
        self.paths.append(path)
        return _Response()


class _Conn:
    def __init__(self):
        self.object_store = _Recorder()


def test_every_request_of_the_driver_is_quoted():
    conn = _Conn()
    driver = SwiftDriver(conn, "c #1")
    driver.stat("b%41")
    driver.reader("what?x=1").close()
    driver.segments().delete_only("a#1/00000000")
    assert conn.object_store.paths == ["/c%20%231/b%2541", "/c%20%231/what%3Fx%3D1",
                                       "/c%20%231_segments/a%231/00000000"]


class _SegmentsStore:
    """An object store whose segments container already holds another client's segments of ``o``."""

    def __init__(self):
        self.requests = []

    def request(self, path, method, **_kwargs):
        self.requests.append((method, path))
        listing = [{"name": "o/1700000000.0/10/5/00000000", "bytes": 5, "hash": "h"}]
        return type("Response", (), {"status_code": 200 if method == "GET" else 201, "headers": {},
                                     "json": staticmethod(lambda: listing)})()


def test_a_fresh_writer_refuses_segments_it_did_not_write_and_deletes_none():
    store = _SegmentsStore()
    conn = _Conn()
    conn.object_store = store
    with pytest.raises(StorageConflictError, match="c_segments/o/"):
        SwiftDriver(conn, "c").writer("o")
    assert [method for method, _path in store.requests if method == "DELETE"] == []
