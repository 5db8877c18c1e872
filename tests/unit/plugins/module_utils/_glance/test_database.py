"""Glance's database API on sqlite, with the columns of Glance's own image_locations model."""
from __future__ import annotations

import json

import pytest
import sqlalchemy

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import (
    GlanceDatabase,
    MetadataChange,
    open_database,
    parse_metadata,
)


@pytest.fixture
def database(tmp_path):
    glance = GlanceDatabase(f"sqlite:///{tmp_path / 'glance.sqlite'}")
    with glance.engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY, deleted BOOLEAN, status VARCHAR(30))"))
        conn.execute(sqlalchemy.text(
            "CREATE TABLE image_locations (id INTEGER PRIMARY KEY AUTOINCREMENT, image_id VARCHAR(36) NOT NULL, "
            "value TEXT NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME, deleted_at DATETIME, "
            "deleted BOOLEAN NOT NULL, meta_data TEXT, status VARCHAR(30) NOT NULL DEFAULT 'active')"))
        for n in range(5):
            conn.execute(sqlalchemy.text("INSERT INTO images VALUES (:i, :d, :s)"),
                         {"i": f"img-{n}", "d": n == 4, "s": "deactivated" if n == 2 else "active"})
            conn.execute(sqlalchemy.text(
                "INSERT INTO image_locations (image_id, value, meta_data, deleted, created_at) "
                "VALUES (:i, :v, '{}', :d, CURRENT_TIMESTAMP)"),
                {"i": f"img-{n}", "v": f"file:///srv/images/img-{n}", "d": n == 3})
    return glance


def test_location_pages_skip_deleted_rows_and_deleted_images(database):
    with database.session("test") as session:
        first = session.location_page(0, 2)
        rest = session.location_page(first[-1].id, 2)
        only = session.location_page(0, 10, ["img-2", "img-3"])
    assert [row.image_id for row in first + rest] == ["img-0", "img-1", "img-2"]
    assert [row.image_id for row in only] == ["img-2"]
    assert first[0].url == "file:///srv/images/img-0" and first[0].metadata == {}


def test_metadata_changes_only_where_the_row_is_still_as_read(database):
    with database.session("test") as session, session.transaction():
        rows = session.location_page(0, 10)
        landed = session.update_metadata([
            MetadataChange(rows[0].id, rows[0].raw_metadata, {"store": "fast"}),
            MetadataChange(rows[1].id, '{"store": "x"}', {"store": "fast"}),   # read before someone's write
        ])
    assert landed == {rows[0].id}
    with database.session("test") as session:
        after = {row.image_id: row.metadata for row in session.image_locations(["img-0", "img-1"])}
    assert after == {"img-0": {"store": "fast"}, "img-1": {}}


def test_an_inserted_location_carries_its_store_and_is_read_back(database):
    with database.session("test") as session, session.transaction():
        assert session.insert_location("img-0", "rbd://fsid/images/img-0/snap", {"store": "ceph"})
    with database.session("test") as session:
        rows = session.image_locations(["img-0"])
    assert [(row.url, row.metadata) for row in rows][-1] == ("rbd://fsid/images/img-0/snap", {"store": "ceph"})
    with database.engine.connect() as conn:
        status, created = conn.execute(sqlalchemy.text(
            "SELECT status, created_at FROM image_locations WHERE id = :i"), {"i": rows[-1].id}).one()
    assert status == "active" and created is not None


def test_a_location_there_already_is_not_added_twice(database):
    """Another run of the same image registered it meanwhile: the image has it, once."""
    for _run in range(2):
        with database.session("test") as session, session.transaction():
            assert session.insert_location("img-0", "rbd://fsid/images/img-0/snap", {"store": "ceph"})
    with database.session("test") as session:
        urls = [row.url for row in session.image_locations(["img-0"])]
    assert urls.count("rbd://fsid/images/img-0/snap") == 1


@pytest.mark.parametrize("image_id", ["img-2", "img-4", "no-such-image"])  # deactivated, deleted, gone
def test_a_location_is_not_added_to_an_image_that_is_not_active(database, image_id):
    with database.session("test") as session, session.transaction():
        assert not session.insert_location(image_id, "rbd://fsid/images/x/snap", {"store": "ceph"})
    with database.engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT COUNT(*) FROM image_locations WHERE value LIKE 'rbd:%'")).one()[0] == 0


def test_a_failed_transaction_writes_nothing_and_says_what_failed(database):
    with pytest.raises(CloudRequestError, match=r"^database_connection: the test failed in the database "
                                                r"\(NOT NULL constraint failed: image_locations.value\)"):
        with database.session("test") as session, session.transaction():
            session.insert_location("img-0", "file:///x", {"store": "fast"})
            session.insert_location("img-0", None, {"store": "fast"})
    with database.session("test") as session:
        assert len(session.image_locations(["img-0"])) == 1


def test_a_bad_connection_url_is_one_line_without_its_password():
    with pytest.raises(InvalidInputError, match=r"^database_connection: .*give an SQLAlchemy URL") as raised:
        GlanceDatabase("nosuchdialect://glance:s3cret@db/glance")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("raw, metadata", [(None, {}), ("", {}), ("not json", {}), ("[1]", {}),
                                           (json.dumps({"store": "a"}), {"store": "a"})])
def test_metadata_that_is_no_json_object_counts_as_empty(raw, metadata):
    assert parse_metadata(raw) == metadata


class ConnectionConf:
    def database_connection(self):
        return "sqlite:///conf.db"


def test_open_database_takes_the_option_else_the_conf_and_keeps_the_url_secret():
    secrets = set()
    assert str(open_database("sqlite:///given.db", ConnectionConf(), secrets).engine.url) == "sqlite:///given.db"
    assert str(open_database(None, ConnectionConf(), secrets).engine.url) == "sqlite:///conf.db"
    assert secrets == {"sqlite:///given.db", "sqlite:///conf.db"}
    with pytest.raises(InvalidInputError, match="^backend=database needs database_connection"):
        open_database(None, None, secrets)


def test_check_connection_fails_in_one_line_with_the_fix_when_the_database_cannot_be_reached(tmp_path):
    GlanceDatabase(f"sqlite:///{tmp_path / 'glance.sqlite'}").check_connection()
    with pytest.raises(CloudRequestError) as raised:
        GlanceDatabase(f"sqlite:///{tmp_path / 'no-such-dir' / 'glance.sqlite'}").check_connection()
    message = str(raised.value)
    assert message.startswith("database_connection: cannot connect (") and "\n" not in message
    assert message.endswith("give the URL of Glance's own database, reachable from this host")
