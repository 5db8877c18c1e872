"""The database back end on sqlite (one of the databases Glance supports), with Glance's columns."""
from __future__ import annotations

import json

import pytest
import sqlalchemy

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.backends import DatabaseBackend
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import (
    Journal,
    Report,
    plan_location,
    read_journal,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import CloudRequestError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import StoreMatcher
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import StorePrefix

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


def planner(image_id, url, metadata):
    return plan_location(MATCHER, image_id, url, metadata, True, "database")


def test_backfill_pages_writes_and_journals(database, tmp_path):
    url, engine = database
    report, journal = Report(5), Journal(str(tmp_path / "j.jsonl"), "database")
    DatabaseBackend(url, batch_size=100).run(None, planner, report, journal)
    journal.close()
    assert report.counts["images_scanned"] == 450 and report.counts["written"] == 450
    found = stores(engine)
    assert found["img-0"] == "cheap" and found["img-1"] == "fast"
    assert found["gone"] is None  # locations of deleted images are not touched
    assert len(list(read_journal(journal.path))) == 450


def test_only_the_given_images(database, tmp_path):
    url, engine = database
    report = Report(5)
    DatabaseBackend(url, batch_size=100).run(["img-3", "img-4"], planner, report,
                                             Journal(str(tmp_path / "j.jsonl"), "database"))
    assert report.counts["written"] == 2
    assert sum(store is not None for store in stores(engine).values()) == 2


def test_a_row_changed_after_it_was_read_is_a_conflict_and_left_alone(database, tmp_path):
    url, engine = database
    backend = DatabaseBackend(url, batch_size=100)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT id, image_id, value, meta_data FROM image_locations WHERE image_id IN ('img-1', 'img-2')")).all()
    with engine.begin() as conn:  # someone else tags img-2 in the meantime
        conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{\"store\": \"x\"}' WHERE image_id = 'img-2'"))
    report, journal = Report(5), Journal(str(tmp_path / "j.jsonl"), "database")
    writes = [(row, planner(row.image_id, row.value, {})) for row in rows]
    with backend.engine.connect() as conn, conn.begin():
        backend._apply(conn, writes, report, journal)  # pylint: disable=protected-access
    journal.close()
    assert report.counts["written"] == 1 and report.counts["conflicts"] == 1
    assert stores(engine)["img-2"] == "x" and stores(engine)["img-1"] == "fast"
    assert [e["image_id"] for e in read_journal(journal.path)] == ["img-1"]


def test_undo_restores_and_is_idempotent(database, tmp_path):
    url, engine = database
    backend = DatabaseBackend(url, batch_size=100)
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    backend.run(None, planner, Report(5), journal)
    journal.close()
    with engine.begin() as conn:  # changed by hand after the run: undo must leave it
        conn.execute(sqlalchemy.text("UPDATE image_locations SET meta_data = '{\"store\": \"x\"}' WHERE image_id = 'img-5'"))
    outcome = backend.undo(read_journal(journal.path), None, check_mode=False)
    assert (outcome["restored"], outcome["conflicts"]) == (449, 1)
    found = stores(engine)
    assert found["img-5"] == "x" and sum(s is not None for s in found.values()) == 1
    again = backend.undo(read_journal(journal.path), None, check_mode=False)
    assert (again["restored"], again["already_restored"]) == (0, 449)


def backfilled(url, tmp_path):
    backend = DatabaseBackend(url, batch_size=100)
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    backend.run(None, planner, Report(5), journal)
    journal.close()
    return journal.path


def test_undo_goes_in_batches_each_one_select_and_its_own_transaction(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    backend = DatabaseBackend(url, batch_size=100)
    commits, selects = [], []

    def count_selects(conn, cursor, sql, *rest):
        if sql.startswith("SELECT"):
            selects.append(sql)

    sqlalchemy.event.listen(backend.engine, "commit", lambda conn: commits.append(1))
    sqlalchemy.event.listen(backend.engine, "before_cursor_execute", count_selects)
    outcome = backend.undo(read_journal(path, 100), None, check_mode=False)
    assert outcome["restored"] == 450
    assert len(commits) == 5 and len(selects) == 5  # 450 entries in batches of 100
    assert all(store is None for store in stores(engine).values())


def test_undo_stopped_by_a_lock_keeps_the_batches_it_committed_and_says_so_in_one_line(database, tmp_path):
    url, engine = database
    path = backfilled(url, tmp_path)
    backend = DatabaseBackend(url, batch_size=100)
    batches = []

    def lock_on_the_third_batch(conn, cursor, sql, *rest):
        if sql.startswith("SELECT"):
            batches.append(sql)
        if len(batches) == 3 and sql.startswith("UPDATE"):
            raise sqlalchemy.exc.OperationalError(sql, {}, Exception("Lock wait timeout exceeded; try restarting transaction"))

    sqlalchemy.event.listen(backend.engine, "before_cursor_execute", lock_on_the_third_batch)
    with pytest.raises(CloudRequestError, match=r"^database_connection: the undo failed in the database "
                                                r"\(Lock wait timeout exceeded; .*\); another writer held the rows: run again"):
        backend.undo(read_journal(path, 100), None, check_mode=False)
    assert sum(store is None for store in stores(engine).values()) == 1 + 200  # 'gone', and two batches
    again = DatabaseBackend(url, batch_size=100).undo(read_journal(path), None, check_mode=False)
    assert (again["restored"], again["already_restored"]) == (250, 200)


def test_a_database_that_is_not_glances_is_one_line_and_nothing_changed(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    with sqlalchemy.create_engine(url).begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY, deleted BOOLEAN)"))
    journal = Journal(str(tmp_path / "j.jsonl"), "database")
    with pytest.raises(CloudRequestError, match=r"^database_connection: the backfill failed in the database "
                                                r"\(no such table: image_locations\); check that"):
        DatabaseBackend(url, batch_size=100).run(None, planner, Report(5), journal)
    assert not journal.written


def test_a_locked_database_is_one_line(database, tmp_path):
    url, engine = database
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN EXCLUSIVE")
        with pytest.raises(CloudRequestError, match=r"\(database is locked\); another writer held the rows"):
            DatabaseBackend(url + "?timeout=0.1", batch_size=100).run(
                None, planner, Report(5), Journal(str(tmp_path / "j.jsonl"), "database"))
        holder.exec_driver_sql("ROLLBACK")
