from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import (
    Journal,
    journaled_location,
    read_journal,
)
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import (
    LEAVE,
    SKIP,
    WRITE,
    Location,
    plan_location,
)
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.result import Report
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix

MATCHER = StoreMatcher([
    StorePrefix("fast", "file:///srv/images", "config"),
    StorePrefix("cheap", "file:///srv/images2", "config"),
    StorePrefix("swift", "swift+config://ref1/glance/", "config"),
    StorePrefix("swift", "swift+http://svc:key@ks/v3/glance/", "config"),
], ["fast", "cheap", "swift"])


def plan(url, metadata, fix=False, backend="database", location_id=None):
    return plan_location(MATCHER, Location("img-1", url, metadata, location_id), fix, backend)


def test_missing_tag_is_written_and_other_metadata_kept():
    result = plan("file:///srv/images/a", {"keep": 1})
    assert result.action == WRITE and result.after == {"keep": 1, "store": "fast"}


def test_correct_and_unmatched_are_left():
    assert plan("file:///srv/images/a", {"store": "fast"}).action == LEAVE
    assert plan("cinder://x/y", {}).action == LEAVE


def test_mistagged_needs_fix_mismatched():
    assert plan("file:///srv/images2/a", {"store": "fast"}).action == LEAVE
    fixed = plan("file:///srv/images2/a", {"store": "fast"}, fix=True)
    assert fixed.action == WRITE and fixed.after == {"store": "cheap"}


@pytest.mark.parametrize("url, metadata, action", [
    ("file:///srv/images2/a", {}, SKIP),                          # Glance re-derives fast
    ("file:///srv/images2/a", {"store": "fast"}, SKIP),
    ("file:///srv/images/a", {}, WRITE),                          # Glance agrees
    ("swift+http://svc:oldkey@ks/v3/glance/a", {}, WRITE),        # Glance finds nothing: keeps ours
])
def test_api_backend_writes_only_what_glance_will_keep(url, metadata, action):
    result = plan(url, metadata, fix=True, backend="api")
    assert result.action == action
    if action == SKIP:
        assert "only backend=database" in result.reason


def test_report_counts_and_caps_details_and_redacts():
    report = Report(max_details=1)
    report.add(plan("swift+http://svc:oldkey@ks/v3/glance/a", {}))
    report.add(plan("file:///srv/images2/b", {}))
    report.add(plan("cinder://x/y", {}))
    assert report.counts["missing"] == 2 and report.counts["unmatched"] == 1
    assert report.counts["planned_writes"] == 2 and report.counts["glance_would_get_wrong"] == 2
    assert len(report.details) == 1 and "oldkey" not in json.dumps(report.details)
    assert "oldkey" not in json.dumps(report.diff_before)
    assert report.unmatched[0]["reason"] == "no store has scheme cinder"


def test_journal_round_trip_newest_first_private_and_without_credentials(tmp_path):
    path = str(tmp_path / "j" / "run.jsonl")
    journal = Journal(path, "database")
    journal.record(plan("swift+http://svc:oldkey@ks/v3/glance/a", {}, location_id=1))
    journal.record(plan("file:///srv/images2/b", {"store": "fast"}, fix=True, location_id=2))
    journal.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = open(path).read()
    assert "oldkey" not in text
    # no unsalted hash of the credentialed URL either: it gives weak keys away to a guess
    assert hashlib.sha256(b"swift+http://svc:oldkey@ks/v3/glance/a").hexdigest() not in text
    entries = list(read_journal(path))
    assert [e["location_id"] for e in entries] == [2, 1]
    assert entries[1]["url"] == "swift+http://***@ks/v3/glance/a" and "url_hash" not in entries[1]
    assert entries[0]["before"] == {"store": "fast"} and entries[0]["after"] == {"store": "cheap"}


def test_a_journal_without_writes_creates_no_file(tmp_path):
    journal = Journal(str(tmp_path / "none.jsonl"), "api")
    journal.close()
    assert not journal.written and not (tmp_path / "none.jsonl").exists()


def test_read_journal_rejects_other_files(tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"something": "else"}\n')
    with pytest.raises(InvalidInputError, match="not a glance_location_backfill journal"):
        list(read_journal(str(other)))
    with pytest.raises(InvalidInputError, match="^journal: cannot read"):
        list(read_journal(str(tmp_path / "missing.jsonl")))


def write_journal(path, count):
    journal = Journal(str(path), "database")
    for n in range(count):
        journal.record(plan(f"file:///srv/images2/img-{n}", {}, location_id=n))
    journal.close()
    return str(path)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 500])
def test_read_journal_goes_backwards_chunk_by_chunk(tmp_path, chunk):
    path = write_journal(tmp_path / "run.jsonl", 7)
    with open(path, "a") as handle:  # blank lines are skipped wherever they are
        handle.write("\n")
    assert [e["location_id"] for e in read_journal(path, chunk)] == [6, 5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("damage", [
    lambda text: text[:-20],                               # killed while writing the last entry
    lambda text: text.replace('"before"', '"b4"', 1),      # an entry lacking what undo needs
    lambda text: text + "[1, 2]\n",
])
def test_a_damaged_journal_fails_in_one_line_before_any_entry_is_read(tmp_path, damage):
    path = write_journal(tmp_path / "run.jsonl", 3)
    text = open(path).read()
    open(path, "w").write(damage(text))
    with pytest.raises(InvalidInputError, match=r"^journal: line \d of .*run.jsonl is cut short or is no "
                                                r"backfill entry.*; nothing was restored"):
        read_journal(path)  # checked whole on opening, not while undo is under way


def test_journaled_location_matches_on_id_and_redacted_url():
    url = "swift+http://svc:key@ks/v3/glance/a"
    database_entry = {"location_id": 7, "url": "swift+http://***@ks/v3/glance/a"}
    assert journaled_location(database_entry, 7, url)
    assert not journaled_location(database_entry, 8, url)
    assert not journaled_location(database_entry, 7, "swift+http://svc:key@ks/v3/glance/b")
    api_entry = {"location_id": None, "url": "file:///srv/images2/b"}   # the api has no ids
    assert journaled_location(api_entry, 3, "file:///srv/images2/b")
    assert not journaled_location(api_entry, 3, "file:///srv/images2/c")


def test_journals_of_version_1_still_match_by_their_url_hash():
    url = "swift+http://svc:key@ks/v3/glance/a"
    old = {"location_id": 7, "url": "swift+http://***@ks/v3/glance/a",
           "url_hash": "sha256:" + hashlib.sha256(url.encode()).hexdigest()}
    assert journaled_location(old, 7, url)
    assert not journaled_location(old, 7, "swift+http://svc:other@ks/v3/glance/a")
