# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks while copying: the bytes read are those Swift promised, an unfinished upload's parts the source's.

A plain object's promise is its ETag; a manifest's is every segment's ETag, checked at each
segment boundary (``StreamCheck``). Resuming re-reads the bytes of the parts an earlier run
uploaded and matches them (``ResumeCheck``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    SourceMismatchError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    EMPTY_MD5,
    PLAIN,
    Segment,
    SourceObject,
)


class ResumeMismatchError(StoreOpsError):
    """An unfinished upload found for the key does not hold this source's bytes."""


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
