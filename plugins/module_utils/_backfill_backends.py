# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the location backfill reads and writes: Glance's API, or Glance's database directly.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import json
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._backfill import (
    WRITE,
    Journal,
    LocationPlan,
    Report,
    journaled_location,
)
from ansible_collections.storeops.openstack.plugins.module_utils._errors import (
    CloudRequestError,
    InvalidInputError,
    MissingDependencyError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._redact import redact_text

try:
    import sqlalchemy
except ImportError:
    SQLALCHEMY_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    SQLALCHEMY_IMPORT_ERROR = None

Planner = Callable[[str, str, dict], LocationPlan]
IDS_PER_REQUEST = 100
ROWS_PER_UPDATE = 200  # 600 bound parameters: under every database's limit


class ApiBackend:
    """Reads images page by page; writes one PATCH per image, reads the result back."""

    def __init__(self, glance: GlanceClient, page_size: int, concurrency: int):
        self.glance = glance
        self.page_size = page_size
        self.concurrency = concurrency

    def images(self, image_ids: list[str] | None) -> Iterator[dict[str, Any]]:
        if not image_ids:
            yield from self.glance.iter_images(self.page_size)
            return
        # ids go into the query string: keep each request's URL short
        step = min(self.page_size, IDS_PER_REQUEST)
        for start in range(0, len(image_ids), step):
            chunk = image_ids[start:start + step]
            yield from self.glance.iter_images(step, id="in:" + ",".join(chunk))

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
        with self._connect() as conn:
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

    def undo(self, entries, image_ids: list[str] | None, check_mode: bool) -> dict[str, Any]:
        """Put back each journaled location's metadata, newest first, if it is still as written."""
        outcome: dict[str, Any] = {"restored": 0, "already_restored": 0, "conflicts": 0, "missing": 0,
                                   "problems": []}
        with self._connect() as conn, conn.begin():
            for entry in entries:
                if image_ids and entry["image_id"] not in image_ids:
                    continue
                rows = [row for row in conn.execute(sqlalchemy.text(
                    "SELECT id, value, meta_data FROM image_locations "
                    "WHERE image_id = :image_id AND deleted = :false"),
                    {"image_id": entry["image_id"], "false": False})
                    if journaled_location(entry, row.id, row.value)]
                if not rows:
                    outcome["missing"] += 1
                    outcome["problems"].append({**_undo_detail(entry), "reason": "location no longer exists"})
                    continue
                current = _metadata(rows[0].meta_data)
                if current == entry["before"]:
                    outcome["already_restored"] += 1
                elif current != entry["after"]:
                    outcome["conflicts"] += 1
                    outcome["problems"].append({**_undo_detail(entry), "reason": "changed since the run; left as is"})
                elif check_mode or self._update(conn, rows[0].id, rows[0].meta_data, entry["before"]):
                    outcome["restored"] += 1
        return outcome


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
