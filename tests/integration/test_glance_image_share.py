"""glance_image's catalogue options against the local cloud: exact properties, upstream checksums."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import uuid
from functools import partial

import openstack
import pytest

RESERVED = ("os_hash_algo", "os_hash_value", "owner_specified.openstack.sha256", "stores", "os_hidden")


@pytest.fixture(scope="module")
def glance(cloud):
    return openstack.connect(cloud=cloud["admin_cloud"]).image


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A loopback HTTP server (a thread of this process) over a folder the tests write into."""
    folder = tmp_path_factory.mktemp("web")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def ensure(run_playbook):
    name = f"gis-{uuid.uuid4().hex[:8]}"

    def run(**options):
        options.setdefault("name", name)
        outcome = run_playbook("image.yml", **{k: str(v) if hasattr(v, "__fspath__") else v
                                               for k, v in options.items()})
        assert outcome.returncode == 0, outcome.output
        return outcome.results["result"]
    run.image_name = name
    return run


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.img"
    path.write_bytes(os.urandom(65_536))
    return path


def digest(data: bytes, algo: str) -> str:
    return hashlib.new(algo, data).hexdigest()


def test_exact_properties_remove_unnamed_user_properties_only(ensure, glance, tiny):
    made = ensure(filename=tiny, stores=["fast"], properties={
        "os_distro": "cirros", "os_version": "0.6", "hw_disk_bus": "scsi", "site": "a"})
    assert made["changed"] is True, made
    image_id = made["image"]["id"]
    before = glance.get(f"/images/{image_id}").json()
    merged = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"})
    assert merged["changed"] is True
    assert glance.get(f"/images/{image_id}").json()["os_distro"] == "cirros"
    preview = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                     properties_state="exact", check=True)
    assert preview["changed"] is True and preview["diff"]["after"]["properties"] == {"hw_disk_bus": "virtio"}
    assert glance.get(f"/images/{image_id}").json()["os_version"] == "0.6"
    exact = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                   properties_state="exact")
    assert [a["action"] for a in exact["actions"]] == ["update_metadata"], exact["actions"]
    after = glance.get(f"/images/{image_id}").json()
    assert "os_distro" not in after and "os_version" not in after and "site" not in after
    assert after["hw_disk_bus"] == "virtio"
    assert {k: after[k] for k in RESERVED} == {k: before[k] for k in RESERVED}
    again = ensure(filename=tiny, stores=["fast"], properties={"hw_disk_bus": "virtio"},
                   properties_state="exact")
    assert again["changed"] is False, again["actions"]
    glance.delete(f"/images/{image_id}")
