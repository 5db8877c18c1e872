"""What every benchmark shares: the local cloud's facts and running a module or a tool as a child."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))  # the local cloud's seeding helpers
COLLECTIONS = REPO / ".build" / "collections"
CLOUD_DIR = Path(os.environ.get("STOREOPS_CLOUD_DIR", REPO / ".localcloud"))  # a worktree uses main's cloud


def facts() -> dict:
    return json.loads((CLOUD_DIR / "data" / "cloud.json").read_text())


def peak_rss_mib(pid: int) -> float:
    """The process's peak RSS so far (VmHWM): unlike wait4's, it starts at its exec, not at the fork."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def host_busy() -> Callable[[], float]:
    """Started now: returns how busy the host's CPUs were since, from 0 to 1 (every process, the
    cloud's services too: on a small host they share its cores with what is measured)."""
    def ticks() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    total, idle = ticks()

    def since() -> float:
        now_total, now_idle = ticks()
        return 1 - (now_idle - idle) / max(now_total - total, 1)
    return since


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err,  # pylint: disable=consider-using-with
                                env={**os.environ, **(env or {})})
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, peak_rss_mib(proc.pid))
            time.sleep(0.02)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        text = out.read()
        if proc.returncode != 0 and not text.startswith("{"):
            raise SystemExit(f"{argv[0]} failed: {(text + err.read())[-800:]}")
    return seconds, peak, text


def run_module(collections: Path, module: str, args: dict) -> tuple[float, float, dict]:
    """Run a module as Ansible would on the target: wall seconds, peak RSS (MiB), result."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    path = collections / "ansible_collections/storeops/openstack/plugins/modules" / f"{module}.py"
    seconds, rss, text = timed([sys.executable, str(path), handle.name], {"PYTHONPATH": str(collections)})
    os.unlink(handle.name)
    result = json.loads(text)
    if result.get("failed"):
        raise SystemExit(f"{module} failed: {result['msg']}")
    return seconds, rss, result
