"""The Makefile's chromium target on a machine without Chromium: stand-in apt tools record what it runs."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_chromium(tmp_path: Path, package_known: bool, chromium_there: bool = False) -> list[str]:
    """The apt commands ``make chromium`` runs, with only the stand-ins (and bash) on its PATH."""
    tools, log = tmp_path / "bin", tmp_path / "apt.log"
    tools.mkdir()
    stand_ins = {"id": "echo 0", "apt-cache": f"echo \"apt-cache $*\" >> {log}; exit {0 if package_known else 100}",
                 "apt-get": f"echo \"apt-get $*\" >> {log}"}
    if chromium_there:
        stand_ins["chromium"] = "true"
    for name, body in stand_ins.items():
        (tools / name).write_text(f"#!/bin/bash\n{body}\n")
        (tools / name).chmod(0o755)
    subprocess.run(["/usr/bin/make", "-s", "-C", str(REPO), "chromium"], check=True, capture_output=True,
                   env={"PATH": str(tools)}, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("package_known, expected", [
    (False, ["apt-cache show chromium", "apt-get update -q", "apt-get install -y -q chromium"]),
    (True, ["apt-cache show chromium", "apt-get install -y -q chromium"]),
])
def test_the_package_lists_are_updated_only_when_they_do_not_know_chromium(tmp_path, package_known, expected):
    assert make_chromium(tmp_path, package_known) == expected


def test_nothing_runs_where_chromium_is_installed(tmp_path):
    assert make_chromium(tmp_path, package_known=False, chromium_there=True) == []
