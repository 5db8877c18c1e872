"""Kill a process the test started together with everything below it.

Ansible's worker runs each module in a session of its own (``setsid``), so killing the
playbook's process group leaves the module running: that tests overlap, not a crash. The
module stays a descendant of ``ansible-playbook`` by parent pid, so walking the tree finds it,
and only it: processes other tests or other users started are never touched.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name (field 2) may hold spaces and parentheses: split after its ')'
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    children = _children()
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def module_running(pid: int, module: str) -> bool:
    """Whether the AnsiballZ wrapper of ``module`` runs below ``pid``."""
    return any(f"AnsiballZ_{module}" in command_line(child) for child in descendants(pid))


def wait_for_module(pid: int, module: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not module_running(pid, module):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{module} did not start below process {pid}")
        time.sleep(0.1)


def kill_tree(pid: int) -> list[int]:
    """Stop the whole tree first (no parent can reap or respawn), then SIGKILL it; return the pids."""
    tree = descendants(pid)
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for member in tree:
            try:
                os.kill(member, signum)
            except ProcessLookupError:
                continue
    return tree


def kill_module_when(argv: list[str], env: dict[str, str], cwd, module: str,
                     ready: Callable[[], bool], timeout: float = 300, poll: float = 0.05) -> list[int]:
    """Run a playbook, and once ``module`` runs and ``ready()`` holds (asked every ``poll``
    seconds, until ``timeout`` passed), kill its whole tree; wait until the module's processes
    are gone and return their pids."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_module(proc.pid, module)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not ready():
            time.sleep(poll)
        wrappers = [pid for pid in descendants(proc.pid) if f"AnsiballZ_{module}" in command_line(pid)]
    finally:
        killed = kill_tree(proc.pid)
        proc.wait()
    assert wrappers and set(wrappers) <= set(killed)  # the module itself died, not only the playbook
    deadline = time.monotonic() + 30  # SIGKILL lands once the process leaves the kernel (rbd I/O)
    while any("AnsiballZ" in command_line(pid) for pid in wrappers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any("AnsiballZ" in command_line(pid) for pid in wrappers)
    return wrappers
