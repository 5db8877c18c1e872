#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_location_backfill
short_description: Tag legacy Glance image locations with their store, correctly and in bulk
version_added: 0.1.0
description:
  - Images created before Glance multi-store have locations without C(metadata.store). Glance
    fills it lazily, on a single-image GET, with the first store whose url prefix is a plain
    C(startswith) of the URL, so nested prefixes (C(file:///srv/images) and C(file:///srv/images2))
    get the wrong store, and a wrong tag is never corrected.
  - This module matches every location URL against every store's url prefix (the longest wins, on
    a path boundary) and writes the store id into the locations that lack it; with
    O(fix_mismatched=true) it also corrects wrong tags.
  - O(backend=api) PATCHes C(/locations). Glance re-derives the tag on every such PATCH with its own
    rule, so this back end only writes where Glance's rule gives the right store and reports the
    rest as skipped. O(backend=database) updates C(image_locations.meta_data) directly and can write
    every location.
  - Every run that changes anything writes a journal (JSON Lines, mode 0600) of each location's
    metadata before and after; O(mode=undo) replays a journal backwards. With O(journal_url) the
    journal is also shipped to Swift or S3 as it grows, and undo can read it back from there.
  - With O(backend=database) the journal ships between two pages' transactions, never inside one.
  - Images are read page by page; credentials inside location URLs never appear in results or the
    journal (URLs are redacted; the journal names a location by its id and redacted URL).
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.url_prefix
  - storeops.openstack.journal
attributes:
  check_mode:
    support: full
    description: Returns the full plan (counts and details) and changes nothing.
  diff_mode:
    support: full
    description: Shows each changed image's location metadata before and after (the first O(max_details) images).
options:
  mode:
    description:
      - V(backfill) writes store tags; V(undo) restores what the O(journal) recorded.
    type: str
    choices: [backfill, undo]
    default: backfill
  backend:
    description:
      - Where to read and write locations. V(database) needs O(database_connection) or
        O(glance_api_conf), and SQLAlchemy with the database's driver.
    type: str
    choices: [api, database]
    default: api
  fix_mismatched:
    description:
      - Also correct locations tagged with another store than their url prefix says.
    type: bool
    default: false
  database_connection:
    description:
      - SQLAlchemy URL of Glance's database, for O(backend=database). Defaults to the
        C([database] connection) of O(glance_api_conf), which is also read there for that.
    type: str
  image_ids:
    description:
      - Only these images. Default is every image the credentials see (for an admin, all).
    type: list
    elements: str
  batch_size:
    description:
      - Images per API page, or location rows per database page and transaction; with
        O(mode=undo), journal entries read and restored per transaction.
    type: int
    default: 500
  concurrency:
    description:
      - PATCH requests in flight at once with O(backend=api).
    type: int
    default: 4
  limit:
    description:
      - Write the locations of at most this many images in this run (images with nothing to write
        do not count); the others are counted in RV(progress) as left, and a later run finds them
        untagged again. Every page is still read, so the counts cover every image.
      - With O(mode=undo) it is ignored.
    type: int
  max_duration:
    description:
      - Time budget in seconds. Once it has passed, no new image's writes start; a page's writes
        already started finish (so a run may overrun by one page, O(batch_size)), and the rest is
        counted in RV(progress) as left. The pages are still read to the end.
      - With O(mode=undo) it is ignored.
    type: int
  journal:
    description:
      - The journal to replay with O(mode=undo), the path of a local journal (RV(journal)) or the
        URL of a run shipped with O(journal_url) (RV(journal_url),
        C(swift://container/prefix/<run id>) or C(s3://bucket/prefix/<run id>)), whose objects are
        read back in sequence order into a temporary file in O(journal_dir), removed afterwards.
      - A shipped run with a gap in its sequence is refused before anything is restored. An
        C(s3://) URL is read with the O(journal_s3_endpoint_url) options, a C(swift://) one
        through the module's cloud.
    type: path
  max_details:
    description:
      - How many items each detail list of the result holds at most.
    type: int
    default: 20
"""

EXAMPLES = r"""
- name: Plan the backfill (nothing changes)
  storeops.openstack.glance_location_backfill:
    cloud: production
    glance_api_conf: /etc/glance/glance-api.conf
  check_mode: true
  register: plan

- name: Backfill every location, correcting wrong tags, straight in the database
  storeops.openstack.glance_location_backfill:
    cloud: production
    backend: database
    glance_api_conf: /etc/glance/glance-api.conf
    fix_mismatched: true
  register: backfill

- name: Undo that run
  storeops.openstack.glance_location_backfill:
    mode: undo
    backend: database
    glance_api_conf: /etc/glance/glance-api.conf
    journal: "{{ backfill.journal }}"

- name: Backfill from an AWX job, the journal shipped to Swift as it grows
  storeops.openstack.glance_location_backfill:
    cloud: production
    backend: database
    glance_api_conf: /etc/glance/glance-api.conf
    journal_url: swift://storeops-journals/backfill
  register: shipped

- name: Undo it in a later job, from Swift
  storeops.openstack.glance_location_backfill:
    cloud: production
    mode: undo
    backend: database
    glance_api_conf: /etc/glance/glance-api.conf
    journal: "{{ shipped.journal_url }}"
"""

RETURN = r"""
counts:
  description:
    - Locations per category (V(correct), V(missing), V(mistagged), V(unmatched)), how many
      untagged ones Glance's own rule would tag wrongly (V(glance_would_get_wrong)), and what the
      run did (V(planned_writes), V(written), V(skipped), V(rederived), V(conflicts), V(failed)),
      plus V(images_scanned) and V(locations_scanned). With O(mode=undo), V(restored),
      V(already_restored), V(conflicts) and V(missing).
  returned: always
  type: dict
details:
  description: The first O(max_details) locations planned for writing.
  returned: always
  type: list
  elements: dict
unmatched:
  description: The first O(max_details) locations no store matches (left untouched), with the reason.
  returned: always
  type: list
  elements: dict
problems:
  description: The first O(max_details) locations skipped, re-derived, in conflict or failed, with the reason.
  returned: always
  type: list
  elements: dict
store_prefixes:
  description: The url prefixes used, credentials redacted, with their source.
  returned: mode=backfill
  type: list
  elements: dict
notes:
  description: What the prefix sources could not tell.
  returned: mode=backfill
  type: list
  elements: str
progress:
  description:
    - Where the whole backfill stands after this run, in images (the roles print it with the
      P(storeops.openstack.progress_line#filter) filter) - C(total) images scanned, C(done) those
      none of whose locations needs a write any more, C(left) those a later run still writes
      (left by O(limit) or O(max_duration), or failed), C(failed), C(moved) (finished by this run),
      C(seconds); C(bytes_total) and
      C(bytes_done) are null and C(bytes_moved) 0 (a backfill moves no image data).
    - In check mode, C(left) counts every image the run would write.
  returned: mode=backfill
  type: dict
journal:
  description: Path of the journal written by this run, if it changed anything (also when it failed after a write).
  returned: when changed
  type: str
journal_url:
  description:
    - The URL of this run's shipped journal (C(<journal_url>/<run id>), for O(journal) with
      O(mode=undo)), once all of it was shipped; when a shipment failed, a warning names what is
      missing and RV(journal) has it all.
  returned: when changed with O(journal_url)
  type: str
"""

import os

from ansible_collections.storeops.openstack.plugins.module_utils._backfill.executor import (
    ApiBackend,
    DatabaseBackend,
    backfill,
    undo,
)
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.journal import Journal, read_journal
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.plan import API, DATABASE, BackfillPlanner
from ansible_collections.storeops.openstack.plugins.module_utils._backfill.result import (
    Report,
    UndoReport,
    backfill_result,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotAuthorizedError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import journal_path
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._glance.conf import GlanceApiConf
from ansible_collections.storeops.openstack.plugins.module_utils._glance.database import open_database
from ansible_collections.storeops.openstack.plugins.module_utils._glance.location_match import matcher_from_options
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import URL_PREFIX_ARGUMENT_SPEC
from ansible_collections.storeops.openstack.plugins.module_utils._storage.journal_url import (
    JOURNAL_ARGUMENT_SPEC,
    fetch_journal,
    is_journal_url,
    journal_shipment,
)


class GlanceLocationBackfill(StoreOpsModule):
    argument_spec = {
        "mode": {"type": "str", "choices": ["backfill", "undo"], "default": "backfill"},
        "backend": {"type": "str", "choices": ["api", "database"], "default": "api"},
        "fix_mismatched": {"type": "bool", "default": False},
        **URL_PREFIX_ARGUMENT_SPEC,
        "database_connection": {"type": "str", "no_log": True},
        "image_ids": {"type": "list", "elements": "str"},
        "batch_size": {"type": "int", "default": 500},
        "concurrency": {"type": "int", "default": 4},
        "limit": {"type": "int"},
        "max_duration": {"type": "int"},
        **JOURNAL_ARGUMENT_SPEC,
        "journal": {"type": "path"},  # a URL keeps its form: only a leading ~ and $VARs are expanded
        "max_details": {"type": "int", "default": 20},
    }
    module_kwargs = {
        "supports_check_mode": True,
        "required_if": [("mode", "undo", ["journal"])],
    }

    def run(self):
        params = self.params
        for option in ("batch_size", "concurrency", "max_details"):
            if params[option] < 1:
                raise InvalidInputError(f"{option} must be at least 1, not {params[option]}")
        for option in ("limit", "max_duration"):
            if params[option] is not None and params[option] < 1:
                raise InvalidInputError(f"{option} must be at least 1, not {params[option]}; omit it for no bound")
        conf = GlanceApiConf(params["glance_api_conf"]) if params["glance_api_conf"] else None
        if params["mode"] == "undo":
            return self._undo(conf)
        return self._backfill(conf)

    def _glance(self) -> tuple[GlanceClient, list[dict]]:
        """The Glance client and the stores' details, which only admins may read."""
        glance = GlanceClient(self.conn)
        try:
            return glance, glance.stores_detail()
        except NotAuthorizedError:
            raise NotAuthorizedError(
                "glance_location_backfill needs admin credentials: these may not read "
                "/v2/info/stores/detail, nor every image's locations") from None

    def _backfill(self, conf):
        params = self.params
        needs_api = params["backend"] == API or "api" in params["url_prefix_sources"]
        glance, detailed = self._glance() if needs_api else (None, None)
        matcher, notes = matcher_from_options(params, conf, detailed)
        planner = BackfillPlanner(matcher, params["fix_mismatched"], params["backend"])
        journal = None
        if not self.check_mode:
            path = journal_path(params["journal_dir"], "glance_location_backfill")
            journal = Journal(path, params["backend"], journal_shipment(params, lambda: self.conn, path, self.ansible.warn),
                              ship_on_write=params["backend"] != DATABASE)
        if params["backend"] == API:
            backend = ApiBackend(glance, params["batch_size"], params["concurrency"])
        else:
            backend = DatabaseBackend(open_database(params["database_connection"], conf, self.ansible.no_log_values),
                                      params["batch_size"], journal.ship_due if journal else lambda: None)
        budget = SliceBudget(params["limit"], params["max_duration"])
        report = backfill(backend, planner, params["image_ids"], Report(params["max_details"]), journal, budget)
        return backfill_result(report, planner, notes, self.check_mode, self.ansible._diff)

    def _undo(self, conf):
        if self.params["backend"] != "database":
            raise InvalidInputError(
                "mode=undo needs backend=database: Glance's API re-derives store tags on every "
                "write, so it cannot put back what the journal recorded")
        params = self.params
        shipped = is_journal_url(params["journal"])
        path = (fetch_journal(params["journal"], params, lambda: self.conn, params["journal_dir"]) if shipped
                else params["journal"])
        try:
            entries = read_journal(path, params["batch_size"])
            database = open_database(params["database_connection"], conf, self.ansible.no_log_values)
            report = undo(database, entries, params["image_ids"], params["batch_size"],
                          UndoReport(params["max_details"]), self.check_mode)
        finally:
            if shipped:  # a copy: the shipped objects stay the journal
                os.unlink(path)
        return report.module_result()


def main():
    GlanceLocationBackfill()()


if __name__ == "__main__":
    main()
