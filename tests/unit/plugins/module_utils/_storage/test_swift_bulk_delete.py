"""SwiftDriver.delete_many: one bulk-delete request per page where Swift offers it, else DELETEs."""
from __future__ import annotations

import threading
from urllib.parse import unquote

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver


class _Response:
    def __init__(self, status_code=200, answer=None):
        self.status_code, self._answer, self.headers = status_code, answer, {}

    def json(self):
        return self._answer


class _Store:
    """An object store with or without Swift's bulk middleware (``page``: its max_deletes_per_request)."""

    def __init__(self, page=0, errors=()):
        self.page, self.errors = page, list(errors)
        self.requests, self.bulk_bodies, self.info_reads = [], [], 0
        self._lock = threading.Lock()

    def get_info(self):
        self.info_reads += 1
        return type("Info", (), {"bulk_delete": {"max_deletes_per_request": self.page} if self.page else None})()

    def request(self, path, method, **kwargs):
        with self._lock:
            self.requests.append((method, path))
        if method == "POST":
            assert kwargs["params"] == {"bulk-delete": "true"} and path == "/"
            names = kwargs["data"].decode().split("\n")
            self.bulk_bodies.append([unquote(name) for name in names])
            status = "400 Bad Request" if self.errors else "200 OK"
            return _Response(answer={"Response Status": status, "Number Deleted": len(names),
                                     "Errors": self.errors})
        return _Response(204)


class _Conn:
    def __init__(self, store):
        self.object_store = store


NAMES = ["a#1", "sp ace/ü", "b%41", "x.5", "what?x=1"]


def test_bulk_delete_sends_each_quoted_name_once_paged_by_the_clusters_limit():
    store = _Store(page=2)
    driver = SwiftDriver(_Conn(store), "c #1")
    driver.delete_many(NAMES)
    driver.delete_many(["last"])
    assert store.bulk_bodies == [["/c #1/a#1", "/c #1/sp ace/ü"], ["/c #1/b%41", "/c #1/x.5"],
                                 ["/c #1/what?x=1"], ["/c #1/last"]]
    assert [method for method, _path in store.requests] == ["POST"] * 4 and store.info_reads == 1


def test_without_bulk_delete_each_object_gets_its_own_delete():
    store = _Store(page=0)
    SwiftDriver(_Conn(store), "c").delete_many(NAMES)
    assert sorted(store.requests) == sorted(("DELETE", path) for path in
                                            ["/c/a%231", "/c/sp%20ace/%C3%BC", "/c/b%2541", "/c/x%2E5",
                                             "/c/what%3Fx%3D1"])


def test_a_bulk_delete_with_errors_fails_naming_them():
    store = _Store(page=100, errors=[["/c/a#1", "409 Conflict"]])
    with pytest.raises(StoreOpsError, match=r"answered 400 Bad Request \(/c/a#1: 409 Conflict\)"):
        SwiftDriver(_Conn(store), "c").delete_many(NAMES)
