# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which store a location URL belongs to: the longest store url prefix, on a path boundary.

Glance's own lazy update (``glance/common/store_utils.py``) takes the *first* store, in
``enabled_backends`` order, whose prefix is a plain ``startswith`` of the URL: with nested
prefixes (``file:///srv/images`` and ``file:///srv/images2``) it tags the wrong store. This
module computes the right answer and, beside it, what Glance would pick.

Credentials embedded in URLs take no part in matching beyond the user name: keys rotate, while
the user (the Swift account, the S3 access key) still tells two stores on one endpoint apart.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.url_prefix import (
    HTTP_PREFIX,
    StorePrefix,
    resolve_prefixes,
)

# User info runs to the first "@"; the user part holds no "/" (S3 secrets may).
_USERINFO = re.compile(r"(?P<userinfo>[^\s/@:?#]*(?::[^\s@]*)?)@")
_S3_SCHEMES = ("s3", "s3+http", "s3+https")

UNMATCHED, CORRECT, MISSING, MISTAGGED = "unmatched", "correct", "missing", "mistagged"


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    user: str | None
    rest: str

    @property
    def without_credentials(self) -> str:
        return f"{self.scheme}://{self.rest}"


def parse_url(url: str) -> ParsedUrl | None:
    scheme, sep, after = url.partition("://")
    if not sep or not scheme:
        return None
    match = _USERINFO.match(after)
    if match:
        userinfo = match.group("userinfo")
        user, colon, secret = userinfo.rpartition(":") if ":" in userinfo else (userinfo, "", "")
        # "host:8080/path@x" is a port and a path, not user info
        if not (colon and "/" in secret and secret.split("/", 1)[0].isdigit()):
            return ParsedUrl(scheme.lower(), unquote(user), after[match.end():])
    return ParsedUrl(scheme.lower(), None, after)


@dataclass(frozen=True)
class _Candidate:
    prefix: StorePrefix
    schemes: tuple[str, ...]
    user: str | None
    rest: str

    def matches(self, url: ParsedUrl) -> bool:
        if url.scheme not in self.schemes:
            return False
        if self.user is not None and self.user != url.user:
            return False
        if not self.rest:  # scheme-only prefix: "rbd://" without fsid, the http store
            return True
        if not url.rest.startswith(self.rest):
            return False
        if self.prefix.open_segment or self.rest.endswith("/"):
            return True
        return url.rest[len(self.rest):len(self.rest) + 1] in ("", "/")

    @property
    def specificity(self) -> tuple[int, bool]:
        return len(self.rest), self.user is not None


def _candidate(prefix: StorePrefix) -> _Candidate | None:
    if prefix.prefix == HTTP_PREFIX:
        return _Candidate(prefix, ("http", "https"), None, "")
    parsed = parse_url(prefix.prefix)
    if parsed is None:
        return None
    return _Candidate(prefix, (parsed.scheme,), parsed.user, parsed.rest)


@dataclass(frozen=True)
class Verdict:
    category: str
    current: str | None
    best: str | None
    glance_pick: str | None
    reason: str = ""

    @property
    def glance_would_get_wrong(self) -> bool:
        """Glance's lazy update would tag this untagged location wrongly, or not at all."""
        return self.category == MISSING and self.glance_pick != self.best


class StoreMatcher:
    """Matches location URLs against the stores' prefixes; built once, used for every location."""

    def __init__(self, prefixes: list[StorePrefix], store_order: list[str]):
        self.prefixes = prefixes
        self.store_order = store_order
        self._candidates = [c for c in map(_candidate, prefixes) if c is not None]
        self._glance_prefix: dict[str, str] = {}
        for prefix in prefixes:  # glance_store keeps one prefix per store: the first
            self._glance_prefix.setdefault(prefix.store, prefix.prefix)

    def best(self, url: str) -> tuple[str | None, str]:
        """(store id, "") or (None, why not)."""
        parsed = parse_url(url)
        if parsed is None:
            return None, "not a URL"
        found = [c for c in self._candidates if c.matches(parsed)]
        if not found:
            schemes = {s for c in self._candidates for s in c.schemes}
            return None, ("no store prefix matches" if parsed.scheme in schemes
                          else f"no store has scheme {parsed.scheme}")
        top = max(c.specificity for c in found)
        stores = sorted({c.prefix.store for c in found if c.specificity == top})
        if len(stores) > 1:
            return None, f"ambiguous: stores {', '.join(stores)} share the prefix"
        return stores[0], ""

    def may_be_in(self, url: str, store: str) -> bool:
        """Whether the location at ``url`` may be in ``store``: its prefix matches best, or nothing
        tells (no prefix of ``store`` is known, and no other store's matches)."""
        best = self.best(url)[0]
        if best is not None:
            return best == store
        return not any(prefix.store == store for prefix in self.prefixes)

    def glance_pick(self, url: str) -> str | None:
        """What Glance's lazy update would tag: the first plain startswith, in store order."""
        parsed = parse_url(url)
        if parsed is not None and parsed.scheme in _S3_SCHEMES:
            url = parsed.without_credentials  # Glance strips s3 credentials first
        for store in self.store_order:
            prefix = self._glance_prefix.get(store)
            if prefix and url.startswith(prefix):
                return store
        return None

    def judge(self, url: str, current: str | None) -> Verdict:
        best, reason = self.best(url)
        glance = self.glance_pick(url)  # what Glance tags lazily, or re-derives on a PATCH
        if best is None:
            return Verdict(UNMATCHED, current, None, glance, reason)
        if current == best:
            return Verdict(CORRECT, current, best, glance)
        if current is None:
            return Verdict(MISSING, current, best, glance)
        return Verdict(MISTAGGED, current, best, glance)


def matcher_from_options(params: dict[str, Any], conf, detailed: list[dict] | None
                         ) -> tuple[StoreMatcher, list[str]]:
    """The matcher for the url prefix options (doc fragment ``url_prefix``), and its notes.

    ``conf`` is the GlanceApiConf of ``glance_api_conf`` or None; ``detailed`` the API's store
    details, or None when the API is not a source.
    """
    prefixes, notes = resolve_prefixes(params["url_prefix_sources"], params["url_prefixes"],
                                       conf.prefixes() if conf else None, detailed)
    if not prefixes:
        raise InvalidInputError(
            "no store url prefixes: give glance_api_conf or url_prefixes, or allow source api "
            "in url_prefix_sources")
    if conf is not None and conf.enabled_backends():
        order = [store for store, _kind in conf.enabled_backends()]
    elif detailed is not None:
        order = [store["id"] for store in detailed]
    else:
        order = list(dict.fromkeys(prefix.store for prefix in prefixes))
    return StoreMatcher(prefixes, order), notes
