"""Keystone (sqlite, fernet) under uWSGI, plus the users, projects and services the cloud needs."""
from __future__ import annotations

import json
import os
import re
import urllib.request
from string import Template

from .layout import HOST, KEYSTONE_URL, PORTS, REGION, TEMPLATES, Layout
from .procs import CloudError, http_status, run, start, stop, wait_for

SERVICE_PROJECT = "service"
MEMBER_PROJECT = "storeops-member"


def write_uwsgi_ini(layout: Layout, name: str, module: str, config_env: str, config_dir,
                    threads: int = 4):
    ini = config_dir / f"{name}-uwsgi.ini"
    ini.write_text(Template((TEMPLATES / "uwsgi.ini").read_text()).substitute(
        port=PORTS[name], module=module, config_env=config_env, config_dir=config_dir,
        venv=layout.venv, threads=threads))
    return ini


def up(layout: Layout, secrets: dict) -> None:
    kdir = layout.service_dir("keystone")
    conf = kdir / "keystone.conf"
    conf.write_text(Template((TEMPLATES / "keystone.conf").read_text()).substitute(
        dir=kdir, log=layout.log,
        token_expiration=os.environ.get("STOREOPS_TOKEN_EXPIRATION", "3600")))
    manage = [layout.venv_bin("keystone-manage"), "--config-file", str(conf)]
    log = layout.log / "keystone-setup.log"
    run(manage + ["db_sync"], log)
    for command in ("fernet_setup", "credential_setup"):
        run(manage + [command, "--keystone-user", "root", "--keystone-group", "root"], log)
    run(manage + ["bootstrap", "--bootstrap-password", secrets["admin_password"],
                  "--bootstrap-admin-url", KEYSTONE_URL, "--bootstrap-public-url", KEYSTONE_URL,
                  "--bootstrap-internal-url", KEYSTONE_URL,
                  "--bootstrap-region-id", REGION], log)
    write_uwsgi_ini(layout, "keystone", "keystone.wsgi.api:application", "OS_KEYSTONE_CONFIG_DIR", kdir)
    _start(layout)
    _seed(secrets)


def _start(layout: Layout) -> None:
    ini = layout.service_dir("keystone") / "keystone-uwsgi.ini"
    start(layout, "keystone", [layout.venv_bin("uwsgi"), "--ini", str(ini)])
    wait_for(lambda: http_status(KEYSTONE_URL) == 200, "keystone", layout.log / "keystone.log")


def set_token_expiration(layout: Layout, seconds: int) -> None:
    """Restart Keystone alone with another token lifetime (tests of token expiry mid-run)."""
    conf = layout.service_dir("keystone") / "keystone.conf"
    conf.write_text(re.sub(r"^expiration = .*$", f"expiration = {seconds}", conf.read_text(),
                           flags=re.M))
    stop(layout, "keystone")
    _start(layout)


def token(username: str, password: str, project: str) -> str:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": username, "password": password, "domain": {"id": "default"}}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    request = urllib.request.Request(KEYSTONE_URL + "/auth/tokens", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["X-Subject-Token"]


class _Admin:
    """Just enough of the identity API to seed a fresh Keystone."""

    def __init__(self, password: str):
        self.token = token("admin", password, "admin")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            KEYSTONE_URL + path, json.dumps(body).encode() if body else None,
            {"Content-Type": "application/json", "X-Auth-Token": self.token}, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def create(self, collection: str, **attrs) -> str:
        member = collection[:-1]
        return self.call("POST", f"/{collection}", {member: attrs})[member]["id"]

    def role_id(self, name: str) -> str:
        roles = self.call("GET", f"/roles?name={name}")["roles"]
        if not roles:
            raise CloudError(f"keystone has no role {name!r} after bootstrap")
        return roles[0]["id"]

    def grant(self, project: str, user: str, role: str) -> None:
        self.call("PUT", f"/projects/{project}/users/{user}/roles/{role}")

    def service(self, kind: str, name: str, url: str) -> None:
        service_id = self.create("services", type=kind, name=name, enabled=True)
        for interface in ("public", "internal", "admin"):
            self.create("endpoints", service_id=service_id, interface=interface, url=url,
                        region_id=REGION, enabled=True)


def _seed(secrets: dict) -> None:
    admin = _Admin(secrets["admin_password"])
    admin_role, member_role = admin.role_id("admin"), admin.role_id("member")
    service = admin.create("projects", name=SERVICE_PROJECT, domain_id="default")
    for user in ("glance", "swift"):
        user_id = admin.create("users", name=user, password=secrets[f"{user}_password"],
                               domain_id="default", default_project_id=service)
        admin.grant(service, user_id, admin_role)
    member_project = admin.create("projects", name=MEMBER_PROJECT, domain_id="default")
    member = admin.create("users", name="storeops-member", password=secrets["member_password"],
                          domain_id="default", default_project_id=member_project)
    admin.grant(member_project, member, member_role)
    admin.service("image", "glance", f"http://{HOST}:{PORTS['glance']}")
    admin.service("object-store", "swift",
                  f"http://{HOST}:{PORTS['swift-proxy']}/v1/AUTH_%(project_id)s")
