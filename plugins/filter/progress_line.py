# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: progress_line
short_description: One line of a long run's progress, after each of its slices
version_added: 0.1.0
description:
  - Takes the C(progress) of every slice so far (what M(storeops.openstack.glance_store_migrate),
    M(storeops.openstack.glance_location_backfill) and M(storeops.openstack.swift_object_migrate)
    return) and renders the line the roles print after each slice, for example
    C(412/9,870 images, 1.3 TB of 31.0 TB, 118.0 MB/s, ETA 2 h 41 min, 0 failed).
  - The totals are the last slice's (every slice counts the whole job); the rate is what all
    the slices moved over their time, so one slow slice does not swing the estimate.
  - Without bytes (the backfill) the rate and the estimate are in items per second.
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: The slices' C(progress) dicts, oldest first (a single one is taken as a list of one).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Say where the migration stands
  ansible.builtin.debug:
    msg: "{{ store_migration_progress | storeops.openstack.progress_line }}"
"""

RETURN = r"""
_value:
  description: The line, for example C(4/9 images, 1.2 GB of 3.0 GB, 40.0 MB/s, ETA 45.0 s, 0 failed).
  type: str
"""

from ansible_collections.storeops.openstack.plugins.filter.human_bytes import human_bytes
from ansible_collections.storeops.openstack.plugins.filter.human_duration import human_duration


def progress_line(slices) -> str:
    slices = [slices] if isinstance(slices, dict) else list(slices)
    last = slices[-1]
    seconds = sum(float(one.get("seconds") or 0) for one in slices)
    moved = sum(int(one.get("moved") or 0) for one in slices)
    unit = last.get("unit") or "items"
    parts = [f"{last['done']:,}/{last['total']:,} {unit}"]
    if last.get("bytes_total") is not None:
        bytes_moved = sum(int(one.get("bytes_moved") or 0) for one in slices)
        rate = bytes_moved / seconds if seconds else 0.0
        parts += [f"{human_bytes(last['bytes_done'])} of {human_bytes(last['bytes_total'])}",
                  f"{human_bytes(rate)}/s"]
        todo = last["bytes_total"] - last["bytes_done"]
    else:
        rate = moved / seconds if seconds else 0.0
        parts.append(f"{rate:.1f} {unit}/s")
        todo = last["left"]
    if not last["left"]:
        parts.append("done")
    else:
        parts.append(f"ETA {human_duration(todo / rate) if rate else '-'}")
    parts.append(f"{last['failed']:,} failed")
    return ", ".join(parts)


class FilterModule:
    def filters(self):
        return {"progress_line": progress_line}
