# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a Swift-to-S3 object migration, object by object, several at a time.

Each container's listing is walked beside its bucket's (both sorted, both paged), so a key
missing from the bucket is copied without asking S3 about it, and a key present is skipped when
its recorded source ETag and size still match. A copy streams the assembled object once: Swift's
promises are checked on the way (``StreamCheck``), an unfinished multipart upload of the key is
resumed after the bytes it holds were re-read and matched, and the source is deleted only once
S3 shows the object with the size, MD5 and source ETag it should have.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ansible_collections.storeops.openstack.plugins.module_utils._errors import (
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._object_plan import (
    DLO,
    MD5,
    PLAIN,
    SLO,
    SOURCE_ETAG,
    ResumeCheck,
    ResumeMismatchError,
    Segment,
    SourceMismatchError,
    SourceObject,
    StreamCheck,
    aligned_part_sizes,
    already_migrated,
    dlo_etag,
    listing_promise,
    multipart_etag,
    part_size_for,
    slo_etag,
)
from ansible_collections.storeops.openstack.plugins.module_utils._redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._storage import (
    PartLayout,
    S3Driver,
    SwiftDriver,
    translate_s3_error,
)

COPIED, ALREADY_DONE, PLANNED, FAILED = "copied", "already_done", "planned", "failed"
READ_SIZE = 2**20  # per read from Swift


@dataclass(frozen=True)
class ObjectOptions:
    part_size: int
    concurrency: int = 4
    delete_source: bool = False
    prefix: str = ""
    dry_run: bool = False


@dataclass
class Outcome:
    container: str
    name: str
    bucket: str
    outcome: str
    size: int = 0
    kind: str = PLAIN
    bytes_sent: int = 0
    bytes_read: int = 0
    bytes_resumed: int = 0
    upload_id: str | None = None
    md5: str | None = None
    source_deleted: bool = False
    reason: str = ""
    fix: str = ""
    unsupported: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def detail(self) -> dict[str, Any]:
        detail = {"container": self.container, "name": self.name, "bucket": self.bucket,
                  "outcome": self.outcome, "size": self.size, "kind": self.kind}
        if self.outcome == COPIED:
            detail.update(md5=self.md5, bytes_sent=self.bytes_sent, bytes_resumed=self.bytes_resumed,
                          seconds=round(self.seconds, 3))
        optional = {"upload_id": self.upload_id, "source_deleted": self.source_deleted,
                    "reason": self.reason, "fix": self.fix,
                    "unsupported_metadata": self.unsupported}
        detail.update({key: value for key, value in optional.items() if value})
        return detail


@dataclass(frozen=True)
class _Work:
    container: str
    bucket: str
    listed: dict[str, Any]
    in_bucket: bool


class ObjectEnds:
    """Both ends of the copy: the Swift account of a connection, and an S3 endpoint's buckets."""

    def __init__(self, conn, endpoint: str, access_key: str, secret_key: str, region: str,
                 verify: bool | str, part_size: int, uploads_per_object: int, concurrency: int):
        self._conn = conn
        self._s3_args = {"endpoint": endpoint, "access_key": access_key, "secret_key": secret_key,
                         "region": region, "verify": verify, "part_size": part_size,
                         "uploads_in_flight": uploads_per_object,
                         "pool_size": concurrency * (uploads_per_object + 1)}
        self._swift: dict[str, SwiftDriver] = {}
        self._s3: dict[str, S3Driver] = {}
        self._lock = threading.Lock()

    def swift(self, container: str) -> SwiftDriver:
        with self._lock:
            if container not in self._swift:
                self._swift[container] = SwiftDriver(self._conn, container)
            return self._swift[container]

    def s3(self, bucket: str) -> S3Driver:
        with self._lock:
            if bucket not in self._s3:
                self._s3[bucket] = S3Driver(bucket=bucket, **self._s3_args)
            return self._s3[bucket]

    def swift_account(self) -> str:
        return self._conn.object_store.get_endpoint().rstrip("/").rpartition("/")[2]

    def account_containers(self) -> Iterator[str]:
        return (item["name"] for item in self.swift("").listing(""))

    def prepare_buckets(self, buckets: set[str], create: bool) -> tuple[dict[str, bool], set[str]]:
        """Which buckets exist, and which were created (``create``); bad keys or endpoint fail here."""
        try:
            if buckets:  # ListBuckets names a bad key in its answer, where HeadBucket says only 403
                self.s3(min(buckets)).client.list_buckets()
            exists = {bucket: self.s3(bucket).bucket_exists() for bucket in sorted(buckets)}
            created = {bucket for bucket, found in exists.items() if create and not found}
            for bucket in sorted(created):
                self.s3(bucket).create_bucket()
        except Exception as err:  # pylint: disable=broad-except
            known = translate_s3_error(err, self._s3_args["endpoint"])
            if known is None:
                raise
            raise known from None
        return exists, created

    def close(self) -> None:
        for driver in self._s3.values():
            driver.close()


class ObjectMigrator:
    """``s3_for(bucket)`` gives a driver for a bucket; ``swift_for(container)`` one for a container."""

    def __init__(self, swift_for: Callable[[str], SwiftDriver], s3_for: Callable[[str], S3Driver],
                 options: ObjectOptions, journal: JsonlJournal | None = None):
        self._swift_for = swift_for
        self._s3_for = s3_for
        self.options = options
        self._journal = journal

    # -- walking ------------------------------------------------------------------------------

    def _work(self, container: str, bucket: str, bucket_exists: bool) -> Iterator[_Work]:
        """The container's objects, each flagged with whether its key is in the bucket."""
        source = self._swift_for(container).listing(container, self.options.prefix)
        target = self._s3_for(bucket).list(self.options.prefix) if bucket_exists else iter(())
        waiting = next(target, None)
        for item in source:
            while waiting is not None and waiting.path < item["name"]:
                waiting = next(target, None)
            yield _Work(container, bucket, item, waiting is not None and waiting.path == item["name"])

    def run(self, pairs: list[tuple[str, str, bool]], record: Callable[[Outcome], None]) -> None:
        """Migrate every (container, bucket, bucket exists) pair; ``record`` takes each outcome as it ends.

        Outcomes are handed on, not kept: memory does not grow with the number of objects.
        """
        work = (item for container, bucket, exists in pairs for item in self._work(container, bucket, exists))
        with ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="object") as pool:
            pending = set()
            for item in work:
                pending.add(pool.submit(self._one, item))
                if len(pending) >= 2 * self.options.concurrency:  # the listing is never held whole
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        record(future.result())
            for future in pending:
                record(future.result())

    # -- one object ----------------------------------------------------------------------------

    def _one(self, work: _Work) -> Outcome:
        began = time.monotonic()
        outcome = Outcome(work.container, work.listed["name"], work.bucket, PLANNED)
        try:
            self._migrate(work, outcome)
        except Exception as err:  # pylint: disable=broad-except
            # one object's surprise must not stop the others; the run reports it
            known = err if isinstance(err, StoreOpsError) else translate_s3_error(err)
            if known is None:
                known = StoreOpsError(f"{type(err).__name__}: {err}")
            outcome.outcome = FAILED
            outcome.reason = redact_text(str(known))
            outcome.fix = _fix_for(known)
        outcome.seconds = time.monotonic() - began
        self._note(outcome, "failed" if outcome.outcome == FAILED else outcome.outcome)
        return outcome

    def _migrate(self, work: _Work, outcome: Outcome) -> None:
        swift, s3 = self._swift_for(work.container), self._s3_for(work.bucket)
        name = work.listed["name"]
        promise = listing_promise(work.listed)
        if promise is None:  # an empty object or a DLO: only its HEAD tells
            described = SourceObject.from_headers(name, swift.head(name))
            promise = (described.etag, described.size)
            outcome.kind = described.kind
        elif "slo_etag" in work.listed:
            outcome.kind = SLO
        outcome.size = promise[1]
        if work.in_bucket:
            try:
                found = s3.stat(name)
            except StorageNotFoundError:
                found = None
            if found and already_migrated(promise[0], promise[1], found.size, found.metadata):
                outcome.outcome = ALREADY_DONE
                outcome.md5 = found.metadata[MD5]
                if self.options.delete_source and not self.options.dry_run:
                    # an earlier run verified this copy but stopped before the delete
                    self._delete_source(swift, name, promise[0], None, outcome)
                return
        if self.options.dry_run:
            return
        try:
            self._copy(swift, s3, name, outcome, resume=True)
        except ResumeMismatchError:
            self._copy(swift, s3, name, outcome, resume=False)

    def _copy(self, swift: SwiftDriver, s3: S3Driver, name: str, outcome: Outcome, resume: bool) -> None:
        with swift.reader(name) as stream:
            source = SourceObject.from_headers(name, stream.headers)
            outcome.kind, outcome.size = source.kind, source.size
            segments, manifest_etag = self._segments(swift, source)
            part_size = part_size_for(source.size, self.options.part_size)
            layout = PartLayout(part_size, aligned_part_sizes(segments, part_size) if source.size > part_size else None)
            check = StreamCheck(source, segments, manifest_etag, hashed_elsewhere=bool(layout.sizes))
            fields, outcome.unsupported = source.target_fields()
            chunks = _checked_chunks(swift, stream, check)
            if source.size <= part_size:
                data = b"".join(chunks)
                fields["Metadata"][MD5] = expected_etag = check.finish()
                s3.put(name, data, **fields)
                outcome.bytes_sent = len(data)
            else:
                expected_etag = self._multipart(s3, name, chunks, check, fields, layout, resume, outcome)
        outcome.bytes_read = check.read
        outcome.md5 = check.whole.hexdigest()
        self._verify(s3, name, source, outcome.md5, expected_etag)
        outcome.outcome = COPIED
        self._note(outcome, "verified")
        if self.options.delete_source:
            if check.unverified:
                outcome.reason = (f"source kept: {len(check.unverified)} segment(s) are byte ranges whose "
                                  "MD5 Swift does not promise")
            else:
                self._delete_source(swift, name, source.etag, segments if source.kind == DLO else None,
                                    outcome)

    @staticmethod
    def _multipart(s3, name, chunks, check, fields, layout, resume, outcome):
        source = check.source
        if source.kind == PLAIN:
            # completed only if the bytes match Swift's ETag, which is then their MD5
            fields["Metadata"][MD5] = source.etag
        if layout.sizes:  # one part per segment: the part's MD5 checks the segment
            layout.on_part = check.segment_hashed
        writer = s3.writer(name, resume=resume, layout=layout, **fields)
        outcome.upload_id = writer.upload_id
        outcome.bytes_resumed = writer.resumed_bytes
        resumed = ResumeCheck(name, writer.resumed_parts)
        try:
            if layout.sizes:
                _resumed_segments(check, layout.sizes, writer.resumed_parts)
            for chunk in chunks:
                view = memoryview(chunk)
                already = max(0, min(len(chunk), resumed.size - (check.read - len(chunk))))
                if already:
                    resumed.feed(view[:already])
                if already < len(chunk):
                    writer.write(view[already:])
            check.finish()
        except (SourceMismatchError, ResumeMismatchError):
            writer.cancel()  # nothing worth resuming: the upload goes
            raise
        except BaseException:
            writer.close()  # interrupted: the parts sent stay for the next run
            raise
        writer.commit()
        outcome.bytes_sent = writer.size - writer.resumed_bytes
        if source.kind != PLAIN:
            # the whole stream's MD5 is known only now; S3 keeps metadata only by a copy onto itself
            fields["Metadata"][MD5] = check.whole.hexdigest()
            s3.replace_metadata(name, **fields)
        return multipart_etag(writer.part_md5s())

    @staticmethod
    def _segments(swift: SwiftDriver, source: SourceObject) -> tuple[list[Segment] | None, str | None]:
        """A manifest's segments, flattened, and the ETag its own entries make."""
        if source.kind == SLO:
            entries = _slo_entries(swift, source.name)
            return _flatten(swift, entries), slo_etag(entries)
        if source.kind == DLO:
            segments = _dlo_segments(swift, source.manifest)
            return segments, dlo_etag(segments)
        return None, None

    @staticmethod
    def _verify(s3: S3Driver, name: str, source: SourceObject, md5: str, expected_etag: str) -> None:
        """S3 holds the size, MD5, source ETag and the ETag it computed from the bytes it received."""
        found = s3.stat(name)
        problems = []
        if found.size != source.size:
            problems.append(f"size {found.size}, not {source.size}")
        if found.metadata.get(MD5) != md5 or found.metadata.get(SOURCE_ETAG) != source.etag:
            problems.append("its recorded MD5 or source ETag differ")
        # RGW keeps a multipart ETag through the copy that records an SLO's MD5; an S3 that
        # recomputes it on copy gives the whole MD5, as good a proof
        if found.etag not in (expected_etag, md5):
            problems.append(f"S3 computed ETag {found.etag}, the bytes sent make {expected_etag}")
        if problems:
            raise StoreOpsError(f"{name}: S3 shows the copy with {'; '.join(problems)}; source kept")

    def _delete_source(self, swift: SwiftDriver, name: str, etag: str,
                       dlo_segments: list[Segment] | None, outcome: Outcome) -> None:
        """Delete the verified source, unless it changed since it was read."""
        now = SourceObject.from_headers(name, swift.head(name))
        if now.etag != etag:
            outcome.reason = "source kept: it changed in Swift after it was copied; a re-run copies it again"
            return
        if now.kind == DLO and dlo_segments is None:
            dlo_segments = _dlo_segments(swift, now.manifest)
        swift.delete(name)  # an SLO goes with its segments
        for segment in dlo_segments or ():
            swift.request("DELETE", segment.name, ok=(204, 404))
        outcome.source_deleted = True
        self._note(outcome, "source_deleted")

    def _note(self, outcome: Outcome, step: str) -> None:
        if self._journal is None or self.options.dry_run:
            return
        self._journal.write({"container": outcome.container, "object": outcome.name, "bucket": outcome.bucket,
                             "step": step, "size": outcome.size, "md5": outcome.md5,
                             "upload_id": outcome.upload_id, "reason": outcome.reason,
                             "seconds": round(outcome.seconds, 3)})


