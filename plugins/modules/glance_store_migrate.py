#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_store_migrate
short_description: Move Glance image data from one store to another, verified, resumable
version_added: 0.1.0
description:
  - Moves every selected image's data out of O(source_store) (typically a Swift store being
    retired) into O(target_store) (typically the native Ceph rbd store) while the cloud keeps
    running. For each image, Glance's C(copy-image) import fills the target; the module waits,
    verifies the target copy, and only then removes the source copy with
    C(DELETE /v2/stores/{source}/{image}).
  - A source copy is never removed unless its target copy was verified. With O(verification=data) the
    target copy's bytes are read back from the target store (rbd or file) and hashed; a copy that
    does not match C(os_hash_value) is removed from the target and the source is kept.
  - The state lives in Glance, so a run killed at any point is picked up by the next one. An image
    already copied is verified and finished, not copied again; a copy Glance is still making
    (its import lock) is waited on; a failed copy (C(os_glance_failed_import)) is retried once.
  - Images with a location in the source store but no store tag are refused (copy-image needs
    tagged sources); run M(storeops.openstack.glance_location_backfill) first. The store of an
    untagged location is found with the url prefix options.
  - With O(method=direct) Glance does not carry the copy; the module streams each source copy from
    its store (Swift with the credentials of Glance's swift store, read from O(glance_api_conf) and
    its C(swift_store_config_file); or file, or rbd) into the target in the layout glance_store
    writes (for rbd an image named after the image id in the store's pool, with the protected
    snapshot C(snap); for file C(<filesystem_store_datadir>/<image id>), written as
    C(<image id>.partial) beside it, fsync'd, then linked into place, never over an existing file;
    for swift see below), hashing it with C(os_hash_algo) on the way; reads it back and hashes it;
    only then registers the location (O(backend)); then removes the source copy through Glance
    (and with O(verification=download) confirms that Glance serves the verified bytes). A swift source
    copy in glance_store's layout is deleted by the module first, with the credentials it read it with;
    its object (the DLO manifest) before its segments, so that Glance serves the verified target
    meanwhile, and the segments C(<image id>-00001)... in one bulk-delete request (a few DELETEs at a
    time where the cluster has no C(bulk_delete)); only objects with these names go. Glance then drops
    the location. The image is read again first - active, its target copy registered - and a
    manifest naming another prefix, or another location of the image naming the same object (two
    swift stores over one container), fails the image with nothing deleted; Glance's own delete would
    take every object under that prefix, or the other location's bytes. An SLO, or a location not in
    the swift store's C(swift+config://) form or not named after its image, is left to Glance's delete. A corrupt source is refused with the source
    kept. An image deleted during its copy leaves no copy behind (the run that wrote it removes
    it). A killed run leaves at most an unregistered target copy, which the next run removes
    (uncommitted) or verifies and registers (committed; a committed copy with other bytes than the
    image's, which this collection did not write, is refused and kept); partial target copies of
    deleted images are listed in check mode (RV(orphans)) and removed by a run.
  - Two O(method=direct) runs over the same images at once (AWX schedules colliding) never write one
    copy together. A partial rbd or file copy that another client has open (its rbd watch, its
    file lock) is left alone and the image reported C(in_progress); so is a killed run's partial rbd
    copy until Ceph drops the dead client's watch (C(osd_client_watch_timeout), 30 seconds by
    default), while a file lock goes with its process. A copy another run committed meanwhile is
    left to that run, and a location is registered once. Swift target copies take no lock.
  - O(method=direct) supports rbd, file and swift target stores, and swift, file and rbd source stores (an rbd
    source is read with the ceph.conf and user glance-api.conf gives that store); multi-tenant
    Swift stores are refused as source or target (Glance holds no credentials for their accounts), and so is a
    glance-api.conf whose target pool is not the one Glance reports.
  - A swift target is written with the credentials of Glance's swift store (its C(swift_store_config_file)
    reference, as for a swift source) into its C(swift_store_container), as glance_store's single-tenant
    store adds an image - one object C(<image id>) below C(swift_store_large_object_size), else a DLO,
    segments C(<image id>-00001), ... of C(swift_store_large_object_chunk_size) and a zero-byte manifest
    C(<image id>) whose C(X-Object-Manifest) is C(<container>/<image id>-) (glance_store's MB is 1,024,000
    bytes) - and registered as C(swift+config://<reference>/<container>/<image id>). The copy is first
    written as C(<image id>.partial) (the object, or a manifest of the very segments), read back through
    it, and only then is C(<image id>) made of it (the same manifest; or, for an object below
    C(swift_store_large_object_size), its bytes read from the partial and PUT again with
    C(If-None-Match), its ETag checked, since Swift's server-side copy would not refuse to replace an
    object), so no object at C(<image id>) was ever unverified. Each streamed PUT is sent once (never
    again with its body consumed); one whose token Swift refuses (revoked) fails the image with nothing of
    it stored, the connection's next request renews the token, and the next run copies the image again.
    A killed run's partial objects are
    invisible to Glance and removed by the next run before it writes again. Every object written carries
    C(X-Object-Meta-Storeops-Writer); segments or partial objects without it (another writer's, such as a
    Glance upload killed midway) are never replaced or deleted; the image fails in one line naming them.
    A store with C(swift_store_multiple_containers_seed) or without C(swift_store_config_file) (its
    locations would carry the credentials) is refused in one line, and so is O(backend=api) (Glance's API
    refuses C(swift+config://) locations).
  - A file target is written only where the module runs on the host that holds the store's
    C(filesystem_store_datadir) (read from O(glance_api_conf); a store with several
    C(filesystem_store_datadirs) is refused), as the user Glance runs as, so that Glance can read and
    delete the files; a datadir that is not a directory here, or not writable, is refused in one
    line. Its locations (C(file://)) are registered with O(backend=database) only, since Glance's
    API refuses them; O(backend=api) with a file target is refused in one line.
  - Every step is journaled (JSON Lines, mode 0600).
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.url_prefix
  - storeops.openstack.journal
attributes:
  check_mode:
    support: full
    description: Returns the plan (which images, how many bytes, in which order) and changes nothing.
  diff_mode:
    support: none
    description: The plan in check mode says what would change.
options:
  source_store:
    description: The store id the data leaves (C(/v2/info/stores)).
    type: str
    required: true
  target_store:
    description: The store id the data goes to; it must not be read-only.
    type: str
    required: true
  image_ids:
    description: Only these images.
    type: list
    elements: str
  name_pattern:
    description: Only images whose name matches this shell pattern (C(cirros-*)).
    type: str
  owner:
    description: Only images of this project id.
    type: str
  visibility:
    description: Only images of this visibility.
    type: str
    choices: [public, private, shared, community]
  min_size:
    description: Only images of at least this many bytes.
    type: int
  max_size:
    description: Only images of at most this many bytes.
    type: int
  status:
    description: Only images in this status; Glance copies active images only.
    type: str
    default: active
  limit:
    description: Act on at most this many images in this run (images already migrated do not count).
    type: int
  shard_index:
    description:
      - This run's shard, from 0 to O(shard_count) - 1. Images are split by a stable hash of their
        id, so runs with every index cover each image exactly once (AWX job slicing, several hosts).
    type: int
    default: 0
  shard_count:
    description: How many shards the migration is split into.
    type: int
    default: 1
  verification:
    description:
      - V(metadata) checks that the target is in the image's C(stores), that a location is tagged
        with it and that C(os_hash_value) did not change.
      - V(data) also reads the target copy back from the target store and recomputes the hash;
        it is the default when the source copy will be removed.
      - V(download) is V(data), and once the source copy is removed the image is downloaded once
        through Glance and hashed, to confirm what Glance serves (what Nova would get). The bytes were
        proven by the read-back already, so a mismatch fails the image loudly and changes nothing.
        It costs a full read through the Glance API per image. Not done with O(delete_source=false),
        when Glance may still serve the source copy (the result's reason says so).
      - With V(download), just before the source copy is removed the image gets the property
        C(storeops_download_unconfirmed) (set to O(target_store)), removed once the download confirmed
        the bytes. A run stopped (or failed) in between leaves it; the next run with V(download)
        downloads and confirms exactly the images that carry it (step C(confirm) in the plan), and a
        run with another O(verification) lists each as C(already_done) with its fix. Images
        migrated without it are never downloaded again.
    type: str
    choices: [metadata, data, download]
  delete_source:
    description: Remove the source copy once the target copy is verified.
    type: bool
    default: true
  concurrency:
    description:
      - Images in flight at once. Glance copies through its staging area, so each one in flight
        takes staging space the size of the image.
      - With O(method=direct), the copies streaming at once. An image whose copy is verified and
        registered makes way for the next one while its source copy is deleted, so up to as many
        images again may be in their last step.
    type: int
    default: 2
  max_duration:
    description:
      - Time budget in seconds. When it runs out no new image is started; those in flight finish
        and the rest is returned as RV(remaining).
    type: int
  copy_timeout:
    description: How long to wait for one image's copy, in seconds, before reporting it still in progress.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at an image being copied; at least 0.1.
    type: float
    default: 2.0
  target_access:
    description:
      - How to read the target store's bytes for O(verification=data) when it is an rbd store, and
        to write them with O(method=direct) (a swift target is written with the credentials of
        O(glance_api_conf), not these). Values
        missing here are taken from O(glance_api_conf)'s section of the target store.
      - The files named must exist on the host running the module; this is checked before
        anything is copied.
    type: dict
    suboptions:
      ceph_conf:
        description: The ceph.conf to connect with.
        type: path
      ceph_user:
        description: The Ceph user (without C(client.)).
        type: str
      ceph_keyring:
        description: The keyring of O(target_access.ceph_user), if ceph.conf does not name it.
        type: path
  method:
    description:
      - V(copy-image) has Glance copy the bytes (its C(copy-image) import); V(direct) moves them
        store to store from this host, Glance touched only for metadata (see the description).
    type: str
    choices: [copy-image, direct]
    default: copy-image
  backend:
    description:
      - How O(method=direct) registers the new location. V(database) inserts the location row with
        C(metadata.store) set to O(target_store) (needs O(database_connection) or O(glance_api_conf),
        and SQLAlchemy with the database's driver). V(api) adds it with a C(PATCH) (needs Glance's
        C(show_multiple_locations)); Glance re-derives the store tag, which is checked. V(api) serves
        rbd targets only (Glance refuses C(file://) and C(swift+config://) locations).
    type: str
    choices: [api, database]
    default: database
  database_connection:
    description:
      - SQLAlchemy URL of Glance's database, for O(backend=database) with O(method=direct). Defaults
        to the C([database] connection) of O(glance_api_conf). The module connects to it before the
        first image, in check mode too.
    type: str
  max_details:
    description: At most this many images are listed in each list of the result.
    type: int
    default: 100
requirements:
  - Ceph's Python bindings (python3-rbd) for O(verification=data) into an rbd store.
notes:
  - Needs admin credentials (C(DELETE /v2/stores) and every image's locations).
seealso:
  - module: storeops.openstack.glance_location_backfill
"""

EXAMPLES = r"""
- name: Plan the migration out of Swift (nothing changes)
  storeops.openstack.glance_store_migrate:
    cloud: production
    source_store: swift
    target_store: ceph
    glance_api_conf: /etc/glance/glance-api.conf
  check_mode: true
  register: plan

- name: Migrate for at most two hours, four images at a time, this host's half
  storeops.openstack.glance_store_migrate:
    cloud: production
    source_store: swift
    target_store: ceph
    glance_api_conf: /etc/glance/glance-api.conf
    concurrency: 4
    max_duration: 7200
    shard_index: 0
    shard_count: 2
"""

RETURN = r"""
counts:
  description:
    - V(selected) images with a copy in the source or target store; V(planned) for this run;
      V(migrated), V(already_done), V(skipped) (as well as RV(skipped)), V(failed), V(in_progress) by outcome;
      V(untagged) refused; V(remaining) left for a later run (time budget, O(limit), in progress,
      failed).
  returned: always
  type: dict
bytes_copied:
  description: Bytes of the images copied by this run.
  returned: always
  type: int
bytes_planned:
  description: Bytes of the images planned for this run.
  returned: always
  type: int
plan:
  description: The first O(max_details) planned images in order, with the next step and why.
  returned: always
  type: list
  elements: dict
images:
  description:
    - The first O(max_details) images acted on, with outcome, reason, fix and seconds.
    - An image that failed on an exception nothing expected (a bug, reported as such) also has
      C(bug), the exception's type, and C(traceback).
  returned: always
  type: list
  elements: dict
skipped:
  description:
    - The first O(max_details) images named in O(image_ids) that this run leaves out, each as
      C(id) and C(reason) (for instance C(status is deactivated, not active), C(no copy in swift),
      or not listed by Glance at all).
  returned: always
  type: list
  elements: dict
untagged:
  description: The first O(max_details) images refused for an untagged source location.
  returned: always
  type: list
  elements: dict
remaining:
  description: The first O(max_details) image ids left for a later run.
  returned: always
  type: list
  elements: str
duration_seconds:
  description: Wall time of the run.
  returned: always
  type: float
mb_per_second:
  description: RV(bytes_copied) per second of the run, in MB (10^6 bytes).
  returned: always
  type: float
method:
  description: O(method) as run.
  returned: always
  type: str
route:
  description:
    - How the bytes move and the location is registered, and why; for O(method=direct) it names how
      the source store is read (for Swift, with the credentials of glance-api.conf's swift store),
      where the copies are written (the rbd pool, the file store's directory on this host, or the swift
      store's container), and
      the registration route (V(database) or V(api)) with its reason.
  returned: always
  type: str
orphans:
  description:
    - With O(method=direct), the ids of images deleted from Glance whose partial target copy a killed
      run left, of this run's shard (O(shard_index)); check mode lists them, a run lists those it
      removed. One that cannot be removed does not stop the run; RV(notes) says why.
  returned: always
  type: list
  elements: str
notes:
  description:
    - What the run could not use or do without failing, one line each; store URL prefixes it could
      not compute, and each orphan (RV(orphans)) that could not be removed, with why.
  returned: always
  type: list
  elements: str
progress:
  description:
    - Where the whole migration stands after this run, in images (the roles print it with the
      P(storeops.openstack.progress_line#filter) filter) - C(total) selected images, C(done) those
      in the target only, C(left) the others (O(limit), time budget, failures, untagged),
      C(failed), C(moved) (finished by this run),
      C(seconds); C(bytes_total) and C(bytes_done) their sizes, C(bytes_moved) the
      bytes this run copied.
  returned: always
  type: dict
journal:
  description: Path of this run's journal, if it did anything.
  returned: when a step ran
  type: str
journal_url:
  description: Where the whole journal was shipped (C(<journal_url>/<run id>)); a warning tells when part of it is not there.
  returned: when a step ran, with O(journal_url)
  type: str
"""

import os
from dataclasses import replace

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotAuthorizedError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import service_connection
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import journal_path
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import secrets_in
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import open_database
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import matcher_from_options
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import URL_PREFIX_ARGUMENT_SPEC
from ansible_collections.storeops.openstack.plugins.module_utils._storage.journal_url import (
    JOURNAL_ARGUMENT_SPEC,
    journal_shipment,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.rbd import CEPH_ACCESS_ARGUMENT_SPEC, DEFAULT_CEPH_CONF
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.direct import (
    API,
    DATABASE,
    ApiRegistrar,
    DatabaseRegistrar,
    DirectMigrator,
    check_direct_stores,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.executor import (
    Migrator,
    open_journal,
    selected_images,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.options import (
    COPY_IMAGE,
    DATA,
    DIRECT,
    DOWNLOAD,
    METADATA,
    MigrationOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.plan import (
    Selection,
    plan_migration,
)
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.result import MigrationResult
from ansible_collections.storeops.openstack.plugins.module_utils._store_migration.targets import open_target


class GlanceStoreMigrate(StoreOpsModule):
    argument_spec = {
        "source_store": {"type": "str", "required": True},
        "target_store": {"type": "str", "required": True},
        "image_ids": {"type": "list", "elements": "str"},
        "name_pattern": {"type": "str"},
        "owner": {"type": "str"},
        "visibility": {"type": "str", "choices": ["public", "private", "shared", "community"]},
        "min_size": {"type": "int"},
        "max_size": {"type": "int"},
        "status": {"type": "str", "default": "active"},
        "limit": {"type": "int"},
        "shard_index": {"type": "int", "default": 0},
        "shard_count": {"type": "int", "default": 1},
        "verification": {"type": "str", "choices": [METADATA, DATA, DOWNLOAD]},
        "delete_source": {"type": "bool", "default": True},
        "concurrency": {"type": "int", "default": 2},
        "max_duration": {"type": "int"},
        "copy_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "float", "default": 2.0},
        "target_access": CEPH_ACCESS_ARGUMENT_SPEC,
        "method": {"type": "str", "choices": [COPY_IMAGE, DIRECT], "default": COPY_IMAGE},
        "backend": {"type": "str", "choices": [API, DATABASE], "default": DATABASE},
        "database_connection": {"type": "str", "no_log": True},
        **JOURNAL_ARGUMENT_SPEC,
        "max_details": {"type": "int", "default": 100},
        **URL_PREFIX_ARGUMENT_SPEC,
    }
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        params = self.params
        self._check_numbers()
        conf = GlanceApiConf(params["glance_api_conf"]) if params["glance_api_conf"] else None
        glance = GlanceClient(self.conn)
        detailed = self._stores(glance)
        matcher, notes = matcher_from_options(params, conf, detailed)
        if params["method"] == DIRECT:
            check_direct_stores(detailed, params["source_store"], params["target_store"], conf, params["backend"])
        selection = Selection(
            image_ids=tuple(dict.fromkeys(params["image_ids"])) if params["image_ids"] else None,
            name_pattern=params["name_pattern"], owner=params["owner"],
            visibility=params["visibility"], min_size=params["min_size"],
            max_size=params["max_size"], status=params["status"],
            shard_index=params["shard_index"], shard_count=params["shard_count"])
        plan = plan_migration(selected_images(glance, selection), selection, params["source_store"],
                              params["target_store"], matcher, params["limit"])
        options = self._options(conf, detailed)
        if params["method"] != DIRECT:
            options = replace(options, route="copy-image: Glance copies the bytes")
            return self._migrate(Migrator(glance, options, matcher, None), plan, selection, notes)
        target, options, registrar = self._direct(conf, glance, detailed, options)
        try:
            return self._migrate(DirectMigrator(glance, options, matcher, None, target, registrar), plan,
                                 selection, notes)
        finally:
            target.close()

    def _migrate(self, migrator: Migrator, plan, selection: Selection, notes: list[str]) -> dict:
        max_details = self.params["max_details"]
        orphans = migrator.orphans(selection)
        if self.check_mode or not (plan.planned or orphans):
            return MigrationResult.of_plan(migrator.options, plan, orphans).output(notes, max_details)
        path = journal_path(self.params["journal_dir"], "glance_store_migrate")
        migrator.journal = open_journal(path, migrator.options,
                                        journal_shipment(self.params, lambda: self.conn, path, self.ansible.warn))
        try:
            result = migrator.run(plan, orphans)
        finally:
            migrator.journal.close()
        result = replace(result, journal=migrator.journal.result_fields())  # its last shipment is at close
        output = result.output(notes, max_details)
        failure = result.failure()
        if failure:
            raise StoreOpsError(failure, **output)
        return output

    def _check_numbers(self) -> None:
        params = self.params
        for option in ("concurrency", "shard_count", "copy_timeout", "max_details"):
            if params[option] < 1:
                raise InvalidInputError(f"{option} must be at least 1, not {params[option]}")
        if not 0 <= params["shard_index"] < params["shard_count"]:
            raise InvalidInputError(f"shard_index must be from 0 to shard_count - 1 "
                                    f"({params['shard_count'] - 1}), not {params['shard_index']}")
        if params["limit"] is not None and params["limit"] < 1:
            raise InvalidInputError(f"limit must be at least 1, not {params['limit']}")
        if params["poll_interval"] < 0.1:  # less would hammer Glance with image reads
            raise InvalidInputError(f"poll_interval must be at least 0.1 seconds, not {params['poll_interval']}")
        if params["max_duration"] is not None and params["max_duration"] < 1:
            raise InvalidInputError(f"max_duration must be at least 1 second, not {params['max_duration']}")
        if params["source_store"] == params["target_store"]:
            raise InvalidInputError("source_store and target_store must differ")
        if params["verification"] == METADATA and params["delete_source"]:
            self.ansible.warn("verification=metadata with delete_source: source copies are removed "
                              "without reading their target copies back")

    def _stores(self, glance: GlanceClient) -> list[dict]:
        try:
            detailed = glance.stores_detail()
        except NotAuthorizedError:
            raise NotAuthorizedError(
                "glance_store_migrate needs admin credentials: these may not read "
                "/v2/info/stores/detail, every image's locations, nor delete a store's copy") from None
        known = {store["id"]: store for store in detailed}
        for option in ("source_store", "target_store"):
            if self.params[option] not in known:
                raise InvalidInputError(f"{option}: Glance has no store {self.params[option]!r}; "
                                        f"its stores are {', '.join(sorted(known))}")
        if str(known[self.params["target_store"]].get("read-only", "")).lower() == "true":
            raise InvalidInputError(f"target_store: {self.params['target_store']} is read-only")
        return detailed

    def _options(self, conf, detailed: list[dict]) -> MigrationOptions:
        params = self.params
        given = {key: value for key, value in (params["target_access"] or {}).items() if value}
        access = {**(conf.rbd_access(params["target_store"]) if conf else {}), **given}
        verify = params["verification"] or (DATA if params["delete_source"] else METADATA)
        target_type = _store_type(detailed, params["target_store"])
        if (verify != METADATA or params["method"] == DIRECT) and target_type == "rbd":
            self._check_ceph_files(access, given)
        return MigrationOptions(
            source=params["source_store"], target=params["target_store"], verify=verify,
            delete_source=params["delete_source"], concurrency=params["concurrency"],
            max_duration=params["max_duration"], copy_timeout=params["copy_timeout"],
            poll_interval=params["poll_interval"], access=access)

    def _direct(self, conf, glance, detailed: list[dict], options: MigrationOptions):
        """(the target (a DirectTarget), options with the source's access and the route, registrar) for
        method=direct, every need checked before the first image."""
        params = self.params
        source = params["source_store"]
        source_type = _store_type(detailed, source)
        if source_type == "swift":
            options = replace(options, source_access={"swift_connection": self._swift_connection(conf, source)})
            how = "swift read with the credentials of glance-api.conf's swift store"
        elif source_type == "rbd":  # its own cluster's access, which may not be the target's
            options = replace(options, source_access=conf.rbd_access(source))
            how = "rbd read with the ceph.conf and user of glance-api.conf's rbd store"
        else:
            how = "file read from its directory"
        if params["backend"] == DATABASE:
            database = open_database(params["database_connection"], conf, self.ansible.no_log_values)
            database.check_connection()  # now, not after the first image's bytes were written
            registrar = DatabaseRegistrar(database)
            why = "database (backend=database: Glance's API re-derives store tags)"
        else:
            registrar = ApiRegistrar(glance)
            why = "api (PATCH add, its store tag checked)"
        target_type = _store_type(detailed, params["target_store"])
        if target_type == "swift":  # written with the credentials Glance's swift store uses
            options = replace(options, access={
                **options.access, "swift_connection": self._swift_connection(conf, params["target_store"])})
        target = open_target(params["target_store"], target_type, conf, options.access)
        route = f"direct: {how}; written to {target.where}; location registered via {why}"
        return target, replace(options, method=DIRECT, route=route), registrar

    def _swift_connection(self, conf, store: str):
        """A connection with the credentials glance-api.conf gives the swift store ``store``."""
        auth, where = conf.swift_credentials(store)
        self.ansible.no_log_values.update(secrets_in(auth))
        region, interface = conf.swift_endpoint(store)
        return service_connection(auth, f"glance_api_conf: the swift credentials in {where}", region, interface)

    def _check_ceph_files(self, access: dict, given: dict) -> None:
        """Before anything is copied: a copy that cannot be read back would be left unverified."""
        for key in ("ceph_conf", "ceph_keyring"):
            path = access.get(key) or (DEFAULT_CEPH_CONF if key == "ceph_conf" else None)
            if path and not os.path.isfile(path):
                origin = "" if key in given else " (from glance_api_conf)" if key in access else " (the default)"
                raise InvalidInputError(
                    f"target_access.{key}: {path}{origin} is not a file on this host; give the "
                    f"one of the {self.params['target_store']} store's Ceph cluster "
                    "(verification=data reads the copies back), or verification=metadata")


def _store_type(detailed: list[dict], store: str) -> str | None:
    """The type (rbd, file, swift...) of a store Glance's store details list."""
    return next(found.get("type") for found in detailed if found["id"] == store)


def main():
    GlanceStoreMigrate()()


if __name__ == "__main__":
    main()
