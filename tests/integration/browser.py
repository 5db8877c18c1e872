"""Debian's headless Chromium for the report's tests: a page's screenshot and its rendered DOM,
and the colours of a PNG (decoded here with zlib, so the tests need no imaging library)."""
from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

# root in a container has no user namespace for Chromium's sandbox; the page is our own file
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,900"]


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("chromium is missing: `make chromium` installs Debian's package")
    return found


def screenshot(page: Path, png: Path) -> bytes:
    subprocess.run([chromium(), *FLAGS, f"--screenshot={png}", page.as_uri()], check=True,
                   capture_output=True, timeout=120)
    return png.read_bytes()


def rendered_dom(page: Path) -> str:
    return subprocess.run([chromium(), *FLAGS, "--dump-dom", page.as_uri()], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]


def png_colours(png: bytes) -> set[bytes]:
    """The distinct pixel values of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", None
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        body = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour_type, _compression, _filter_method, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    pixel = 3 if colour_type == 2 else 4
    stride = width * pixel
    raw, previous, colours = zlib.decompress(idat), bytearray(stride), set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - pixel] if i >= pixel else 0
            up_left = previous[i - pixel] if i >= pixel else 0
            line[i] = (line[i] + (0, left, previous[i], (left + previous[i]) // 2,
                                  _paeth(left, previous[i], up_left))[kind]) & 0xFF
        colours.update(bytes(line[i:i + pixel]) for i in range(0, stride, pixel))
        previous = line
    return colours
