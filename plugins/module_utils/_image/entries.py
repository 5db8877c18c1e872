# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalogue's entries in one glance_image_catalog run: list once, then each entry as glance_image.

Each entry is a set of glance_image options (over the catalogue's ``defaults``); every entry is
checked against glance_image's own spec (``schema.py``) before this first request. The catalogue's images are listed once (``listing.py``) and every entry
is planned from that listing; only an entry with something to do is planned again from Glance
and carried out, by glance_image's own runner. One connection, one token, one store list.

Per-entry isolation: an entry's failure once running (a missing file, a refused request, its
owner's lookup refused, a bug) is recorded in its own result and the other entries go on. A
checksums file several entries name (one ``SHA256SUMS`` for many images) is fetched once per run.

With ``catalogue_exclusive`` the run then retires the catalogue's images it no longer lists
(``catalogue.py``), planned from the same listing.

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
from ansible_collections.storeops.openstack.plugins.module_utils._image.catalogue import Collection, collect
from ansible_collections.storeops.openstack.plugins.module_utils._image.checksums import fetch_text
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import Lifecycle
from ansible_collections.storeops.openstack.plugins.module_utils._image.listing import ImageListing
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import ImageOptions, image_source
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ImageRun, ensure_image
from ansible_collections.storeops.openstack.plugins.module_utils._image.schema import duplicate_problems

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
class Exclusive:
    """``catalogue_exclusive``: how the images the catalogue no longer lists are retired."""

    lifecycle: Lifecycle
    ceph_access: dict[str, Any]


@dataclass(frozen=True)
class CatalogueRun:
    entries: tuple[EntryOutcome, ...]
    collection: Collection | None = None  # with catalogue_exclusive

    @property
    def failed(self) -> list[str]:
        return [entry.name for entry in self.entries if entry.failure is not None]

    @property
    def failure(self) -> str | None:
        """Why the run fails, after every entry and the collection ran; None if it does not."""
        reasons = []
        if self.failed:
            reasons.append(f"{len(self.failed)} of {len(self.entries)} catalogue entries failed: "
                           f"{', '.join(self.failed)} (see images)")
        if self.collection and self.collection.failures:
            reasons.append(f"{len(self.collection.failures)} of {len(self.collection.plans)} images the "
                           "catalogue no longer lists could not be retired (see gc.failures)")
        return "; ".join(reasons) or None

    @property
    def warnings(self) -> list[str]:
        return [f"{entry.name}: {warning}" for entry in self.entries if entry.run
                for warning in entry.run.execution.warnings]

    def as_result(self, with_diff: bool) -> dict[str, Any]:
        images = [entry.as_result(with_diff) for entry in self.entries]
        diffs = [{"before_header": image["name"], "after_header": image["name"], **image.pop("diff")}
                 for image in images if "diff" in image]
        result = {"changed": any(image["changed"] for image in images), "images": images}
        if self.collection:
            gc = self.collection.as_result()
            result["gc"] = {key: gc[key] for key in ("changed", "actions", "failures", "retired")}
            result["changed"] = result["changed"] or gc["changed"]
            diffs += self.collection.diffs()
        if diffs and with_diff:
            result["diff"] = diffs
        return result


def run_params(params: dict[str, Any], catalogue: str | None, run_options: dict[str, Any]) -> dict[str, Any]:
    """A checked entry's options as glance_image's run takes them: the run's catalogue and connection options."""
    return {**params, "catalogue_name": catalogue, **{key: run_options[key] for key in RUN_OPTIONS}}


def ensure_entries(glance: GlanceClient, options: ImageOptions, checked: list[dict[str, Any]], catalogue: str | None,
                   run_options: dict[str, Any], check_mode: bool, exclusive: Exclusive | None = None) -> CatalogueRun:
    """``checked``: every entry's options as ``schema.check_entries`` returned them (the whole
    catalogue checked before this first request); ``run_options``: the module's options, of which
    each entry takes ``RUN_OPTIONS``; ``exclusive``: retire the catalogue's images no entry names."""
    # before the first request: what the collection retires must be the catalogue's, and not all of it
    if exclusive and not catalogue:
        raise InvalidInputError("catalogue_name: catalogue_exclusive retires the images marked with the "
                                "catalogue's name; give catalogue_name")
    if exclusive and not checked:
        raise InvalidInputError("images: empty with catalogue_exclusive, which would retire every image of "
                                "the catalogue; list its images")
    valid = [run_params(params, catalogue, run_options) for params in checked]
    owners = _owners(options, valid)
    problems = duplicate_problems([(index, params["name"], f"project {owner}") for index, (params, owner)
                                   in enumerate(zip(valid, owners)) if isinstance(owner, str)])
    if problems:  # the same project named twice (by name and by id): refused before anything is changed
        raise InvalidInputError(f"images: {'; '.join(problems)}", problems=problems)
    owner_ids = sorted({owner for owner in owners if isinstance(owner, str)})
    listing = ImageListing.read(glance, [params["name"] for params in valid], catalogue,
                                owner_ids if not catalogue else [])
    fetch = _FetchOnce(run_options)
    outcomes = []
    for params, owner in zip(valid, owners):
        name = params["name"]
        if isinstance(owner, Exception):
            outcomes.append(_failed(name, owner, f"owner {params['owner']!r}: "))
            continue
        try:
            source = image_source(params, fetch)
            request, consumer = options.request(params, glance)
            outcomes.append(EntryOutcome(name, run=ensure_image(glance, request, source, check_mode,
                                                                consumer, listing)))
        except Exception as err:  # pylint: disable=broad-except
            outcomes.append(_failed(name, err))
    collection = None
    if exclusive:
        # an owner that could not be looked up is left out: its images are not collected (its entries failed)
        collection = collect(glance, catalogue, [params["name"] for params in valid], owner_ids, exclusive.lifecycle,
                             exclusive.ceph_access, check_mode, listing)
    return CatalogueRun(tuple(outcomes), collection)


def _failed(name: str, err: Exception, context: str = "") -> EntryOutcome:
    """Per-entry isolation: an expected failure is reported with its fix, a bug as one;
    ``context`` names the input a cloud's refusal was about (an input error names its own)."""
    known = known_error(err, translate_sdk_error)
    if known is None:
        return EntryOutcome(name, failure=bug_report(err))
    return EntryOutcome(name, failure={"reason": str(known) if isinstance(known, InvalidInputError)
                                       else context + str(known)})


def _owners(options: ImageOptions, valid: list[dict[str, Any]]) -> list[str | Exception]:
    """Each entry's owner as a project id, or why it is not known (a project not found, Keystone's
    403, a lost connection), which is then that entry's failure; each owner looked up once."""
    found: dict[str, str | Exception] = {}
    for params in valid:
        key = params["owner"] or ""
        if key not in found:
            try:
                found[key] = options.owner_id(params["owner"])
            except Exception as err:  # pylint: disable=broad-except
                found[key] = err
    return [found[params["owner"] or ""] for params in valid]


class _FetchOnce:
    """The run's checksums files by URL: one SHA256SUMS named by many entries is fetched once,
    and one that cannot be fetched fails each of them without being asked for again."""

    def __init__(self, run_options: dict[str, Any]):
        self._options = run_options
        self._texts: dict[str, str | InvalidInputError] = {}

    def __call__(self, url: str) -> str:
        if url not in self._texts:
            try:
                self._texts[url] = fetch_text(url, self._options["timeout"], self._options["validate_certs"],
                                              self._options["ca_cert"])
            except InvalidInputError as err:
                self._texts[url] = err
        text = self._texts[url]
        if isinstance(text, InvalidInputError):
            raise text
        return text
