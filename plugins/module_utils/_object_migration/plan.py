# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of a Swift-to-S3 object migration: no network here.

Which bucket a container goes to, how large the parts are (and whether they can follow a
manifest's segments), what a key found in S3 is (this collection's copy of this source, current
or stale, or a conflict) and so what to do with the object (``plan_object``: ``Current``,
``Copy`` or ``Conflict``), and what proves a copy before its source goes.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Mapping, Union
from urllib.parse import unquote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    IDENTITY_KEYS,
    MD5,
    S3_ETAG,
    SOURCE_ETAG,
    source_identity,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    PLAIN,
    Segment,
    SourceObject,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import ObjectInfo

MIB = 2**20
MIN_PART = 5 * MIB  # S3's smallest part but the last
MAX_PART = 5 * 2**30
MAX_PARTS = 10000
SEGMENT_SUFFIXES = ("_segments", "+segments")  # python-swiftclient's and older tools' habits
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# -- naming and sizing --------------------------------------------------------------------------

def is_segment_container(name: str) -> bool:
    return name.endswith(SEGMENT_SUFFIXES)


def bucket_problem(name: str) -> str | None:
    """Why ``name`` is not a bucket name S3 accepts, or None."""
    if not _BUCKET_NAME.match(name):
        return "3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "no two dots in a row and no dot next to a hyphen"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return "not an IP address"


def bucket_for(container: str, names: Mapping[str, str], template: str) -> str:
    """The bucket a container migrates to: its entry in ``names``, else ``template``."""
    try:
        bucket = names[container] if container in names else template.format(container=container)
    except (KeyError, IndexError, ValueError) as err:
        raise InvalidInputError(f"bucket_name_template {template!r} is not a format string with "
                                f"only {{container}} in it ({err})") from None
    problem = bucket_problem(bucket)
    if problem:
        raise InvalidInputError(
            f"container {container!r} maps to bucket {bucket!r}, which S3 refuses ({problem}); "
            f"name its bucket in bucket_names, e.g. {{{container!r}: 'my-bucket'}}")
    return bucket


def buckets_for(containers: Iterable[str], names: Mapping[Any, Any], template: str) -> dict[str, str]:
    """Each container's bucket; refused when two containers would share one (their keys collide)."""
    for container, bucket in names.items():
        if not isinstance(container, str) or not isinstance(bucket, str):
            raise InvalidInputError(
                f"bucket_names: {container!r}: {bucket!r} is not a container name mapped to a bucket "
                "name; write both as quoted strings, e.g. {'my_container': 'my-bucket'}")
    buckets = {container: bucket_for(container, names, template) for container in containers}
    sharing: dict[str, list[str]] = {}
    for container, bucket in buckets.items():
        sharing.setdefault(bucket, []).append(container)
    for bucket, sources in sharing.items():
        if len(sources) > 1:
            raise InvalidInputError(
                f"containers {', '.join(map(repr, sources))} all map to bucket {bucket!r}, where "
                "objects of the same name would overwrite each other; give each container its own "
                "bucket in bucket_names")
    return buckets


