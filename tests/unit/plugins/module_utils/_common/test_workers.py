"""The bounded worker pool: order of starts, the bound, the budget, and what is left unstarted."""
from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common import workers
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import as_finished


def test_every_item_runs_once_and_at_most_concurrency_at_a_time():
    lock, running, peak = threading.Lock(), [0], [0]

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return item * 2

    assert sorted(as_finished(work, iter(range(20)), 3)) == [i * 2 for i in range(20)]
    assert peak[0] == 3


def test_the_listing_is_read_only_as_items_start():
    read = []

    def listing():
        for i in range(100):
            read.append(i)
            yield i

    results = as_finished(lambda item: item, listing(), 2, queued=2)
    next(results)
    assert len(read) <= 5  # 2 running, 2 queued, the one just started


def test_once_the_budget_ends_the_rest_stays_unstarted_and_in_flight_ones_finish():
    items, started = iter(range(10)), []

    def work(item):
        started.append(item)
        return item

    done = list(as_finished(work, items, 2, may_start=lambda: len(started) < 3))
    assert sorted(done) == started and len(started) in (3, 4)
    assert list(items) == list(range(len(started), 10))


def test_a_bug_in_one_item_reaches_the_caller():
    def work(item):
        if item == 2:
            raise KeyError("bug")
        return item

    with pytest.raises(KeyError):
        list(as_finished(work, iter(range(4)), 1))


def test_when_one_item_raises_the_results_of_the_others_running_still_come_first():
    one_runs = threading.Event()

    def work(item):
        if item == 0:
            one_runs.wait(5)
            raise KeyError("bug")
        one_runs.set()
        time.sleep(0.1)
        return item

    results, came = as_finished(work, iter(range(6)), 2), []
    with pytest.raises(KeyError):
        for result in results:
            came.append(result)
    assert came == [1]  # item 1 was running when 0 raised; nothing started after


def test_a_consumer_that_stops_early_leaves_the_queued_items_unstarted():
    started = []

    def work(item):
        started.append(item)
        time.sleep(0.05)
        return item

    results = as_finished(work, iter(range(10)), 1, queued=3)
    assert next(results) == 0
    results.close()
    assert started in ([0], [0, 1])  # 1 may have been picked up already; 2 and 3 were only queued


class _Libc:
    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 1


def test_malloc_arenas_are_capped_through_glibcs_mallopt_and_other_libcs_are_left_alone(monkeypatch):
    libc = _Libc()
    monkeypatch.setattr(workers.ctypes, "CDLL", lambda _name: libc)
    workers.limit_malloc_arenas()
    assert libc.calls == [(-8, 2)]  # M_ARENA_MAX

    monkeypatch.setattr(workers.ctypes, "CDLL", lambda _name: object())  # musl: no mallopt
    workers.limit_malloc_arenas()
