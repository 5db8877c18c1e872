# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_summary
short_description: Summarise a maintenance run's stage results for its report
version_added: 0.1.0
description:
  - Turns the facts the maintenance stages publish (C(image_catalog_result),
    C(location_backfill_result), C(store_migration_result), C(object_migration_result),
    C(maintenance_verify_result); each
    role's README, Returns) into one summary per stage (what changed, what was
    skipped and why, failures with the fix to try, bytes moved, durations, remaining work) and
    totals. Only fields chosen here reach the summary, never a module's invocation, and the
    summary is redacted as module results are (a failure may come from Ansible itself).
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: Stage name to its published fact, for the stages that ran (C(catalog), C(backfill), C(migration), C(objects), C(verify)).
    type: dict
    required: true
  durations:
    description: Stage name to its duration in seconds.
    type: dict
  stores_before:
    description:
      - The stores with their images and bytes before the run, as
        M(storeops.openstack.glance_store_info) returns them with O(storeops.openstack.glance_store_info#module:usage=true).
      - When given (or O(stores_after) is), every store is in C(stores), not only those the run touched.
    type: list
    elements: dict
  stores_after:
    description: The same after the run.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Summarise the run
  ansible.builtin.set_fact:
    summary: "{{ {'catalog': image_catalog_result, 'backfill': location_backfill_result}
                 | storeops.openstack.maintenance_summary(durations=stage_durations) }}"
