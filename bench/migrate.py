"""Store migration, swift to rbd: glance_store_migrate against a serial openstack CLI loop.

Each round seeds the same 20 images (6 x 256 MiB, 6 x 64 MiB, 8 x 16 MiB: 2 GiB) into the swift
store, migrates them, checks every image ended in the rbd store only, and deletes them (the
local Ceph keeps data in RAM). The module runs with concurrency 1, 2 and 4 and verifies the data
(reads every target copy back); the peer is what operators run today: per image
``openstack image import --method copy-image``, polling ``image show``, and
``openstack image delete --store``, one image after the other, with no verification.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openstack

from common import COLLECTIONS, REPO, facts, run_module
from seed_legacy import upload

SIZES_MIB = [256] * 6 + [64] * 6 + [16] * 8
PREFIX = "bench-migrate"


def image_files(workdir: Path, sizes: list[int]) -> list[Path]:
    """Distinct, incompressible files, written once and reused by every round (sized uploads)."""
    workdir.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    paths = []
    for index, size_mib in enumerate(sizes):
        path = workdir / f"image-{index:02}-{size_mib}M.raw"
        if not path.exists() or path.stat().st_size != size_mib << 20:
            with open(path, "wb") as handle:
                for number in range(size_mib):
                    handle.write(index.to_bytes(4, "big") + number.to_bytes(4, "big") + block[8:])
        paths.append(path)
    return paths


def seed(image_api, files: list[Path]) -> list[str]:
    def one(index: int) -> str:
        with open(files[index], "rb") as body:  # a sized body: Glance's uWSGI fails chunked ones
            return upload(image_api, f"{PREFIX}-{index:02}", "swift", body)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(len(files))))


def stores(image_api, image_id: str) -> str:
    return image_api.get(f"/images/{image_id}").json().get("stores", "")


def cleanup(image_api) -> None:
    for hidden in ("false", "true"):
        for image in image_api.get("/images", params={"limit": 1000, "os_hidden": hidden}).json()["images"]:
            if image["name"].startswith(PREFIX):
                image_api.delete(f"/images/{image['id']}")


def peer(cli: list[str], ids: list[str]) -> float:
    started = time.monotonic()
    for image_id in ids:
        subprocess.run(cli + ["image", "import", image_id, "--method", "copy-image", "--store", "ceph"],
                       check=True, stdout=subprocess.DEVNULL)
        while True:
            shown = json.loads(subprocess.run(cli + ["image", "show", "-f", "json", image_id], check=True,
                                              capture_output=True, text=True).stdout)
            if "ceph" in shown.get("properties", {}).get("stores", ""):  # OSC nests it there
                break
            time.sleep(1)
        subprocess.run(cli + ["image", "delete", "--store", "swift", image_id], check=True,
                       stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--collections", default=COLLECTIONS)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/storeops-bench/migrate"))
    options = parser.parse_args()
    cloud = facts()
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    image_api = openstack.connect(cloud=cloud["admin_cloud"]).image
    total_mb = sum(SIZES_MIB) * 1.048576
    cli = [str(REPO / ".localcloud" / "venv-servers" / "bin" / "openstack"), "--os-cloud", cloud["admin_cloud"]]
    files = image_files(options.workdir, SIZES_MIB)
    cleanup(image_api)
    rows = []
    for mode in [f"module c={c}" for c in options.concurrency] + ["CLI loop (peer)"]:
        began = time.monotonic()
        ids = seed(image_api, files)
        print(f"{mode}: seeded {len(ids)} images ({sum(SIZES_MIB)} MiB) into swift in "
              f"{time.monotonic() - began:.0f}s", flush=True)
        rss = 0.0
        if mode.startswith("module"):
            seconds, rss, result = run_module(options.collections, "glance_store_migrate", {
                "cloud": cloud["admin_cloud"], "source_store": "swift", "target_store": "ceph",
                "name_pattern": f"{PREFIX}-*", "concurrency": int(mode.split("=")[1]),
                "glance_api_conf": cloud["glance"]["api_conf"], "poll_interval": 1.0,
                "journal_dir": tempfile.mkdtemp(prefix="bench-journal-")})
            assert result["counts"]["migrated"] == len(ids), result["counts"]
        else:
            seconds = peer(cli, ids)
        assert all(stores(image_api, i) == "ceph" for i in ids), "an image did not end in ceph only"
        rows.append((mode, seconds, rss))
        print(f"{mode}: {seconds:.1f}s, {total_mb / seconds:.1f} MB/s, peak RSS {rss:.0f} MiB", flush=True)
        cleanup(image_api)
    peer_seconds = rows[-1][1]
    print(f"\n{'tool':18} {'seconds':>8} {'MB/s':>7} {'peak RSS':>9}  speed vs peer")
    for mode, seconds, rss in rows:
        print(f"{mode:18} {seconds:8.1f} {total_mb / seconds:7.1f} "
              f"{(f'{rss:.0f} MiB') if rss else '-':>9}  {peer_seconds / seconds:5.2f}x")


if __name__ == "__main__":
    main()
