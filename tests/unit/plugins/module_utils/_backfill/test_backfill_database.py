"""The executor with the database back end on sqlite (one of the databases Glance supports), with Glance's columns."""
from __future__ import annotations

import json
import os

import pytest
import sqlalchemy

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.executor import (
    DatabaseBackend,
    backfill,
    undo,
)
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import Journal, read_journal
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import BackfillPlanner
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.result import Report, UndoReport
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import CloudRequestError
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import Shipment, run_id
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import GlanceDatabase
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix
from ansible_collections.storeops.openstack.plugins.module_utils._storage import journal_url
from ansible_collections.storeops.openstack.plugins.module_utils._storage.file import FileDriver
from ansible_collections.storeops.openstack.plugins.module_utils._storage.journal_url import fetch_journal

MATCHER = StoreMatcher([StorePrefix("fast", "file:///srv/images", "config"),
                        StorePrefix("cheap", "file:///srv/images2", "config")], ["fast", "cheap"])


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'glance.sqlite'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY, deleted BOOLEAN)"))
        conn.execute(sqlalchemy.text(
            "CREATE TABLE image_locations (id INTEGER PRIMARY KEY AUTOINCREMENT, image_id VARCHAR(36), "
            "value TEXT, meta_data TEXT, deleted BOOLEAN, updated_at DATETIME)"))
        for n in range(450):
            conn.execute(sqlalchemy.text("INSERT INTO images VALUES (:i, 0)"), {"i": f"img-{n}"})
            directory = "images2" if n % 3 == 0 else "images"
            conn.execute(sqlalchemy.text(
                "INSERT INTO image_locations (image_id, value, meta_data, deleted) VALUES (:i, :v, '{}', 0)"),
                {"i": f"img-{n}", "v": f"file:///srv/{directory}/img-{n}"})
        conn.execute(sqlalchemy.text("INSERT INTO images VALUES ('gone', 1)"))
        conn.execute(sqlalchemy.text(
            "INSERT INTO image_locations (image_id, value, meta_data, deleted) VALUES "
            "('gone', 'file:///srv/images/gone', '{}', 0)"))
    return url, engine


def stores(engine):
    with engine.connect() as conn:
        return {r.image_id: json.loads(r.meta_data).get("store") for r in conn.execute(
            sqlalchemy.text("SELECT image_id, meta_data FROM image_locations"))}


PLANNER = BackfillPlanner(MATCHER, fix_mismatched=True, backend="database")


def database_backend(url, batch_size=100):
    return DatabaseBackend(GlanceDatabase(url), batch_size)


def run(url, journal, image_ids=None, report=None):
    return backfill(database_backend(url), PLANNER, image_ids, report or Report(5), journal)


def run_undo(url, path, chunk=500, batch_size=100, check_mode=False):
    return undo(GlanceDatabase(url), read_journal(path, chunk), None, batch_size, UndoReport(5),
                check_mode).counts


def test_backfill_pages_writes_and_journals(database, tmp_path):
    url, engine = database
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    report = run(url, journal)
    assert report.counts["images_scanned"] == 450 and report.counts["written"] == 450
    assert report.journal == journal.path
    found = stores(engine)
    assert found["img-0"] == "cheap" and found["img-1"] == "fast"
    assert found["gone"] is None  # locations of deleted images are not touched
    assert len(list(read_journal(journal.path))) == 450


def test_only_the_given_images(database, tmp_path):
    url, engine = database
    report = run(url, Journal(str(tmp_path / "j.jsonl"), "database"), ["img-3", "img-4"])
    assert report.counts["written"] == 2
    assert sum(store is not None for store in stores(engine).values()) == 2


class TagsImg2AfterEachRead:
    """The database back end, with someone else tagging img-2 after each page was read."""

    def __init__(self, url, engine):
        self.backend, self.engine = database_backend(url), engine

    def pages(self, image_ids):
        for page, apply in self.backend.pages(image_ids):
            with self.engine.begin() as conn:
                conn.execute(sqlalchemy.text(
                    "UPDATE image_locations SET meta_data = '{\"store\": \"x\"}' WHERE image_id = 'img-2'"))
            yield page, apply


def test_a_row_changed_after_it_was_read_is_a_conflict_and_left_alone(database, tmp_path):
    url, engine = database
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    report = backfill(TagsImg2AfterEachRead(url, engine), PLANNER, ["img-1", "img-2"], Report(5), journal)
    assert report.counts["written"] == 1 and report.counts["conflicts"] == 1
    assert report.problems[0]["image_id"] == "img-2"
    assert stores(engine)["img-2"] == "x" and stores(engine)["img-1"] == "fast"
    assert [e["image_id"] for e in read_journal(journal.path)] == ["img-1"]


