"""glance_store_migrate method=direct killed (the module process too) at each step of an image's move, then re-run.

Each step is hit deterministically: mid-write by watching the partial target copy grow (and
freezing the module the moment it holds bytes, with most of the image still to come); every
later step by a loopback proxy in front of Glance's API (the killed run's clouds.yaml points
openstacksdk's image endpoint at it) that holds the one request which follows the step, so the
module waits right there until it is killed.
"""
from __future__ import annotations

import glob
import hashlib
import http.server
import json
import os
import re
import threading
import uuid
from urllib.parse import urlsplit

import pytest
import rbd
import requests
import yaml

from conftest import REPO
from process_tree import kill_module_when
# the migrate tests' fixtures and helpers: Glance, its Swift container, the Ceph pool, the migrate playbook
from test_glance_store_migrate import glance, in_swift, migrate, swift  # noqa: F401  pylint: disable=unused-import
from test_glance_store_migrate_direct import (  # noqa: F401  pylint: disable=unused-import
    direct,
    downloaded,
    pool,
    rbd_names,
    steps_of,
    wait_until_unwatched,
)

TARGETS = ("ceph", "fast")  # rbd and file
MID_WRITE, COMMITTED, REGISTERED, SOURCE_REMOVED = "mid-write", "committed", "registered", "source-removed"
POINTS = (MID_WRITE, COMMITTED, REGISTERED, SOURCE_REMOVED)
SMALL = 2_000_000
MID_WRITE_SIZE = 32 << 20  # eight 4 MiB chunks: the module is frozen after the first, with seven to go
# what the killed run journaled of the image at each point: the step it was killed after
KILLED_STEPS = {MID_WRITE: [], COMMITTED: ["write"], REGISTERED: ["write", "register", "verify", "mark"],
                SOURCE_REMOVED: ["write", "register", "verify", "mark", "remove_source"]}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class GlanceGate(http.server.ThreadingHTTPServer):
    """A proxy to Glance's API that holds the first request ``hold(method, path)`` matches: it is
    never forwarded, so the module waits for its answer at a known step."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = upstream.rstrip("/")
        self.address = f"http://127.0.0.1:{self.server_address[1]}"
        self.hold = None
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def arm(self, hold) -> None:
        with self._lock:
            self.hold = hold
            self.held.clear()
            self.release.clear()

    def holds(self, method: str, path: str) -> bool:
        with self._lock:
            if self.hold is None or self.held.is_set() or not self.hold(method, path):
                return False
            self.held.set()
            return True


class _Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # openstacksdk keeps its connections

    def log_message(self, *_args):  # quiet: pytest shows the assertions
        pass

    def _relay(self) -> None:
        gate: GlanceGate = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if gate.holds(self.command, urlsplit(self.path).path):
            gate.release.wait()  # the module is killed meanwhile; nothing reaches Glance
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
        answer = requests.request(self.command, gate.upstream + self.path, headers=headers, data=body,
                                  allow_redirects=False, timeout=600)
        content = answer.content
        if "json" in answer.headers.get("Content-Type", ""):  # version discovery names Glance's own address
            content = content.replace(gate.upstream.encode(), gate.address.encode())
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value.replace(gate.upstream, gate.address))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay


@pytest.fixture(scope="module")
def gate(cloud, tmp_path_factory):
    """The proxy, and a clouds.yaml whose admin cloud reaches Glance through it."""
    server = GlanceGate(cloud["glance"]["url"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = yaml.safe_load(open(cloud["clouds_yaml"], encoding="utf-8"))
    config["clouds"][cloud["admin_cloud"]]["image_endpoint_override"] = server.address
    path = tmp_path_factory.mktemp("gate") / "clouds.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    server.clouds_yaml = str(path)
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def seeded(glance):
    """One image in Swift per target and kill point, shared by the module's tests; deleted after."""
    prefix = f"dk-{uuid.uuid4().hex[:8]}"
    images = {}
    try:  # a failed upload still leaves no seeded image behind
        for target in TARGETS:
            for point in POINTS:
                name = f"{prefix}-{target}-{point}"
                data = os.urandom(MID_WRITE_SIZE if point == MID_WRITE else SMALL)
                images[target, point] = (name, glance.upload(name, "swift", data), data)
        yield images
    finally:
        for _name, image_id, _data in images.values():
            glance.image.delete(f"/images/{image_id}")


