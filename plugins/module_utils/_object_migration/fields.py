# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a migrated object carries in S3: the Swift headers S3 can keep, and the record of its source.

The record (source ETag, kind, MD5, identity, the ETag S3 gave the bytes written) lets later
runs and audits verify a key without Swift; headers S3 has no place for are reported, never
silently dropped.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import base64
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import SourceObject, wire_text

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


def _s3_header_value(value: str) -> str:
    """S3 metadata travels in headers: non-ASCII text goes RFC 2047-encoded, as AWS advises."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?="


def target_fields(source: SourceObject, account: str, container: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The S3 arguments (Metadata, ContentType, ...) for ``source``, and what S3 cannot hold."""
    metadata: dict[str, str] = {}
    fields: dict[str, Any] = {}
    unsupported: dict[str, str] = {}
    for key, value in source.headers.items():
        if key.startswith("x-object-meta-"):
            name = key[len("x-object-meta-"):]
            if name in RECORD_KEYS:
                unsupported[key] = "its name is the one this module records the source under"
            else:
                metadata[name] = _s3_header_value(wire_text(value))
        elif key in _SYSTEM_HEADERS:
            fields[_SYSTEM_HEADERS[key]] = _s3_header_value(wire_text(value))
        elif key == "expires":
            try:
                fields["Expires"] = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                unsupported[key] = value
        elif key in _UNSUPPORTED_HEADERS:
            unsupported[key] = value
    metadata.update({SOURCE_ETAG: source.etag, SOURCE_MODIFIED: source.last_modified,
                     SOURCE_KIND: source.kind, **source_identity(account, container, source.name)})
    fields["Metadata"] = metadata
    return fields, unsupported


def with_record(fields: dict[str, Any], md5: str, s3_etag: str) -> dict[str, Any]:
    """``fields`` with the MD5 of the bytes written and the ETag S3 gave them, known only once written."""
    return {**fields, "Metadata": {**fields["Metadata"], MD5: md5, S3_ETAG: s3_etag}}


def source_identity(account: str, container: str, name: str) -> dict[str, str]:
    """The metadata naming the Swift object a key is the copy of."""
    return {SOURCE_ACCOUNT: quote(account, safe=""), SOURCE_CONTAINER: quote(container, safe=""),
            SOURCE_NAME: quote(name, safe="/")}
