"""The launcher's promises that tests can check without tearing the cloud down."""
from __future__ import annotations

import subprocess

from conftest import REPO

CLOUD = str(REPO / "tools" / "cloud")


def pids() -> dict[str, str]:
    status = subprocess.run([CLOUD, "status"], capture_output=True, text=True, check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    return {line.split()[0]: line.split()[2] for line in status.stdout.splitlines()}


def test_up_on_a_running_cloud_is_a_no_op(cloud):
    before = pids()
    again = subprocess.run([CLOUD, "up"], capture_output=True, text=True, check=True)
    assert "already up" in again.stdout
    assert pids() == before
    assert len(before) == 11 and all(pid != "pid=-" for pid in before.values())


def test_env_points_at_the_generated_clouds_yaml(cloud):
    env = subprocess.run([CLOUD, "env"], capture_output=True, text=True, check=True).stdout
    assert f"OS_CLIENT_CONFIG_FILE={cloud['clouds_yaml']}" in env
