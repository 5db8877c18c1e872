# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what the store url prefixes need from a glance-api.conf on the host running the module.

oslo.config files allow repeated keys (``filesystem_store_datadirs``), so this reads them with a
small tolerant parser rather than configparser, which rejects or overwrites duplicates.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import (
    HTTP_PREFIX,
    StorePrefix,
    cinder_prefix,
    file_prefix,
    rbd_prefix,
    s3_prefix,
    swift_config_prefix,
    swift_credentials_prefix,
)

Ini = dict[str, dict[str, list[str]]]
ONE_MB = 1000 * 1024  # glance_store's "MB" of the swift store's large-object sizes


@dataclass(frozen=True)
class SwiftLayout:
    """Where and how glance_store's single-tenant swift store adds an image."""

    reference: str  # in swift_store_config_file: the locations are swift+config://<reference>/...
    container: str
    large_object_size: int  # bytes: an image of at least this many is a DLO
    segment_size: int  # bytes of each of its segments
    create_container: bool


def parse_ini(text: str) -> Ini:
    """Sections of keys to every value given (in order); continuation lines are joined."""
    sections: Ini = {"DEFAULT": {}}
    section, last_key = sections["DEFAULT"], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if raw[0] in " \t" and last_key is not None:
            section[last_key][-1] += "\n" + line
            continue
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1].strip(), {})
            last_key = None
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        last_key = key.strip()
        section.setdefault(last_key, []).append(value.strip())
    return sections


