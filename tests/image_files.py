"""Tiny disk image files for the format tests, written byte by byte (no qemu-img needed)."""
from __future__ import annotations

import struct

QCOW2_HEADER_LENGTH = 104
QCOW2_CLUSTER_BITS = 16


def write_qcow2(path, virtual_size: int = 1 << 30, backing_file: bytes = b"") -> None:
    """A version 3 qcow2 of one cluster: a header (naming ``backing_file`` when given), no data."""
    backing_offset = QCOW2_HEADER_LENGTH if backing_file else 0
    header = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, backing_offset, len(backing_file),
                         QCOW2_CLUSTER_BITS, virtual_size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                         QCOW2_HEADER_LENGTH)
    data = header + backing_file
    with open(path, "wb") as out:
        out.write(data + b"\0" * ((1 << QCOW2_CLUSTER_BITS) - len(data)))
