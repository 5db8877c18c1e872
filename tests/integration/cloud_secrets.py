"""Every secret of the local cloud, gathered from its facts and the configs it generated, for
tests that prove none of them leaks."""
from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import urlsplit

import yaml

SECRET_OPTIONS = ("password", "key", "secret", "token")


def _conf(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(path)
    return parser


def cloud_secrets(cloud: dict) -> dict[str, str]:
    """Where each secret was found, and the secret."""
    found = {f"cloud.json secrets.{name}": value for name, value in cloud["secrets"].items()}
    rgw = cloud["ceph"]["rgw"]
    found.update({f"cloud.json ceph.rgw.{name}": rgw[name] for name in ("s3_access_key", "s3_secret_key", "swift_key")})
    found["cloud.json glance.database_url"] = cloud["glance"]["database_url"]
    found["database password"] = urlsplit(cloud["glance"]["database_url"]).password
    clouds = yaml.safe_load(Path(cloud["clouds_yaml"]).read_text())["clouds"]
    for name, entry in clouds.items():
        found[f"clouds.yaml {name} password"] = entry["auth"]["password"]
    api = _conf(cloud["glance"]["api_conf"])
    found["glance-api.conf [database] connection"] = api["database"]["connection"]
    files = [("glance-api.conf", api)]
    for section in api.sections():
        if api.has_option(section, "swift_store_config_file"):
            files.append(("swift store config", _conf(api[section]["swift_store_config_file"])))
    for label, parser in files:
        for section in parser.sections():
            for option, value in parser[section].items():
                if value and any(word in option for word in SECRET_OPTIONS):
                    found[f"{label} [{section}] {option}"] = value
            if parser.has_option(section, "user") and parser.has_option(section, "key"):
                # how a swift reference's credentials appear in a location URL
                found[f"{label} [{section}] user:key"] = f"{parser[section]['user']}:{parser[section]['key']}"
    return {where: value for where, value in found.items() if value}


def leaked(secrets: dict[str, str], text: str) -> list[str]:
    """Where the secrets that ``text`` holds were found (never the secrets themselves)."""
    return sorted(where for where, value in secrets.items() if value in text)
