# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: merge_slices
short_description: The results of a long run's slices as one run's result
version_added: 0.1.0
description:
  - Every slice scans the whole job, so what describes the job (C(counts) such as C(selected) or
    C(already_done), C(progress)) is the last slice's; what each slice did is added up - the
    C(counts) named in O(summed) and the top-level numbers named there, the lists concatenated
    (each item once, as every slice reports again what it left alone; the first O(max_items) kept). C(changed) and C(failed) are true when a slice's was; C(msg)
    is the first failed slice's.
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: The slices' registered results, oldest first.
    type: list
    elements: dict
    required: true
  summed:
    description: Keys of C(counts), or top-level numbers, that each slice counts for itself.
    type: list
    elements: str
  max_items:
    description: At most this many items in each merged list.
    type: int
    default: 100
"""

EXAMPLES = r"""
- name: One result of all the slices
  ansible.builtin.set_fact:
    store_migration_run: "{{ store_migration_slice_results | storeops.openstack.merge_slices(summed=['migrated', 'bytes_copied']) }}"
"""

RETURN = r"""
_value:
  description: The merged result, with the keys of the slices' results (none when there were none).
  type: dict
"""


def merge_slices(results, summed=(), max_items=100):
    results = [result for result in results if isinstance(result, dict)]
    if not results:
        return {}
    summed = set(summed)
    merged = dict(results[-1])
    for key in set().union(*results):
        values = [result[key] for result in results if key in result]
        if key in ("changed", "failed"):
            merged[key] = any(values)
        elif key in summed:
            merged[key] = sum(values)
        elif key == "counts":
            merged[key] = {**values[-1], **{name: sum(counts.get(name, 0) for counts in values)
                                            for name in summed if name in values[-1]}}
        elif isinstance(values[-1], list):
            merged[key] = _first_distinct((item for value in values for item in value), max_items)
    failed = [result for result in results if result.get("failed")]
    if failed:
        merged["msg"] = failed[0].get("msg", "")
    return merged


def _first_distinct(items, most: int) -> list:
    """Each slice reports again what it left alone (a skipped location, a failure): keep it once."""
    kept: list = []
    for item in items:
        if len(kept) >= most:
            break
        if item not in kept:
            kept.append(item)
    return kept


class FilterModule:
    def filters(self):
        return {"merge_slices": merge_slices}
