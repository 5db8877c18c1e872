"""Store migration, swift to rbd: glance_store_migrate against a serial openstack CLI loop.

Each round seeds the same 20 images (6 x 256 MiB, 6 x 64 MiB, 8 x 16 MiB: 2 GiB) into the swift
store, migrates them, checks every image ended in the rbd store only, and deletes them (the
local Ceph keeps data in RAM). The module runs with each method it offers (``--methods``) at
concurrency 1, 2 and 4 and verifies the data (reads every target copy back); the playbook
migrate_store runs with 1 and with 3 workers (forks 3, each its shard, concurrency 1). The peer
is what operators run today: per image ``openstack image import --method copy-image``, polling
``image show``, and ``openstack image delete --store``, one image after the other, with no
verification. The physical limit, measured on the first round's images: reading every swift
object straight from Swift with the credentials of Glance's swift store, and ``rbd import`` of
the same bytes, each with ``LIMIT_STREAMS`` streams at once.
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openstack

from common import CLOUD_DIR, COLLECTIONS, facts, host_busy, run_module, timed
from seed_legacy import upload

SIZES_MIB = [256] * 6 + [64] * 6 + [16] * 8
PREFIX = "bench-migrate"
LIMIT_STREAMS = 4
WORKERS = 3
PEER = "CLI loop (peer)"


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


def module_methods(collections: Path) -> list[str]:
    """The choices of glance_store_migrate's ``method`` option; copy-image alone before it had one."""
    sys.path.insert(0, str(collections))
    # pylint: disable-next=import-outside-toplevel,import-error
    from ansible_collections.storeops.openstack.plugins.modules.glance_store_migrate import GlanceStoreMigrate
    return GlanceStoreMigrate.argument_spec.get("method", {}).get("choices", ["copy-image"])


def glance_swift_store(api_conf: str):
    """A connection with the credentials of Glance's swift store (its reference file), and its container."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(api_conf)
    references = configparser.ConfigParser(interpolation=None)
    references.read(conf["swift"]["swift_store_config_file"])
    reference = references[conf["swift"]["default_swift_reference"]]
    project, user = reference["user"].split(":", 1)
    conn = openstack.connect(auth_url=reference["auth_address"], username=user, password=reference["key"],
                             project_name=project, user_domain_id=reference["user_domain_id"],
                             project_domain_id=reference["project_domain_id"])
    return conn.object_store, conf["swift"]["swift_store_container"]


def swift_read_seconds(api_conf: str, ids: list[str]) -> float:
    """Read every image's swift object (a manifest reads as its segments) as fast as Swift serves it."""
    object_store, container = glance_swift_store(api_conf)

    def read(image_id: str) -> int:
        response = object_store.get(f"/{container}/{image_id}", stream=True)
        response.raise_for_status()
        return sum(len(chunk) for chunk in response.iter_content(1 << 20))

    started = time.monotonic()
    with ThreadPoolExecutor(LIMIT_STREAMS) as pool:
        read_bytes = sum(pool.map(read, ids))
    seconds = time.monotonic() - started
    assert read_bytes == sum(SIZES_MIB) << 20, f"swift served {read_bytes} bytes"
    return seconds


def rbd_import_seconds(ceph: dict, files: list[Path]) -> float:
    """``rbd import`` every image file into the rbd store's pool, then remove the copies."""
    rbd = ["rbd", "-c", ceph["conf"]]
    names = [f"{ceph['rbd_pool']}/{PREFIX}-limit-{index:02}" for index in range(len(files))]

    def write(index: int) -> None:
        subprocess.run(rbd + ["import", "--no-progress", str(files[index]), names[index]], check=True)

    started = time.monotonic()
    with ThreadPoolExecutor(LIMIT_STREAMS) as pool:
        list(pool.map(write, range(len(files))))
    seconds = time.monotonic() - started
    for name in names:
        subprocess.run(rbd + ["rm", "--no-progress", name], check=True, stdout=subprocess.DEVNULL)
    return seconds