"""

RETURN = r"""
_value:
  description:
    - C(stages) (a list, in run order), C(totals), C(nothing_left_to_do), and C(stores), per
      store the images and bytes this run added and removed (the catalogue's uploads, the
      migration's copies to its target and, with C(delete_source), removals from its source),
      and C(images_before), C(bytes_before), C(images_after), C(bytes_after) from O(stores_before)
      and O(stores_after) (null when that reading was not given; zero for a store it lacks).
    - Numbers stay plain numbers; the P(storeops.openstack.human_bytes#filter) and
      P(storeops.openstack.human_duration#filter) filters render them.
  type: dict
"""

from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact

ORDER = ("catalog", "backfill", "migration", "objects", "verify")
TITLES = {"catalog": "Image catalogue", "backfill": "Location backfill",
          "migration": "Store migration", "objects": "Object migration", "verify": "Verification"}
CHANGED = "changed"
UNCHANGED = "unchanged"
FAILED = "failed"
ATTENTION = "attention"  # verification found something left


def _stage(name: str, **values) -> dict:
    stage = {"name": name, "title": TITLES[name], "status": UNCHANGED, "changed": 0, "changes": [],
             "skipped": [], "failures": [], "bytes_moved": 0, "remaining": 0, "duration_seconds": None}
    stage.update(values)
    if stage["failures"]:
        stage["status"] = FAILED
    elif stage["changed"]:
        stage["status"] = CHANGED
    return stage


def _catalog(result: dict) -> tuple[dict, list]:
    changes, failures, moved, store_changes = [], [], 0, []
    images = result.get("images", [])
    for run in images:
        name = run.get("name") or "?"
        if run.get("failed"):
            failures.append({"what": name, "error": run.get("msg") or "failed",
                             "fix": "check the entry's source, checksum and stores, then run again"})
        elif run.get("changed"):
            actions = ", ".join(a.get("action", "?") for a in run.get("actions", []))
            outcomes = ", ".join(f"{store} {outcome}" for store, outcome in
                                 sorted((run.get("store_outcomes") or {}).items()))
            changes.append(f"{name}: {actions}" + (f" ({outcomes})" if outcomes else ""))
            if any(a.get("action") == "create" for a in run.get("actions", [])):
                size = (run.get("image") or {}).get("size") or 0
                moved += size
                store_changes += [(store, "added", 1, size) for store in run.get("store_outcomes") or {}]
    # image_catalog_exclusive: the catalogue's images it no longer lists, retired
    changes += [f"retired (no longer in the catalogue): {image_id}"
                for image_id in (result.get("gc") or {}).get("retired", [])]
    return _stage("catalog", changed=len(changes), changes=changes, failures=failures,
                  bytes_moved=moved, remaining=len(failures),
                  summary=f"{len(images)} images: {len(changes)} changed, {len(failures)} failed"), store_changes


def _module_failure(result: dict, what: str, fix: str) -> list:
    return [{"what": what, "error": result.get("msg") or "failed", "fix": fix}] if result.get("failed") else []


def _backfill(result: dict) -> tuple[dict, list]:
    counts = result.get("counts") or {}
    skipped = [{"what": f"image {p.get('image_id')} location {p.get('url')}", "why": p.get("reason", "")}
               for p in result.get("problems", [])]
    skipped += [{"what": f"image {u.get('image_id')} location {u.get('url')}", "why": u.get("reason", "")}
                for u in result.get("unmatched", [])]
    failures = _module_failure(result, "glance_location_backfill",
                               "fix the input the message names, or use admin credentials; run again")
    written = counts.get("written", 0)
    return _stage("backfill", changed=written,
                  changes=[f"{written} locations tagged with their store"] if written else [],
                  skipped=skipped, failures=failures,
                  remaining=counts.get("skipped", 0) + counts.get("failed", 0) + counts.get("left", 0),
                  summary=f"{counts.get('locations_scanned', 0)} locations in "
                          f"{counts.get('images_scanned', 0)} images: {written} tagged, "
                          f"{counts.get('correct', 0)} already right, "
                          f"{counts.get('unmatched', 0)} match no store",
                  journal=result.get("journal")), []


def _migration(result: dict) -> tuple[dict, list]:
    counts = result.get("counts") or {}
    images = result.get("images", [])
    failures = [{"what": f"image {i['id']} ({i.get('name', '')})", "error": i.get("reason", ""),
                 "fix": i.get("fix", "")} for i in images if i.get("outcome") == "failed"]
    if result.get("failed") and not failures:
        failures = _module_failure(result, "glance_store_migrate", "fix the input the message names; run again")
    skipped = [{"what": f"image {i['id']} ({i.get('name', '')})", "why": i.get("reason", "")}
               for i in result.get("untagged", [])]
    skipped += [{"what": f"image {i['id']} ({i.get('name', '')})", "why": i.get("reason", "")}
                for i in images if i.get("outcome") in ("skipped", "in_progress")]
    migrated = counts.get("migrated", 0)
    remaining = result.get("left_after_run", counts.get("remaining", 0))
    copied = result.get("bytes_copied", 0)
    # the totals, not the images list (that holds only the first max_details)
    store_changes = [(result.get("target_store", "?"), "added", migrated, copied)] if migrated else []
    if migrated and result.get("delete_source"):
        store_changes.append((result.get("source_store", "?"), "removed", migrated, copied))
    return _stage("migration", changed=migrated,
                  changes=[f"image {i['id']} ({i.get('name', '')}): {i.get('reason', '')}"
                           for i in images if i.get("outcome") == "migrated"],
                  skipped=skipped, failures=failures, bytes_moved=copied,
                  remaining=remaining,
                  summary=f"{result.get('source_store', '?')} to {result.get('target_store', '?')}: "
                          f"{migrated} migrated, {counts.get('already_done', 0)} already done, "
                          f"{counts.get('failed', 0)} failed, {remaining} left",
                  throughput_mb_per_second=result.get("mb_per_second"),
                  journal=result.get("journal")), store_changes


def _objects(result: dict) -> tuple[dict, list]:
    counts = result.get("counts") or {}
    failures = [{"what": f"object {f.get('container')}/{f.get('name')}", "error": f.get("reason", ""),
                 "fix": f.get("fix", "")} for f in result.get("failures", [])]
    if result.get("failed") and not failures:
        failures = _module_failure(result, "swift_object_migrate", "fix the input the message names; run again")
    skipped = [{"what": f"key {c.get('bucket')}/{c.get('name')}", "why": c.get("reason", "")}
               for c in result.get("conflicts", [])]
    copied, left = counts.get("copied", 0), result.get("left_after_run") or 0
    journals = result.get("journals") or [None]
    return _stage("objects", changed=copied,
                  changes=[f"{copied} objects copied into S3"] if copied else [],
                  skipped=skipped, failures=failures, bytes_moved=result.get("bytes_sent", 0), remaining=left,
                  summary=f"{counts.get('objects', 0)} objects: {copied} copied, "
                          f"{counts.get('already_done', 0)} already done, {counts.get('failed', 0)} failed, "
                          f"{counts.get('conflict', 0)} in conflict, {left} left",
                  throughput_mb_per_second=result.get("mb_per_second"), journal=journals[-1]), []


def _verify(result: dict) -> tuple[dict, list]:
    findings = {key: value for key, value in result.items() if isinstance(value, int) and value}
    skipped = [{"what": key.replace("_", " "), "why": f"{value} found after the run"}
               for key, value in sorted(findings.items())]
    stage = _stage("verify", skipped=skipped, remaining=sum(findings.values()),
                   summary="everything in order" if not findings else
                   ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in sorted(findings.items())))
    if findings:
        stage["status"] = ATTENTION
    return stage, []


def _usage_by_store(reading: list | None) -> dict | None:
    """glance_store_info's stores (with ``usage: true``) as store id to (images, bytes)."""
    if reading is None:
        return None
    return {store["id"]: (store.get("images", 0), store.get("bytes", 0)) for store in reading}


def _store_changes(store_changes: list, stores_before: list | None, stores_after: list | None) -> list:
    """Per store, the images and bytes this run added and removed (the stages' own records, added
    up) and, from the two readings, the store's images and bytes before and after the run.

    Each builder returns its ``(store, "added" or "removed", images, bytes)`` records with its stage,
    so a store's numbers count exactly what the stage counts (a failed image adds nothing). A
    reading that was not taken gives nulls (unknown); a store a reading lacks had nothing then
    (a store enabled during the run).
    """
    readings = {"before": _usage_by_store(stores_before), "after": _usage_by_store(stores_after)}
    stores: dict = {}

    def entry(store: str) -> dict:
        return stores.setdefault(store, {"store": store, "images_added": 0, "bytes_added": 0,
                                         "images_removed": 0, "bytes_removed": 0})

    for store, sign, images, size in store_changes:
        entry(store)[f"images_{sign}"] += images
        entry(store)[f"bytes_{sign}"] += size or 0
    for reading in readings.values():
        for store in reading or {}:
            entry(store)
    for store, values in stores.items():
        for when, reading in readings.items():
            images, size = (None, None) if reading is None else reading.get(store, (0, 0))
            values.update({f"images_{when}": images, f"bytes_{when}": size})
    return [stores[name] for name in sorted(stores)]


BUILDERS = {"catalog": _catalog, "backfill": _backfill, "migration": _migration, "objects": _objects,
            "verify": _verify}


def maintenance_summary(stage_results: dict, durations: dict | None = None,
                        stores_before: list | None = None, stores_after: list | None = None) -> dict:
    stages, store_changes = [], []
    for name in ORDER:
        result = stage_results.get(name)
        if not isinstance(result, dict):
            continue
        if result.get("skipped") is True:  # a skipped task's register (store migration's is a list)
            stages.append(_stage(name, status="skipped", summary="switched off"))
            continue
        stage, changes = BUILDERS[name](result)
        store_changes += changes
        seconds = (durations or {}).get(name)
        stage["duration_seconds"] = round(float(seconds), 1) if seconds is not None else None
        stages.append(stage)
    totals = {key: sum(stage[key] for stage in stages)
              for key in ("changed", "bytes_moved", "remaining")}
    totals["failed"] = sum(len(stage["failures"]) for stage in stages)
    return redact({"stages": stages, "totals": totals,
                   "stores": _store_changes(store_changes, stores_before, stores_after),
                   "nothing_left_to_do": totals["changed"] == 0 and totals["remaining"] == 0
                   and totals["failed"] == 0})


class FilterModule:
    def filters(self):
        return {"maintenance_summary": maintenance_summary}
