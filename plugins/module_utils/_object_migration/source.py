# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Swift says about an object: its kind (plain, SLO, DLO), size, ETag and headers, its segments.

A container listing promises an object's ETag and size (``listing_promise``); its GET or HEAD
describes it whole (``SourceObject``); a manifest's segments make its ETag (``slo_etag``,
``dlo_etag``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

PLAIN, SLO, DLO = "plain", "slo", "dlo"
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def wire_text(value: str) -> str:
    # HTTP clients hand header bytes over as latin-1; Swift clients send UTF-8
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


@dataclass
class SourceObject:
    """One Swift object as its GET or HEAD describes it."""

    name: str
    size: int
    etag: str
    last_modified: str
    kind: str = PLAIN
    manifest: str | None = None  # a DLO's ``container/prefix``, as Swift names them (unquoted)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_headers(cls, name: str, headers: Mapping[str, str]) -> "SourceObject":
        lowered = {key.lower(): value for key, value in headers.items()}
        if lowered.get("x-static-large-object", "").lower() == "true":
            kind = SLO
        elif "x-object-manifest" in lowered:
            kind = DLO
        else:
            kind = PLAIN
        # Swift percent-decodes X-Object-Manifest before it lists the segments
        manifest = unquote(wire_text(lowered["x-object-manifest"])) if kind == DLO else None
        return cls(name, int(lowered.get("content-length", 0)), lowered.get("etag", "").strip('"'),
                   lowered.get("last-modified", ""), kind, manifest, lowered)


def listing_promise(item: Mapping[str, Any]) -> tuple[str, int] | None:
    """(source ETag, size) a container listing promises, or None when only a HEAD can tell.

    A listing shows an SLO's assembled ETag (``slo_etag``) and size, but a DLO as its empty
    manifest: an empty object may be a DLO.
    """
    if "slo_etag" in item:
        return item["slo_etag"].strip('"'), item["bytes"]
    if item["bytes"] == 0 and item["hash"] == EMPTY_MD5:
        return None
    return item["hash"], item["bytes"]


@dataclass(frozen=True)
class Segment:
    name: str
    size: int
    etag: str
    byte_range: str | None = None  # an SLO segment may be a range of an object: its ETag is the whole's
    nested: bool = False  # an SLO entry that is itself an SLO


def slo_etag(segments: Iterable[Segment]) -> str:
    """The ETag Swift gives an SLO: the MD5 of its segments' ETags (a range adds ``:range;``)."""
    digest = hashlib.md5()
    for segment in segments:
        digest.update((f"{segment.etag}:{segment.byte_range};" if segment.byte_range
                       else segment.etag).encode())
    return digest.hexdigest()


def dlo_etag(segments: Iterable[Segment]) -> str:
    """The ETag Swift gives a DLO: the MD5 of its segments' ETags, in listing order."""
    return hashlib.md5("".join(segment.etag for segment in segments).encode()).hexdigest()
