"""Many workers, the way AWX spreads a job: migrate_store over an inventory group of worker hosts."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import in_shard
from glance_helpers import Glance

WORKERS = 3


def test_three_workers_with_their_shards_in_host_vars_migrate_each_image_exactly_once(
        playbook_command, cloud, tmp_path):
    glance = Glance(cloud)
    prefix = f"workers-{uuid.uuid4().hex[:8]}"
    images = {glance.upload(f"{prefix}-{index}", "swift", os.urandom(1 << 20)) for index in range(6)}
    inventory = tmp_path / "workers.yml"
    inventory.write_text(json.dumps({"store_migration_workers": {"hosts": {
        f"worker{index}": {"ansible_connection": "local", "store_migration_shard_index": index,
                           "store_migration_shard_count": WORKERS} for index in range(WORKERS)}}}))
    out = tmp_path / "results.json"
    argv, env = playbook_command("migrate_workers.yml", **{
        "migrate_store_hosts": "store_migration_workers", "out": str(out),
        "store_migration_cloud": cloud["admin_cloud"], "store_migration_source_store": "swift",
        "store_migration_target_store": "ceph", "store_migration_glance_api_conf": cloud["glance"]["api_conf"],
        "store_migration_name_pattern": f"{prefix}-*", "store_migration_concurrency": 1,
        "store_migration_require_complete": True, "store_migration_journal_dir": str(tmp_path / "journals")})
    proc = subprocess.run(argv[:1] + ["-i", str(inventory), "-f", str(WORKERS)] + argv[1:], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    results = json.loads(out.read_text())
    assert sorted(results) == [f"worker{index}" for index in range(WORKERS)]
    migrated_by = {}
    for worker, result in results.items():
        for image in result["images"]:
            assert image["outcome"] == "migrated", (worker, image)
            assert in_shard(image["id"], int(worker[-1]), WORKERS), (worker, image)  # its host's shard
            migrated_by.setdefault(image["id"], []).append(worker)
    assert set(migrated_by) == images  # all migrated ...
    assert all(len(workers) == 1 for workers in migrated_by.values()), migrated_by  # ... each once
    assert all(glance.stores_of(image) == ["ceph"] for image in images)
