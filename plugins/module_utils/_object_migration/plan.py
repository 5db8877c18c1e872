# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of a Swift-to-S3 object migration: no network here.

Which bucket a container goes to, how large the parts are, which Swift headers S3 can keep
(and which it cannot), what a key found in S3 is (this collection's copy of this source, current
or stale, or a conflict), the checks that prove the bytes read are the bytes Swift promised
(whole-object ETag, or every segment's ETag), and what proves a copy before its source goes.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Collection, Iterable, Mapping
from urllib.parse import quote, unquote

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    SourceMismatchError,
    StoreOpsError,
)

MIB = 2**20
MIN_PART = 5 * MIB  # S3's smallest part but the last
MAX_PART = 5 * 2**30
MAX_PARTS = 10000

# What a migrated object carries, so later runs and audits can verify it without Swift.
SOURCE_ETAG = "storeops-source-etag"
SOURCE_MODIFIED = "storeops-source-last-modified"
SOURCE_KIND = "storeops-source-kind"
MD5 = "storeops-md5"
# Which Swift object the key is the copy of (percent-quoted: S3 metadata is ASCII), and the
# ETag S3 gave the bytes this collection wrote: a key whose ETag is neither that nor its MD5
# was written again by someone else.
SOURCE_ACCOUNT = "storeops-source-account"
SOURCE_CONTAINER = "storeops-source-container"
SOURCE_NAME = "storeops-source-name"
S3_ETAG = "storeops-s3-etag"
IDENTITY_KEYS = (SOURCE_ACCOUNT, SOURCE_CONTAINER, SOURCE_NAME)
RECORD_KEYS = (SOURCE_ETAG, SOURCE_MODIFIED, SOURCE_KIND, MD5, S3_ETAG) + IDENTITY_KEYS

PLAIN, SLO, DLO = "plain", "slo", "dlo"
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
SEGMENT_SUFFIXES = ("_segments", "+segments")  # python-swiftclient's and older tools' habits

# Swift headers with an S3 counterpart, and the boto3 argument each becomes.
_SYSTEM_HEADERS = {
    "content-type": "ContentType",
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "content-language": "ContentLanguage",
    "cache-control": "CacheControl",
}
# Swift headers S3 has no place for: reported, never silently dropped.
_UNSUPPORTED_HEADERS = ("x-delete-at", "x-robots-tag", "x-symlink-target", "x-symlink-target-account")

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ResumeMismatchError(StoreOpsError):
    """An unfinished upload found for the key does not hold this source's bytes."""


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


# -- metadata -------------------------------------------------------------------------------------

def _wire_text(value: str) -> str:
    # HTTP clients hand header bytes over as latin-1; Swift clients send UTF-8
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _s3_header_value(value: str) -> str:
    """S3 metadata travels in headers: non-ASCII text goes RFC 2047-encoded, as AWS advises."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="


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
        manifest = unquote(_wire_text(lowered["x-object-manifest"])) if kind == DLO else None
        return cls(name, int(lowered.get("content-length", 0)), lowered.get("etag", "").strip('"'),
                   lowered.get("last-modified", ""), kind, manifest, lowered)

    def target_fields(self, account: str, container: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The S3 arguments (Metadata, ContentType, ...) for this object, and what S3 cannot hold."""
        metadata: dict[str, str] = {}
        fields: dict[str, Any] = {}
        unsupported: dict[str, str] = {}
        for key, value in self.headers.items():
            if key.startswith("x-object-meta-"):
                name = key[len("x-object-meta-"):]
                if name in RECORD_KEYS:
                    unsupported[key] = "its name is the one this module records the source under"
                else:
                    metadata[name] = _s3_header_value(_wire_text(value))
            elif key in _SYSTEM_HEADERS:
                fields[_SYSTEM_HEADERS[key]] = _s3_header_value(_wire_text(value))
            elif key == "expires":
                try:
                    fields["Expires"] = parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    unsupported[key] = value
            elif key in _UNSUPPORTED_HEADERS:
                unsupported[key] = value
        metadata.update({SOURCE_ETAG: self.etag, SOURCE_MODIFIED: self.last_modified,
                         SOURCE_KIND: self.kind, **source_identity(account, container, self.name)})
        fields["Metadata"] = metadata
        return fields, unsupported


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


def source_identity(account: str, container: str, name: str) -> dict[str, str]:
    """The metadata naming the Swift object a key is the copy of."""
    return {SOURCE_ACCOUNT: quote(account, safe=""), SOURCE_CONTAINER: quote(container, safe=""),
            SOURCE_NAME: quote(name, safe="/")}


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


def classify_key(source: SourceKey, found_etag: str | None, found_size: int | None,
                 found_metadata: Mapping[str, str] | None,
                 recomputable: Callable[[], Collection[str]] = tuple) -> KeyVerdict:
    """Whether the key S3 holds (None: none) is this collection's copy of ``source``.

    Ours when its recorded identity is the source's and its ETag is the one this collection
    wrote (or the MD5 it recorded: an S3 that recomputes the ETag on a copy onto itself gives
    that); then CURRENT if it holds the source's version, else STALE (copied again). Keys of
    0.1.0 carry no identity: ours when their recorded source ETag and MD5 are the source's.
    A key with this identity but no recorded ETag is an unfinished copy of ours only when its
    ETag is one of ``recomputable()`` (asked only then): the ETags this run can recompute.
    Anything else is a CONFLICT: someone else wrote the key, which is never overwritten
    unasked. Metadata decides here; deleting a source needs more (``delete_proof``).
    """
    if found_size is None:
        return KeyVerdict(ABSENT)
    metadata = found_metadata or {}
    etag = found_etag or ""
    recorded = {key: metadata.get(key) for key in IDENTITY_KEYS}
    if any(recorded.values()):
        if recorded != source_identity(source.account, source.container, source.name):
            other = "/".join(unquote(recorded[key] or "?") for key in IDENTITY_KEYS)
            return KeyVerdict(CONFLICT, f"the key holds the copy of another Swift object ({other})")
        written = metadata.get(S3_ETAG)
        if written is None and metadata.get(MD5) is None and "-" in etag:
            # killed between completing a multipart upload and recording its ETag, or a
            # multipart write by someone else that kept this identity: only the ETag tells
            if etag in recomputable():
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


