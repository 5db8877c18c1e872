"""Test-side access to the local cloud's Glance: its API, its database, and its Swift container."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import openstack
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from seed_legacy import upload  # noqa: E402  pylint: disable=wrong-import-position


class Glance:
    def __init__(self, cloud: dict):
        self.image = openstack.connect(cloud=cloud["admin_cloud"]).image
        self.db = sqlalchemy.create_engine(cloud["glance"]["database_url"])

    def upload(self, name: str, store: str, data: bytes) -> str:
        return upload(self.image, name, store, data)

    def get(self, image_id: str) -> dict:
        response = self.image.get(f"/images/{image_id}")
        response.raise_for_status()
        return response.json()

    def stores_of(self, image_id: str) -> list[str]:
        return [s for s in (self.get(image_id).get("stores") or "").split(",") if s]

    def rows(self, image_ids) -> dict[tuple[str, str], dict]:
        with self.db.connect() as conn:
            rows = conn.execute(sqlalchemy.text(
                "SELECT image_id, value, meta_data FROM image_locations "
                "WHERE deleted = 0 AND image_id IN :ids").bindparams(
                    sqlalchemy.bindparam("ids", expanding=True)), {"ids": list(image_ids)})
            return {(r.image_id, r.value): json.loads(r.meta_data or "{}") for r in rows}

    def stores(self, image_ids) -> dict[str, set]:
        found: dict[str, set] = {}
        for (image_id, _url), meta in self.rows(image_ids).items():
            found.setdefault(image_id, set()).add(meta.get("store"))
        return found

    def execute(self, sql: str, **params) -> None:
        with self.db.begin() as conn:
            conn.execute(sqlalchemy.text(sql), params)


def glance_swift(cloud: dict):
    """The object store as Glance's swift store sees it (the service account of swift-store.conf)."""
    return openstack.connect(
        auth={"auth_url": cloud["keystone"]["url"], "username": "glance",
              "password": cloud["secrets"]["glance_password"], "project_name": "service",
              "user_domain_id": "default", "project_domain_id": "default"},
        region_name=cloud["region"], load_yaml_config=False, load_envvars=False).object_store


def image_task(run_playbook, name: str):
    """glance_image run through playbooks/image.yml with the options given (``name`` by default);
    returns its registered result."""
    def run(**options):
        options.setdefault("name", name)
        outcome = run_playbook("image.yml", **{k: str(v) if hasattr(v, "__fspath__") else v
                                               for k, v in options.items()})
        assert outcome.returncode == 0, outcome.output
        return outcome.results["result"]
    return run
