"""Start, watch and stop the daemons the launcher owns, by recorded PID only."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .layout import HOST, Layout


class CloudError(Exception):
    """A failure the launcher explains in one line (service, cause, log file)."""


def run(argv: list[str], log: Path | None = None, **kwargs) -> str:
    """Run a set-up command; on failure name it and where its output went."""
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if log is not None:
        with open(log, "a") as handle:
            handle.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        where = f"; see {log}" if log else f": {result.stderr.strip()[-400:]}"
        raise CloudError(f"'{' '.join(argv[:3])}' failed with exit code {result.returncode}{where}")
    return result.stdout


def _pid_file(layout: Layout, name: str) -> Path:
    return layout.run / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a PID: guards against a recycled PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def start(layout: Layout, name: str, argv: list[str], env: dict | None = None) -> int:
    log = open(layout.log / f"{name}.log", "ab")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() signals exactly its tree
        env={**os.environ, **(env or {})},
        close_fds=True,
    )
    log.close()
    _pid_file(layout, name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    return proc.pid


def pid_of(layout: Layout, name: str) -> int | None:
    """The recorded PID if that very process is still alive."""
    try:
        pid_text, started = _pid_file(layout, name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_time(pid) == started else None


def recorded_names(layout: Layout) -> list[str]:
    if not layout.run.is_dir():
        return []
    return sorted(p.stem for p in layout.run.glob("*.pid"))


def stop(layout: Layout, name: str, grace: float = 15.0) -> bool:
    """SIGTERM the process group, wait, then SIGKILL. True if something was stopped."""
    pid = pid_of(layout, name)
    _pid_file(layout, name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if _start_time(pid) is None and not _group_alive(pid):
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    time.sleep(0.2)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[2]) == pgid:
            return True
    return False


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def http_status(url: str, timeout: float = 3.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


def wait_for(check: Callable[[], bool], service: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise CloudError(f"{service} did not become ready within {timeout:.0f}s; see {log}")
