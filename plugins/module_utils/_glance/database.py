# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glance's database, for what its API cannot do: its ``image_locations`` table over SQLAlchemy.

Works on the databases Glance supports (sqlite, MySQL/MariaDB, PostgreSQL): location rows read
in keyset pages by id, a location's metadata updated only if it is still what was read (a
concurrent change wins), and a location row inserted with a given ``metadata.store``. Every SQL
error comes out as one line that says whether another writer held the rows.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import json
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
    MissingDependencyError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text

try:
    import sqlalchemy
except ImportError:
    SQLALCHEMY_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    SQLALCHEMY_IMPORT_ERROR = None

ROWS_PER_UPDATE = 200  # 600 bound parameters: under every database's limit
_LOCK_WORDS = ("deadlock", "lock wait", "database is locked", "could not obtain lock", "lock timeout")


def parse_metadata(raw: str | None) -> dict[str, Any]:
    """A row's ``meta_data`` as a dict; anything that is no JSON object counts as empty."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class LocationRow:
    """One live row of ``image_locations``, its metadata as the database holds it."""

    id: int
    image_id: str
    url: str
    raw_metadata: str | None

    @property
    def metadata(self) -> dict[str, Any]:
        return parse_metadata(self.raw_metadata)


@dataclass(frozen=True)
class MetadataChange:
    """Set a location's metadata to ``new``, only if its ``meta_data`` is still ``expected``."""

    location_id: int
    expected: str | None
    new: dict[str, Any]

    @property
    def written(self) -> str:
        """The ``meta_data`` the row holds once the change landed."""
        return json.dumps(self.new)


def open_database(given: str | None, conf, secrets: set[str]) -> GlanceDatabase:
    """Glance's database at the ``database_connection`` option, else at the ``[database]
    connection`` of ``conf`` (a GlanceApiConf, or None); the URL, which holds the database
    password, is added to ``secrets`` (the module's ``no_log_values``) before anything can print it."""
    connection = given or (conf.database_connection() if conf is not None else None)
    if not connection:
        raise InvalidInputError("backend=database needs database_connection, or glance_api_conf with a "
                                "[database] connection")
    secrets.add(connection)
    return GlanceDatabase(connection)


class GlanceDatabase:
    """An SQLAlchemy engine on Glance's database; ``session()`` gives the operations."""

    def __init__(self, connection: str):
        if SQLALCHEMY_IMPORT_ERROR is not None:
            raise MissingDependencyError(
                "backend=database needs SQLAlchemy (and the database's driver) on the host that "
                "runs the module: pip install 'SQLAlchemy>=1.4'", exception=SQLALCHEMY_IMPORT_ERROR)
        try:
            self.engine = sqlalchemy.create_engine(connection)
        except (sqlalchemy.exc.ArgumentError, ImportError) as err:
            raise InvalidInputError(
                f"database_connection: {redact_text(str(err))}; give an SQLAlchemy URL such as "
                "mysql+pymysql://glance:...@db/glance with its driver installed") from None

    @contextmanager
    def session(self, doing: str) -> Iterator[GlanceDatabaseSession]:
        """One connection; ``doing`` names the work in its error messages ("the backfill")."""
        try:
            conn = self.engine.connect()
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise CloudRequestError(
                f"database_connection: cannot connect ({redact_text(str(err).splitlines()[0])}); give "
                "the URL of Glance's own database, reachable from this host") from None
        with conn:
            yield GlanceDatabaseSession(conn, doing)

    def check_connection(self) -> None:
        """Connect once: a database that cannot be reached (a wrong password, host or port) fails
        with CloudRequestError before any work whose last step needs it."""
        with self.session("connection check"):
            pass


