# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of swift_object_migrate: which containers, into which buckets, then the copy and its report.

The module checks its options and hands them over as a ``MigrationRequest``; ``migrate_objects``
returns the module's result, or raises StoreOpsError carrying it when objects failed (or, with
``on_conflict: fail``, conflicted).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError, StoreOpsError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import (
    JsonlJournal,
    Shipment,
    journal_path,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.executor import (
    ObjectEnds,
    ObjectMigrator,
    ObjectOptions,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import (
    MIB,
    buckets_for,
    is_segment_container,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.report import ObjectReport
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.result import Outcome

JOURNAL_KIND = "storeops.openstack.swift_object_migrate"


@dataclass(frozen=True)
class MigrationRequest:
    """The module's options, checked."""

    s3_endpoint_url: str
    s3_access_key: str
    s3_secret_key: str = field(repr=False)  # a traceback or a log showing the request leaves it out
    s3_region: str = "us-east-1"
    s3_verify: bool | str = True  # a CA bundle's path, or whether to check certificates
    containers: tuple[str, ...] = ()  # none: every container of the account
    include_segment_containers: bool = False
    prefix: str = ""
    bucket_names: Mapping[Any, Any] = field(default_factory=dict)
    bucket_name_template: str = "{container}"
    part_size_mb: int = 16
    uploads_per_object: int = 2
    concurrency: int = 4
    delete_source: bool = False
    on_conflict: str = "skip"
    journal_dir: str = "~/.storeops/journals"
    max_details: int = 100
    limit: int | None = None          # objects copied at most (current copies do not count)
    max_duration: int | None = None   # seconds after which no copy starts


def _object_ends(conn, request: MigrationRequest) -> ObjectEnds:
    return ObjectEnds(conn, request.s3_endpoint_url, request.s3_access_key, request.s3_secret_key,
                      request.s3_region, request.s3_verify, request.part_size_mb * MIB,
                      request.uploads_per_object, request.concurrency)


def migrate_objects(conn, request: MigrationRequest, check_mode: bool,
                    ends_for: Callable[[Any, MigrationRequest], ObjectEnds] = _object_ends,
                    shipment_of: Callable[[str], Shipment | None] = lambda path: None) -> dict[str, Any]:
    """The run; ``ends_for`` makes its ObjectEnds (a test gives small fakes), ``shipment_of(path)``
    says where the journal at ``path`` ships too (``journal_url``), if anywhere."""
    journal_file = journal_path(request.journal_dir, "swift_object_migrate")
    shipment = None if check_mode else shipment_of(journal_file)  # checked before any bucket is made
    ends = ends_for(conn, request)
    containers, skipped_containers = _containers(ends, request)
    restoring = ends.restoring_containers(containers) if request.delete_source else []
    if restoring:
        raise InvalidInputError(f"delete_source: the container {restoring[0]!r} keeps versions (X-Versions-Location "
                                "or X-Versions-Enabled), so a DELETE there brings an older version back; "
                                "migrate it without delete_source, or switch it to X-History-Location first")
    buckets = buckets_for(containers, request.bucket_names, request.bucket_name_template)
    exists, created = ends.prepare_buckets(set(buckets.values()), create=not check_mode)

    options = ObjectOptions(part_size=request.part_size_mb * MIB, concurrency=request.concurrency,
                            delete_source=request.delete_source, prefix=request.prefix,
                            dry_run=check_mode, on_conflict=request.on_conflict,
                            account=ends.swift_account())
    journal = JsonlJournal(journal_file, {"journal": JOURNAL_KIND, "version": 1, "endpoint": request.s3_endpoint_url},
                           shipment)
    report = ObjectReport(buckets, {c: b in created or (check_mode and not exists[b])
                                    for c, b in buckets.items()}, request.max_details)
    began = time.monotonic()
    try:
        budget = SliceBudget(request.limit, request.max_duration)
        ObjectMigrator(ends.swift, ends.s3, options, journal, budget).run(
            [(c, buckets[c], exists[buckets[c]] or buckets[c] in created) for c in containers], report.add)
    finally:
        journal.close()
        ends.close()
    counts = report.counts
    result = {"changed": bool(created or counts[Outcome.COPIED] or counts["source_deleted"] or counts[Outcome.PLANNED]
                              or (check_mode and not all(exists.values()))),
              **report.result(time.monotonic() - began), "skipped_containers": skipped_containers}
    result.update(journal.result_fields())
    _raise_for_failures(result, request.on_conflict)
    return result


def _raise_for_failures(result: dict[str, Any], on_conflict: str) -> None:
    counts = result["counts"]
    failed = result["failures"]
    if failed:
        raise StoreOpsError(f"{counts[Outcome.FAILED]} of {counts['objects']} objects failed; "
                            f"first: {failed[0]['container']}/{failed[0]['name']}: {failed[0]['reason']} "
                            f"(fix: {failed[0]['fix']})", **result)
    conflicts = result["conflicts"]
    if conflicts and on_conflict == "fail":
        raise StoreOpsError(f"{counts[Outcome.CONFLICT]} of {counts['objects']} keys are not this "
                            f"collection's copies (on_conflict: fail); first: {conflicts[0]['bucket']}/"
                            f"{conflicts[0]['name']}: {conflicts[0]['reason']} (fix: {conflicts[0]['fix']})",
                            **result)


def _containers(ends: ObjectEnds, request: MigrationRequest) -> tuple[list[str], list[dict[str, str]]]:
    """The containers to copy, and the segment containers of the account left out (and why)."""
    if request.containers:
        missing = [c for c in request.containers if not ends.swift(c).container_exists()]
        if missing:
            raise InvalidInputError(f"containers: Swift has no container {', '.join(map(repr, missing))} in "
                                    f"the account {ends.swift_account()}; check the names and the cloud's project")
        return list(dict.fromkeys(request.containers)), []
    chosen, skipped = [], []
    for name in ends.account_containers():
        if is_segment_container(name) and not request.include_segment_containers:
            skipped.append({"container": name, "reason": "a segment container: its objects are copied "
                            "inside their manifests (include_segment_containers copies it too)"})
        else:
            chosen.append(name)
    return chosen, skipped
