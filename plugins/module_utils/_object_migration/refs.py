# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects the manifests of a run's containers read: may a manifest's segments go with it?

A static large object names its segments; a dynamic one reads every object under its raw
prefix (``c_segments/video`` covers ``video2/...`` too), so one object may be a segment of
several manifests, or an object of its own besides. The index holds the manifests only (their
segment names and DLO prefixes), never every object, and answers, when a manifest goes, which
of its segments nothing else in the run reads. Its scope is the run's containers: a manifest in
a container outside the run protects nothing.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from typing import Iterable, Tuple

ObjectId = Tuple[str, str]  # (container, object name), as Swift stores them (unquoted)


def object_id(path: str) -> ObjectId:
    """``/container/object`` (a manifest's segment path) as an id."""
    container, _sep, name = path.lstrip("/").partition("/")
    return container, name


def dlo_prefix(manifest: str) -> ObjectId:
    """A DLO's ``container/prefix`` (``SourceObject.manifest``, unquoted) as (container, raw prefix)."""
    container, _sep, prefix = manifest.partition("/")
    return container, prefix


def describe(obj: ObjectId) -> str:
    return f"{obj[0]}/{obj[1]}"


class SegmentReferences:
    """The readers of every object some manifest of the run's containers references.

    ``run_containers`` and ``prefix`` say which objects the run copies as objects of their own:
    those are never deleted as another manifest's segments, only after their own copy.
    """

    def __init__(self, run_containers: Iterable[str], prefix: str = ""):
        self._containers = set(run_containers)
        self._prefix = prefix
        self._slo_readers: dict[ObjectId, set[ObjectId]] = {}
        self._dlo_readers: dict[str, dict[str, set[ObjectId]]] = {}  # container -> prefix -> manifests
        self._gone: set[ObjectId] = set()

    def add_slo(self, manifest: ObjectId, segments: Iterable[ObjectId]) -> None:
        """An SLO and every object its deletion would take (nested manifests' segments too)."""
        for segment in segments:
            self._slo_readers.setdefault(segment, set()).add(manifest)

    def add_dlo(self, manifest: ObjectId, container: str, prefix: str) -> None:
        self._dlo_readers.setdefault(container, {}).setdefault(prefix, set()).add(manifest)

    def knows_dlo(self, manifest: ObjectId, container: str, prefix: str) -> bool:
        return manifest in self._dlo_readers.get(container, {}).get(prefix, ())

    def readers(self, obj: ObjectId) -> set[ObjectId]:
        """Every manifest of the index that reads ``obj``."""
        found = set(self._slo_readers.get(obj, ()))
        prefixes = self._dlo_readers.get(obj[0], {})
        for end in range(len(obj[1]) + 1):  # every prefix of the name: bounded by its length
            found |= prefixes.get(obj[1][:end], set())
        return found

    def live_readers(self, obj: ObjectId) -> list[ObjectId]:
        """The manifests still in Swift (not deleted by this run) that read ``obj``, besides itself."""
        return sorted(self.readers(obj) - self._gone - {obj})

    def copied_on_its_own(self, obj: ObjectId) -> bool:
        return obj[0] in self._containers and obj[1].startswith(self._prefix)

    def containers_read_from_others(self) -> set[str]:
        """Run containers holding objects that manifests of other containers read (segment containers)."""
        read = {segment[0] for segment, manifests in self._slo_readers.items()
                if any(manifest[0] != segment[0] for manifest in manifests)}
        read |= {container for container, prefixes in self._dlo_readers.items()
                 if any(manifest[0] != container for manifests in prefixes.values() for manifest in manifests)}
        return read & self._containers

    def release(self, manifest: ObjectId, segments: Iterable[ObjectId]) -> tuple[list[ObjectId], dict[ObjectId, str]]:
        """``manifest`` is gone from Swift: which of ``segments`` may go, and why each other one stays."""
        self._gone.add(manifest)
        deletable: list[ObjectId] = []
        kept: dict[ObjectId, str] = {}
        for segment in dict.fromkeys(segments):
            others = self.live_readers(segment)
            if others:
                more = f" and {len(others) - 1} more" if len(others) > 1 else ""
                kept[segment] = f"also read by the manifest {describe(others[0])}{more}"
            elif self.copied_on_its_own(segment):
                kept[segment] = "an object this run copies on its own: it goes after its own copy"
            else:
                deletable.append(segment)
        return deletable, kept