def test_check_mode_plans_every_page_and_writes_nothing(database):
    url, engine = database
    report = backfill(database_backend(url), PLANNER, None, Report(5), None)
    assert report.counts["planned_writes"] == 450 and report.counts["written"] == 0
    assert report.journal is None and all(store is None for store in stores(engine).values())


def test_a_page_commits_only_after_its_writes_are_journaled(database, tmp_path):
    url, engine = database
    backend = database_backend(url)
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    journaled_at_commit = []
    sqlalchemy.event.listen(backend.database.engine, "commit",
                            lambda conn: journaled_at_commit.append(len(list(read_journal(journal.path)))
                                                                    if journal.written else 0))
    backfill(backend, PLANNER, None, Report(5), journal)
    assert journaled_at_commit == [100, 200, 300, 400, 450]


def test_undo_restores_and_is_idempotent(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    with engine.begin() as conn:  # changed by hand after the run: undo must leave it
        conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{\"store\": \"x\"}' WHERE image_id = 'img-5'"))
    outcome = run_undo(url, path)
    assert (outcome["restored"], outcome["conflicts"]) == (449, 1)
    found = stores(engine)
    assert found["img-5"] == "x" and sum(s is not None for s in found.values()) == 1
    again = run_undo(url, path)
    assert (again["restored"], again["already_restored"]) == (0, 449)


