"""Seed the local cloud with the legacy state a maintenance run is for, and write its vars file.

- images whose locations predate multi-store (no store tag), among them images in the ``cheap``
  store, whose prefix extends ``fast``'s: Glance's own lazy update would tag them ``fast``;
- images left in the ``swift`` store, one of them larger than the store's large-object size
  (so Swift holds it as a manifest and segments) and one untagged;
- the files of an image catalogue.

The vars file (YAML) feeds ``playbooks/maintenance.yml``. The state is seeded once per fresh
local cloud (a marker in its data directory); ``--prefix`` seeds another, separate set.

Usage: .venv/bin/python tools/seed_legacy.py [--prefix legacy] [--vars-out PATH] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import openstack
import sqlalchemy
import yaml

REPO = Path(__file__).resolve().parents[1]
# (store, untagged, size in bytes)
LEGACY_IMAGES = [("cheap", True, 1_200_000), ("cheap", True, 800_000), ("fast", True, 600_000),
                 ("swift", False, 12_000_000), ("swift", False, 3_000_000), ("swift", False, 500_000),
                 ("swift", True, 700_000), ("ceph", False, 400_000)]
CATALOG = [("catalog-cirros", 4_000_000, ["fast", "ceph"], "public"),
           ("catalog-tools", 2_000_000, ["ceph"], "private")]


def upload(image_api, name: str, store: str, data) -> str:
    """A raw image with ``data`` (bytes or an open file) in one store; its id."""
    response = image_api.post("/images", json={"name": name, "disk_format": "raw", "container_format": "bare"})
    response.raise_for_status()
    image_id = response.json()["id"]
    image_api.put(f"/images/{image_id}/file", data=data, headers={
        "Content-Type": "application/octet-stream", "X-Image-Meta-Store": store}).raise_for_status()
    return image_id


def seed(cloud: dict, prefix: str, state_dir: Path) -> dict:
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    image_api = openstack.connect(cloud=cloud["admin_cloud"]).image
    untagged = []
    for number, (store, strip_tag, size) in enumerate(LEGACY_IMAGES):
        image_id = upload(image_api, f"{prefix}-{store}-{number}", store, os.urandom(size))
        if strip_tag:
            untagged.append(image_id)
    engine = sqlalchemy.create_engine(cloud["glance"]["database_url"])
    with engine.begin() as conn:  # as a database from before multi-store looks
        conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{}' WHERE image_id IN :ids")
                     .bindparams(sqlalchemy.bindparam("ids", expanding=True)), {"ids": untagged})
    catalog_dir = state_dir / f"catalog-{prefix}"
    catalog_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for name, size, stores, visibility in CATALOG:
        path = catalog_dir / f"{name}.img"
        if not path.exists():
            path.write_bytes(os.urandom(size))
        images.append({"name": f"{prefix}-{name}", "filename": str(path),
                       "checksum": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
                       "stores": stores, "visibility": visibility, "tags": ["storeops-demo"],
                       "properties": {"os_distro": "cirros" if "cirros" in name else "debian"},
                       "keep_versions": 1})
    return {
        "maintenance_cloud": cloud["admin_cloud"],
        "maintenance_glance_api_conf": cloud["glance"]["api_conf"],
        "maintenance_expected_stores": sorted(cloud["glance"]["stores"]),
        "maintenance_report_dir": str(state_dir / f"reports-{prefix}"),
        "image_catalog_images": images,
        "location_backfill_backend": "database",
        "store_migration_source_store": "swift",
        "store_migration_target_store": "ceph",
        "store_migration_name_pattern": f"{prefix}-*",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="legacy")
    parser.add_argument("--vars-out", type=Path)
    parser.add_argument("--force", action="store_true", help="seed even if this prefix was seeded")
    options = parser.parse_args()
    state = Path(os.environ.get("STOREOPS_CLOUD_DIR", REPO / ".localcloud"))
    cloud = json.loads((state / "data" / "cloud.json").read_text())
    vars_out = options.vars_out or state / "data" / f"maintenance-{options.prefix}.yml"
    marker = state / "data" / f"seeded-{options.prefix}"
    if marker.exists() and vars_out.exists() and not options.force:
        print(f"legacy state '{options.prefix}' already seeded; vars file {vars_out}")
        return 0
    variables = seed(cloud, options.prefix, state / "data")
    vars_out.write_text("---\n" + yaml.safe_dump(variables, sort_keys=False))
    marker.touch()
    print(f"seeded legacy state '{options.prefix}' ({len(LEGACY_IMAGES)} images); vars file {vars_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
