"""The report's human units: sizes in powers of 1000, durations in s, min or h."""
from __future__ import annotations

from ansible_collections.storeops.openstack.plugins.filter.human_bytes import human_bytes
from ansible_collections.storeops.openstack.plugins.filter.human_duration import human_duration


def test_bytes_read_in_decimal_units_never_as_raw_counts():
    assert [human_bytes(n) for n in (None, 0, 999, 1000, 4_000_000, 999_960_000, 1_300_000_000_000)] == \
        ["0 B", "0 B", "999 B", "1.0 kB", "4.0 MB", "1.0 GB", "1.3 TB"]
    assert human_bytes(31e18) == "31000.0 PB"  # the largest unit takes whatever is left


def test_durations_read_in_seconds_minutes_or_hours():
    assert [human_duration(s) for s in (None, 0, 4.24, 59.9, 200, 3599.6, 9660)] == \
        ["-", "0.0 s", "4.2 s", "59.9 s", "3 min 20 s", "1 h 0 min", "2 h 41 min"]
