"""Benchmark: a no-op re-run of the image_catalog role over N tiny images.

The role runs once to create the catalogue's images, then again, changing nothing, with every
HTTP request of ansible-playbook and its modules counted by a loopback proxy
(tests/request_counter.py): Glance requests per image, Keystone token requests (one per module
process that connects: the Python starts), and wall time. The catalogue's images are deleted
at the end.

Run with `make bench-catalogue` (the local cloud must be up; `make cloud`), or
`python bench/catalogue.py --images 50`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import openstack

from common import COLLECTIONS, REPO, facts

sys.path.insert(0, str(REPO / "tests"))
from request_counter import RequestCounter  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = REPO / "tests" / "integration" / "playbooks" / "role.yml"


def run_role(cloud: dict, collections: Path, variables: dict, env: dict | None = None) -> tuple[float, dict]:
    """Wall seconds and the published image_catalog_result of one run of the role."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "out.json"
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", f"ansible_python_interpreter={sys.executable}",
                "-e", json.dumps({"admin_cloud": cloud["admin_cloud"], "out": str(out),
                                  "role_under_test": "image_catalog", **variables}), str(PLAYBOOK)]
        child_env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections),
                     "OS_CLIENT_CONFIG_FILE": cloud["clouds_yaml"], **(env or {})}
        started = time.monotonic()
        proc = subprocess.run(argv, env=child_env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"the role failed: {(proc.stdout + proc.stderr)[-1500:]}")
        return seconds, json.loads(out.read_text())["catalog"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50, help="catalogue entries (default 50)")
    parser.add_argument("--collections", type=Path, default=COLLECTIONS)
    options = parser.parse_args()
    cloud = facts()
    catalogue = f"bench-catalogue-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as work:
        entries = []
        for index in range(options.images):
            path = Path(work) / f"{index:03}.img"
            path.write_bytes(os.urandom(4096))
            entries.append({"name": f"{catalogue}-{index:03}", "filename": str(path), "stores": ["fast"]})
        variables = {"image_catalog_name": catalogue, "image_catalog_images": entries}
        try:
            first, _result = run_role(cloud, options.collections, variables)
            print(f"first run (creates {options.images} images): {first:.1f}s", flush=True)
            with RequestCounter() as counter:
                seconds, result = run_role(cloud, options.collections, variables, counter.env)
            glance = counter.to(cloud["glance"]["url"])
            tokens = [url for method, url in counter.to(cloud["keystone"]["url"])
                      if method == "POST" and url.endswith("/auth/tokens")]
            print(f"no-op re-run of {options.images} images: {result['changed']} changed, "
                  f"{result['failed']} failed, {len(glance) / options.images:.2f} Glance requests per "
                  f"image ({len(glance)} in all), {len(tokens)} Keystone tokens (module processes), "
                  f"{seconds:.1f}s ({seconds / options.images * 1000:.0f} ms per image)")
            for request, count in counter.by_path(cloud["glance"]["url"]).most_common(8):
                print(f"  {count:5}  {request}")
        finally:
            images = openstack.connect(cloud=cloud["admin_cloud"]).image
            for hidden in ("false", "true"):
                listed = images.get("/images", params={"storeops.openstack.catalogue": catalogue,
                                                       "os_hidden": hidden, "limit": 1000}).json()["images"]
                for image in listed:
                    images.delete(f"/images/{image['id']}")


if __name__ == "__main__":
    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", facts()["clouds_yaml"])
    main()
