"""Bring the whole local cloud up or down, and say how each daemon is doing."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable

from . import ceph, glance, keystone, mariadb, swift
from .install import install
from .layout import (GLANCE_URL, HOST, KEYSTONE_URL, PORTS, REGION, RGW_URL, Layout,
                     load_json, new_secrets, write_private)
from .procs import CloudError, http_status, pid_of, port_in_use, recorded_names, stop

ADMIN_CLOUD = "storeops-admin"
MEMBER_CLOUD = "storeops-member"


@dataclass(frozen=True)
class Daemon:
    name: str
    endpoint: str
    healthy: Callable[[], bool]


def _url_ok(url: str) -> Callable[[], bool]:
    return lambda: http_status(url) == 200


def _port_open(port: int) -> Callable[[], bool]:
    return lambda: port_in_use(port)


DAEMONS = [
    Daemon("ceph-mon", f"{HOST}:{PORTS['ceph-mon']}", _port_open(PORTS["ceph-mon"])),
    Daemon("ceph-mgr", "-", lambda: True),
    Daemon("ceph-osd", "-", lambda: True),
    Daemon("radosgw", RGW_URL, _url_ok(RGW_URL + "/")),
    Daemon("mariadb", f"{HOST}:{PORTS['mariadb']}", _port_open(PORTS["mariadb"])),
    Daemon("keystone", KEYSTONE_URL, _url_ok(KEYSTONE_URL)),
    *[Daemon(f"swift-{kind}", f"http://{HOST}:{PORTS[f'swift-{kind}']}",
             _url_ok(f"http://{HOST}:{PORTS[f'swift-{kind}']}/healthcheck"))
      for kind in ("account", "container", "object", "proxy")],
    Daemon("glance", GLANCE_URL, _url_ok(GLANCE_URL + "/versions")),
]


def status(layout: Layout) -> list[dict]:
    rows = []
    for daemon in DAEMONS:
        pid = pid_of(layout, daemon.name)
        state = "stopped" if pid is None else ("up" if daemon.healthy() else "unhealthy")
        rows.append({"name": daemon.name, "pid": pid, "state": state, "endpoint": daemon.endpoint,
                     "log": str(layout.log / f"{daemon.name}.log")})
    return rows


def up(layout: Layout) -> None:
    install(layout)
    rows = status(layout)
    if all(row["state"] == "up" for row in rows):
        print(f"local cloud already up ({len(rows)} daemons); {layout.clouds_yaml}")
        return
    if any(row["pid"] for row in rows):
        print("local cloud partly up: stopping it to start afresh", flush=True)
        down(layout)
    busy = [f"{name} port {port}" for name, port in PORTS.items() if port_in_use(port)]
    if busy:
        raise CloudError("ports in use by processes this launcher did not start: "
                         + ", ".join(busy) + "; stop them first")
    started = time.monotonic()
    layout.fresh_data_dir()
    secrets = new_secrets()
    write_private(layout.secrets_file, json.dumps(secrets, indent=2))
    try:
        facts = _start_services(layout, secrets)
    except BaseException:
        down(layout)
        raise
    write_private(layout.facts_file, json.dumps(facts, indent=2))
    write_private(layout.clouds_yaml, _clouds_yaml(secrets))
    print(f"local cloud up in {time.monotonic() - started:.0f}s; clouds.yaml: {layout.clouds_yaml}")


def _start_services(layout: Layout, secrets: dict) -> dict:
    # Ceph and Keystone+Swift do not depend on each other: start them side by side.
    ceph_facts: dict = {}
    failures: list[BaseException] = []

    def start_ceph() -> None:
        try:
            ceph_facts.update(ceph.up(layout, secrets))
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            failures.append(err)

    worker = threading.Thread(target=start_ceph, name="ceph")
    worker.start()
    try:
        database = mariadb.up(layout, secrets)
        keystone.up(layout, secrets)
        swift.up(layout, secrets)
    finally:
        worker.join()
    if failures:
        raise failures[0]
    glance_facts = glance.up(layout, secrets, ceph_facts, database)
    return {
        "region": REGION,
        "keystone": {"url": KEYSTONE_URL},
        "clouds_yaml": str(layout.clouds_yaml),
        "admin_cloud": ADMIN_CLOUD,
        "member_cloud": MEMBER_CLOUD,
        "glance": glance_facts,
        "swift": {"url": f"http://{HOST}:{PORTS['swift-proxy']}"},
        "ceph": ceph_facts,
        "secrets": secrets,
    }


def _clouds_yaml(secrets: dict) -> str:
    def cloud(name: str, user: str, password: str, project: str) -> str:
        return (f"  {name}:\n"
                f"    auth:\n"
                f"      auth_url: {KEYSTONE_URL}\n"
                f"      username: {user}\n"
                f"      password: {password}\n"
                f"      project_name: {project}\n"
                f"      user_domain_id: default\n"
                f"      project_domain_id: default\n"
                f"    region_name: {REGION}\n"
                f"    identity_api_version: 3\n"
                f"    interface: public\n")

    return ("# written by tools/cloud up; secrets are this throw-away cloud's own\nclouds:\n"
            + cloud(ADMIN_CLOUD, "admin", secrets["admin_password"], "admin")
            + cloud(MEMBER_CLOUD, "storeops-member", secrets["member_password"],
                    keystone.MEMBER_PROJECT))


def down(layout: Layout) -> list[str]:
    """Stop every daemon this launcher recorded, newest first; fail if a port stays bound."""
    order = [d.name for d in reversed(DAEMONS)]
    names = sorted(recorded_names(layout), key=lambda n: order.index(n) if n in order else -1)
    stopped = [name for name in names if stop(layout, name)]
    deadline = time.monotonic() + 10
    while (busy := [p for p in PORTS.values() if port_in_use(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    if busy and stopped:
        raise CloudError(f"ports still bound after stopping the cloud: {busy}")
    return stopped


def facts(layout: Layout) -> dict:
    if not layout.facts_file.is_file():
        raise CloudError(f"the local cloud has not been started ({layout.facts_file} missing): "
                         "run tools/cloud up")
    return load_json(layout.facts_file)
