# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalogue's entries in one glance_image_catalog run: list once, then each entry as glance_image.

Each entry is a set of glance_image options (over the catalogue's ``defaults``); every entry is
checked against glance_image's own spec (``schema.py``) before this first request. The catalogue's images are listed once (``listing.py``) and every entry
is planned from that listing; only an entry with something to do is planned again from Glance
and carried out, by glance_image's own runner. One connection, one token, one store list.

Per-entry isolation: an entry's failure once running (a missing file, a refused request, a bug)
is recorded in its own result and the other entries go on.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import translate_sdk_error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient
from ansible_collections.storeops.openstack.plugins.module_utils._image.listing import ImageListing
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import ImageOptions, image_source
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ImageRun, ensure_image

# The module's connection options an entry's checks read (the checksums file is fetched with them).
RUN_OPTIONS = ("timeout", "validate_certs", "ca_cert")


@dataclass(frozen=True)
class EntryOutcome:
    """One entry's run, or why it failed (``failure``: the one-line reason, and a bug's report)."""

    name: str
    run: ImageRun | None = None
    failure: dict[str, str] | None = None

    def as_result(self, with_diff: bool) -> dict[str, Any]:
        if self.run is not None:
            return {"name": self.name, "failed": False, "msg": "", **self.run.as_result(with_diff)}
        failure = dict(self.failure or {})
        return {"name": self.name, "changed": False, "failed": True, "msg": failure.pop("reason", ""),
                "actions": [], "store_outcomes": {}, "image": None, **failure}


@dataclass(frozen=True)
class CatalogueRun:
    entries: tuple[EntryOutcome, ...]

    @property
    def failed(self) -> list[str]:
        return [entry.name for entry in self.entries if entry.failure is not None]

    @property
    def warnings(self) -> list[str]:
        return [f"{entry.name}: {warning}" for entry in self.entries if entry.run
                for warning in entry.run.execution.warnings]

    def as_result(self, with_diff: bool) -> dict[str, Any]:
        images = [entry.as_result(with_diff) for entry in self.entries]
        diffs = [{"before_header": image["name"], "after_header": image["name"], **image.pop("diff")}
                 for image in images if "diff" in image]
        result = {"changed": any(image["changed"] for image in images), "images": images}
        if diffs:
            result["diff"] = diffs
        return result


def run_params(params: dict[str, Any], catalogue: str | None, run_options: dict[str, Any]) -> dict[str, Any]:
    """A checked entry's options as glance_image's run takes them: the run's catalogue and connection options."""
    return {**params, "catalogue_name": catalogue, **{key: run_options[key] for key in RUN_OPTIONS}}


def ensure_entries(glance: GlanceClient, options: ImageOptions, checked: list[dict[str, Any]], catalogue: str | None,
                   run_options: dict[str, Any], check_mode: bool) -> CatalogueRun:
    """``checked``: every entry's options as ``schema.check_entries`` returned them (the whole
    catalogue checked before this first request); ``run_options``: the module's options, of which
    each entry takes ``RUN_OPTIONS``."""
    valid = [run_params(params, catalogue, run_options) for params in checked]
    listing = ImageListing.read(glance, [params["name"] for params in valid], catalogue,
                                _owners(options, valid) if not catalogue else [])
    outcomes = []
    for params in valid:
        name = params["name"]
        try:
            source = image_source(params)
            request, consumer = options.request(params, glance)
            outcomes.append(EntryOutcome(name, run=ensure_image(glance, request, source, check_mode,
                                                                consumer, listing)))
        except Exception as err:  # pylint: disable=broad-except
            # per-entry isolation: an expected failure is reported with its fix, a bug as one
            known = known_error(err, translate_sdk_error)
            outcomes.append(EntryOutcome(name, failure={"reason": str(known)} if known else bug_report(err)))
    return CatalogueRun(tuple(outcomes))


def _owners(options: ImageOptions, valid: list[dict[str, Any]]) -> list[str]:
    """The project ids the entries' images belong to; an unknown owner fails its entry later."""
    owners = set()
    for params in valid:
        try:
            owners.add(options.owner_id(params["owner"]))
        except InvalidInputError:
            continue
    return sorted(owners)
