"""Swift all-in-one: account, container, object and proxy servers, one replica, keystoneauth."""
from __future__ import annotations

import secrets as random
from string import Template

from .layout import HERE, HOST, KEYSTONE_URL, PORTS, TEMPLATES, Layout
from .procs import http_status, run, start, wait_for

STORAGE_KINDS = ("account", "container", "object")
DAEMONS = [f"swift-{kind}" for kind in (*STORAGE_KINDS, "proxy")]


def up(layout: Layout, secrets: dict) -> None:
    sdir = layout.service_dir("swift")
    (sdir / "node" / "d1").mkdir(parents=True, exist_ok=True)
    _render(sdir / "swift.conf", "swift.conf",
            hash_prefix=random.token_hex(8), hash_suffix=random.token_hex(8))
    for kind in STORAGE_KINDS:
        _render(sdir / f"{kind}-server.conf", "swift-storage-server.conf",
                kind=kind, port=PORTS[f"swift-{kind}"], dir=sdir)
    _render(sdir / "proxy-server.conf", "swift-proxy-server.conf", port=PORTS["swift-proxy"],
            dir=sdir, keystone=KEYSTONE_URL.rsplit("/", 1)[0], password=secrets["swift_password"])
    # -I: keep this folder (and its swift.py) off sys.path
    run([layout.venv_bin("python"), "-I", str(HERE / "swift_rings.py"), str(sdir)],
        layout.log / "swift-setup.log")
    for kind in (*STORAGE_KINDS, "proxy"):
        start(layout, f"swift-{kind}",
              [layout.venv_bin(f"swift-{kind}-server"), str(sdir / f"{kind}-server.conf"), "-v"])
    for kind in (*STORAGE_KINDS, "proxy"):
        port = PORTS[f"swift-{kind}"]
        wait_for(lambda port=port: http_status(f"http://{HOST}:{port}/healthcheck") == 200,
                 f"swift-{kind}", layout.log / f"swift-{kind}.log")


def _render(target, template: str, **values) -> None:
    target.write_text(Template((TEMPLATES / template).read_text()).substitute(**values))
