"""What every glance_image run costs whatever its size: its Glance requests, counted below the
client where each is an HTTP call, and the imports of its start.

Each listing is one request per ``os_hidden`` value, and a new image's run lists three times (the
plan, the rival check before the upload, the one after it).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image import executor as _image_exec
from ansible_collections.storeops.openstack.plugins.module_utils._image.executor import Source
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ImageRequest, ensure_image

CREATED = "2026-12-01T12:00:01Z"


class _Response:
    def __init__(self, status_code, body=None):
        self.status_code, self._body = status_code, body
        self.text = json.dumps(body) if body is not None else ""

    def json(self):
        return self._body


class HttpGlance:
    """Glance's v2 API in memory, as the image adapter's ``request`` sees it; records each call."""

    def __init__(self):
        self.images, self.calls = {}, []
        self._ids = itertools.count(1)

    def request(self, path, method, params=None, data=None, **kwargs):
        self.calls.append(f"{method} {path}")
        parts = path.strip("/").split("/")
        if path == "/info/stores":
            return _Response(200, {"stores": [{"id": "fast"}, {"id": "cheap"}]})
        if path == "/info/import":
            return _Response(200, {"import-methods": {"value": ["glance-direct", "copy-image"]}})
        if path == "/images" and method == "GET":
            return _Response(200, {"images": self._listed(dict(params))})
        if path == "/images" and method == "POST":
            image_id = f"img-{next(self._ids)}"
            self.images[image_id] = {"id": image_id, "owner": "p1", "status": "queued", "tags": [],
                                     "created_at": CREATED, "updated_at": CREATED, **kwargs["json"]}
            return _Response(201, dict(self.images[image_id]))
        image = self.images.get(parts[1])
        if image is None:
            return _Response(404, {})
        if len(parts) == 3 and parts[2] == "file":
            stored = b"".join(iter(lambda: data.read(1 << 16), b""))
            image.update(status="active", size=len(stored), stores="fast", os_hash_algo="sha512",
                         os_hash_value=hashlib.sha512(stored).hexdigest())
            return _Response(204)
        if method == "GET":
            return _Response(200, dict(image))
        if method == "PATCH":
            for operation in json.loads(data):
                key = operation["path"][1:].replace("~1", "/").replace("~0", "~")
                if operation["op"] == "remove":
                    image.pop(key, None)
                else:
                    image[key] = operation["value"]
            return _Response(200, dict(image))
        if method == "DELETE":
            del self.images[parts[1]]
            return _Response(204)
        raise AssertionError(f"unexpected {method} {path}")

    def _listed(self, params):
        hidden = params.pop("os_hidden") == "true"
        for key in ("limit", "sort", "marker"):
            params.pop(key, None)
        return [dict(i) for i in self.images.values() if bool(i.get("os_hidden")) == hidden
                and all(i.get(k) == v for k, v in params.items())]


def _request():
    return ImageRequest(name="cirros", image_id=None, owner="p1", owner_given=False, state="present",
                        stores=["fast"], all_stores=False, all_stores_must_succeed=True, disk_format="raw",
                        container_format="bare", fields={}, tags=None, properties={}, properties_exact=False,
                        on_content_change="fail", lifecycle=Lifecycle(), upload_method="auto",
                        lease_seconds=60, timeout=5)


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    monkeypatch.setattr(_image_exec, "SETTLE_SECONDS", 0)


LIST = "GET /images"


def test_a_new_image_and_its_no_op_rerun_make_only_the_requests_they_need(tmp_path):
    path = tmp_path / "cirros.img"
    path.write_bytes(b"image bytes" * 1000)
    fake = HttpGlance()
    glance = GlanceClient(SimpleNamespace(image=fake))
    created = ensure_image(glance, _request(), Source(filename=str(path)), False)
    assert created.execution.changed and created.execution.verified_by == "os_hash_value"
    image_id = created.execution.image["id"]
    # the plan: the name (both kinds), the lease images (hidden only), no retired versions for a
    # new name; no import methods for a direct upload; no lease listing in the rival checks while
    # no other run's pending image is listed
    assert fake.calls == [
        "GET /info/stores", LIST, LIST, LIST,
        "POST /images", "POST /images", LIST, LIST,
        f"PUT /images/{image_id}/file", f"GET /images/{image_id}", LIST, LIST,
        f"PATCH /images/{image_id}", "DELETE /images/img-2"]
    fake.calls.clear()
    again = ensure_image(glance, _request(), Source(filename=str(path)), False)
    assert not again.execution.changed and again.identified_by == "os_hash_value"
    assert fake.calls == ["GET /info/stores", LIST, LIST, LIST]
    assert list(fake.images) == [image_id]


def test_the_module_does_not_import_what_only_some_runs_use():
    tests = Path(__file__).resolve().parents[4]
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from collection_import import make_importable; "
            "make_importable(); import ansible_collections.storeops.openstack.plugins.modules.glance_image; "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code, str(tests)], capture_output=True, text=True,
                                       check=True).stdout)
    # a checksum URL's fetch, the storage drivers of an rbd clone check, the format inspector
    assert not {"ansible.module_utils.urls", "oslo_utils",
                "ansible_collections.storeops.openstack.plugins.module_utils._storage.locations"} & set(loaded)
