"""A Keystone token lifetime far shorter than an upload and its import waits must not fail a run."""
from __future__ import annotations

import os
import subprocess
import time
import uuid

import openstack
import pytest

from conftest import REPO

CLOUD = str(REPO / "tools" / "cloud")
TOKEN_SECONDS = 5


@pytest.fixture
def short_tokens(cloud):
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
    assert elapsed > 3 * TOKEN_SECONDS  # the run did outlive several tokens
    assert sorted(result["image"]["stores"]) == ["ceph", "cheap", "fast"]
    assert result["image"]["status"] == "active"
    openstack.connect(cloud=cloud["admin_cloud"]).image.delete(f"/images/{result['image']['id']}")