class Copies:
    """The target store's copies of an image, as the test sees them: rbd images or files."""

    def __init__(self, target, cloud, pool):
        self.target, self.pool = target, pool
        self.datadir = cloud["glance"]["stores"]["fast"]["data_dir"]
        fsid, pool_name = cloud["ceph"]["fsid"], cloud["ceph"]["rbd_pool"]
        self.url = (lambda i: f"rbd://{fsid}/{pool_name}/{i}/snap") if target == "ceph" else (
            lambda i: f"file://{self.datadir}/{i}")

    def names(self, image_id) -> list[str]:
        if self.target == "ceph":
            return rbd_names(self.pool, [image_id])
        return sorted(n for n in os.listdir(self.datadir) if n.startswith(image_id))

    def partial_bytes(self, image_id) -> int:
        try:
            if self.target == "ceph":
                with rbd.Image(self.pool, f"{image_id}.partial", read_only=True) as partial:
                    return partial.size()
            return os.stat(os.path.join(self.datadir, f"{image_id}.partial")).st_size
        except (rbd.ImageNotFound, FileNotFoundError):
            return 0

    def committed(self, image_id) -> bool:
        return image_id in self.names(image_id)

    def finished(self, image_id) -> bool:
        """In glance_store's layout: for rbd, with the protected snapshot ``snap`` and nothing else."""
        if self.target != "ceph":
            return True
        with rbd.Image(self.pool, image_id, read_only=True) as image:
            return [s["name"] for s in image.list_snaps()] == ["snap"] and image.is_protected_snap("snap")


