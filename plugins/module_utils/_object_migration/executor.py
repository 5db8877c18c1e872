# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a Swift-to-S3 object migration, object by object, several at a time.

Each container's listing is walked beside its bucket's (both sorted, both paged), so a key
missing from the bucket is copied without asking S3 about it, and a key present is planned
(``plan_object``): this collection's copy of this source, current (skipped) or stale (copied
again), or a conflict (kept, reported). Every write is conditional on what was seen, so a key
written meanwhile is never overwritten nor stamped as ours. A copy streams the assembled object
once: Swift's promises are checked on the way (``StreamCheck``), an unfinished multipart upload
of the key is resumed after the bytes it holds were re-read and matched. A source is deleted
only on proof from the bytes (``delete_proof``, or the S3 object read back), and a manifest's
segments only when no other manifest of the run reads them (``SegmentReferences``). Each step
returns the object's ``ObjectResult`` so far; nothing is changed in place.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import translate_sdk_error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    SourceMismatchError,
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
    bug_report,
    known_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._common.progress import LEFT_REASON, SliceBudget
from ansible_collections.storeops.openstack.plugins.module_utils._common.workers import as_finished
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.fields import (
    MD5,
    S3_ETAG,
    SOURCE_ETAG,
    target_fields,
    with_record,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.manifests import (
    Manifest,
    ManifestReader,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import (
    CONFLICT_FIX,
    Conflict,
    Current,
    SourceKey,
    aligned_part_sizes,
    delete_proof,
    multipart_etag,
    needs_segment_etags,
    part_size_for,
    plan_object,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.refs import (
    SegmentReferences,
    describe,
    dlo_prefix,
    object_id,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.result import ObjectResult, Outcome
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    DLO,
    EMPTY_MD5,
    PLAIN,
    SLO,
    SourceObject,
    listing_promise,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.verify import (
    ResumeCheck,
    ResumeMismatchError,
    StreamCheck,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import or_none
from ansible_collections.storeops.openstack.plugins.module_utils._storage.s3 import (
    PartLayout,
    S3Account,
    S3Driver,
    S3MultipartWriter,
    WriteOptions,
    translate_s3_error,
    write_condition,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftAccount, SwiftDriver

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


@dataclass(frozen=True)
class _Work:
    container: str
    bucket: str
    listed: dict[str, Any]
    in_bucket: bool


@dataclass(frozen=True)
class _Sent:
    """What a write put into S3: the ETag its bytes make there, and how many of them went now."""

    etag: str
    bytes_sent: int
    bytes_resumed: int = 0
    upload_id: str | None = None


class _Stopped(Exception):
    """``cause`` ended an object after ``result`` was reached: the failure's result keeps it."""

    def __init__(self, result: ObjectResult, cause: Exception):
        super().__init__(str(cause))
        self.result = result
        self.cause = cause


@dataclass(frozen=True)
class _Evidence:
    """What may prove a copy: the source ETag it was made from, S3's ETag, what this run read and sent."""

    copied_etag: str
    target_etag: str | None
    md5: str | None = None
    sent_etag: str | None = None
    manifest: Manifest | None = None


class ObjectEnds:
    """Both ends of the copy: the Swift account of a connection, and an S3 endpoint's buckets."""

    def __init__(self, conn, endpoint: str, access_key: str, secret_key: str, region: str,
                 verify: bool | str, part_size: int, uploads_per_object: int, concurrency: int):
        self._account = SwiftAccount(conn)
        self._s3_args = {"endpoint": endpoint, "access_key": access_key, "secret_key": secret_key,
                         "region": region, "verify": verify, "part_size": part_size,
                         "uploads_in_flight": uploads_per_object,
                         "pool_size": concurrency * (uploads_per_object + 1)}
        self._s3_account: S3Account | None = None
        self._swift: dict[str, SwiftDriver] = {}
        self._s3: dict[str, S3Driver] = {}
        self._lock = threading.Lock()

    def swift(self, container: str) -> SwiftDriver:
        with self._lock:
            if container not in self._swift:
                self._swift[container] = self._account.container(container)
            return self._swift[container]

    def _s3_endpoint(self) -> S3Account:
        with self._lock:
            if self._s3_account is None:  # boto3 is needed only once S3 is asked
                self._s3_account = S3Account.connect(**self._s3_args)
            return self._s3_account

    def s3(self, bucket: str) -> S3Driver:
        endpoint = self._s3_endpoint()
        with self._lock:
            if bucket not in self._s3:
                self._s3[bucket] = endpoint.bucket(bucket)
            return self._s3[bucket]

    def swift_account(self) -> str:
        return self._account.name()

    def account_containers(self) -> Iterator[str]:
        return self._account.containers()

    def restoring_containers(self, containers: list[str]) -> list[str]:
        """The containers where a DELETE brings an older version back (Swift's stack-mode versioning).

        Deleting a source there would make a re-run copy the older version over the newer copy;
        history mode (X-History-Location) keeps versions aside and restores nothing.
        """
        restoring = []
        for container in containers:
            headers = self.swift(container).container_headers() or {}
            if headers.get("X-Versions-Location") or headers.get("X-Versions-Enabled", "").lower() == "true":
                restoring.append(container)
        return restoring

    def prepare_buckets(self, buckets: set[str], create: bool) -> tuple[dict[str, bool], set[str]]:
        """Which buckets exist, and which were created (``create``); bad keys or endpoint fail here."""
        try:
            if buckets:  # ListBuckets names a bad key in its answer, where HeadBucket says only 403
                self._s3_endpoint().owner_id()
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


class ObjectMigrator:
    """``s3_for(bucket)`` gives a driver for a bucket; ``swift_for(container)`` one for a container."""

    def __init__(self, swift_for: Callable[[str], SwiftDriver], s3_for: Callable[[str], S3Driver],
                 options: ObjectOptions, journal: JsonlJournal | None = None, budget: SliceBudget | None = None):
        self._swift_for = swift_for
        self._budget = budget or SliceBudget()
        self._s3_for = s3_for
        self._manifests = ManifestReader(swift_for)
        self.options = options
        self._journal = journal
        self._references = SegmentReferences(())
        self._deleting = threading.Lock()  # a manifest's delete and the release of its segments are one step

    # -- walking ------------------------------------------------------------------------------

    def _work(self, container: str, bucket: str, bucket_exists: bool) -> Iterator[_Work]:
        """The container's objects, each flagged with whether its key is in the bucket."""
        source = self._swift_for(container).listing(self.options.prefix)
        target = self._s3_for(bucket).list(self.options.prefix) if bucket_exists else iter(())
        waiting = next(target, None)
        for item in source:
            while waiting is not None and waiting.path < item["name"]:
                waiting = next(target, None)
            yield _Work(container, bucket, item, waiting is not None and waiting.path == item["name"])

    def run(self, pairs: list[tuple[str, str, bool]], record: Callable[[ObjectResult], None]) -> None:
        """Migrate every (container, bucket, bucket exists) pair; ``record`` takes each result as it ends.

        Results are handed on, not kept: memory does not grow with the number of objects. With
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
            for result in as_finished(self._one, items, self.options.concurrency,
                                      queued=self.options.concurrency, name="object"):
                record(result)

    def _index(self, containers: list[str]) -> SegmentReferences:
        """Every manifest of ``containers`` (whole, whatever the prefix) and what it reads."""
        references = SegmentReferences(containers, self.options.prefix)
        for container in containers:
            swift = self._swift_for(container)
            for item in swift.listing():
                manifest = (container, item["name"])
                try:
                    if "slo_etag" in item:
                        references.add_slo(manifest, self._manifests.slo(container, item["name"]).objects)
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

    def _one(self, work: _Work) -> ObjectResult:
        began = time.monotonic()
        result = ObjectResult(work.container, work.listed["name"], work.bucket, Outcome.PLANNED)
        try:
            key = self._source_key(work)
            result = replace(result, kind=key.kind, size=key.size)
            result = self._migrate(work, key, result)
        except _Stopped as stopped:  # what was done before the failure (a copy, an upload) stays in the result
            result = _ended_by(stopped.result, stopped.cause)
        except Exception as err:  # pylint: disable=broad-except
            # one object's surprise must not stop the others; the run reports it
            result = _ended_by(result, err)
        result = replace(result, seconds=time.monotonic() - began)
        self._note(result, result.outcome)
        return result

    def _source_key(self, work: _Work) -> SourceKey:
        """The source as the listing promises it; an empty object or a DLO: as its HEAD tells."""
        name = work.listed["name"]
        promise = listing_promise(work.listed)
        kind = SLO if "slo_etag" in work.listed else PLAIN
        if promise is None:
            described = SourceObject.from_headers(name, self._swift_for(work.container).head(name))
            promise, kind = (described.etag, described.size), described.kind
        return SourceKey(self.options.account, work.container, name, promise[0], promise[1], kind)

    def _migrate(self, work: _Work, key: SourceKey, result: ObjectResult) -> ObjectResult:
        swift, s3 = self._swift_for(work.container), self._s3_for(work.bucket)
        found = or_none(s3.stat, key.name) if work.in_bucket else None
        recomputed = self._segment_aligned_etags(swift, key) if needs_segment_etags(key, found) else ()
        step = plan_object(key, found, self.options.on_conflict, recomputed)
        if isinstance(step, Conflict):
            return replace(result, outcome=Outcome.CONFLICT, reason=step.reason, fix=CONFLICT_FIX)
        if isinstance(step, Current):
            result = replace(result, outcome=Outcome.ALREADY_DONE, md5=step.md5)
            if self.options.delete_source and not self.options.dry_run:
                # an earlier run copied it but did not delete: the copy is proven again, from its bytes
                return self._deleting_proven(swift, s3, result, _Evidence(key.etag, step.target_etag))
            return result
        result = replace(result, reason=step.reason)
        if not self._budget.take():  # the listing is still walked: what is left gets counted
            return replace(result, outcome=Outcome.LEFT, reason=LEFT_REASON)
        if self.options.dry_run:
            return result
        condition = write_condition(step.replaces)
        try:
            result, evidence = self._copy(swift, s3, result, condition, resume=True)
        except ResumeMismatchError:
            result, evidence = self._copy(swift, s3, result, condition, resume=False)
        self._note(result, "verified")
        if self.options.delete_source:
            return self._deleting_proven(swift, s3, result, evidence)
        return result

    def _deleting_proven(self, swift: SwiftDriver, s3: S3Driver, result: ObjectResult,
                         evidence: _Evidence) -> ObjectResult:
        """``_delete_proven``; a failure there keeps the copy's result (S3 holds the copy)."""
        try:
            return self._delete_proven(swift, s3, result, evidence)
        except Exception as err:  # pylint: disable=broad-except
            raise _Stopped(result, err) from err

    def _segment_aligned_etags(self, swift: SwiftDriver, key: SourceKey) -> tuple[str, ...]:
        """The S3 ETag this run's copy has when its parts follow the source's segments (else none)."""
        manifest = self._manifests.of(SourceObject.from_headers(key.name, swift.head(key.name)), swift.container)
        if manifest is None or not aligned_part_sizes(manifest.segments):  # None: it is plain now
            return ()
        return (multipart_etag(bytes.fromhex(segment.etag) for segment in manifest.segments),)

    def _copy(self, swift: SwiftDriver, s3: S3Driver, result: ObjectResult, condition: dict[str, str],
              resume: bool) -> tuple[ObjectResult, _Evidence]:
        """Stream the source into its key, then check what S3 shows: the result (copied), and its evidence."""
        name = result.name
        with swift.reader(name) as stream:
            source = SourceObject.from_headers(name, stream.headers)
            manifest = self._manifests.of(source, swift.container)
            segments = manifest.segments if manifest else None
            part_size = part_size_for(source.size, self.options.part_size)
            aligned = aligned_part_sizes(segments) if source.size > part_size else None
            check = StreamCheck(source, segments, manifest and manifest.etag, hashed_elsewhere=bool(aligned))
            fields, unsupported = target_fields(source, self.options.account, swift.container)
            chunks = self._checked_chunks(stream, check)
            if source.size <= part_size:
                data = b"".join(chunks)
                # a single PUT's ETag is the MD5 of its bytes: known before it is written
                md5 = check.finish()
                s3.put(name, data, WriteOptions(with_record(fields, md5, md5), condition))
                sent = _Sent(md5, len(data))
            else:
                if aligned:  # one part per segment: S3 checks each against its segment's ETag
                    layout = PartLayout(part_size, tuple(aligned), tuple(bytes.fromhex(s.etag) for s in check.segments),
                                        check.segment_hashed)
                else:
                    layout = PartLayout(part_size)
                writer = s3.multipart_writer(name, layout, WriteOptions(fields, condition), resume=resume)
                try:
                    sent = _send_parts(writer, chunks, check, bool(aligned))
                except ResumeMismatchError:
                    raise  # the caller starts afresh
                except Exception as err:  # pylint: disable=broad-except
                    # the upload left to resume (or cancelled) is named in the failure's result
                    raise _Stopped(replace(result, upload_id=writer.upload_id,
                                           bytes_resumed=writer.resumed_bytes), err) from err
                # the whole stream's MD5 and S3's ETag are known only now; S3 keeps metadata only by a
                # copy onto itself, made only while the key still holds what this run completed
                s3.replace_metadata(name, sent.etag, with_record(fields, check.whole.hexdigest(), sent.etag))
        md5 = check.whole.hexdigest()
        found = self._verify(s3, source, md5, sent.etag)
        copied = replace(result, outcome=Outcome.COPIED, kind=source.kind, size=source.size, md5=md5,
                         bytes_read=check.read, bytes_sent=sent.bytes_sent, bytes_resumed=sent.bytes_resumed,
                         upload_id=sent.upload_id, unsupported=unsupported)
        return copied, _Evidence(source.etag, found.etag, md5, sent.etag, manifest)

    @staticmethod
    def _verify(s3: S3Driver, source: SourceObject, md5: str, expected_etag: str):
        """S3 holds the size, MD5, source ETag and the ETag it computed from the bytes it received."""
        name = source.name
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

    # -- deleting the source ---------------------------------------------------------------------

    def _delete_proven(self, swift: SwiftDriver, s3: S3Driver, result: ObjectResult,
                       evidence: _Evidence) -> ObjectResult:
        """Delete the source once the bytes prove its copy, unless it changed since it was copied."""
        name = result.name
        seen = swift.head(name)
        now = SourceObject.from_headers(name, seen)
        if now.etag != evidence.copied_etag:
            return replace(result, reason="source kept: it changed in Swift after it was copied; a re-run "
                                          "copies it again")
        if now.kind == DLO and not self._references.knows_dlo((swift.container, name), *dlo_prefix(now.manifest)):
            # a DLO manifest with a body of its own lists as that body: the index, which finds
            # DLOs among empty objects, does not protect its segments from other manifests' deletes
            return replace(result, reason=(
                "source kept with its segments: a DLO whose manifest object has bytes of its own, "
                "which the segment index does not know; delete it in Swift once you checked its copy"))
        manifest = evidence.manifest
        if now.kind != PLAIN and manifest is None:
            manifest = self._manifests.of(now, swift.container)
        segments = manifest.segments if manifest else None
        if manifest and manifest.etag != now.etag:
            return replace(result, reason=("source kept: its segments changed since it was copied (Swift's ETag "
                                           f"{now.etag}, its segments make {manifest.etag}); a re-run copies it "
                                           "again"))
        ranged = [segment for segment in segments or () if segment.byte_range]
        if ranged:
            return replace(result, reason=(f"source kept: {len(ranged)} segment(s) are byte ranges whose MD5 "
                                           "Swift does not promise"))
        proof = delete_proof(now, evidence.target_etag, evidence.md5, evidence.sent_etag, segments,
                             manifest and manifest.etag)
        if proof is None:
            _read_back(s3, now, manifest)
            proof = "the S3 object, read back, holds the source's bytes"
        return self._delete_source(swift, replace(result, proof=proof), manifest, seen)

    def _delete_source(self, swift: SwiftDriver, result: ObjectResult, manifest: Manifest | None,
                       verified: Mapping[str, str]) -> ObjectResult:
        """The source goes, then those of its segments no other manifest of the run reads.

        Each is HEADed right before its DELETE: a proof (a read-back may take minutes) holds only
        for the object, and the segments, that were verified.
        """
        source = (swift.container, result.name)
        with self._deleting:
            readers = self._references.live_readers(source)
            if readers:
                return replace(result, reason=(f"source kept: the manifest {describe(readers[0])} reads it and "
                                               "is still in Swift; a re-run deletes it once that manifest is gone"))
            if _version(swift.head(result.name)) != _version(verified):
                return replace(result, reason=("source kept: it was written again in Swift while its copy was "
                                               "verified; a re-run copies it again"))
            # the manifest alone (never multipart-manifest=delete, which takes every segment)
            swift.delete_only(result.name)
            deletable, kept = self._references.release(source, manifest.objects if manifest else ())
        promised = {object_id(entry.name): entry for entry in manifest.named} if manifest else {}
        for segment in deletable:
            holder = self._swift_for(segment[0])
            found = or_none(holder.head, segment[1])
            entry = promised[segment]
            if found is not None and (found.get("Etag", "").strip('"'),
                                      int(found.get("Content-Length", -1))) != (entry.etag, entry.size):
                kept[segment] = "it no longer holds what the manifest promised (written again since)"
                continue
            holder.delete_only(segment[1])
        deleted = replace(result, source_deleted=True,
                          segments_kept={describe(segment): why for segment, why in kept.items()})
        self._note(deleted, "source_deleted")
        return deleted

    # -- reading Swift ---------------------------------------------------------------------------

    def _checked_chunks(self, stream, check: StreamCheck) -> Iterator[bytes]:
        """The source's bytes, each through ``check``; a stream that breaks is explained if it can be."""
        while True:
            try:
                chunk = stream.read(READ_SIZE)
            except Exception as err:  # pylint: disable=broad-except
                raise self._broken_stream(check, str(err)) from None
            if not chunk:
                if check.read < check.source.size:
                    raise self._broken_stream(check, "it ended early")
                return
            check.feed(chunk)
            yield chunk

    def _broken_stream(self, check: StreamCheck, how: str) -> StoreOpsError:
        """Swift cuts a manifest's stream at a segment that no longer matches: name that segment."""
        segment = check.current_segment
        if segment is not None:
            container, name = object_id(segment.name)
            found = or_none(self._swift_for(container).head, name)
            now = found.get("Etag", "").strip('"') if found is not None else "none (it is gone)"
            if now != segment.etag and not segment.byte_range:
                return SourceMismatchError(
                    f"{check.source.name}: segment {segment.name} has ETag {now}, its manifest says "
                    f"{segment.etag}: the segment was changed after the manifest was made")
        return StoreOpsError(f"{check.source.name}: the Swift stream broke at byte {check.read} of "
                             f"{check.source.size} ({how})")

    def _note(self, result: ObjectResult, step: str) -> None:
        if self._journal is None or self.options.dry_run:
            return
        self._journal.write({"container": result.container, "object": result.name, "bucket": result.bucket,
                             "step": step, "size": result.size, "md5": result.md5,
                             "upload_id": result.upload_id, "proof": result.proof, "reason": result.reason,
                             "traceback": result.traceback or None, "seconds": round(result.seconds, 3)})


def _send_parts(writer: S3MultipartWriter, chunks: Iterator[bytes], check: StreamCheck, aligned: bool) -> _Sent:
    """Stream ``chunks`` into the upload after the parts it already holds (re-read and matched), then complete it."""
    name = check.source.name
    resumed = ResumeCheck(name, writer.resumed_parts)
    try:
        if aligned:
            _resumed_segments(check, writer.resumed_parts)
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
    return _Sent(multipart_etag(writer.part_md5s()), writer.size - writer.resumed_bytes, writer.resumed_bytes,
                 writer.upload_id)


def _resumed_segments(check: StreamCheck, parts: list[dict[str, Any]]) -> None:
    """The parts an upload holds are its first segments: their ETags (MD5s) must be theirs."""
    for index, part in enumerate(parts):
        etag = part["ETag"].strip('"')
        if index >= len(check.segments) or part["Size"] != check.segments[index].size \
                or etag != check.segments[index].etag:
            raise ResumeMismatchError(f"{check.source.name}: the unfinished upload's part {index + 1} is "
                                      "not its segment; starting that object afresh")
        check.segment_hashed(index, bytes.fromhex(etag))


def _read_back(s3: S3Driver, source: SourceObject, manifest: Manifest | None) -> None:
    """The S3 object's bytes, hashed, against the source's MD5 or each of its segments' ETags."""
    check = StreamCheck(source, manifest and manifest.segments, manifest and manifest.etag)
    body = s3.reader(source.name)
    try:
        for chunk in iter(lambda: body.read(READ_SIZE), b""):
            check.feed(chunk)
        check.finish()
    except SourceMismatchError:
        raise StorageConflictError(f"{source.name}: the key's bytes are not the Swift object's, whatever its "
                                   "metadata says; source kept") from None
    finally:
        body.close()


def _version(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """What tells one write of a Swift object from another: its ETag and its X-Timestamp."""
    return headers.get("Etag", "").strip('"'), headers.get("X-Timestamp")


def _ended_by(result: ObjectResult, err: Exception) -> ObjectResult:
    """``result`` as ``err`` ended it: a conflict (the key is someone else's), or a failure."""
    if isinstance(err, StorageConflictError):
        return replace(result, outcome=Outcome.CONFLICT, reason=redact_text(str(err)), fix=CONFLICT_FIX)
    return replace(result, outcome=Outcome.FAILED, **_failure(err))


def _failure(err: Exception) -> dict[str, str]:
    """An object's failure entry: an expected error's reason and fix, or a bug with its traceback."""
    known = known_error(err, translate_s3_error, translate_sdk_error)  # S3's, or Swift's through openstacksdk
    if known is None:  # a bug: recorded as one, with its traceback
        report = bug_report(err)
        return {"reason": report["reason"], "traceback": report["traceback"], "fix": BUG_FIX}
    return {"reason": redact_text(str(known)), "fix": _fix_for(known)}


def _fix_for(err: StoreOpsError) -> str:
    if isinstance(err, SourceMismatchError):
        return ("repair or re-upload the object in Swift; its upload to S3 was aborted and the "
                "source was not touched")
    if err.details.get("s3_error"):
        return "fix what the reason names, then run again"
    return "run again: an interrupted upload resumes from the parts already sent"
