# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A large object's manifest, read from Swift: its segments (nested SLOs flattened) and the ETag they make.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.refs import (
    ObjectId,
    dlo_prefix,
    object_id,
)
from ansible_collections.storeops.openstack.plugins.module_utils._object_migration.source import (
    DLO,
    SLO,
    Segment,
    SourceObject,
    dlo_etag,
    slo_etag,
)
from ansible_collections.storeops.openstack.plugins.module_utils._storage.swift import SwiftDriver


@dataclass(frozen=True)
class Manifest:
    """A manifest's segments (flattened), the ETag their entries make, and every entry it names."""

    segments: list[Segment]
    etag: str
    named: list[Segment]  # nested manifests and segments, each as its entry promises it

    @property
    def objects(self) -> list[ObjectId]:
        return [object_id(entry.name) for entry in self.named]


class ManifestReader:
    """Reads manifests through ``swift_for(container)``: segments may live in any container."""

    def __init__(self, swift_for: Callable[[str], SwiftDriver]):
        self._swift_for = swift_for

    def of(self, source: SourceObject, container: str) -> Manifest | None:
        """The manifest of ``source`` (in ``container``); None for a plain object."""
        if source.kind == SLO:
            return self.slo(container, source.name)
        if source.kind == DLO:
            segments = self._dlo_segments(source.manifest)
            return Manifest(segments, dlo_etag(segments), segments)
        return None

    def slo(self, container: str, name: str) -> Manifest:
        entries = self._slo_entries(container, name)
        nested: list[Segment] = []
        segments = self._flatten(entries, nested)
        return Manifest(segments, slo_etag(entries), nested + segments)

    def _slo_entries(self, container: str, name: str) -> list[Segment]:
        return [Segment(entry["name"], _entry_size(entry), entry["hash"], entry.get("range"),
                        bool(entry.get("sub_slo")))
                for entry in self._swift_for(container).manifest(name)]

    def _flatten(self, entries: list[Segment], nested: list[Segment]) -> list[Segment]:
        """A nested SLO's own segments stand in for it: their ETags are what its bytes must match.

        The nested manifests' own entries go to ``nested``: deleting the SLO deletes them too. A
        range of a nested SLO stays one entry, but it reads that SLO's segments: they go to ``nested``.
        """
        flat = []
        for entry in entries:
            if entry.nested and not entry.byte_range:
                nested.append(entry)
                flat += self._flatten(self._slo_entries(*object_id(entry.name)), nested)
            else:
                if entry.nested:
                    ranged_segments = self._flatten(self._slo_entries(*object_id(entry.name)), nested)
                    nested += ranged_segments
                flat.append(entry)
        return flat

    def _dlo_segments(self, manifest: str) -> list[Segment]:
        """A DLO's segments: the objects under its ``container/prefix``, in listing order."""
        container, prefix = dlo_prefix(manifest)
        return [Segment(f"/{container}/{item['name']}", item["bytes"], item["hash"])
                for item in self._swift_for(container).listing(prefix)]


def _entry_size(entry: dict[str, Any]) -> int:
    """The bytes an entry adds: a range's length (Swift stores it as ``N-M``), else the whole object's."""
    if entry.get("range"):
        first, last = entry["range"].split("-")
        return int(last) - int(first) + 1
    return entry["bytes"]