def kill_at(point, gate, copies, image_id, size, argv, env, out) -> None:
    """Run the migration and kill the module process at ``point`` of the image's move (``out``: the
    playbook's result, there only if the module finished first)."""
    if point == MID_WRITE:
        gate.arm(None)
        kill_module_when(argv, env, REPO, "glance_store_migrate",
                         lambda: 0 < copies.partial_bytes(image_id) < size or out.exists(), poll=0.005)
        return
    holds = {
        # the registration begins with a read of the image; before the commit only the plan's recheck reads it
        COMMITTED: lambda method, path: method == "GET" and path == f"/v2/images/{image_id}"
        and copies.committed(image_id),
        REGISTERED: lambda method, path: method == "DELETE" and path == f"/v2/stores/swift/{image_id}",
        SOURCE_REMOVED: lambda method, path: method == "GET" and path == f"/v2/images/{image_id}/file",
    }
    gate.arm(holds[point])
    try:
        kill_module_when(argv, env, REPO, "glance_store_migrate", lambda: gate.held.is_set() or out.exists())
        assert gate.held.is_set(), f"the module never reached {point}"
    finally:
        gate.release.set()


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("target", TARGETS)
def test_killed_then_rerun_converges(playbook_command, direct, glance, swift, pool, gate, seeded, cloud,
                                     tmp_path, target, point):
    name, image_id, data = seeded[target, point]
    copies = Copies(target, cloud, pool)
    url = copies.url(image_id)
    # verification=download: the confirmation through Glance after the source's removal is a point too
    argv, env = playbook_command("migrate.yml", name_pattern=name, method="direct", target_store=target,
                                 verification="download", journal_dir=str(tmp_path / "killed"),
                                 glance_api_conf=cloud["glance"]["api_conf"], out=str(tmp_path / "out.json"))
    env["OS_CLIENT_CONFIG_FILE"] = gate.clouds_yaml
    kill_at(point, gate, copies, image_id, len(data), argv, env, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()  # the module never answered

    # the state the kill left: exactly the steps before the point, the source kept until the target is registered
    journals = glob.glob(str(tmp_path / "killed" / "*.jsonl"))
    assert [step for path in journals for step in steps_of(path, image_id)] == KILLED_STEPS[point]
    left = {MID_WRITE: [f"{image_id}.partial"]}.get(point, [image_id])
    assert copies.names(image_id) == left
    if point == MID_WRITE:
        assert 0 < copies.partial_bytes(image_id) < len(data)
    stores = {MID_WRITE: ["swift"], COMMITTED: ["swift"], REGISTERED: sorted(["swift", target]),
              SOURCE_REMOVED: [target]}[point]
    assert sorted(glance.stores_of(image_id)) == stores
    # the swift source's bytes are deleted here before Glance drops its location: meanwhile Glance
    # serves the verified target (it reads the next location)
    assert bool(in_swift(swift, [image_id])) == (point in (MID_WRITE, COMMITTED))
    if point == REGISTERED:
        assert downloaded(glance, image_id) == hashlib.sha512(data).hexdigest()
    assert (url in [u for (_i, u) in glance.rows([image_id])]) == (target in stores)

    if point == MID_WRITE and target == "ceph":  # a re-run at once finds the partial held: in_progress
        wait_until_unwatched(pool, f"{image_id}.partial")
    rerun = direct(name, name_pattern=name, target_store=target, verification="download").results["result"]
    assert not rerun.get("failed"), rerun
    assert rerun["counts"]["migrated"] == 1, rerun
    steps = steps_of(rerun["journal"], image_id)
    if point != SOURCE_REMOVED:
        assert steps[-3:] == ["remove_source", "download", "result"], steps
        assert "write" in steps or point == REGISTERED  # a registered copy is read back by verify instead
    else:  # the killed run's image carries the mark: only its download is left to do
        assert steps == ["download", "result"], steps
    # converged: Glance serves the original bytes from the target only, nothing left over anywhere
    image = glance.get(image_id)
    assert image["stores"] == target and [loc["url"] for loc in image["locations"]] == [url]
    assert "storeops_download_unconfirmed" not in image
    assert glance.rows([image_id]) == {(image_id, url): {"store": target}}
    assert downloaded(glance, image_id) == hashlib.sha512(data).hexdigest()
    assert copies.names(image_id) == [image_id] and copies.finished(image_id)  # no partial, no orphan
    assert in_swift(swift, [image_id]) == []

    third = direct(name, name_pattern=name, target_store=target, verification="download").results["result"]
    assert third["changed"] is False and third["counts"]["already_done"] == 1, third


def test_more_bad_inputs_are_one_line_and_change_nothing(direct, glance, pool, tmp_path, cloud):
    prefix = f"dk-{uuid.uuid4().hex[:8]}"
    image_id = glance.upload(f"{prefix}-bad", "swift", os.urandom(1000))
    text = open(cloud["glance"]["api_conf"], encoding="utf-8").read()
    swift_conf = re.search(r"(?m)^swift_store_config_file\s*=\s*(\S+)", text).group(1)

    def conf(name: str, content: str) -> str:
        (tmp_path / name).write_text(content)
        return str(tmp_path / name)

    multi_tenant = conf("multi.conf", re.sub(r"(?m)^\[swift\]$", "[swift]\nswift_store_multi_tenant = True", text))
    no_key = conf("swift-nokey.conf", re.sub(r"(?m)^key\s*=.*\n", "", open(swift_conf, encoding="utf-8").read()))
    reference_without_key = conf("nokey.conf", text.replace(swift_conf, no_key))
    url = urlsplit(cloud["glance"]["database_url"])
    wrong_password = url._replace(netloc=f"{url.username}:not-the-password@{url.hostname}:{url.port}").geturl()
    runs = (
        ({"glance_api_conf": multi_tenant}, "source_store: swift is a multi-tenant swift store"),
        ({"glance_api_conf": reference_without_key}, f"of {no_key} has no auth_address, user and key"),
        ({"database_connection": wrong_password}, "database_connection: cannot connect"),
        ({"database_connection": wrong_password, "target_store": "fast"}, "database_connection: cannot connect"),
    )
    datadir = cloud["glance"]["stores"]["fast"]["data_dir"]
    try:
        for options, words in runs:
            for check in (True, False):
                journals = tmp_path / f"journals-{uuid.uuid4().hex[:6]}"
                result = direct(prefix, check=check, journal_dir=str(journals), **options).results["result"]
                assert result["failed"] is True and words in result["msg"], (options, check, result)
                assert "\n" not in result["msg"] and "Traceback" not in json.dumps(result)
                assert "not-the-password" not in json.dumps(result)
                # nothing changed: not one step journaled, no target copy, the image as it was
                assert not journals.exists() and glance.stores_of(image_id) == ["swift"]
                assert rbd_names(pool, [image_id]) == [] and not [n for n in os.listdir(datadir)
                                                                  if n.startswith(image_id)]
    finally:
        glance.image.delete(f"/images/{image_id}")
