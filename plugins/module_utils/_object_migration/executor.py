# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a Swift-to-S3 object migration, object by object, several at a time.

Each container's listing is walked beside its bucket's (both sorted, both paged), so a key
missing from the bucket is copied without asking S3 about it, and a key present is classified
(``classify_key``): this collection's copy of this source, current (skipped) or stale (copied
again), or a conflict (kept, reported). Every write is conditional on what was seen, so a key
written meanwhile is never overwritten nor stamped as ours. A copy streams the assembled object
once: Swift's promises are checked on the way (``StreamCheck``), an unfinished multipart upload
of the key is resumed after the bytes it holds were re-read and matched. A source is deleted
only on proof from the bytes (``delete_proof``, or the S3 object read back), and a manifest's
segments only when no other manifest of the run reads them (``SegmentReferences``).

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import as_finished
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import (
    CONFLICT,
    CONFLICT_FIX,
    CURRENT,
    DLO,
    EMPTY_MD5,
    MD5,
    PLAIN,
    S3_ETAG,
    SLO,
    SOURCE_ETAG,
    STALE,
    ResumeCheck,
    ResumeMismatchError,
    Segment,
    SourceKey,
    SourceMismatchError,
    SourceObject,
    StreamCheck,
    aligned_part_sizes,
    classify_key,
    delete_proof,
    dlo_etag,
    listing_promise,
    multipart_etag,
    part_size_for,
    slo_etag,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.refs import (
    ObjectId,
    SegmentReferences,
    describe,
    dlo_prefix,
    object_id,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.drivers import (
    PartLayout,
    S3Driver,
    SwiftDriver,
    translate_s3_error,
    write_condition,
)

COPIED, ALREADY_DONE, PLANNED, FAILED = "copied", "already_done", "planned", "failed"
ON_CONFLICT = ("skip", "fail", "overwrite")
BUG_FIX = ("this is a bug in storeops.openstack: report it with the traceback; nothing is deleted "
           "without proof, and a run after the fix picks the object up again")
READ_SIZE = 2**20  # per read from Swift


@dataclass(frozen=True)
class ObjectOptions:
    part_size: int
    concurrency: int = 4
    delete_source: bool = False
    prefix: str = ""
    dry_run: bool = False
    on_conflict: str = "skip"
    account: str = ""  # the Swift account, recorded with every copy


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
    proof: str = ""
    segments_kept: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    fix: str = ""
    traceback: str = ""  # set only for a bug: an exception no layer expected
    unsupported: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def detail(self) -> dict[str, Any]:
        detail = {"container": self.container, "name": self.name, "bucket": self.bucket,
                  "outcome": self.outcome, "size": self.size, "kind": self.kind}
        if self.outcome == COPIED:
            detail.update(md5=self.md5, bytes_sent=self.bytes_sent, bytes_resumed=self.bytes_resumed,
                          seconds=round(self.seconds, 3))
        optional = {"upload_id": self.upload_id, "source_deleted": self.source_deleted,
                    "proof": self.proof, "reason": self.reason, "fix": self.fix, "traceback": self.traceback,
                    "segments_kept": [{"segment": name, "reason": why} for name, why in self.segments_kept.items()],
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

    def restoring_containers(self, containers: list[str]) -> list[str]:
        """The containers where a DELETE brings an older version back (Swift's stack-mode versioning).

        Deleting a source there would make a re-run copy the older version over the newer copy;
        history mode (X-History-Location) keeps versions aside and restores nothing.
        """
        restoring = []
        for container in containers:
            headers = self.swift(container).request("HEAD", f"/{container}", ok=(200, 204)).headers
            if headers.get("X-Versions-Location") or headers.get("X-Versions-Enabled", "").lower() == "true":
                restoring.append(container)
        return restoring

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
            known = known_error(err, lambda e: translate_s3_error(e, self._s3_args["endpoint"]))
            if known is None:
                raise
            raise known from None
        return exists, created

    def close(self) -> None:
        for driver in self._s3.values():
            driver.close()


@dataclass(frozen=True)
class _Manifest:
    """A manifest's segments (flattened), the ETag their entries make, and every entry it names."""

    segments: list[Segment]
    etag: str
    named: list[Segment]  # nested manifests and segments, each as its entry promises it

    @property
    def objects(self) -> list[ObjectId]:
        return [object_id(entry.name) for entry in self.named]


class ObjectMigrator:
    """``s3_for(bucket)`` gives a driver for a bucket; ``swift_for(container)`` one for a container."""

    def __init__(self, swift_for: Callable[[str], SwiftDriver], s3_for: Callable[[str], S3Driver],
                 options: ObjectOptions, journal: JsonlJournal | None = None):
        self._swift_for = swift_for
        self._s3_for = s3_for
        self.options = options
        self._journal = journal
        self._references = SegmentReferences(())
        self._deleting = threading.Lock()  # a manifest's delete and the release of its segments are one step

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

        Outcomes are handed on, not kept: memory does not grow with the number of objects. With
        ``delete_source``, the manifests of the run's containers are indexed first, and
        containers other containers' manifests read go last, once those manifests are done.
        """
        if self.options.delete_source and not self.options.dry_run:
            self._references = self._index([container for container, _bucket, _exists in pairs])
        read_later = self._references.containers_read_from_others()
        groups = [[pair for pair in pairs if pair[0] not in read_later],
                  [pair for pair in pairs if pair[0] in read_later]]
        for group in groups:
            items = (item for container, bucket, exists in group for item in self._work(container, bucket, exists))
            for outcome in as_finished(self._one, items, self.options.concurrency,
                                       queued=self.options.concurrency, name="object"):
                record(outcome)

    def _index(self, containers: list[str]) -> SegmentReferences:
        """Every manifest of ``containers`` (whole, whatever the prefix) and what it reads."""
        references = SegmentReferences(containers, self.options.prefix)
        for container in containers:
            swift = self._swift_for(container)
            for item in swift.listing(container):
                manifest = (container, item["name"])
                try:
                    if "slo_etag" in item:
                        references.add_slo(manifest, _slo_manifest(swift, item["name"]).objects)
                    elif item["bytes"] == 0 and item["hash"] == EMPTY_MD5:  # a DLO lists as empty
                        described = SourceObject.from_headers(item["name"], swift.head(item["name"]))
                        if described.kind == DLO:
                            references.add_dlo(manifest, *dlo_prefix(described.manifest))
                except StoreOpsError as err:
                    if not isinstance(err, StorageNotFoundError) and err.details.get("status_code") != 404:
                        raise
                    # deleted since it was listed: it reads nothing any more
        return references

    # -- one object ----------------------------------------------------------------------------

    def _one(self, work: _Work) -> Outcome:
        began = time.monotonic()
        outcome = Outcome(work.container, work.listed["name"], work.bucket, PLANNED)
        try:
            self._migrate(work, outcome)
        except StorageConflictError as err:
            outcome.outcome = CONFLICT
            outcome.reason = redact_text(str(err))
            outcome.fix = CONFLICT_FIX
        except Exception as err:  # pylint: disable=broad-except
            # one object's surprise must not stop the others; the run reports it
            known = known_error(err, translate_s3_error)
            outcome.outcome = FAILED
            if known is None:  # a bug: recorded as one, with its traceback
                report = bug_report(err)
                outcome.reason = redact_text(f"{report['bug']}: {err}")
                outcome.traceback = redact_text(report["traceback"])
                outcome.fix = BUG_FIX
            else:
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
        found = None
        if work.in_bucket:
            try:
                found = s3.stat(name)
            except StorageNotFoundError:
                found = None
        verdict = classify_key(SourceKey(self.options.account, work.container, name, promise[0], promise[1],
                                         outcome.kind),
                               found and found.etag, found and found.size, found and found.metadata,
                               lambda: self._segment_aligned_etags(swift, name, outcome))
        if verdict.state == CURRENT:
            outcome.outcome = ALREADY_DONE
            outcome.md5 = found.metadata[MD5]
            if self.options.delete_source and not self.options.dry_run:
                # an earlier run copied it but did not delete: the copy is proven again, from its bytes
                self._delete_proven(swift, s3, name, promise[0], found.etag, outcome)
            return
        if verdict.state == CONFLICT:
            if self.options.on_conflict != "overwrite":
                outcome.outcome, outcome.reason, outcome.fix = CONFLICT, verdict.reason, CONFLICT_FIX
                return
            outcome.reason = f"overwritten (on_conflict: overwrite): {verdict.reason}"
        elif verdict.state == STALE:
            outcome.reason = verdict.reason
        if self.options.dry_run:
            return
        condition = write_condition(found.etag if found else None)
        try:
            self._copy(swift, s3, name, outcome, condition, resume=True)
        except ResumeMismatchError:
            self._copy(swift, s3, name, outcome, condition, resume=False)

    def _segment_aligned_etags(self, swift: SwiftDriver, name: str, outcome: Outcome) -> tuple[str, ...]:
        """The S3 ETag this run's copy has when its parts follow the source's segments (else none)."""
        if outcome.kind == PLAIN:
            return ()
        manifest = self._manifest(swift, SourceObject.from_headers(name, swift.head(name)))
        if not aligned_part_sizes(manifest.segments):
            return ()
        return (multipart_etag(bytes.fromhex(segment.etag) for segment in manifest.segments),)

    def _copy(self, swift: SwiftDriver, s3: S3Driver, name: str, outcome: Outcome, condition: dict[str, str],
              resume: bool) -> None:
        with swift.reader(name) as stream:
            source = SourceObject.from_headers(name, stream.headers)
            outcome.kind, outcome.size = source.kind, source.size
            manifest = self._manifest(swift, source)
            segments = manifest.segments if manifest else None
            part_size = part_size_for(source.size, self.options.part_size)
            layout = PartLayout(part_size, aligned_part_sizes(segments) if source.size > part_size else None)
            check = StreamCheck(source, segments, manifest and manifest.etag, hashed_elsewhere=bool(layout.sizes))
            fields, outcome.unsupported = source.target_fields(self.options.account, swift.container)
            chunks = _checked_chunks(swift, stream, check)
            if source.size <= part_size:
                data = b"".join(chunks)
                # a single PUT's ETag is the MD5 of its bytes: known before it is written
                fields["Metadata"][MD5] = fields["Metadata"][S3_ETAG] = sent_etag = check.finish()
                s3.put(name, data, condition=condition, **fields)
                outcome.bytes_sent = len(data)
            else:
                sent_etag = self._multipart(s3, name, chunks, check, fields, layout, resume, condition, outcome)
        outcome.bytes_read = check.read
        outcome.md5 = check.whole.hexdigest()
        found = self._verify(s3, name, source, outcome.md5, sent_etag)
        outcome.outcome = COPIED
        self._note(outcome, "verified")
        if self.options.delete_source:
            self._delete_proven(swift, s3, name, source.etag, found.etag, outcome, outcome.md5, sent_etag, manifest)

    @staticmethod
    def _multipart(s3, name, chunks, check, fields, layout, resume, condition, outcome):
        if layout.sizes:  # one part per segment, S3 checks it against the segment's ETag
            layout.md5s = [bytes.fromhex(segment.etag) for segment in check.segments]
            layout.on_part = check.segment_hashed
        writer = s3.writer(name, resume=resume, layout=layout, condition=condition, **fields)
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
        try:
            writer.commit()
        except StorageConflictError:
            writer.cancel()  # the key was written meanwhile: it stays as it is
            raise
        outcome.bytes_sent = writer.size - writer.resumed_bytes
        sent_etag = multipart_etag(writer.part_md5s())
        # the whole stream's MD5 and S3's ETag are known only now; S3 keeps metadata only by a
        # copy onto itself, made only while the key still holds what this run completed
        fields["Metadata"][MD5] = check.whole.hexdigest()
        fields["Metadata"][S3_ETAG] = sent_etag
        s3.replace_metadata(name, if_match=sent_etag, **fields)
        return sent_etag

    @staticmethod
    def _manifest(swift: SwiftDriver, source: SourceObject) -> _Manifest | None:
        if source.kind == SLO:
            return _slo_manifest(swift, source.name)
        if source.kind == DLO:
            segments = _dlo_segments(swift, source.manifest)
            return _Manifest(segments, dlo_etag(segments), segments)
        return None

    @staticmethod
    def _verify(s3: S3Driver, name: str, source: SourceObject, md5: str, expected_etag: str):
        """S3 holds the size, MD5, source ETag and the ETag it computed from the bytes it received."""
        found = s3.stat(name)
        problems = []
        if found.size != source.size:
            problems.append(f"size {found.size}, not {source.size}")
        if found.metadata.get(MD5) != md5 or found.metadata.get(SOURCE_ETAG) != source.etag \
                or found.metadata.get(S3_ETAG) != expected_etag:
            problems.append("its recorded MD5, source ETag or S3 ETag differ")
        # RGW keeps a multipart ETag through the copy that records an SLO's MD5; an S3 that
        # recomputes it on copy gives the whole MD5, as good a proof
        if found.etag not in (expected_etag, md5):
            problems.append(f"S3 computed ETag {found.etag}, the bytes sent make {expected_etag}")
        if problems:
            raise StoreOpsError(f"{name}: S3 shows the copy with {'; '.join(problems)}; source kept")
        return found

    def _delete_proven(self, swift: SwiftDriver, s3: S3Driver, name: str, copied_etag: str, target_etag: str,
                       outcome: Outcome, md5: str | None = None, sent_etag: str | None = None,
                       manifest: _Manifest | None = None) -> None:
        """Delete the source once the bytes prove its copy, unless it changed since it was copied."""
        seen = swift.head(name)
        now = SourceObject.from_headers(name, seen)
        if now.etag != copied_etag:
            outcome.reason = "source kept: it changed in Swift after it was copied; a re-run copies it again"
            return
        if now.kind == DLO and not self._references.knows_dlo((swift.container, name), *dlo_prefix(now.manifest)):
            # a DLO manifest with a body of its own lists as that body: the index, which finds
            # DLOs among empty objects, does not protect its segments from other manifests' deletes
            outcome.reason = ("source kept with its segments: a DLO whose manifest object has bytes of its own, "
                              "which the segment index does not know; delete it in Swift once you checked its copy")
            return
        if now.kind != PLAIN and manifest is None:
            manifest = self._manifest(swift, now)
        segments = manifest.segments if manifest else None
        if manifest and manifest.etag != now.etag:
            outcome.reason = ("source kept: its segments changed since it was copied (Swift's ETag "
                              f"{now.etag}, its segments make {manifest.etag}); a re-run copies it again")
            return
        ranged = [segment for segment in segments or () if segment.byte_range]
        if ranged:
            outcome.reason = (f"source kept: {len(ranged)} segment(s) are byte ranges whose MD5 Swift "
                              "does not promise")
            return
        proof = delete_proof(now, target_etag, md5, sent_etag, segments, manifest and manifest.etag)
        if proof is None:
            self._read_back(s3, name, now, manifest)
            proof = "the S3 object, read back, holds the source's bytes"
        outcome.proof = proof
        self._delete_source(swift, name, manifest, outcome, seen)

    @staticmethod
    def _read_back(s3: S3Driver, name: str, source: SourceObject, manifest: _Manifest | None) -> None:
        """The S3 object's bytes, hashed, against the source's MD5 or each of its segments' ETags."""
        check = StreamCheck(source, manifest and manifest.segments, manifest and manifest.etag)
        body = s3.reader(name)
        try:
            for chunk in iter(lambda: body.read(READ_SIZE), b""):
                check.feed(chunk)
            check.finish()
        except SourceMismatchError:
            raise StorageConflictError(f"{name}: the key's bytes are not the Swift object's, whatever its "
                                       "metadata says; source kept") from None
        finally:
            body.close()

    def _delete_source(self, swift: SwiftDriver, name: str, manifest: _Manifest | None, outcome: Outcome,
                       verified: Mapping[str, str]) -> None:
        """The source goes, then those of its segments no other manifest of the run reads.

        Each is HEADed right before its DELETE: a proof (a read-back may take minutes) holds only
        for the object, and the segments, that were verified.
        """
        source = (swift.container, name)
        with self._deleting:
            readers = self._references.live_readers(source)
            if readers:
                outcome.reason = (f"source kept: the manifest {describe(readers[0])} reads it and is still in "
                                  "Swift; a re-run deletes it once that manifest is gone")
                return
            if _version(swift.head(name)) != _version(verified):
                outcome.reason = ("source kept: it was written again in Swift while its copy was verified; "
                                  "a re-run copies it again")
                return
            # the manifest alone (never multipart-manifest=delete, which takes every segment)
            swift.request("DELETE", swift.object_path(name), ok=(200, 204, 404))
            deletable, kept = self._references.release(source, manifest.objects if manifest else ())
        outcome.source_deleted = True
        promised = {object_id(entry.name): entry for entry in manifest.named} if manifest else {}
        for segment in deletable:
            path = f"/{segment[0]}/{segment[1]}"
            found = swift.request("HEAD", path, ok=(200, 404))
            entry = promised[segment]
            if found.status_code == 200 and (found.headers.get("Etag", "").strip('"'),
                                             int(found.headers.get("Content-Length", -1))) != (entry.etag, entry.size):
                kept[segment] = "it no longer holds what the manifest promised (written again since)"
                continue
            swift.request("DELETE", path, ok=(204, 404))
        outcome.segments_kept = {describe(segment): why for segment, why in kept.items()}
        self._note(outcome, "source_deleted")

    def _note(self, outcome: Outcome, step: str) -> None:
        if self._journal is None or self.options.dry_run:
            return
        self._journal.write({"container": outcome.container, "object": outcome.name, "bucket": outcome.bucket,
                             "step": step, "size": outcome.size, "md5": outcome.md5,
                             "upload_id": outcome.upload_id, "proof": outcome.proof, "reason": outcome.reason,
                             "traceback": outcome.traceback or None, "seconds": round(outcome.seconds, 3)})


def _version(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """What tells one write of a Swift object from another: its ETag and its X-Timestamp."""
    return headers.get("Etag", "").strip('"'), headers.get("X-Timestamp")


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
    return [Segment(entry["name"], _entry_size(entry), entry["hash"], entry.get("range"), bool(entry.get("sub_slo")))
            for entry in swift.manifest(path)]


def _entry_size(entry: dict[str, Any]) -> int:
    """The bytes an entry adds: a range's length (Swift stores it as ``N-M``), else the whole object's."""
    if entry.get("range"):
        first, last = entry["range"].split("-")
        return int(last) - int(first) + 1
    return entry["bytes"]


def _flatten(swift: SwiftDriver, entries: list[Segment], nested: list[Segment]) -> list[Segment]:
    """A nested SLO's own segments stand in for it: their ETags are what its bytes must match.

    The nested manifests' own entries go to ``nested``: deleting the SLO deletes them too. A
    range of a nested SLO stays one entry, but it reads that SLO's segments: they go to ``nested``.
    """
    flat = []
    for entry in entries:
        if entry.nested and not entry.byte_range:
            nested.append(entry)
            flat += _flatten(swift, _slo_entries(swift, entry.name), nested)
        else:
            if entry.nested:
                ranged_segments = _flatten(swift, _slo_entries(swift, entry.name), nested)
                nested += ranged_segments
            flat.append(entry)
    return flat


def _slo_manifest(swift: SwiftDriver, path: str) -> _Manifest:
    entries = _slo_entries(swift, path)
    nested: list[Segment] = []
    segments = _flatten(swift, entries, nested)
    return _Manifest(segments, slo_etag(entries), nested + segments)


def _dlo_segments(swift: SwiftDriver, manifest: str) -> list[Segment]:
    """A DLO's segments: the objects under its ``container/prefix``, in listing order."""
    container, prefix = dlo_prefix(manifest)
    return [Segment(f"/{container}/{item['name']}", item["bytes"], item["hash"])
            for item in swift.listing(container, prefix)]


def _fix_for(err: StoreOpsError) -> str:
    if isinstance(err, SourceMismatchError):
        return ("repair or re-upload the object in Swift; its upload to S3 was aborted and the "
                "source was not touched")
    if err.details.get("s3_error"):
        return "fix what the reason names, then run again"
    return "run again: an interrupted upload resumes from the parts already sent"
