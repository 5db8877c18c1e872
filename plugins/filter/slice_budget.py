# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: slice_budget
short_description: How many seconds the next slice of a long run may take, if it may start at all
version_added: 0.1.0
description:
  - A role running a module in slices asks this before each slice. Its input is the time (epoch
    seconds) the role started; O(max_duration) is the role's own budget from then, O(deadline)
    a moment no slice may start after (the maintenance playbook's C(maintenance_max_duration));
    the earlier of the two wins. O(slice_seconds) bounds one slice.
  - Returns 0 when the budget is spent (no new slice starts; a slice in flight was allowed to
    finish), None when nothing bounds the slice, else whole seconds, at least 1.
author:
  - storeops.openstack developers (@storeops)
options:
  _input:
    description: When the role started, in epoch seconds.
    type: float
    required: true
  max_duration:
    description: The role's own budget in seconds, from its start.
    type: float
  deadline:
    description: Epoch seconds after which no slice starts.
    type: float
  slice_seconds:
    description: At most this many seconds per slice.
    type: float
  now:
    description: The time now in epoch seconds; the clock's when omitted.
    type: float
"""

EXAMPLES = r"""
- name: Time left for the next slice
  ansible.builtin.set_fact:
    store_migration_slice_seconds_left: >-
      {{ store_migration_started | storeops.openstack.slice_budget(max_duration=3600, slice_seconds=300) }}
"""

RETURN = r"""
_value:
  description: Seconds for the next slice's C(max_duration); 0 for none; None for no bound.
  type: int
"""

import math
import time


def slice_budget(started, max_duration=None, deadline=None, slice_seconds=None, now=None):
    now = time.time() if now is None else float(now)
    ends = [float(started) + float(max_duration)] if max_duration is not None else []
    ends += [float(deadline)] if deadline is not None else []
    bounds = [float(slice_seconds)] if slice_seconds is not None else []
    if ends:
        left = min(ends) - now
        if left < 1:
            return 0
        bounds.append(left)
    return max(1, math.floor(min(bounds))) if bounds else None


class FilterModule:
    def filters(self):
        return {"slice_budget": slice_budget}