def _resumed_segments(check: StreamCheck, sizes: list[int], parts: list[dict[str, Any]]) -> None:
    """The parts an upload holds are its first segments: their ETags (MD5s) must be theirs."""
    for index, part in enumerate(parts):
        etag = part["ETag"].strip('"')
        if index >= len(sizes) or part["Size"] != sizes[index] or etag != check.segments[index].etag:
            raise ResumeMismatchError(f"{check.source.name}: the unfinished upload's part {index + 1} is "
                                      "not its segment; starting that object afresh")
        check.segment_hashed(index, bytes.fromhex(etag))


def _checked_chunks(swift: SwiftDriver, stream, check: StreamCheck) -> Iterator[bytes]:
    """The source's bytes, each through ``check``; a stream that breaks is explained if it can be."""
    while True:
        try:
            chunk = stream.read(READ_SIZE)
        except Exception as err:  # pylint: disable=broad-except
            raise _broken_stream(swift, check, str(err)) from None
        if not chunk:
            if check.read < check.source.size:
                raise _broken_stream(swift, check, "it ended early")
            return
        check.feed(chunk)
        yield chunk


def _broken_stream(swift: SwiftDriver, check: StreamCheck, how: str) -> StoreOpsError:
    """Swift cuts a manifest's stream at a segment that no longer matches: name that segment."""
    segment = check.current_segment
    if segment is not None:
        found = swift.request("HEAD", segment.name, ok=(200, 404))
        now = found.headers.get("Etag", "").strip('"') if found.status_code == 200 else "none (it is gone)"
        if now != segment.etag and not segment.byte_range:
            return SourceMismatchError(
                f"{check.source.name}: segment {segment.name} has ETag {now}, its manifest says "
                f"{segment.etag}: the segment was changed after the manifest was made")
    return StoreOpsError(f"{check.source.name}: the Swift stream broke at byte {check.read} of "
                         f"{check.source.size} ({how})")


