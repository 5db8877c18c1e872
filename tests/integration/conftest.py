"""Integration fixtures: the local cloud, and the collection installed from its built tarball."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import openstack
import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

sys.path.insert(0, str(REPO / "tests"))
from collection_import import make_importable  # noqa: E402  pylint: disable=wrong-import-position

make_importable()  # the storage conformance suite imports the drivers


@pytest.fixture(scope="session")
def cloud() -> dict:
    """Start the local cloud if needed (a no-op when it is up) and return its facts."""
    subprocess.run([str(REPO / "tools" / "cloud"), "up"], check=True)
    state = Path(os.environ.get("STOREOPS_CLOUD_DIR", REPO / ".localcloud"))
    facts = json.loads((state / "data" / "cloud.json").read_text())
    os.environ["OS_CLIENT_CONFIG_FILE"] = facts["clouds_yaml"]  # for openstacksdk in the tests
    return facts


@pytest.fixture(scope="session")
def admin_images(cloud):
    """The admin's Glance image API (openstacksdk's proxy: ``get``, ``post``, ``delete``)."""
    return openstack.connect(cloud=cloud["admin_cloud"]).image


@pytest.fixture(scope="session")
def tarball_install(tmp_path_factory) -> tuple[Path, Path]:
    build = tmp_path_factory.mktemp("build")
    collections = build / "collections"
    subprocess.run([str(REPO / "tools" / "build-collection"), str(build), str(collections)],
                   check=True, stdout=subprocess.DEVNULL)
    return next(build.glob("storeops-openstack-*.tar.gz")), collections


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    results: dict


@pytest.fixture(scope="session")
def playbook_command(cloud, tarball_install):
    """The argv and environment that run a playbook of tests/integration/playbooks."""
    collections = tarball_install[1]

    def command(playbook: str, **extra_vars) -> tuple[list[str], dict[str, str]]:
        """``playbook`` is a file of tests/integration/playbooks or a collection playbook's FQCN."""
        variables = {"admin_cloud": cloud["admin_cloud"], "member_cloud": cloud["member_cloud"],
                     **extra_vars}
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections),
               "OS_CLIENT_CONFIG_FILE": cloud["clouds_yaml"], "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
        env.pop("OS_CLOUD", None)
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c",
                "local", "-e", f"ansible_python_interpreter={sys.executable}",
                "-e", json.dumps(variables),
                playbook if playbook.startswith("storeops.") else str(PLAYBOOKS / playbook)]
        return argv, env

    return command


@pytest.fixture(scope="session")
def run_playbook(playbook_command, tmp_path_factory):
    """Run a playbook of tests/integration/playbooks; it writes its registered results to ``out``."""

    def run(playbook: str, **extra_vars) -> PlaybookRun:
        out = tmp_path_factory.mktemp("results") / "results.json"
        argv, env = playbook_command(playbook, out=str(out), **extra_vars)
        proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=1800, check=False)
        results = json.loads(out.read_text()) if out.exists() else {}
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)

    return run


@pytest.fixture
def served_file(tmp_path):
    """A file on a loopback HTTP server, for Glance's web-download."""
    (tmp_path / "web.img").write_bytes(os.urandom(2_000_000))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/web.img", tmp_path / "web.img"
    server.terminate()
    server.wait()
