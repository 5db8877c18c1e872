"""tools/cloud up | down | status | env | install | token-expiration SECONDS | ceph-bindings VENV"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import shutil
import sys
from pathlib import Path

from . import cloud, keystone
from .install import install, link_ceph_bindings
from .layout import Layout
from .procs import CloudError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/cloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="install what is missing and start the cloud (no-op if up)")
    down = commands.add_parser("down", help="stop the daemons this launcher started")
    down.add_argument("--purge", action="store_true", help="also delete all state and venvs")
    commands.add_parser("status", help="one line per daemon; exit 1 unless all are up")
    commands.add_parser("env", help="print shell exports for the openstack CLI and tests")
    commands.add_parser("install", help="install packages and the servers venv only")
    expiry = commands.add_parser("token-expiration", help="restart Keystone with another token lifetime")
    expiry.add_argument("seconds", type=int)
    bindings = commands.add_parser("ceph-bindings", help="make Debian's rados/rbd importable in a venv")
    bindings.add_argument("venv")
    args = parser.parse_args(argv)
    layout = Layout.from_env()
    try:
        with _exclusive(layout, args.command):
            return _run(args, layout)
    except CloudError as err:
        print(f"tools/cloud {args.command}: {err}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _exclusive(layout: Layout, command: str):
    """Commands that start or stop daemons wait for each other: a second ``up`` while a first is
    starting the cloud would see it "partly up" and stop it (test sessions call ``up`` at once)."""
    if command not in ("up", "down", "token-expiration"):
        yield
        return
    layout.base.mkdir(parents=True, exist_ok=True)
    with open(layout.base / "launcher.lock", "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(args, layout: Layout) -> int:
    if args.command == "up":
        cloud.up(layout)
    elif args.command == "down":
        stopped = cloud.down(layout)
        print(f"stopped {len(stopped)} daemons" + (f": {', '.join(stopped)}" if stopped else ""))
        if args.purge:
            shutil.rmtree(layout.base, ignore_errors=True)
    elif args.command == "status":
        rows = cloud.status(layout)
        for row in rows:
            print(f"{row['name']:16} {row['state']:9} pid={row['pid'] or '-':<8} "
                  f"{row['endpoint']:36} {row['log']}")
        return 0 if all(row["state"] == "up" for row in rows) else 1
    elif args.command == "env":
        facts = cloud.facts(layout)
        print(f"export OS_CLIENT_CONFIG_FILE={facts['clouds_yaml']}")
        print(f"export OS_CLOUD={facts['admin_cloud']}")
        print(f"export STOREOPS_CLOUD_FACTS={layout.facts_file}")
        print(f"export CEPH_CONF={facts['ceph']['conf']}")
        print(f"export PATH={layout.venv / 'bin'}:$PATH  # openstack, swift CLIs")
    elif args.command == "install":
        install(layout)
    elif args.command == "token-expiration":
        keystone.set_token_expiration(layout, args.seconds)
        print(f"keystone restarted: tokens now live {args.seconds}s")
    elif args.command == "ceph-bindings":
        link_ceph_bindings(Path(args.venv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
