"""Runs in slices: the line printed after each, the time the next may take, and their results as one."""
from __future__ import annotations

import pytest

from ansible_collections.storeops.openstack.plugins.filter.merge_slices import merge_slices
from ansible_collections.storeops.openstack.plugins.filter.progress_line import progress_line
from ansible_collections.storeops.openstack.plugins.filter.slice_budget import slice_budget

TB = 10**12


def test_the_line_has_the_totals_of_the_last_slice_and_the_rate_of_all():
    first = {"unit": "images", "total": 9870, "done": 200, "failed": 0, "left": 9670, "seconds": 100.0,
             "bytes_total": 31 * TB, "bytes_done": 600 * 10**9, "moved": 200, "bytes_moved": 11_800_000_000}
    second = {**first, "done": 412, "left": 9458, "bytes_done": 1_300_000_000_000, "moved": 212,
              "bytes_moved": 11_800_000_000}
    # 23.6 GB in 200 s: 118 MB/s; 29.7 TB left at that rate: 69 h 54 min
    assert progress_line([first, second]) == \
        "412/9,870 images, 1.3 TB of 31.0 TB, 118.0 MB/s, ETA 69 h 54 min, 0 failed"


def test_without_bytes_the_rate_is_in_items_and_a_finished_job_says_done():
    backfill = {"unit": "images", "total": 5, "done": 4, "failed": 1, "left": 1, "seconds": 2.0,
                "bytes_total": None, "bytes_done": None, "moved": 4, "bytes_moved": 0}
    assert progress_line(backfill) == "4/5 images, 2.0 images/s, ETA 0.5 s, 1 failed"
    assert progress_line([{**backfill, "done": 5, "left": 0, "failed": 0}]) == "5/5 images, 2.0 images/s, done, 0 failed"
    assert progress_line([{**backfill, "moved": 0}]).endswith("0.0 images/s, ETA -, 1 failed")


@pytest.mark.parametrize("options, now, expected", [
    ({}, 500, None),                                              # nothing bounds the run
    ({"slice_seconds": 300}, 500, 300),
    ({"max_duration": 600, "slice_seconds": 300}, 450, 150),       # the role's own budget ends first
    ({"max_duration": 600, "deadline": 1200}, 450, 150),
    ({"max_duration": 6000, "deadline": 650}, 450, 200),          # the maintenance run's ends first
    ({"deadline": 1000.5}, 1000, 0),                               # under a second: no new slice
    ({"max_duration": 10}, 2000, 0),                               # spent long ago
])
def test_the_next_slice_gets_the_smaller_budget_and_none_once_it_is_spent(options, now, expected):
    assert slice_budget(0, now=now, **options) == expected  # the role started at 0


def test_slices_merge_into_one_run_adding_up_what_each_did_and_listing_each_item_once():
    slices = [{"changed": True, "failed": False, "counts": {"selected": 3, "migrated": 2, "already_done": 0},
               "images": [{"id": "a"}, {"id": "b"}], "bytes_copied": 20, "progress": {"done": 2}},
              {"changed": False, "failed": True, "msg": "1 of 1 images failed", "bytes_copied": 0,
               "counts": {"selected": 3, "migrated": 0, "already_done": 2}, "images": [{"id": "a"}, {"id": "c"}],
               "progress": {"done": 2}}]
    merged = merge_slices(slices, summed=["migrated", "bytes_copied"], max_items=3)
    assert merged == {"changed": True, "failed": True, "msg": "1 of 1 images failed", "bytes_copied": 20,
                      "counts": {"selected": 3, "migrated": 2, "already_done": 2},
                      "images": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "progress": {"done": 2}}
    assert merge_slices([]) == {}
