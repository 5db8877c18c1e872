"""A Keystone token lifetime far shorter than an upload and its import waits must not fail a run."""
from __future__ import annotations

import os
import subprocess
import time
import uuid

import openstack
import pytest

from conftest import REPO
from glance_helpers import Glance

CLOUD = str(REPO / "tools" / "cloud")
TOKEN_SECONDS = 5


@pytest.fixture(scope="module")
def short_tokens(cloud):
    """Both tests under one short lifetime: each Keystone restart costs seconds."""
    subprocess.run([CLOUD, "token-expiration", str(TOKEN_SECONDS)], check=True, capture_output=True)
    yield
    subprocess.run([CLOUD, "token-expiration", "3600"], check=True, capture_output=True)


def test_upload_and_import_waits_outlive_the_token(short_tokens, run_playbook, cloud, tmp_path):
    image_file = tmp_path / "long.img"
    chunk = os.urandom(8 << 20)
    with open(image_file, "wb") as handle:
        for index in range(64):                  # 512 MiB, each 8 MiB chunk different
            handle.write(index.to_bytes(8, "big") + chunk[8:])
    name = f"gi-token-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    outcome = run_playbook("image.yml", name=name, filename=str(image_file),
                           stores=["fast", "cheap", "ceph"], upload_method="glance-direct")
    elapsed = time.monotonic() - started
    result = outcome.results["result"]
    assert outcome.returncode == 0 and not result.get("failed"), result.get("msg")
    assert elapsed > 3 * TOKEN_SECONDS, elapsed  # the run did outlive several tokens
    assert sorted(result["image"]["stores"]) == ["ceph", "cheap", "fast"]
    assert result["image"]["status"] == "active"
    openstack.connect(cloud=cloud["admin_cloud"]).image.delete(f"/images/{result['image']['id']}")


def test_a_migration_outlives_the_token(short_tokens, run_playbook, cloud, tmp_path):
    glance = Glance(cloud)
    prefix = f"mig-token-{uuid.uuid4().hex[:8]}"
    blobs = [os.urandom(size) for size in (40 << 20, 24 << 20, 3 << 20)]
    ids = [glance.upload(f"{prefix}-{n}", "swift", blob) for n, blob in enumerate(blobs)]
    started = time.monotonic()
    outcome = run_playbook("migrate.yml", name_pattern=f"{prefix}-*", concurrency=1,
                           glance_api_conf=cloud["glance"]["api_conf"], journal_dir=str(tmp_path))
    elapsed = time.monotonic() - started
    result = outcome.results["result"]
    assert outcome.returncode == 0 and not result.get("failed"), result.get("msg")
    assert elapsed > 3 * TOKEN_SECONDS, elapsed
    assert result["counts"]["migrated"] == 3
    assert all(glance.stores_of(image_id) == ["ceph"] for image_id in ids)
