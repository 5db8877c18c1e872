# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: human_duration
short_description: A number of seconds as seconds, minutes or hours, for a report
version_added: 0.1.0
description:
  - Renders seconds as C(4.2 s) (under a minute), C(3 min 20 s) (under an hour) or
    C(2 h 41 min); None (not measured) reads as C(-).
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: A duration in seconds.
    type: float
    required: true
"""

EXAMPLES = r"""
- name: Say how long the migration took
  ansible.builtin.debug:
    msg: "{{ store_migration_result.duration_seconds | storeops.openstack.human_duration }}"
"""

RETURN = r"""
_value:
  description: The duration with its units, for example C(2 h 41 min).
  type: str
"""


def human_duration(seconds) -> str:
    """Seconds as ``4.2 s``, ``3 min 20 s`` or ``2 h 41 min``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


class FilterModule:
    def filters(self):
        return {"human_duration": human_duration}