class GlanceDatabaseSession:
    def __init__(self, conn, doing: str):
        self._conn = conn
        self._doing = doing

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commits when the block ends, rolls back if it raises."""
        with self._errors(), self._conn.begin():
            yield

    def location_page(self, after_id: int, limit: int,
                      image_ids: Sequence[str] | None = None) -> list[LocationRow]:
        """Up to ``limit`` live locations of live images with an id above ``after_id``, by id."""
        query = ("SELECT l.id, l.image_id, l.value, l.meta_data FROM image_locations l "
                 "JOIN images i ON i.id = l.image_id "
                 "WHERE l.deleted = :false AND i.deleted = :false AND l.id > :after_id")
        params: dict[str, Any] = {"false": False, "after_id": after_id, "limit": limit}
        statement = sqlalchemy.text(query + (" AND l.image_id IN :ids" if image_ids else "")
                                    + " ORDER BY l.id LIMIT :limit")
        if image_ids:
            statement = statement.bindparams(sqlalchemy.bindparam("ids", expanding=True))
            params["ids"] = list(image_ids)
        return self._rows(statement, params)

    def image_locations(self, image_ids: Sequence[str]) -> list[LocationRow]:
        """Every live location of these images, in one SELECT."""
        return self._rows(sqlalchemy.text(
            "SELECT id, image_id, value, meta_data FROM image_locations "
            "WHERE deleted = :false AND image_id IN :ids").bindparams(
                sqlalchemy.bindparam("ids", expanding=True)),
            {"false": False, "ids": sorted(set(image_ids))})

    def update_metadata(self, changes: Sequence[MetadataChange]) -> set[int]:
        """Apply the changes, each only if its row is still as expected; the ids that landed.

        One conditional UPDATE per ``ROWS_PER_UPDATE`` changes (of distinct locations).
        """
        landed: set[int] = set()
        for start in range(0, len(changes), ROWS_PER_UPDATE):
            landed |= self._update_some(changes[start:start + ROWS_PER_UPDATE])
        return landed

    def _update_some(self, changes: Sequence[MetadataChange]) -> set[int]:
        params: dict[str, Any] = {"now": _now(), "false": False}
        new_cases, old_cases, ids = [], [], []
        for n, change in enumerate(changes):
            params.update({f"i{n}": change.location_id, f"n{n}": change.written, f"o{n}": change.expected})
            new_cases.append(f"WHEN :i{n} THEN :n{n}")
            old_cases.append(f"WHEN :i{n} THEN :o{n}")
            ids.append(f":i{n}")
        with self._errors():
            updated = self._conn.execute(sqlalchemy.text(
                f"UPDATE image_locations SET meta_data = CASE id {' '.join(new_cases)} END, "
                f"updated_at = :now WHERE deleted = :false AND id IN ({', '.join(ids)}) "
                f"AND meta_data = CASE id {' '.join(old_cases)} END"), params).rowcount
        landed = {change.location_id for change in changes}
        if updated != len(changes):  # someone else changed some rows: find out which are ours
            current = {row.id: row.metadata for row in self._rows(sqlalchemy.text(
                "SELECT id, image_id, value, meta_data FROM image_locations WHERE id IN :ids").bindparams(
                    sqlalchemy.bindparam("ids", expanding=True)), {"ids": sorted(landed)})}
            landed = {change.location_id for change in changes
                      if current.get(change.location_id) == change.new}
        return landed

    def insert_location(self, image_id: str, url: str, metadata: dict[str, Any]) -> bool:
        """The image's live location ``url`` (``metadata["store"]`` names its store), added unless
        it is there already: whether the image has it now, False when the image is deleted or not
        active. The image's row is locked until the transaction ends, so two runs registering the
        same copy at once add one location, not two (deleting one store copy of two identical
        locations would leave the other pointing at nothing)."""
        params = {"image_id": image_id, "url": url, "meta": json.dumps(metadata), "false": False, "now": _now()}
        # sqlite (which no Glance shares between hosts) has no row locks: it locks the whole file
        lock = "" if self._conn.dialect.name == "sqlite" else " FOR UPDATE"
        with self._errors():
            live = self._conn.execute(sqlalchemy.text(
                "SELECT id FROM images WHERE id = :image_id AND status = 'active' AND deleted = :false" + lock),
                params).first()
            if live is None:
                return False
            there = self._conn.execute(sqlalchemy.text(
                "SELECT id FROM image_locations WHERE image_id = :image_id AND value = :url AND deleted = :false"),
                params).first()
            if there is None:
                self._conn.execute(sqlalchemy.text(
                    "INSERT INTO image_locations (image_id, value, meta_data, status, deleted, created_at, "
                    "updated_at) VALUES (:image_id, :url, :meta, 'active', :false, :now, :now)"), params)
            return True

    def _rows(self, statement, params: dict[str, Any]) -> list[LocationRow]:
        with self._errors():
            return [LocationRow(row.id, row.image_id, row.value, row.meta_data)
                    for row in self._conn.execute(statement, params)]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQL errors after connecting (a wrong schema, a deadlock, a lock wait) in one line."""
        try:
            yield
        except sqlalchemy.exc.DBAPIError as err:
            why = redact_text(str(err.orig or err).strip().splitlines()[0])
            if any(word in why.lower() for word in _LOCK_WORDS):
                fix = ("another writer held the rows: run again (what committed before is journaled, "
                       "and a run leaves alone what is already done)")
            else:
                fix = "check that database_connection is Glance's database, of a Glance release with multi-store"
            raise CloudRequestError(
                f"database_connection: the {self._doing} failed in the database ({why}); {fix}") from None


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
