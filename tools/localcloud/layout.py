"""Where the local cloud keeps its files, which ports it owns, and its generated secrets."""
from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"

HOST = "127.0.0.1"
PORTS = {
    "keystone": 5000,
    "glance": 9292,
    "swift-proxy": 8080,
    "swift-account": 6202,
    "swift-container": 6201,
    "swift-object": 6200,
    "ceph-mon": 3300,
    "ceph-mon-v1": 6789,
    "radosgw": 7480,
    "mariadb": 3306,
}
REGION = "RegionOne"
KEYSTONE_URL = f"http://{HOST}:{PORTS['keystone']}/v3"
GLANCE_URL = f"http://{HOST}:{PORTS['glance']}"
SWIFT_URL = f"http://{HOST}:{PORTS['swift-proxy']}"
RGW_URL = f"http://{HOST}:{PORTS['radosgw']}"


@dataclass(frozen=True)
class Layout:
    """All state lives under ``base``; ``data`` is recreated on every fresh start."""

    base: Path

    @classmethod
    def from_env(cls) -> Layout:
        return cls(Path(os.environ.get("STOREOPS_CLOUD_DIR", REPO / ".localcloud")).resolve())

    @property
    def venv(self) -> Path:
        return self.base / "venv-servers"

    def venv_bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.data / "log"

    @property
    def run(self) -> Path:
        return self.data / "run"

    def service_dir(self, name: str) -> Path:
        path = self.data / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def secrets_file(self) -> Path:
        return self.data / "secrets.json"

    @property
    def clouds_yaml(self) -> Path:
        return self.data / "clouds.yaml"

    @property
    def facts_file(self) -> Path:
        """Endpoints, store layout and credentials for tests (mode 0600)."""
        return self.data / "cloud.json"

    def fresh_data_dir(self) -> None:
        shutil.rmtree(self.data, ignore_errors=True)
        for path in (self.data, self.log, self.run):
            path.mkdir(parents=True)
        os.chmod(self.data, 0o700)


SECRET_NAMES = (
    "admin_password",
    "member_password",
    "glance_password",
    "glance_db_password",
    "swift_password",
    "s3_access_key",
    "s3_secret_key",
    "rgw_swift_key",
)


def new_secrets() -> dict[str, str]:
    # Random per cloud, so tests can search every output for them.
    values = {name: "so-" + secrets.token_hex(12) for name in SECRET_NAMES}
    values["s3_access_key"] = "SO" + secrets.token_hex(9).upper()
    return values


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