def test_undo_in_check_mode_counts_and_changes_nothing(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    assert run_undo(url, path, check_mode=True)["restored"] == 450
    assert sum(store is not None for store in stores(engine).values()) == 450


def test_undo_of_two_entries_of_one_location_goes_back_through_both(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    entry = next(e for e in read_journal(path) if e["image_id"] == "img-1")
    with engine.begin() as conn:  # a later write of img-1, journaled in the same file
        conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{\"store\": \"cheap\"}' "
                                     "WHERE image_id = 'img-1'"))
    with open(path, "a") as handle:
        handle.write(json.dumps({**entry, "before": {"store": "fast"}, "after": {"store": "cheap"}}) + "\n")
    outcome = run_undo(url, path, batch_size=500)  # both entries in one batch
    assert outcome["restored"] == 451 and stores(engine)["img-1"] is None


def backfilled(url, tmp_path):
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    run(url, journal)
    return journal.path


def watched(url, before_each_statement):
    """The database, with ``before_each_statement(conn, cursor, sql, ...)`` called before each SQL statement."""
    database = GlanceDatabase(url)
    sqlalchemy.event.listen(database.engine, "before_cursor_execute", before_each_statement)
    return database


def test_undo_goes_in_batches_each_one_select_and_its_own_transaction(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    commits, selects = [], []

    def count_selects(conn, cursor, sql, *rest):
        if sql.startswith("SELECT"):
            selects.append(sql)

    database = watched(url, count_selects)
    sqlalchemy.event.listen(database.engine, "commit", lambda conn: commits.append(1))
    outcome = undo(database, read_journal(path, 100), None, 100, UndoReport(5), False).counts
    assert outcome["restored"] == 450
    assert len(commits) == 5 and len(selects) == 5  # 450 entries in batches of 100
    assert all(store is None for store in stores(engine).values())


def test_undo_stopped_by_a_lock_keeps_the_batches_it_committed_and_says_so_in_one_line(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    batches = []

    def lock_on_the_third_batch(conn, cursor, sql, *rest):
        if sql.startswith("SELECT"):
            batches.append(sql)
        if len(batches) == 3 and sql.startswith("UPDATE"):
            raise sqlalchemy.exc.OperationalError(sql, {}, Exception("Lock wait timeout exceeded; try restarting transaction"))

    database = watched(url, lock_on_the_third_batch)
    with pytest.raises(CloudRequestError, match=r"^database_connection: the undo failed in the database "
                                                r"\(Lock wait timeout exceeded; .*\); another writer held the rows: run again"):
        undo(database, read_journal(path, 100), None, 100, UndoReport(5), False)
    assert sum(store is None for store in stores(engine).values()) == 1 + 200  # 'gone', and two batches
    again = run_undo(url, path)
    assert (again["restored"], again["already_restored"]) == (250, 200)


def test_undo_of_a_row_changed_between_its_read_and_its_write_is_a_conflict(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    changed = []

    def someone_else_writes_first(conn, cursor, sql, *rest):
        if sql.startswith("UPDATE") and not changed:
            changed.append(1)
            cursor.execute("UPDATE image_locations SET meta_data = '{\"store\": \"x\"}' WHERE image_id = 'img-449'")

    report = undo(watched(url, someone_else_writes_first), read_journal(path), None, 500, UndoReport(5), False)
    assert (report.counts["restored"], report.counts["conflicts"]) == (449, 1)
    assert report.problems == [{"image_id": "img-449", "url": "file:///srv/images/img-449",
                                "reason": "changed since the run; left as is"}]
    assert stores(engine)["img-449"] == "x"


def test_a_database_that_is_not_glances_is_one_line_and_nothing_changed(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    with sqlalchemy.create_engine(url).begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY, deleted BOOLEAN)"))
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    with pytest.raises(CloudRequestError, match=r"^database_connection: the backfill failed in the database "
                                                r"\(no such table: image_locations\); check that"):
        run(url, journal)
    assert not journal.written


def test_a_locked_database_is_one_line(database, tmp_path):
    url, engine = database
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN EXCLUSIVE")
        with pytest.raises(CloudRequestError, match=r"\(database is locked\); another writer held the rows"):
            run(url + "?timeout=0.1", Journal(str(tmp_path / "j.jsonl"), "database"))
        holder.exec_driver_sql("ROLLBACK")


def test_a_page_is_applied_in_its_own_session_whatever_else_reads_the_back_end(database):
    url, engine = database
    backend = database_backend(url, batch_size=2)
    first = backend.pages(["img-1", "img-2"])
    page, apply = next(first)
    other = backend.pages(["img-4"])
    next(other)
    other.close()  # another reader of the same back end came and went
    assert [outcome.kind for outcome in apply(PLANNER.plan(page))] == ["written", "written"]
    list(first)  # the page's transaction commits as the next page is asked for
    assert (stores(engine)["img-1"], stores(engine)["img-2"], stores(engine)["img-4"]) == ("fast", "fast", None)


def shipped_backfill(url, engine, tmp_path, ship_on_write):
    """A backfill whose journal ships into a file store, each put checking that no transaction is
    open: it tries a write of its own, which sqlite refuses while the backfill holds its lock."""
    store = FileDriver(str(tmp_path / "container"))
    blocked = []

    def put(name, data):
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("PRAGMA busy_timeout = 0"))
                conn.execute(sqlalchemy.text("UPDATE images SET deleted = 1 WHERE id = 'gone'"))
                conn.commit()
        except sqlalchemy.exc.OperationalError as err:
            blocked.append(f"{name}: {err.orig}")
        store.put(name, data)

    path = str(tmp_path / "glance_location_backfill-20260101T000000Z-1.jsonl")
    shipment = Shipment(put=put, run=f"backfill/{run_id(path)}", url="swift://container/backfill/" + run_id(path),
                        warn=print, every_entries=100)
    journal = Journal(path, "database", shipment, ship_on_write=ship_on_write)
    report = backfill(DatabaseBackend(GlanceDatabase(url), 100, journal.ship_due), PLANNER, None, Report(5), journal)
    return report, store, blocked


def test_the_journal_ships_between_transactions_never_inside_one(database, tmp_path):
    url, engine = database
    report, store, blocked = shipped_backfill(url, engine, tmp_path, ship_on_write=False)
    assert blocked == []
    names = [item.path for item in store.list("backfill/")]
    assert len(names) == 5  # a page of 100 rows per transaction, shipped after each commit
    assert report.journal_url == "swift://container/backfill/glance_location_backfill-20260101T000000Z-1"
    assert b"".join(store.reader(name).read() for name in names) == open(report.journal, "rb").read()


def test_shipping_on_write_would_wait_inside_the_transaction(database, tmp_path):
    # the check above can fail: shipping from record() runs while the page's transaction holds its lock
    url, engine = database
    _report, _store, blocked = shipped_backfill(url, engine, tmp_path, ship_on_write=True)
    assert blocked and "database is locked" in blocked[0]


def test_undo_from_a_shipped_run_restores_what_the_backfill_wrote(database, tmp_path, monkeypatch):
    url, engine = database
    report, store, _blocked = shipped_backfill(url, engine, tmp_path, ship_on_write=False)
    os.unlink(report.journal)  # the execution environment is gone: only the shipped objects are left
    monkeypatch.setattr(journal_url, "journal_store", lambda url, params, conn_of, create=True: store)
    copy = fetch_journal(report.journal_url, {}, lambda: None, str(tmp_path / "again"))
    assert run_undo(url, copy, chunk=30)["restored"] == 450
    assert set(stores(engine).values()) == {None}