def workers_playbook(collections: Path, cloud: dict, workers: int, workdir: Path) -> float:
    """migrate_store over ``workers`` local-connection hosts, forks as many, each its shard, method
    direct, concurrency 1."""
    inventory = workdir / f"workers-{workers}.json"
    inventory.write_text(json.dumps({"store_migration_workers": {"hosts": {
        f"worker{index}": {"ansible_connection": "local", "store_migration_shard_index": index,
                           "store_migration_shard_count": workers} for index in range(workers)}}}))
    variables = {"migrate_store_hosts": "store_migration_workers", "ansible_python_interpreter": sys.executable,
                 "store_migration_cloud": cloud["admin_cloud"], "store_migration_source_store": "swift",
                 "store_migration_target_store": "ceph", "store_migration_glance_api_conf": cloud["glance"]["api_conf"],
                 "store_migration_name_pattern": f"{PREFIX}-*", "store_migration_concurrency": 1,
                 "store_migration_method": "direct",
                 "store_migration_require_complete": True,
                 "store_migration_journal_dir": tempfile.mkdtemp(prefix="bench-journal-")}
    seconds, _, _ = timed([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                           "-f", str(workers), "-e", json.dumps(variables), "storeops.openstack.migrate_store"],
                          {"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1"})
    return seconds


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
    parser.add_argument("--collections", type=Path, default=COLLECTIONS)
    parser.add_argument("--methods", nargs="+", help="glance_store_migrate methods to run (default: all it offers)")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/storeops-bench/migrate"))
    options = parser.parse_args()
    methods = options.methods or module_methods(options.collections)
    cloud = facts()
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    image_api = openstack.connect(cloud=cloud["admin_cloud"]).image
    total_mb = sum(SIZES_MIB) * 1.048576
    cli = [str(CLOUD_DIR / "venv-servers" / "bin" / "openstack"), "--os-cloud", cloud["admin_cloud"]]
    files = image_files(options.workdir, SIZES_MIB)
    cleanup(image_api)
    modes = [(method, c) for method in methods for c in options.concurrency]
    modes += [("playbook", 1), ("playbook", WORKERS), (PEER, 1)]
    rows, limits = {}, {}
    for method, number in modes:
        mode = {"playbook": f"workers x{number}", PEER: PEER}.get(method, f"{method} c={number}")
        began = time.monotonic()
        ids = seed(image_api, files)
        print(f"{mode}: seeded {len(ids)} images ({sum(SIZES_MIB)} MiB) into swift in "
              f"{time.monotonic() - began:.0f}s", flush=True)
        if not limits:
            limits["Swift GET"] = swift_read_seconds(cloud["glance"]["api_conf"], ids)
            limits["rbd import"] = rbd_import_seconds(cloud["ceph"], files)
            for name, seconds in limits.items():
                print(f"limit {name}: {seconds:.1f}s, {total_mb / seconds:.1f} MB/s", flush=True)
        rss, busy = 0.0, host_busy()
        if method == "playbook":
            seconds = workers_playbook(options.collections, cloud, number, options.workdir)
        elif method == PEER:
            seconds = peer(cli, ids)
        else:
            chosen = {} if method == "copy-image" else {"method": method}  # copy-image: the default
            seconds, rss, result = run_module(options.collections, "glance_store_migrate", {
                "cloud": cloud["admin_cloud"], "source_store": "swift", "target_store": "ceph",
                "name_pattern": f"{PREFIX}-*", "concurrency": number, **chosen,
                "glance_api_conf": cloud["glance"]["api_conf"], "poll_interval": 1.0,
                "journal_dir": tempfile.mkdtemp(prefix="bench-journal-")})
            assert result["counts"]["migrated"] == len(ids), result["counts"]
        assert all(stores(image_api, i) == "ceph" for i in ids), "an image did not end in ceph only"
        rows[mode] = (seconds, rss, busy())
        print(f"{mode}: {seconds:.1f}s, {total_mb / seconds:.1f} MB/s, peak RSS {rss:.0f} MiB, "
              f"host CPU {rows[mode][2]:.0%} busy", flush=True)
        cleanup(image_api)
    report(rows, limits, total_mb, options.concurrency)


def report(rows: dict, limits: dict, total_mb: float, concurrency: list[int]) -> None:
    peer_seconds = rows[PEER][0]
    limit_name = max(limits, key=limits.get)  # the slower of the two bounds a swift -> rbd copy
    limit_seconds = limits[limit_name]
    print(f"\n{'tool':18} {'seconds':>8} {'MB/s':>7} {'peak RSS':>9} {'host CPU':>8}  vs peer  "
          f"vs limit ({limit_name})")
    for name, seconds in limits.items():
        print(f"{'limit ' + name:18} {seconds:8.1f} {total_mb / seconds:7.1f} {'-':>9} {'-':>8}  "
              f"{peer_seconds / seconds:6.2f}x  {limit_seconds / seconds:6.2f}x")
    for mode, (seconds, rss, busy) in rows.items():
        print(f"{mode:18} {seconds:8.1f} {total_mb / seconds:7.1f} "
              f"{(f'{rss:.0f} MiB') if rss else '-':>9} {busy:8.0%}  {peer_seconds / seconds:6.2f}x  "
              f"{limit_seconds / seconds:6.2f}x")
    print(f"\n{WORKERS} workers over 1 (playbook, method direct, concurrency 1 each): "
          f"{rows['workers x1'][0] / rows[f'workers x{WORKERS}'][0]:.2f}x")
    for number in concurrency:
        if f"direct c={number}" in rows:
            print(f"direct over copy-image at concurrency {number}: "
                  f"{rows[f'copy-image c={number}'][0] / rows[f'direct c={number}'][0]:.2f}x")


if __name__ == "__main__":
    main()