def part_size_for(size: int, preferred: int) -> int:
    """``preferred``, grown to a whole MiB if ``size`` would need more than 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS / MIB) * MIB
    chosen = max(preferred, needed, MIN_PART)
    if chosen > MAX_PART:
        raise InvalidInputError(f"an object of {size} bytes does not fit in {MAX_PARTS} parts of at most 5 GiB")
    return chosen


# -- what a key in S3 is --------------------------------------------------------------------

ABSENT, CURRENT, STALE, CONFLICT = "absent", "current", "stale", "conflict"


@dataclass(frozen=True)
class SourceKey:
    """A Swift object as the run sees it before reading it: where it is, its ETag, size and kind."""

    account: str
    container: str
    name: str
    etag: str
    size: int
    kind: str = PLAIN


@dataclass(frozen=True)
class KeyVerdict:
    """What a key found in S3 is for a source: ``state`` is ABSENT, CURRENT, STALE or CONFLICT."""

    state: str
    reason: str = ""


def _unrecorded_multipart(metadata: Mapping[str, str], etag: str) -> bool:
    """A multipart key whose S3 ETag and MD5 were never recorded."""
    return metadata.get(S3_ETAG) is None and metadata.get(MD5) is None and "-" in etag


def _recorded_identity(metadata: Mapping[str, str]) -> dict[str, str | None]:
    """The Swift object a key says it is the copy of (all None: it says none)."""
    return {key: metadata.get(key) for key in IDENTITY_KEYS}


def _names_source(recorded: Mapping[str, str | None], source: SourceKey) -> bool:
    return recorded == source_identity(source.account, source.container, source.name)


def needs_segment_etags(source: SourceKey, found: ObjectInfo | None) -> bool:
    """Whether ``classify_key`` needs the ETags the source's segments make to tell what ``found`` is."""
    return (found is not None and source.kind != PLAIN and _unrecorded_multipart(found.metadata, found.etag or "")
            and _names_source(_recorded_identity(found.metadata), source))


def classify_key(source: SourceKey, found_etag: str | None, found_size: int | None,
                 found_metadata: Mapping[str, str] | None, recomputed: Collection[str] = ()) -> KeyVerdict:
    """Whether the key S3 holds (None: none) is this collection's copy of ``source``.

    Ours when its recorded identity is the source's and its ETag is the one this collection
    wrote (or the MD5 it recorded: an S3 that recomputes the ETag on a copy onto itself gives
    that); then CURRENT if it holds the source's version, else STALE (copied again). Keys of
    0.1.0 carry no identity: ours when their recorded source ETag and MD5 are the source's.
    A key with this identity but no recorded ETag is an unfinished copy of ours only when its
    ETag is one of ``recomputed``: the ETags this run's copy would have (``needs_segment_etags``
    says when they matter).
    Anything else is a CONFLICT: someone else wrote the key, which is never overwritten
    unasked. Metadata decides here; deleting a source needs more (``delete_proof``).
    """
    if found_size is None:
        return KeyVerdict(ABSENT)
    metadata = found_metadata or {}
    etag = found_etag or ""
    recorded = _recorded_identity(metadata)
    if any(recorded.values()):
        if not _names_source(recorded, source):
            other = "/".join(unquote(recorded[key] or "?") for key in IDENTITY_KEYS)
            return KeyVerdict(CONFLICT, f"the key holds the copy of another Swift object ({other})")
        written = metadata.get(S3_ETAG)
        if _unrecorded_multipart(metadata, etag):
            # killed between completing a multipart upload and recording its ETag, or a
            # multipart write by someone else that kept this identity: only the ETag tells
            if etag in recomputed:
                return KeyVerdict(STALE, "an unfinished copy by this collection: copied again")
            return KeyVerdict(CONFLICT, f"the key names this source but records no ETag, and its S3 ETag {etag} "
                                        "is not one the source's segments make")
        if etag not in (written, metadata.get(MD5)):
            return KeyVerdict(CONFLICT, f"the key was written again after this collection copied it "
                                        f"(S3 ETag {etag}, this collection wrote {written})")
        if metadata.get(SOURCE_ETAG) == source.etag and found_size == source.size and metadata.get(MD5):
            return KeyVerdict(CURRENT)
        return KeyVerdict(STALE, "the Swift object changed since its copy: copied again")
    md5 = metadata.get(MD5)
    if (md5 and metadata.get(SOURCE_ETAG) == source.etag and found_size == source.size
            and (source.kind != PLAIN or md5 == source.etag) and (etag == md5 or "-" in etag)):
        return KeyVerdict(CURRENT)  # copied by 0.1.0
    return KeyVerdict(CONFLICT, "the key holds an object this collection did not copy from this Swift "
                                "object (no source identity, or a recorded ETag or MD5 that is not the source's)")