def read_local_file(path: str) -> str:
    """The file as text; also the files glance-api.conf references, hence the message's wording."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as err:
        raise InvalidInputError(
            f"glance_api_conf: {path} is not UTF-8 text ({err.reason} at byte {err.start}); give "
            "the configuration file Glance itself reads") from None


class GlanceApiConf:
    """A glance-api.conf with the lookups the store prefixes and the database back end need."""

    def __init__(self, path: str, read_text: Callable[[str], str] = read_local_file):
        self.path = path
        self._read_text = read_text
        try:
            self.ini = parse_ini(read_text(path))
        except OSError as err:
            raise InvalidInputError(
                f"glance_api_conf: cannot read {path} ({err.strerror}); run the module on a "
                "Glance controller or give the right path") from None

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        values = self.ini.get(section, {}).get(key)
        return values[-1] if values else default

    def get_all(self, section: str, key: str) -> list[str]:
        return [part.strip() for value in self.ini.get(section, {}).get(key, [])
                for part in value.replace("\n", ",").split(",") if part.strip()]

    def _whole_number(self, section: str, key: str, default: str) -> int:
        value = self.get(section, key, default)
        try:
            return int(value)
        except ValueError:
            raise InvalidInputError(
                f"glance_api_conf: [{section}] {key} = {value!r} in {self.path} is not a whole "
                f"number; give the value Glance runs with, or remove the line for {default}") from None

    def enabled_backends(self) -> list[tuple[str, str]]:
        backends = []
        for item in self.get_all("DEFAULT", "enabled_backends"):
            store, _sep, kind = item.partition(":")
            backends.append((store.strip(), kind.strip()))
        return backends

    def rbd_access(self, store: str) -> dict[str, str]:
        """How Glance reaches an rbd store's cluster, as far as this file says: ``ceph_conf``, ``ceph_user``."""
        found = {"ceph_conf": self.get(store, "rbd_store_ceph_conf"), "ceph_user": self.get(store, "rbd_store_user")}
        return {key: value for key, value in found.items() if value}

    def swift_credentials(self, store: str) -> tuple[dict[str, str], str]:
        """The Keystone credentials Glance's swift store ``store`` uses, as openstacksdk's ``auth``,
        and where they were read (for messages).

        They come from the reference file (``swift_store_config_file``) or from the store's own
        ``swift_store_auth_address``/``_user``/``_key``; a ``user`` of ``project:user`` names both.
        """
        if self.get(store, "swift_store_multi_tenant", "false").lower() == "true":
            raise InvalidInputError(
                f"source_store: {store} is a multi-tenant swift store, whose objects are in each "
                "project's account and whose credentials Glance does not hold; use method=copy-image")
        config_file = self.get(store, "swift_store_config_file")
        if config_file:
            try:
                reference_name, reference = self._swift_reference(store)
            except OSError as err:
                raise InvalidInputError(
                    f"glance_api_conf: cannot read {config_file} ({err.strerror}), the "
                    f"swift_store_config_file of store {store}; run the module where Glance's "
                    "swift credentials are readable, or use method=copy-image") from None
            found = {key: (reference or {}).get(key, [None])[-1] for key in (
                "auth_address", "user", "key", "user_domain_id", "project_domain_id")}
            where = f"[{reference_name}] of {config_file}"
        else:
            found = {key: self.get(store, f"swift_store_{key}") for key in ("auth_address", "user", "key")}
            where = f"[{store}] of {self.path}"
        if not (found["auth_address"] and found["user"] and found["key"]):
            raise InvalidInputError(
                f"glance_api_conf: {where} has no auth_address, user and key for swift store "
                f"{store}; give the file Glance itself reads, or use method=copy-image")
        project, _sep, user = found["user"].rpartition(":")
        return {"auth_url": found["auth_address"], "username": user, "password": found["key"],
                "project_name": project, "user_domain_id": found.get("user_domain_id") or "default",
                "project_domain_id": found.get("project_domain_id") or "default"}, where

    def swift_layout(self, store: str) -> SwiftLayout:
        """How glance_store's swift store ``store`` lays an image out, for a target written as it
        would: InvalidInputError for what a direct write does not mirror."""
        fix = "use method=copy-image"
        if self.get(store, "swift_store_multi_tenant", "false").lower() == "true":
            raise InvalidInputError(
                f"target_store: {store} is a multi-tenant swift store, which writes each image into its "
                f"owner's account with the owner's token, and Glance holds no credentials for those; {fix}")
        seed = self._whole_number(store, "swift_store_multiple_containers_seed", "0")
        if seed:
            raise InvalidInputError(
                f"target_store: {store} spreads images over containers (swift_store_multiple_containers_seed "
                f"= {seed} in {self.path}), and method=direct writes a single container; {fix}")
        if not self.get(store, "swift_store_config_file"):
            raise InvalidInputError(
                f"target_store: {store} has no swift_store_config_file in {self.path}, so glance_store puts "
                "the store's credentials into each location URL, and method=direct registers swift+config:// "
                f"locations only; give the store a swift_store_config_file, or {fix}")
        sizes = {key: self._whole_number(store, key, default) for key, default in (
            ("swift_store_large_object_size", "5120"), ("swift_store_large_object_chunk_size", "200"))}
        for key, size in sizes.items():
            if size < 1:  # Glance itself refuses to start with it
                raise InvalidInputError(f"glance_api_conf: [{store}] {key} = {size} in {self.path} is below "
                                        "glance_store's minimum of 1; give the value Glance runs with")
        return SwiftLayout(
            reference=self.get(store, "default_swift_reference", "ref1"),
            container=self.get(store, "swift_store_container", "glance"),
            large_object_size=sizes["swift_store_large_object_size"] * ONE_MB,
            segment_size=sizes["swift_store_large_object_chunk_size"] * ONE_MB,
            create_container=self.get(store, "swift_store_create_container_on_put", "false").lower() == "true")

    def swift_endpoint(self, store: str) -> tuple[str | None, str]:
        """(region, interface) of the Swift endpoint Glance's swift store ``store`` uses."""
        endpoint_type = self.get(store, "swift_store_endpoint_type") or "publicURL"
        return self.get(store, "swift_store_region") or None, endpoint_type[:-3] if endpoint_type.endswith("URL") else endpoint_type

    def _swift_reference(self, store: str) -> tuple[str, dict[str, list[str]] | None]:
        """(name, section or None) of the swift store's reference in its swift_store_config_file."""
        reference_name = self.get(store, "default_swift_reference", "ref1")
        return reference_name, parse_ini(self._read_text(self.get(store, "swift_store_config_file"))).get(reference_name)

    def rbd_pool(self, store: str) -> str:
        """The pool of an rbd store, with glance_store's default."""
        return self.get(store, "rbd_store_pool", "images")

    def file_datadirs(self, store: str) -> list[str]:
        """The directories of a file store (``filesystem_store_datadirs`` without their
        priorities, else ``filesystem_store_datadir``), with glance_store's default."""
        datadirs = [entry.rsplit(":", 1)[0] if entry.rsplit(":", 1)[-1].isdigit() else entry
                    for entry in self.get_all(store, "filesystem_store_datadirs")]
        return datadirs or [self.get(store, "filesystem_store_datadir", "/var/lib/glance/images/")]

    def database_connection(self) -> str | None:
        return self.get("database", "connection")

    def prefixes(self) -> tuple[list[StorePrefix], list[tuple[str, str]]]:
        prefixes: list[StorePrefix] = []
        notes: list[tuple[str, str]] = []
        for store, kind in self.enabled_backends():
            compute = getattr(self, f"_{kind}_prefixes", None)
            if compute is None:
                notes.append((store, f"store {store}: unknown store type {kind!r} in {self.path}"))
                continue
            try:
                found = compute(store)
            except OSError as err:
                notes.append((store, f"store {store} ({kind}): cannot read {err.filename} ({err.strerror})"))
                continue
            if isinstance(found, str):
                notes.append((store, found))
            else:
                prefixes.extend(StorePrefix(store, prefix, "config", open_segment)
                                for prefix, open_segment in found)
        return prefixes, notes

    # One method per glance_store driver: a list of (prefix, open_segment), or a note.

    def _file_prefixes(self, store: str):
        return [(file_prefix(datadir), False) for datadir in self.file_datadirs(store)]

    def _rbd_prefixes(self, store: str):
        ceph_conf = self.rbd_access(store).get("ceph_conf", "/etc/ceph/ceph.conf")  # glance_store's default
        fsid = (parse_ini(self._read_text(ceph_conf)).get("global", {}).get("fsid") or [None])[-1]
        return [(rbd_prefix(fsid, self.rbd_pool(store)), False)]

    def _swift_prefixes(self, store: str):
        if self.get(store, "swift_store_multi_tenant", "false").lower() == "true":
            return (f"store {store}: multi-tenant swift prefixes depend on each project's "
                    "endpoint; give stores")
        container = self.get(store, "swift_store_container", "glance")
        seed = self._whole_number(store, "swift_store_multiple_containers_seed", "0")
        config_file = self.get(store, "swift_store_config_file")
        if not config_file:
            return [swift_credentials_prefix(
                self.get(store, "swift_store_auth_address", ""), self.get(store, "swift_store_user"),
                self.get(store, "swift_store_key"), container, seed)]
        reference_name, reference = self._swift_reference(store)
        if reference is None:
            return f"store {store}: reference [{reference_name}] is not in {config_file}"
        # Locations written before the config file was adopted carry the credentials form.
        return [swift_config_prefix(reference_name, container, seed),
                swift_credentials_prefix(reference.get("auth_address", [""])[-1],
                                         reference.get("user", [None])[-1],
                                         reference.get("key", [None])[-1], container, seed)]

    def _s3_prefixes(self, store: str):
        host, bucket = self.get(store, "s3_store_host"), self.get(store, "s3_store_bucket")
        if not host or not bucket:
            return f"store {store}: s3_store_host and s3_store_bucket are needed in {self.path}"
        return [(s3_prefix(host, bucket), False)]

    def _cinder_prefixes(self, store: str):
        return [(cinder_prefix(store), False)]

    def _http_prefixes(self, store: str):
        return [(HTTP_PREFIX, False)]