def _slo_entries(swift: SwiftDriver, path: str) -> list[Segment]:
    return [Segment(entry["name"], entry["bytes"], entry["hash"], entry.get("range"), bool(entry.get("sub_slo")))
            for entry in swift.manifest(path)]


def _flatten(swift: SwiftDriver, entries: list[Segment]) -> list[Segment]:
    """A nested SLO's own segments stand in for it: their ETags are what its bytes must match."""
    flat = []
    for entry in entries:
        flat += _flatten(swift, _slo_entries(swift, entry.name)) if entry.nested and not entry.byte_range else [entry]
    return flat


def _dlo_segments(swift: SwiftDriver, manifest: str) -> list[Segment]:
    """A DLO's segments: the objects under its ``container/prefix``, in listing order."""
    container, _sep, prefix = manifest.partition("/")
    return [Segment(f"/{container}/{item['name']}", item["bytes"], item["hash"])
            for item in swift.listing(container, prefix)]


def _fix_for(err: StoreOpsError) -> str:
    if isinstance(err, SourceMismatchError):
        return ("repair or re-upload the object in Swift; its upload to S3 was aborted and the "
                "source was not touched")
    if err.details.get("s3_error"):
        return "fix what the reason names, then run again"
    return "run again: an interrupted upload resumes from the parts already sent"
