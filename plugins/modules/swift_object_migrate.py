#!/usr/bin/python
# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: swift_object_migrate
short_description: Copy Swift containers' objects into S3 buckets (Ceph RGW), verified and resumable
version_added: 0.1.0
description:
  - Copies the objects of one, several or all containers of a Swift account into S3 buckets,
    typically on Ceph's RADOS Gateway. A bucket that does not exist yet is created.
  - Each S3 key is its Swift object's name, byte for byte. Names go to Swift percent-encoded,
    so C(b%41) stays apart from C(bA), and C(a#1), C(what?x=1) or C(a/../b) are the objects so named.
  - Objects stream through with bounded memory; objects larger than a part go up as multipart
    uploads with C(Content-MD5) on every part, and at most 10,000 parts.
  - Static and dynamic large objects (SLO, DLO) are copied as the whole object a client reads.
    While copying, every segment's MD5 is checked against the ETag its manifest promises, and a
    plain object's MD5 against its ETag. A copy whose bytes do not match is aborted and nothing is
    written. Segment containers (names ending in C(_segments)) are skipped by default.
  - Each object's C(X-Object-Meta-*) becomes C(x-amz-meta-*), and Content-Type, Content-Encoding,
    Content-Disposition, Content-Language, Cache-Control and Expires are kept. The source ETag,
    Last-Modified and kind, and the whole object's MD5, are recorded as C(x-amz-meta-storeops-*),
    so later runs and audits can verify the copy without Swift. Headers S3 cannot hold (such
    as C(X-Delete-At)) are reported per object, never dropped silently.
  - Every copy also records its source (account, container, object name) and the S3 ETag of the
    bytes written, as C(x-amz-meta-storeops-*). A key already in the bucket is this collection's
    copy of the object when it names this source and its ETag is still the one written. A copy
    of the same source version is skipped without reading it; a copy of an older version (the
    Swift object changed) is copied again over it.
  - Any other key is a conflict (written by an application after cut-over, copied from another
    object, or changed since it was copied). It is never overwritten unless O(on_conflict=overwrite).
    Conflicts are counted and listed with the fix, and the Swift object is kept. Keys copied by
    version 0.1.0, which recorded no source, count as this collection's when their recorded
    source ETag and MD5 are the source's.
  - Writes are conditional on what the run saw (C(If-None-Match), C(If-Match), and
    C(x-amz-copy-source-if-match) for the copy onto itself that records the MD5 of a multipart
    copy), so a key an application writes meanwhile is neither overwritten nor marked as a copy.
    RGW of Ceph 16 ignores conditions on completing a multipart upload, so the key is looked at
    again just before it completes and the upload is aborted if the key changed. This narrows
    the window in which an application write can be overwritten to milliseconds, but on RGW 16
    cannot close it.
  - An interrupted multipart upload is resumed from its parts. The bytes those parts hold are
    read again from Swift and checked, but not sent again. Only uploads the S3 credentials' own
    user started are resumed, and an upload an earlier run started is never aborted (a fresh one
    is started instead).
  - With O(delete_source), a source object is deleted only on proof from the bytes, never from
    metadata, and only if it did not change in Swift meanwhile. It is looked at again right
    before its DELETE, and kept unless its ETag and C(X-Timestamp) are still those verified. The proof is S3's own ETag, which
    must be the source's MD5 for a single PUT, or the ETag the checked parts sent (or the
    manifest's segment ETags) make for a multipart upload. Without such a proof (a copy made by an earlier run),
    the S3 object is read back and hashed against the source first.
  - With O(delete_source), the manifests of the run's containers are indexed before anything
    is copied. A manifest's segments are deleted with it only when no other manifest of the
    run's containers reads them (an SLO entry, or a DLO prefix, raw, covering them) and the run
    does not copy them as objects of their own; the others are kept and listed with the reason.
    Manifests in containers outside the run protect nothing. A container holding segments that
    manifests of other run containers read is copied after them. Each segment is looked at right
    before its DELETE and kept unless its ETag and size are still those its manifest promises.
  - O(delete_source) refuses, before anything is touched, a container with C(X-Versions-Location)
    or C(X-Versions-Enabled), where a DELETE brings an older version back, which a re-run would
    copy over the newer one. C(X-History-Location) (history mode) restores nothing and is fine.
author:
  - storeops.openstack developers (@storeops)
extends_documentation_fragment:
  - storeops.openstack.auth
  - storeops.openstack.journal
attributes:
  check_mode:
    support: full
    description: Returns the plan (which objects, how many bytes, into which buckets) and changes nothing.
  diff_mode:
    support: none
    description: The plan in check mode says what would change.
options:
  containers:
    description: The containers to copy, in the account of the credentials' project.
    type: list
    elements: str
  all_containers:
    description: Copy every container of the account (segment containers aside, see O(include_segment_containers)).
    type: bool
  include_segment_containers:
    description:
      - With O(all_containers), also copy containers whose names end in C(_segments) or
        C(+segments) as buckets of their own. Their objects already arrive inside their manifests.
    type: bool
    default: false
  prefix:
    description: Only objects whose names start with this.
    type: str
    default: ""
  bucket_names:
    description:
      - The bucket for a container, by container name, when it is not O(bucket_name_template)'s.
      - Each container needs a bucket of its own. A run in which two containers map to one bucket
        (here or through O(bucket_name_template)) is refused before anything is touched.
    type: dict
    default: {}
  bucket_name_template:
    description:
      - The bucket a container goes to, with C({container}) for its name. Every bucket name is
        checked against S3's rules before anything is copied.
    type: str
    default: "{container}"
  s3_endpoint_url:
    description: The S3 endpoint, for example C(https://rgw.example.com). Path-style addressing is used.
    type: str
    required: true
  s3_access_key:
    description: The S3 access key. Taken from E(AWS_ACCESS_KEY_ID) when not given.
    type: str
    required: true
  s3_secret_key:
    description: The S3 secret key. Taken from E(AWS_SECRET_ACCESS_KEY) when not given.
    type: str
    required: true
  s3_region:
    description: The region signed for; RGW accepts its zonegroup's name or C(us-east-1).
    type: str
    default: us-east-1
  s3_validate_certs:
    description: Check the S3 endpoint's TLS certificate.
    type: bool
    default: true
  s3_ca_cert:
    description: A CA bundle to check the S3 endpoint's certificate with.
    type: path
  part_size_mb:
    description:
      - Part size of multipart uploads in MiB, from 5 to 5120 (S3's smallest and largest part). It
        grows for objects that would otherwise need more than 10,000 parts. Objects up to one part
        go in a single request.
      - An SLO or DLO whose segments S3 can take as parts (none ranged, 5 MiB to 5 GiB but the
        last) goes up one part per segment instead, whatever I(part_size_mb). Each part streams through
        with its segment's ETag as C(Content-MD5), so S3 checks it and the module holds none of it.
    type: int
    default: 16
  uploads_per_object:
    description:
      - Parts of one object sent at once, 1 to 16. Memory per object in flight is this plus one part.
      - Parts that are an SLO's or DLO's segments stream one at a time and hold no memory.
    type: int
    default: 2
  concurrency:
    description: Objects in flight at once, 1 to 64.
    type: int
    default: 4
  limit:
    description:
      - Copy at most this many objects in this run (objects whose copy is current do not count);
        the others are counted as V(left) in RV(counts) and RV(progress), and a later run copies
        them. The listings are still walked to the end, so the counts cover every object.
    type: int
  max_duration:
    description:
      - Time budget in seconds. Once it has passed no new copy starts; those in flight finish, and
        the rest is counted as V(left). The listings are still walked to the end (without copying).
    type: int
  delete_source:
    description:
      - Delete each source object once its copy is proven from the bytes, and the segments of a
        manifest that nothing else in the run's containers reads. See the description for when.
    type: bool
    default: false
  on_conflict:
    description:
      - What to do with a key that is not this collection's copy of the source.
      - V(skip) keeps the key and the Swift object, and reports the conflict; the run succeeds.
      - V(fail) does the same for every object and then fails the run, naming the first conflict.
      - V(overwrite) replaces the key with the Swift object (still only if the key did not change
        again since it was looked at).
    type: str
    choices: [skip, fail, overwrite]
    default: skip
  max_details:
    description:
      - At most this many objects are listed in each list of the result. Every object is counted
        in RV(counts); the details beyond this many are not kept, so memory does not grow with
        the number of objects.
    type: int
    default: 100
requirements:
  - boto3 on the host that runs the module.
notes:
  - The Swift account is the one of the credentials' project. The S3 credentials must be
    allowed to create buckets, or the buckets must exist.
  - Container metadata and ACLs are not copied; set bucket policies separately.
  - An C(s3://) O(journal_url) goes to O(s3_endpoint_url) with O(s3_access_key) and
    O(s3_secret_key), unless O(journal_s3_endpoint_url) is given.
seealso:
  - module: storeops.openstack.glance_store_migrate
"""

EXAMPLES = r"""
- name: Plan the copy of two containers (nothing changes)
  storeops.openstack.swift_object_migrate:
    cloud: production
    containers: [backups, artefacts]
    s3_endpoint_url: https://rgw.example.com
    s3_access_key: "{{ rgw_access_key }}"
    s3_secret_key: "{{ rgw_secret_key }}"
  check_mode: true
  register: plan

- name: Move every container into RGW, renaming one whose name S3 refuses
  storeops.openstack.swift_object_migrate:
    cloud: production
    all_containers: true
    bucket_names:
      Static_Content: static-content
    s3_endpoint_url: https://rgw.example.com
    s3_access_key: "{{ rgw_access_key }}"
    s3_secret_key: "{{ rgw_secret_key }}"
    concurrency: 8
    delete_source: true
"""

RETURN = r"""
counts:
  description:
    - V(objects) seen; V(copied), V(already_done), V(planned) (check mode), V(conflict),
      V(failed) and V(left) (not started, for O(limit) or O(max_duration)) by outcome;
      V(source_deleted); V(segments_kept), segments of deleted manifests kept because something
      else reads them; V(unsupported_metadata), the objects with headers S3 cannot hold.
  returned: always
  type: dict
containers:
  description: Per container, its bucket, whether the bucket was created (or would be), and its counts and bytes.
  returned: always
  type: list
  elements: dict
skipped_containers:
  description: Containers left out, with the reason (segment containers).
  returned: always
  type: list
  elements: dict
bytes_planned:
  description: Bytes of the objects to copy (check mode) or copied.
  returned: always
  type: int
bytes_sent:
  description: Bytes sent to S3 by this run (resumed parts not counted).
  returned: always
  type: int
bytes_read:
  description: Bytes read from Swift by this run.
  returned: always
  type: int
bytes_resumed:
  description: Bytes already in S3 from an interrupted run, re-read and checked but not sent again.
  returned: always
  type: int
objects:
  description:
    - The first O(max_details) objects copied, planned, in conflict or failed, with kind (plain,
      slo, dlo), size, MD5, bytes sent and resumed, upload id, whether the source was deleted and
      on which proof, the segments kept and why, reason and fix.
  returned: always
  type: list
  elements: dict
already_migrated:
  description: The first O(max_details) objects skipped as already migrated, with the reason.
  returned: always
  type: list
  elements: dict
conflicts:
  description:
    - The first O(max_details) keys that are not this collection's copy of their source, with
      the reason and the fix. Kept, with their Swift objects, unless O(on_conflict=overwrite).
  returned: always
  type: list
  elements: dict
failures:
  description: The first O(max_details) objects that failed, with the reason and the fix.
  returned: always
  type: list
  elements: dict
unsupported_metadata:
  description: The first O(max_details) objects with headers S3 cannot hold, and those headers.
  returned: always
  type: list
  elements: dict
duration_seconds:
  description: Wall time of the run.
  returned: always
  type: float
mb_per_second:
  description: Bytes read from Swift per second, in MB (10^6 bytes).
  returned: always
  type: float
objects_per_second:
  description: Objects copied or checked per second.
  returned: always
  type: float
progress:
  description:
    - Where the whole migration of the selected containers stands after this run, in objects (the
      roles print it with the P(storeops.openstack.progress_line#filter) filter) - C(total) objects
      seen, C(done) those with a current copy, C(left) those a later run still copies (left by
      O(limit) or O(max_duration), failed, or planned in check mode), C(failed), C(moved)
      (finished by this run), C(seconds); C(bytes_total) and C(bytes_done) their sizes, C(bytes_moved) the bytes this run sent.
    - A conflict is neither done nor left.
  returned: always
  type: dict
journal:
  description: Path of this run's journal, if it did anything.
  returned: when a step ran
  type: str
journal_url:
  description: The URL of the run's journal as shipped, once all of it is there (C(<journal_url>/<run id>)).
  returned: when a step ran, with O(journal_url)
  type: str
"""

from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.executor import ON_CONFLICT
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.plan import MAX_PART, MIB, MIN_PART
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.runner import (
    MigrationRequest,
    migrate_objects,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.journal_url import (
    JOURNAL_ARGUMENT_SPEC,
    journal_shipment,
)

# each object in flight holds up to uploads_per_object + 1 parts, and a connection per part
MAX_CONCURRENCY = 64
MAX_UPLOADS_PER_OBJECT = 16


class SwiftObjectMigrate(StoreOpsModule):
    argument_spec = {
        "containers": {"type": "list", "elements": "str"},
        "all_containers": {"type": "bool"},
        "include_segment_containers": {"type": "bool", "default": False},
        "prefix": {"type": "str", "default": ""},
        "bucket_names": {"type": "dict", "default": {}},
        "bucket_name_template": {"type": "str", "default": "{container}"},
        "s3_endpoint_url": {"type": "str", "required": True},
        "s3_access_key": {"type": "str", "required": True, "no_log": True,
                          "fallback": (env_fallback, ["AWS_ACCESS_KEY_ID"])},
        "s3_secret_key": {"type": "str", "required": True, "no_log": True,
                          "fallback": (env_fallback, ["AWS_SECRET_ACCESS_KEY"])},
        "s3_region": {"type": "str", "default": "us-east-1"},
        "s3_validate_certs": {"type": "bool", "default": True},
        "s3_ca_cert": {"type": "path"},
        "part_size_mb": {"type": "int", "default": 16},
        "uploads_per_object": {"type": "int", "default": 2},
        "concurrency": {"type": "int", "default": 4},
        "delete_source": {"type": "bool", "default": False},
        "on_conflict": {"type": "str", "choices": list(ON_CONFLICT), "default": "skip"},
        **JOURNAL_ARGUMENT_SPEC,
        "max_details": {"type": "int", "default": 100},
        "limit": {"type": "int"},
        "max_duration": {"type": "int"},
    }
    module_kwargs = {"supports_check_mode": True, "mutually_exclusive": [["containers", "all_containers"]]}

    def run(self):
        params = self._checked_params()
        request = MigrationRequest(
            s3_endpoint_url=params["s3_endpoint_url"], s3_access_key=params["s3_access_key"],
            s3_secret_key=params["s3_secret_key"], s3_region=params["s3_region"],
            s3_verify=params["s3_ca_cert"] or params["s3_validate_certs"],
            containers=tuple(params["containers"] or ()),
            include_segment_containers=params["include_segment_containers"], prefix=params["prefix"],
            bucket_names=params["bucket_names"], bucket_name_template=params["bucket_name_template"],
            part_size_mb=params["part_size_mb"], uploads_per_object=params["uploads_per_object"],
            concurrency=params["concurrency"], delete_source=params["delete_source"],
            on_conflict=params["on_conflict"], journal_dir=params["journal_dir"],
            max_details=params["max_details"], limit=params["limit"], max_duration=params["max_duration"])
        return migrate_objects(self.conn, request, self.check_mode, shipment_of=self._shipment)

    def _shipment(self, path: str):
        """The journal's shipment; without journal_s3_endpoint_url, an s3:// journal_url goes to the
        module's own S3 endpoint with its keys."""
        params = self.params
        if not params["journal_s3_endpoint_url"]:
            params = {**params, "journal_s3_endpoint_url": params["s3_endpoint_url"],
                      "journal_s3_access_key": params["s3_access_key"],
                      "journal_s3_secret_key": params["s3_secret_key"], "journal_s3_region": params["s3_region"],
                      "journal_s3_validate_certs": params["s3_ca_cert"] or params["s3_validate_certs"]}
        return journal_shipment(params, lambda: self.conn, path, self.ansible.warn)

    def _checked_params(self) -> dict:
        params = self.params
        if not params["containers"] and not params["all_containers"]:
            raise InvalidInputError("name the containers to copy in containers, or set all_containers: true")
        endpoint = urlsplit(params["s3_endpoint_url"])
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise InvalidInputError(f"s3_endpoint_url {params['s3_endpoint_url']!r} is not an http(s) URL; "
                                    "write it with its scheme, e.g. https://rgw.example.com")
        bounds = {"part_size_mb": (MIN_PART // MIB, MAX_PART // MIB, "S3's part sizes"),
                  "concurrency": (1, MAX_CONCURRENCY, "objects in flight"),
                  "uploads_per_object": (1, MAX_UPLOADS_PER_OBJECT, "parts in flight per object"),
                  "max_details": (1, None, "")}
        for option, (least, most, what) in bounds.items():
            if params[option] < least or (most is not None and params[option] > most):
                within = f"from {least} to {most} ({what})" if most else f"at least {least}"
                raise InvalidInputError(f"{option} must be {within}, not {params[option]}")
        for option in ("limit", "max_duration"):
            if params[option] is not None and params[option] < 1:
                raise InvalidInputError(f"{option} must be at least 1, not {params[option]}; omit it for no bound")
        return params


def main():
    SwiftObjectMigrate()()


if __name__ == "__main__":
    main()
