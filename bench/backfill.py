"""Benchmark: glance_location_backfill on 10,000 legacy images, against Glance's own lazy update.

Creates the legacy state in bulk (image and location rows straight into Glance's database, a
small real file behind each location so Glance's PATCH validation sees real data), then per run
resets every location to untagged and measures:

- this module with backend=database and backend=api (the module process alone: wall time from
  its own result, peak RSS from the kernel's accounting of the child process);
- the peer: a GET of every image, the way Glance backfills lazily, with the same concurrency.

Run with `make bench-backfill` (the local cloud must be up; `make cloud`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openstack
import sqlalchemy

from common import COLLECTIONS, facts, run_module

TAG = "storeops-bench-backfill"


def seed(engine, cloud: dict, count: int) -> list[str]:
    """Insert ``count`` legacy images (half in each nested file store) unless already there."""
    with engine.begin() as conn:
        existing = [r.id for r in conn.execute(sqlalchemy.text(
            "SELECT id FROM images WHERE name = :n AND deleted = 0 ORDER BY id"), {"n": TAG})]
        if len(existing) >= count:
            return existing[:count]
        stores = cloud["glance"]["stores"]
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        images, locations = [], []
        for index in range(count - len(existing)):
            image_id = str(uuid.uuid4())
            data_dir = stores["fast" if index % 2 else "cheap"]["data_dir"]
            path = Path(data_dir) / image_id
            path.write_bytes(b"x")
            images.append({"id": image_id, "name": TAG, "size": 1, "status": "active", "created_at": now,
                           "deleted": False, "disk_format": "raw", "container_format": "bare",
                           "checksum": hashlib.md5(b"x").hexdigest(), "owner": None, "min_disk": 0,
                           "min_ram": 0, "protected": False, "virtual_size": 1, "visibility": "public",
                           "os_hidden": False, "os_hash_algo": "sha512",
                           "os_hash_value": hashlib.sha512(b"x").hexdigest()})
            locations.append({"image_id": image_id, "value": f"file://{path}", "meta_data": "{}",
                              "deleted": False, "status": "active", "created_at": now})
        conn.execute(sqlalchemy.text(
            "INSERT INTO images (id, name, size, status, created_at, deleted, disk_format, "
            "container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, "
            "visibility, os_hidden, os_hash_algo, os_hash_value) VALUES (:id, :name, :size, "
            ":status, :created_at, :deleted, :disk_format, :container_format, :checksum, :owner, "
            ":min_disk, :min_ram, :protected, :virtual_size, :visibility, :os_hidden, "
            ":os_hash_algo, :os_hash_value)"), images)
        conn.execute(sqlalchemy.text(
            "INSERT INTO image_locations (image_id, value, meta_data, deleted, status, created_at) "
            "VALUES (:image_id, :value, :meta_data, :deleted, :status, :created_at)"), locations)
    return seed(engine, cloud, count)


def untag(engine, ids: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(
            "UPDATE image_locations SET meta_data = '{}' WHERE deleted = 0 AND image_id IN :ids"
        ).bindparams(sqlalchemy.bindparam("ids", expanding=True)), {"ids": ids})


def tag_quality(engine, cloud: dict, ids: list[str]) -> dict[str, int]:
    """How many locations carry the right store (by their directory), a wrong one, or none."""
    dirs = {name: f"file://{store['data_dir']}/" for name, store in cloud["glance"]["stores"].items()
            if store["type"] == "file"}
    counts = {"right": 0, "wrong": 0, "untagged": 0}
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT value, meta_data FROM image_locations WHERE deleted = 0 AND image_id IN :ids"
        ).bindparams(sqlalchemy.bindparam("ids", expanding=True)), {"ids": ids})
        for row in rows:
            store = json.loads(row.meta_data or "{}").get("store")
            if store is None:
                counts["untagged"] += 1
            else:
                counts["right" if row.value.startswith(dirs[store]) else "wrong"] += 1
    return counts


def peer_lazy_get(cloud: dict, ids: list[str], concurrency: int) -> float:
    image = openstack.connect(cloud=cloud["admin_cloud"]).image
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        for response in pool.map(lambda i: image.get(f"/images/{i}"), ids):
            response.raise_for_status()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--collections", type=Path, default=COLLECTIONS)
    options = parser.parse_args()
    cloud = facts()
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    engine = sqlalchemy.create_engine(cloud["glance"]["database_url"])
    started = time.monotonic()
    ids = seed(engine, cloud, options.images)
    print(f"{len(ids)} legacy images ready in {time.monotonic() - started:.1f}s")
    common = {"cloud": cloud["admin_cloud"], "glance_api_conf": cloud["glance"]["api_conf"],
              "image_ids": ids, "journal_dir": tempfile.mkdtemp(prefix="bench-journal-"),
              "concurrency": options.concurrency, "batch_size": 1000}
    rows = []
    for backend in ("database", "api"):
        untag(engine, ids)
        _seconds, rss, result = run_module(options.collections, "glance_location_backfill",
                                            {**common, "backend": backend})
        seconds = result["duration_seconds"]
        rows.append((f"module backend={backend}", seconds, len(ids) / seconds, rss,
                     tag_quality(engine, cloud, ids), result["counts"]["written"]))
    untag(engine, ids)
    seconds = peer_lazy_get(cloud, ids, options.concurrency)
    rows.append((f"peer: GET each image (x{options.concurrency})", seconds, len(ids) / seconds, None,
                 tag_quality(engine, cloud, ids), None))
    print(f"\n{'run':34} {'seconds':>8} {'images/s':>9} {'peak RSS':>9}  store tags afterwards")
    for name, seconds, rate, rss, tags, _written in rows:
        print(f"{name:34} {seconds:8.2f} {rate:9.0f} {f'{rss:.0f} MiB' if rss else '-':>9}  {tags}")
    peer_rate = rows[-1][2]
    print(f"\nratios vs the peer: database {rows[0][2] / peer_rate:.1f}x, api {rows[1][2] / peer_rate:.1f}x")
    print("targets: database >= 5000 images/s, api >= 200 images/s, peak RSS < 200 MiB")


if __name__ == "__main__":
    main()
