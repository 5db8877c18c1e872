"""Samples the object-migration unit tests share: an MD5 as Swift writes it, and an SLO made of byte pieces."""
from __future__ import annotations

import hashlib

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    SLO,
    Segment,
    SourceObject,
    slo_etag,
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def slo(pieces):
    """An SLO ``s`` whose segments (in ``c_segments``) hold ``pieces``: its source and its segments."""
    segments = [Segment(f"/c_segments/s/{i}", len(p), md5(p)) for i, p in enumerate(pieces)]
    source = SourceObject("s", sum(map(len, pieces)), slo_etag(segments), "", SLO)
    return source, segments