# -- checks while copying -----------------------------------------------------------------------

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


class _PieceHashes:
    """MD5s of consecutive pieces of a stream, of the sizes given: ``done(index, md5)`` ends each."""

    def __init__(self, sizes: list[int], done: Callable[[int, str], None]):
        self._sizes = sizes
        self._done = done
        self.index = 0
        self._md5 = hashlib.md5()
        self._left = 0
        self._start_piece()

    def _start_piece(self) -> None:
        while self.index < len(self._sizes):
            self._left = self._sizes[self.index]
            if self._left:
                return
            self._done(self.index, EMPTY_MD5)  # an empty piece ends where it starts
            self.index += 1

    def feed(self, data) -> int:
        """Hash ``data`` into its pieces; returns how many bytes were beyond the last piece."""
        view = memoryview(data)
        while view and self.index < len(self._sizes):
            taken = view[:self._left]
            self._md5.update(taken)
            self._left -= len(taken)
            view = view[len(taken):]
            if self._left == 0:
                self._done(self.index, self._md5.hexdigest())
                self.index += 1
                self._md5 = hashlib.md5()
                self._start_piece()
        return len(view)


class StreamCheck:
    """Fed the assembled stream in order; proves it is what the source promised.

    A plain object's promise is its ETag (the MD5 of its bytes); a manifest's is every segment's
    ETag, checked at each segment boundary so a bad segment stops the copy where it starts. The
    whole stream's MD5 is computed either way and recorded on the target.
    """

    def __init__(self, source: SourceObject, segments: list[Segment] | None = None,
                 manifest_etag: str | None = None, hashed_elsewhere: bool = False):
        """``manifest_etag``: the ETag the manifest's entries make (``slo_etag``, ``dlo_etag``).

        ``hashed_elsewhere``: each segment is checked elsewhere and reported through
        ``segment_hashed`` (an upload whose parts are the segments has S3 check them), so the
        stream is not hashed twice.
        """
        self.source = source
        self.segments = segments or []
        self.manifest_etag = manifest_etag
        self.whole = hashlib.md5()
        self.read = 0
        self._checked = 0
        self._pieces = None if hashed_elsewhere or not self.segments else _PieceHashes(
            [s.size for s in self.segments], self._segment_done)

    @property
    def current_segment(self) -> Segment | None:
        """The segment the next byte belongs to."""
        return self.segments[self._checked] if self._checked < len(self.segments) else None

    def feed(self, data: bytes) -> None:
        self.whole.update(data)
        self.read += len(data)
        if self.read > self.source.size:
            raise SourceMismatchError(f"{self.source.name}: Swift sent more than the {self.source.size} "
                                      "bytes it announced")
        if self._pieces and self._pieces.feed(data):
            raise SourceMismatchError(f"{self.source.name}: more bytes than its segments hold")

    def segment_hashed(self, index: int, digest: bytes) -> None:
        """Segment ``index`` was read whole and hashed to ``digest``."""
        self._segment_done(index, digest.hex())

    def _segment_done(self, index: int, got: str) -> None:
        segment = self.segments[index]
        if not segment.byte_range and got != segment.etag:
            raise SourceMismatchError(
                f"{self.source.name}: segment {segment.name} reads with MD5 {got}, but its manifest "
                f"says {segment.etag}: the segment was changed or damaged after the manifest was made")
        self._checked = index + 1

    def finish(self) -> str:
        """The whole stream's MD5, once every promise is checked."""
        name = self.source.name
        if self.read != self.source.size:
            raise SourceMismatchError(f"{name}: read {self.read} bytes, Swift announced {self.source.size}")
        md5 = self.whole.hexdigest()
        if self.source.kind == PLAIN and md5 != self.source.etag:
            raise SourceMismatchError(f"{name}: the bytes read have MD5 {md5}, Swift's ETag is "
                                      f"{self.source.etag}: the object is damaged in Swift")
        if self.source.kind != PLAIN:
            if self._checked != len(self.segments):
                raise SourceMismatchError(f"{name}: ended in segment {self._checked + 1} of {len(self.segments)}")
            if self.manifest_etag != self.source.etag:
                raise SourceMismatchError(
                    f"{name}: its segments' ETags make {self.manifest_etag}, the manifest's ETag is "
                    f"{self.source.etag}: the manifest changed while it was read; run again")
        return md5


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


class ResumeCheck:
    """The parts an earlier run uploaded, checked against the source bytes read again.

    Resuming re-reads (never re-sends) the bytes those parts hold: proof they are this source's
    bytes, and the whole-object MD5 needs them anyway.
    """

    def __init__(self, key: str, parts: list[dict[str, Any]]):
        self.key = key
        self.parts = parts
        self.size = sum(part["Size"] for part in parts)
        self._pieces = _PieceHashes([part["Size"] for part in parts], self._part_done)

    def feed(self, data: memoryview) -> None:
        self._pieces.feed(data)

    def _part_done(self, index: int, got: str) -> None:
        part = self.parts[index]
        if got != part["ETag"].strip('"'):
            raise ResumeMismatchError(f"{self.key}: uploaded part {part['PartNumber']} does not "
                                      "hold the source's bytes; starting that object afresh")


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
