from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import datetime, timezone

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import StorageConflictError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import (
    JsonlJournal,
    Shipment,
    parse_utc_stamp,
    utc_stamp,
)


def test_every_journal_entry_is_redacted_on_its_way_in(tmp_path):
    path = tmp_path / "run.jsonl"
    journal = JsonlJournal(str(path), {"journal": "test", "source": "s3://ak:header-secret@rgw/b"})
    journal.write({"image_id": "a", "step": "copy",
                   "message": "copy-image from swift+https://svc:glance:k3y-value@ks/v3/c/a failed",
                   "url": "https://rgw/b/o?X-Amz-Signature=516nature"})
    journal.close()
    text = path.read_text()
    for secret in ("header-secret", "k3y-value", "516nature"):
        assert secret not in text
    entry = json.loads(text.splitlines()[1])
    assert entry["message"] == "copy-image from swift+https://***@ks/v3/c/a failed"


def test_utc_stamps_read_back_as_the_time_they_name():
    when = datetime(2026, 12, 2, 5, 24, 15, tzinfo=timezone.utc)
    assert utc_stamp(when=when) == "2026-12-02T05:24:15Z" and utc_stamp(compact=True, when=when) == "20261202T052415Z"
    assert parse_utc_stamp(utc_stamp(when=when)) == when
    assert parse_utc_stamp("20261202T052415Z") is None and parse_utc_stamp(None) is None


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Store:
    """Objects put by name, never over another's bytes; ``failing`` puts raise, as a store out of
    reach does, ``landing`` ones after storing the object (its answer lost)."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.failing = self.landing = False
        self.tries: list[str] = []

    def put(self, name, data):
        self.tries.append(name)
        if self.failing:
            raise ConnectionError("swift store: PUT failed, token=s3cr3t-token")
        if self.objects.get(name, data) != data:
            raise StorageConflictError(f"swift store: {name} already exists")
        self.objects[name] = data
        if self.landing:
            raise TimeoutError("the answer never came")

    def joined(self):
        return b"".join(self.objects[name] for name in sorted(self.objects))


def shipping_journal(tmp_path, store, clock, warnings, **kwargs):
    shipment = Shipment(put=store.put, run="pre/fix/run-1", url="swift://journals/pre/fix/run-1",
                        warn=warnings.append, every_entries=3, every_seconds=10, clock=clock)
    return JsonlJournal(str(tmp_path / "run-1.jsonl"), {"journal": "test"}, shipment, **kwargs)


def test_a_journal_ships_every_n_entries_every_t_seconds_and_at_close(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    journal = shipping_journal(tmp_path, store, clock, warnings)
    journal.write({"n": 1})
    journal.write({"n": 2})
    assert store.objects == {}  # neither 3 entries nor 10 seconds yet
    journal.write({"n": 3})
    assert list(store.objects) == ["pre/fix/run-1/00000000.jsonl"]
    assert len(store.objects["pre/fix/run-1/00000000.jsonl"].splitlines()) == 4  # the header and 3 entries
    journal.write({"n": 4})
    clock.now += 9.9
    journal.ship_due()
    assert len(store.objects) == 1
    clock.now += 0.1
    journal.write({"n": 5})  # 10 s since the last shipment: entries 4 and 5 go
    assert sorted(store.objects) == ["pre/fix/run-1/00000000.jsonl", "pre/fix/run-1/00000001.jsonl"]
    journal.write({"n": 6})
    journal.close()  # the last entry goes at close
    assert sorted(store.objects)[-1] == "pre/fix/run-1/00000002.jsonl"
    assert store.joined() == (tmp_path / "run-1.jsonl").read_bytes()  # in name order, the file itself
    assert journal.result_fields() == {"journal": journal.path, "journal_url": "swift://journals/pre/fix/run-1"}
    assert warnings == []


def test_a_journal_told_to_wait_ships_only_when_asked(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    journal = shipping_journal(tmp_path, store, clock, warnings, ship_on_write=False)
    for n in range(5):
        journal.write({"n": n})
    clock.now += 60
    journal.write({"n": 5})
    assert store.objects == {}  # inside a database transaction: no shipping
    journal.ship_due()
    assert len(store.objects) == 1
    journal.close()
    assert store.joined() == (tmp_path / "run-1.jsonl").read_bytes()


def test_a_failing_shipment_warns_keeps_the_local_journal_and_its_retry_sends_the_same_bytes(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    journal = shipping_journal(tmp_path, store, clock, warnings)
    store.failing = True
    for n in range(7):
        journal.write({"n": n})  # never raises: the data step goes on
    assert store.tries == ["pre/fix/run-1/00000000.jsonl"]  # not retried at every write after a failure
    assert len(warnings) == 1 and "shipping pre/fix/run-1/00000000.jsonl failed" in warnings[0]
    assert journal.path in warnings[0] and "s3cr3t-token" not in warnings[0]
    store.failing, store.landing = False, True
    clock.now += 10
    journal.write({"n": 7})  # the retry lands, but its answer is lost
    assert len(store.objects["pre/fix/run-1/00000000.jsonl"].splitlines()) == 4  # the first try's: header, 3 entries
    store.landing = False
    clock.now += 10
    journal.write({"n": 8})  # the same bytes again: found there, so shipped; then the 6 entries since
    assert store.tries[1:] == ["pre/fix/run-1/00000000.jsonl"] * 2 + ["pre/fix/run-1/00000001.jsonl"]
    assert len(store.objects["pre/fix/run-1/00000001.jsonl"].splitlines()) == 6
    store.failing = True
    journal.write({"n": 9})
    journal.close()
    assert len(warnings) == 2  # one while it failed, one for the last shipment, which failed too
    local = (tmp_path / "run-1.jsonl").read_bytes()
    assert len(local.splitlines()) == 11 and local.startswith(store.joined())
    assert journal.result_fields() == {"journal": journal.path}  # the remote copy lacks entry 9: no journal_url


def test_an_object_this_run_did_not_write_is_kept_and_shipping_stops(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    store.objects["pre/fix/run-1/00000001.jsonl"] = b"another writer's\n"
    journal = shipping_journal(tmp_path, store, clock, warnings)
    for n in range(9):
        journal.write({"n": n})
    journal.close()
    assert store.objects["pre/fix/run-1/00000001.jsonl"] == b"another writer's\n"
    assert store.tries == ["pre/fix/run-1/00000000.jsonl", "pre/fix/run-1/00000001.jsonl"]  # none after it
    assert len(warnings) == 1 and warnings[0].startswith(
        "journal_url: swift://journals/pre/fix/run-1 already holds pre/fix/run-1/00000001.jsonl, which this run "
        "did not write; it was kept")
    assert journal.path in warnings[0]
    assert len((tmp_path / "run-1.jsonl").read_bytes().splitlines()) == 10  # the local journal is whole
    assert journal.result_fields() == {"journal": journal.path}


def test_a_journal_without_entries_ships_nothing(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    journal = shipping_journal(tmp_path, store, clock, warnings)
    journal.close()
    assert store.tries == [] and journal.result_fields() == {}


def test_a_writer_never_waits_on_another_threads_shipment(tmp_path):
    store, clock, warnings = Store(), Clock(), []
    in_put, release = threading.Event(), threading.Event()
    put = store.put

    def slow_put(name, data):
        in_put.set()
        assert release.wait(5)
        put(name, data)

    journal = shipping_journal(tmp_path, store, clock, warnings)
    journal._shipment = dataclasses.replace(journal._shipment, put=slow_put)  # pylint: disable=protected-access
    shipper = threading.Thread(target=lambda: [journal.write({"n": n}) for n in range(3)])
    shipper.start()
    assert in_put.wait(5)
    started = time.monotonic()
    for n in range(3, 7):
        journal.write({"n": n})  # returns at once, though 3 more entries are due: one shipment is in flight
    waited = time.monotonic() - started
    release.set()
    shipper.join(5)
    journal.close()
    assert waited < 2  # a blocking writer would have waited for the release, 5 s
    assert store.joined() == (tmp_path / "run-1.jsonl").read_bytes() and warnings == []
