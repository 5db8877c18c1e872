"""Glance (multi-store: two file stores, swift, rbd) under uWSGI with Keystone auth."""
from __future__ import annotations

import json
import shutil
import urllib.request
from string import Template

from .ceph import conf_path as ceph_conf_path
from .keystone import token, write_uwsgi_ini
from .layout import GLANCE_URL, KEYSTONE_URL, TEMPLATES, Layout
from .procs import http_status, run, start, wait_for

STORES = ("fast", "cheap", "swift", "ceph")


def up(layout: Layout, secrets: dict, ceph: dict, database: dict) -> dict:
    gdir = layout.service_dir("glance")
    for sub in ("images", "images2", "staging", "tasks"):
        (gdir / sub).mkdir(exist_ok=True)
    keystone = KEYSTONE_URL.rsplit("/", 1)[0]
    values = dict(dir=gdir, log=layout.log, keystone=keystone, keystone_v3=KEYSTONE_URL,
                  glance_url=GLANCE_URL, password=secrets["glance_password"],
                  rbd_pool=ceph["rbd_pool"], ceph_conf=ceph_conf_path(layout),
                  database_url=database["url"])
    for template, target in (("glance-api.conf", "glance-api.conf"),
                             ("glance-swift-store.conf", "swift-store.conf")):
        (gdir / target).write_text(
            Template((TEMPLATES / template).read_text()).substitute(**values))
    (gdir / "swift-store.conf").chmod(0o600)
    shutil.copy(layout.venv / "etc" / "glance" / "glance-api-paste.ini", gdir)
    run([layout.venv_bin("glance-manage"), "--config-file", str(gdir / "glance-api.conf"),
         "db_sync"], layout.log / "glance-setup.log")
    ini = write_uwsgi_ini(layout, "glance", "glance.wsgi.api:application",
                          "OS_GLANCE_CONFIG_DIR", gdir)
    start(layout, "glance", [layout.venv_bin("uwsgi"), "--ini", str(ini)])
    wait_for(lambda: http_status(GLANCE_URL + "/versions") == 200, "glance",
             layout.log / "glance.log")
    wait_for(lambda: _stores_listed(secrets) == set(STORES), "glance stores",
             layout.log / "glance-api-app.log")
    return {"url": GLANCE_URL, "stores": {
        "fast": {"type": "file", "data_dir": str(gdir / "images")},
        "cheap": {"type": "file", "data_dir": str(gdir / "images2")},
        "swift": {"type": "swift", "container": "glance", "reference": "ref1"},
        "ceph": {"type": "rbd", "pool": ceph["rbd_pool"], "fsid": ceph["fsid"]},
    }, "default_store": "fast", "config_dir": str(gdir), "api_conf": str(gdir / "glance-api.conf"),
        "database_url": database["url"]}


def _stores_listed(secrets: dict) -> set[str]:
    auth = token("admin", secrets["admin_password"], "admin")
    request = urllib.request.Request(GLANCE_URL + "/v2/info/stores", headers={"X-Auth-Token": auth})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return {store["id"] for store in json.load(response)["stores"]}
    except OSError:
        return set()
