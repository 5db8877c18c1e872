# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a store migration run is asked to do: the stores, how to verify, how fast and how long.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METADATA, DATA, DOWNLOAD = "metadata", "data", "download"  # how a target copy is verified
COPY_IMAGE, DIRECT = "copy-image", "direct"  # how the bytes move: through Glance, or store to store


@dataclass(frozen=True)
class MigrationOptions:
    source: str
    target: str
    verify: str = DATA
    delete_source: bool = True
    concurrency: int = 2
    max_duration: float | None = None
    copy_timeout: float = 3600
    poll_interval: float = 2.0
    access: dict[str, Any] | None = None   # how to read the target's bytes (verification=data, direct)
    source_access: dict[str, Any] | None = None  # how method=direct reads the source's bytes
    method: str = COPY_IMAGE
    route: str = ""  # how the bytes move and the location is registered, and why (for check mode)
