# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``journal_url``: journals shipped to a Swift container or an S3 bucket, and read back from there.

The options every journaling module takes (``JOURNAL_ARGUMENT_SPEC``, documented once in the
``storeops.openstack.journal`` doc fragment); the ``Shipment`` of a run's journal, whose objects
are ``<prefix>/<run id>/<sequence>.jsonl``, each written only where no object is; and the copy
of a shipped run into a local file, its objects in sequence order, for ``mode: undo``. Swift goes
through the module's cloud connection, S3 through the ``journal_s3_*`` credentials; a URL holding
credentials is refused.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StorageConflictError,
    StorageNotFoundError,
    StoreOpsError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import (
    Shipment,
    run_id,
    shipped_object,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import CHUNK, StorageDriver, or_none
from ansible_collections.storeops.openstack.plugins.module_utils._storage.s3 import (
    S3Account,
    S3Driver,
    translate_s3_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver

JOURNAL_ARGUMENT_SPEC: dict[str, Any] = {
    "journal_dir": {"type": "path", "default": "~/.storeops/journals"},
    "journal_url": {"type": "str"},
    "journal_s3_endpoint_url": {"type": "str"},
    "journal_s3_access_key": {"type": "str", "no_log": True},
    "journal_s3_secret_key": {"type": "str", "no_log": True},
    "journal_s3_region": {"type": "str", "default": "us-east-1"},
    "journal_s3_validate_certs": {"type": "bool", "default": True},
}
S3_OPTIONS = ("journal_s3_endpoint_url", "journal_s3_access_key", "journal_s3_secret_key")
SCHEMES = ("swift", "s3")
_SHIPPED_NAME = re.compile(r"[0-9]+\.jsonl")


@dataclass(frozen=True)
class JournalUrl:
    """``swift://container/prefix`` or ``s3://bucket/prefix``, split."""

    scheme: str
    bucket: str  # the container or bucket
    prefix: str  # without leading or trailing ``/``; may be empty

    def folder(self, name: str) -> str:
        return posixpath.join(self.prefix, name) if self.prefix else name

    def __str__(self) -> str:
        return f"{self.scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


def is_journal_url(text: str) -> bool:
    return "://" in text


def parse_journal_url(text: str, option: str = "journal_url") -> JournalUrl:
    """The URL split, or a one-line error naming ``option`` and the fix (never echoing a credential)."""
    scheme, found, rest = text.partition("://")
    bucket, _slash, prefix = rest.partition("/")
    if redact_text(text) != text or "@" in bucket:
        raise InvalidInputError(
            f"{option}: credentials do not belong in the URL; give {scheme or 'the'}://bucket/prefix "
            "and the credentials apart: journal_s3_access_key and journal_s3_secret_key for s3, the "
            "module's cloud for swift")
    if not found or scheme not in SCHEMES or not bucket:
        raise InvalidInputError(f"{option}: {text!r} is no journal URL; write swift://container/prefix "
                                "or s3://bucket/prefix")
    return JournalUrl(scheme, bucket, prefix.strip("/"))


def journal_store(url: JournalUrl, params: Mapping[str, Any], conn_of: Callable[[], Any],
                  create: bool = True) -> StorageDriver:
    """The driver of the URL's container or bucket (``create``: made if missing); ``conn_of()`` opens the cloud connection."""
    option = "journal_url" if create else "journal"
    if url.scheme == "swift":
        driver = SwiftDriver(conn_of(), url.bucket)
        try:
            if create:
                driver.ensure_container()
            elif not driver.container_exists():
                raise InvalidInputError(f"{option}: Swift has no container {url.bucket!r}; give the URL a run returned")
        except InvalidInputError:
            raise
        except StoreOpsError as err:
            raise StoreOpsError(f"{option}: {err}; check that the cloud's credentials may write {url.bucket}") from None
        return driver
    missing = [name for name in S3_OPTIONS if not params.get(name)]
    if missing:
        raise InvalidInputError(f"{option}: an s3:// journal needs {', '.join(missing)}; set "
                                f"{' and '.join(S3_OPTIONS)}, or use a swift:// URL")
    endpoint = params["journal_s3_endpoint_url"]
    try:
        account = S3Account.connect(endpoint, params["journal_s3_access_key"], params["journal_s3_secret_key"],
                                    params.get("journal_s3_region") or "us-east-1",
                                    params.get("journal_s3_validate_certs", True), pool_size=2)
        driver = account.bucket(url.bucket)
        if not driver.bucket_exists():
            if not create:
                raise InvalidInputError(f"{option}: S3 has no bucket {url.bucket!r}; give the URL a run returned")
            driver.create_bucket()
    except Exception as err:  # pylint: disable=broad-except
        known = translate_s3_error(err, endpoint)
        if known is None:
            raise
        # not translate_s3_error's fix: it names the migration's own options
        what = known.details.get("s3_error") or str(err)
        raise StoreOpsError(f"{option}: S3 at {endpoint} refused the bucket {url.bucket} ({what}): check "
                            "journal_s3_endpoint_url, journal_s3_access_key and journal_s3_secret_key, and "
                            "that the bucket is these keys' own") from None
    return driver


def journal_shipment(params: Mapping[str, Any], conn_of: Callable[[], Any], local_path: str,
                     warn: Callable[[str], None]) -> Shipment | None:
    """Where the journal at ``local_path`` ships, if ``journal_url`` is set; its store is checked now,
    so a wrong URL or credential fails the run before anything changed."""
    if not params.get("journal_url"):
        return None
    url = parse_journal_url(params["journal_url"])
    # the file's name alone may recur: job slices start in the same second, in containers alike down to the pid
    run = url.folder(f"{run_id(local_path)}-{uuid.uuid4().hex[:8]}")
    driver = journal_store(url, params, conn_of)
    return Shipment(put=_put_of(driver), run=run, url=f"{url.scheme}://{url.bucket}/{run}", warn=warn)


def _put_of(driver: StorageDriver) -> Callable[[str, bytes], None]:
    """A put that never replaces an object: where one is, it must hold these bytes (an earlier
    attempt's, whose answer was lost), else StorageConflictError."""
    put_new = driver.put if isinstance(driver, S3Driver) else partial(driver.put, new=True)  # S3: no key, by default

    def put(name: str, data: bytes) -> None:
        try:
            put_new(name, data)
        except StorageConflictError:
            found = or_none(driver.stat, name)
            # S3's ETag is no MD5 under SSE-KMS or SSE-C: then the (small) object itself is compared
            if found is None or found.size != len(data) or (
                    found.etag != hashlib.md5(data).hexdigest() and _bytes_of(driver, name) != data):
                raise
    return put


def _bytes_of(driver: StorageDriver, name: str) -> bytes | None:
    """A whole object's bytes; None when it is gone."""
    try:
        with closing(driver.reader(name)) as stream:
            return stream.read()
    except StorageNotFoundError:
        return None


def fetch_journal(text: str, params: Mapping[str, Any], conn_of: Callable[[], Any], directory: str) -> str:
    """A shipped run's objects (``text``, a run's URL) in sequence order, as a new local file (0600) in ``directory``.

    A gap in the sequence fails before anything is restored: the copy would miss entries.
    """
    url = parse_journal_url(text, "journal")
    run = url.prefix
    if not run:
        raise InvalidInputError(f"journal: {url} names no run; give the journal_url a run returned "
                                "(<journal_url>/<run id>)")
    driver = journal_store(url, params, conn_of, create=False)
    objects = sorted(item.path for item in driver.list(run + "/")
                     if _SHIPPED_NAME.fullmatch(item.path[len(run) + 1:]))
    if not objects:
        raise InvalidInputError(f"journal: {url} holds no shipped journal; give the journal_url a run "
                                "returned (<journal_url>/<run id>)")
    for sequence, name in enumerate(objects):
        if name != shipped_object(run, sequence):
            raise InvalidInputError(f"journal: {url} lacks {shipped_object(run, sequence)} (found {name} "
                                    "instead); nothing was restored: give the run's local journal instead")
    directory = os.path.expanduser(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, path = tempfile.mkstemp(prefix=f"{posixpath.basename(run)}-", suffix=".jsonl", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as local:
            for name in objects:
                with closing(driver.reader(name)) as remote:
                    shutil.copyfileobj(remote, local, CHUNK)
    except BaseException:
        os.unlink(path)
        raise
    return path
