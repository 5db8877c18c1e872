"""Make this checkout importable as ansible_collections.storeops.openstack for plain pytest."""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_importable() -> None:
    if importlib.util.find_spec("ansible_collections") is not None and \
            importlib.util.find_spec("ansible_collections.storeops") is not None:
        return
    root = Path(tempfile.mkdtemp(prefix="storeops-tests-"))
    link = root / "ansible_collections" / "storeops" / "openstack"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    sys.path.insert(0, str(root))
