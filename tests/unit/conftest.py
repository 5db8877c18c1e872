"""Unit tests import the collection from this checkout."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collection_import import make_importable  # noqa: E402  pylint: disable=wrong-import-position

make_importable()
