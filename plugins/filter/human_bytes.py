# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: human_bytes
short_description: A byte count in decimal units, for a report
version_added: 0.1.0
description:
  - Renders a byte count as C(999 B), C(4.0 MB) or C(1.3 TB), in powers of 1000 (as the
    modules' C(mb_per_second)), one decimal; the largest unit is PB. None reads as C(0 B).
  - Keep the plain number in anything a program reads (C(report.json), C(set_stats)).
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: A number of bytes.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Say how much moved
  ansible.builtin.debug:
    msg: "{{ store_migration_result.bytes_copied | storeops.openstack.human_bytes }} copied"
"""

RETURN = r"""
_value:
  description: The count with its unit, for example C(16.2 MB).
  type: str
"""


BYTE_UNITS = ("kB", "MB", "GB", "TB", "PB")


def human_bytes(count) -> str:
    """Bytes in decimal units (MB is 10^6 bytes, as the modules' mb_per_second): ``1.3 TB``."""
    value = float(count or 0)
    if abs(value) < 1000:
        return f"{int(value)} B"
    value, unit = value / 1000, BYTE_UNITS[0]
    for bigger in BYTE_UNITS[1:]:
        if abs(value) < 999.95:  # would print as 1000.0 of this unit: take the next one
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


class FilterModule:
    def filters(self):
        return {"human_bytes": human_bytes}