CONFLICT_FIX = ("the key is kept (on_conflict: skip) and so is the Swift object; find out who wrote the "
                "key, then move it away or run with on_conflict: overwrite to replace it with the Swift object")


# -- what to do with one object ---------------------------------------------------------------

@dataclass(frozen=True)
class Current:
    """The key is this collection's copy of the source's version: nothing to copy."""

    md5: str  # the MD5 the key records
    target_etag: str | None  # S3's ETag of the key: a delete's proof starts from it


@dataclass(frozen=True)
class Copy:
    """Copy the source; the write holds only while the key is as seen (``replaces``: its ETag, None: no key)."""

    replaces: str | None
    reason: str = ""  # why a key already there is replaced


@dataclass(frozen=True)
class Conflict:
    """Someone else wrote the key: it stays, and so does the source."""

    reason: str


ObjectStep = Union[Current, Copy, Conflict]


def plan_object(source: SourceKey, found: ObjectInfo | None, on_conflict: str,
                recomputed: Collection[str] = ()) -> ObjectStep:
    """What to do with ``source``, given the key S3 holds for it (``found``, None: none).

    ``recomputed`` is ``classify_key``'s; ``on_conflict: overwrite`` copies over a conflict.
    """
    found_etag = found.etag if found else None
    verdict = classify_key(source, found_etag, found and found.size, found and found.metadata, recomputed)
    if verdict.state == CURRENT:
        return Current(found.metadata[MD5], found_etag)
    if verdict.state == CONFLICT:
        if on_conflict != "overwrite":
            return Conflict(verdict.reason)
        return Copy(found_etag, f"overwritten (on_conflict: overwrite): {verdict.reason}")
    return Copy(found_etag, verdict.reason)


# -- parts -------------------------------------------------------------------------------------

def aligned_part_sizes(segments: list[Segment] | None) -> list[int] | None:
    """One part per segment, when S3 allows it: S3 then checks each part against its segment's ETag.

    Such a part streams through with the segment's ETag as its Content-MD5, so the copier
    neither holds nor hashes it. S3 wants parts of 5 MiB to 5 GiB (the last may be smaller),
    at most 10,000 of them; a ranged segment's bytes have no ETag of their own.
    """
    if not segments or len(segments) > MAX_PARTS:
        return None
    if any(s.byte_range or not 0 < s.size <= MAX_PART for s in segments):
        return None
    if any(s.size < MIN_PART for s in segments[:-1]):
        return None
    return [s.size for s in segments]


def multipart_etag(part_md5s: Iterable[bytes]) -> str:
    """S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, a dash, the count."""
    digests = list(part_md5s)
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


# -- proof before a source goes ---------------------------------------------------------------

def delete_proof(source: SourceObject, target_etag: str, md5: str | None = None, sent_etag: str | None = None,
                 segments: list[Segment] | None = None, manifest_etag: str | None = None) -> str | None:
    """How S3's own ETag of the key proves it holds the source's bytes; None: read it back.

    S3 computes the ETag from the bytes it received: the MD5 of a single PUT, the MD5 of the
    parts' MD5s for a multipart upload. That equals the source's MD5 (a plain object's Swift
    ETag, or ``md5``, the MD5 of the stream this run read and checked), the ETag of the parts
    this run sent (``sent_etag``, from bytes checked against the source), or, when the parts
    followed the segments, the one the segments' ETags make (``segments``, whose ETags must
    make ``manifest_etag``, the manifest's ETag Swift gives now). Metadata is no proof.
    """
    known_md5 = source.etag if source.kind == PLAIN else md5
    if known_md5 and target_etag == known_md5:
        return "S3's ETag is the source's MD5"
    if sent_etag and target_etag == sent_etag:
        return "S3's ETag is the one of the checked parts this run sent"
    if (segments and manifest_etag == source.etag and len(segments) <= MAX_PARTS
            and not any(segment.byte_range for segment in segments)
            and target_etag == multipart_etag(bytes.fromhex(segment.etag) for segment in segments)):
        return "S3's multipart ETag is made of the source's segment ETags"
    return None
