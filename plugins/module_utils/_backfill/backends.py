# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the location backfill reads and writes: Glance's API, or Glance's database directly.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import itertools
import json
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import (
    WRITE,
    Journal,
    LocationPlan,
    Report,
    journaled_location,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudRequestError,
    InvalidInputError,
    MissingDependencyError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient

try:
    import sqlalchemy
except ImportError:
    SQLALCHEMY_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    SQLALCHEMY_IMPORT_ERROR = None

Planner = Callable[[str, str, dict], LocationPlan]
ROWS_PER_UPDATE = 200  # 600 bound parameters: under every database's limit


class ApiBackend:
    """Reads images page by page; writes one PATCH per image, reads the result back."""

    def __init__(self, glance: GlanceClient, page_size: int, concurrency: int):
        self.glance = glance
        self.page_size = page_size
        self.concurrency = concurrency

    def images(self, image_ids: list[str] | None) -> Iterator[dict[str, Any]]:
        if not image_ids:
            return self.glance.iter_images(self.page_size)
        return self.glance.iter_images_by_id(image_ids, self.page_size)

    def run(self, image_ids: list[str] | None, plan: Planner, report: Report,
            journal: Journal | None) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            pending = []
            for image in self.images(image_ids):
                if "locations" not in image:
                    raise InvalidInputError(
                        "backend: Glance does not show image locations to these credentials "
                        "(show_multiple_locations off, or not admin); use backend=database")
                report.counts["images_scanned"] += 1
                plans = [plan(image["id"], loc["url"], loc.get("metadata") or {})
                         for loc in image["locations"]]
                for location_plan in plans:
                    report.add(location_plan)
                if journal is not None and any(p.action == WRITE for p in plans):
                    pending.append(pool.submit(self._write, image["id"], plans))
                if len(pending) >= self.concurrency * 4:  # bound what is in flight
                    self._collect(pending, report, journal)
            self._collect(pending, report, journal)

    def _write(self, image_id: str, plans: list[LocationPlan]) -> tuple[list, dict | None, str]:
        value = [{"url": p.url, "metadata": p.after if p.action == WRITE else p.before} for p in plans]
        try:  # Glance takes /locations only whole
            stored = self.glance.patch(image_id, [{"op": "replace", "path": "/locations", "value": value}])
        except StoreOpsError as err:
            return plans, None, str(err)
        return plans, stored, ""

    @staticmethod
    def _collect(pending: list, report: Report, journal: Journal) -> None:
        for future in pending:
            plans, stored, error = future.result()
            stored_stores = {loc["url"]: (loc.get("metadata") or {}).get("store")
                             for loc in (stored or {}).get("locations", [])}
            for location_plan in plans:
                if location_plan.action != WRITE:
                    continue
                if stored is None:
                    report.problem("failed", location_plan, error)
                    continue
                journal.record(location_plan)
                got = stored_stores.get(location_plan.url)
                if got == location_plan.after["store"]:
                    report.counts["written"] += 1
                else:
                    report.problem("rederived", location_plan,
                                   f"Glance re-derived {got}; only backend=database can set "
                                   f"{location_plan.after['store']}")
        pending.clear()


class DatabaseBackend:
    """Glance's ``image_locations`` table over SQLAlchemy (sqlite, MySQL/MariaDB, PostgreSQL).

    Rows are read in keyset pages by id; each page's writes are one transaction, and each update
    only applies if the row's metadata is still what was read (a concurrent change wins).
    """

    def __init__(self, connection: str, batch_size: int):
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
        self.batch_size = batch_size

    def _connect(self):
        try:
            return self.engine.connect()
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise CloudRequestError(
                f"database_connection: cannot connect ({redact_text(str(err).splitlines()[0])})") from None

    def run(self, image_ids: list[str] | None, plan: Planner, report: Report,
            journal: Journal | None) -> None:
        seen_images: set[str] = set()
        last_id = 0
        with self._connect() as conn, _database_errors("backfill"):
            while True:
                # one transaction per page: its read, and its writes journaled before commit,
                # so a run killed at any point leaves no committed change unrecorded
                with conn.begin():
                    rows = self._page(conn, last_id, image_ids)
                    writes = []
                    for row in rows:
                        seen_images.add(row.image_id)
                        location_plan = plan(row.image_id, row.value, _metadata(row.meta_data))
                        report.add(location_plan)
                        if location_plan.action == WRITE:
                            writes.append((row, location_plan))
                    if writes and journal is not None:
                        for start in range(0, len(writes), ROWS_PER_UPDATE):
                            self._apply(conn, writes[start:start + ROWS_PER_UPDATE], report, journal)
                if len(rows) < self.batch_size:
                    break
                last_id = rows[-1].id
        report.counts["images_scanned"] = len(seen_images)

    def _page(self, conn, last_id: int, image_ids: list[str] | None) -> list:
        query = ("SELECT l.id, l.image_id, l.value, l.meta_data FROM image_locations l "
                 "JOIN images i ON i.id = l.image_id "
                 "WHERE l.deleted = :false AND i.deleted = :false AND l.id > :last_id")
        params: dict[str, Any] = {"false": False, "last_id": last_id, "limit": self.batch_size}
        statement = sqlalchemy.text(query + (" AND l.image_id IN :ids" if image_ids else "")
                                    + " ORDER BY l.id LIMIT :limit")
        if image_ids:
            statement = statement.bindparams(sqlalchemy.bindparam("ids", expanding=True))
            params["ids"] = list(image_ids)
        return list(conn.execute(statement, params))

    @staticmethod
    def _update(conn, location_id: int, expected_raw: str, new_metadata: dict) -> bool:
        result = conn.execute(sqlalchemy.text(
            "UPDATE image_locations SET meta_data = :new, updated_at = :now "
            "WHERE id = :id AND deleted = :false AND meta_data = :expected"),
            {"new": json.dumps(new_metadata), "now": _now(), "id": location_id, "false": False,
             "expected": expected_raw})
        return result.rowcount == 1

    def _apply(self, conn, writes: list, report: Report, journal: Journal) -> None:
        """One conditional UPDATE for many rows; each row changes only if still as read."""
        params: dict[str, Any] = {"now": _now(), "false": False}
        new_cases, old_cases, ids = [], [], []
        for n, (row, location_plan) in enumerate(writes):
            params.update({f"i{n}": row.id, f"n{n}": json.dumps(location_plan.after), f"o{n}": row.meta_data})
            new_cases.append(f"WHEN :i{n} THEN :n{n}")
            old_cases.append(f"WHEN :i{n} THEN :o{n}")
            ids.append(f":i{n}")
        updated = conn.execute(sqlalchemy.text(
            f"UPDATE image_locations SET meta_data = CASE id {' '.join(new_cases)} END, "
            f"updated_at = :now WHERE deleted = :false AND id IN ({', '.join(ids)}) "
            f"AND meta_data = CASE id {' '.join(old_cases)} END"), params).rowcount
        landed = {row.id for row, _plan in writes}
        if updated != len(writes):  # someone else changed some rows: find out which are ours
            current = dict(conn.execute(sqlalchemy.text(
                "SELECT id, meta_data FROM image_locations WHERE id IN :ids").bindparams(
                    sqlalchemy.bindparam("ids", expanding=True)), {"ids": list(landed)}).all())
            landed = {row.id for row, p in writes if _metadata(current.get(row.id)) == p.after}
        # journaled inside the transaction, before commit: nothing committed goes unrecorded
        for row, location_plan in writes:
            if row.id in landed:
                journal.record(location_plan, location_id=row.id)
                report.counts["written"] += 1
            else:
                report.problem("conflicts", location_plan, "changed by someone else since it was read")

    def undo(self, entries: Iterable[dict[str, Any]], image_ids: list[str] | None,
             check_mode: bool) -> dict[str, Any]:
        """Put back each journaled location's metadata, newest first, if it is still as written.

        ``batch_size`` entries at a time, each batch one SELECT and its own short transaction,
        so Glance's own writes never wait for more than one batch.
        """
        outcome: dict[str, Any] = {"restored": 0, "already_restored": 0, "conflicts": 0, "missing": 0,
                                   "problems": []}
        wanted = (entry for entry in entries if not image_ids or entry["image_id"] in image_ids)
        with self._connect() as conn, _database_errors("undo"):
            while True:
                batch = list(itertools.islice(wanted, self.batch_size))
                if not batch:
                    break
                with conn.begin():
                    self._undo_batch(conn, batch, outcome, check_mode)
        return outcome

    def _undo_batch(self, conn, batch: list[dict[str, Any]], outcome: dict[str, Any],
                    check_mode: bool) -> None:
        rows: dict[str, list] = {}
        for row in conn.execute(sqlalchemy.text(
                "SELECT id, image_id, value, meta_data FROM image_locations "
                "WHERE deleted = :false AND image_id IN :ids").bindparams(
                    sqlalchemy.bindparam("ids", expanding=True)),
                {"false": False, "ids": sorted({entry["image_id"] for entry in batch})}):
            rows.setdefault(row.image_id, []).append(row)
        stored = {row.id: row.meta_data for image_rows in rows.values() for row in image_rows}
        for entry in batch:
            matches = [row for row in rows.get(entry["image_id"], [])
                       if journaled_location(entry, row.id, row.value)]
            if not matches:
                outcome["missing"] += 1
                outcome["problems"].append({**_undo_detail(entry), "reason": "location no longer exists"})
                continue
            location_id = matches[0].id
            current = _metadata(stored[location_id])
            if current == entry["before"]:
                outcome["already_restored"] += 1
            elif current != entry["after"]:
                outcome["conflicts"] += 1
                outcome["problems"].append({**_undo_detail(entry), "reason": "changed since the run; left as is"})
            elif check_mode or self._update(conn, location_id, stored[location_id], entry["before"]):
                outcome["restored"] += 1
                stored[location_id] = json.dumps(entry["before"])  # as an older entry of it sees it


@contextmanager
def _database_errors(doing: str) -> Iterator[None]:
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
        raise CloudRequestError(f"database_connection: the {doing} failed in the database ({why}); {fix}") from None


_LOCK_WORDS = ("deadlock", "lock wait", "database is locked", "could not obtain lock", "lock timeout")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _undo_detail(entry: dict) -> dict:
    return {"image_id": entry["image_id"], "url": entry["url"]}


def _metadata(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
