# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an image file once, in constant memory, hashing it on the way to Glance.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    StoreOpsError,
)

# sha256: the identity (openstacksdk's owner_specified.openstack.sha256); sha512: Glance's default
# os_hash_algo, to verify what Glance computed; md5: Glance's legacy checksum, compared only when
# an image has nothing better (not computed while uploading: it costs time and proves nothing new).
ALGORITHMS = ("sha256", "sha512", "md5")
UPLOAD_ALGORITHMS = ("sha256", "sha512")
CHUNK = 1 << 20
_CHECKSUM = re.compile(r"^(?P<algo>sha256:(?=[0-9a-fA-F]{64}$)|sha512:(?=[0-9a-fA-F]{128}$))"
                       r"(?P<value>[0-9a-fA-F]+)$")


class StreamReusedError(StoreOpsError):
    """A request was retried with a body stream that had already been read from."""


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``(algorithm, hex digest)`` of ``sha256:<hex>`` or ``sha512:<hex>``."""
    match = _CHECKSUM.match(checksum.strip())
    if not match:
        raise InvalidInputError(f"checksum: {checksum!r} is not sha256:<64 hex digits> or "
                                "sha512:<128 hex digits>; compute it with sha256sum or sha512sum")
    return match.group("algo")[:-1], match.group("value").lower()


def check_readable_file(path: str) -> int:
    """The file's size; a one-line error naming ``filename`` when it cannot be read."""
    if os.path.isdir(path):
        raise InvalidInputError(f"filename: {path} is a directory; give the image file")
    try:
        with open(path, "rb"):
            return os.path.getsize(path)
    except OSError as err:
        raise InvalidInputError(f"filename: cannot read {path} ({err.strerror})") from None


class HashingReader:
    """A file-like body for requests: known length, hashes every byte it hands out.

    Hashing runs on a worker thread (hashlib releases the GIL), so it overlaps with sending; a
    bounded queue keeps memory constant whatever the size. ``read`` hands out 1 MiB whatever
    the caller asks: http.client sends what it gets, in far fewer rounds than its 16 KiB.

    It can be read through once. A retried request (keystoneauth re-sends after a 401) would
    otherwise send the rest of a half-read stream as if it were the whole image, so asking for
    the length again after reading started raises instead.
    """

    def __init__(self, path: str, algorithms: tuple[str, ...] = UPLOAD_ALGORITHMS):
        self._handle = open(path, "rb")  # pylint: disable=consider-using-with
        self._size = os.fstat(self._handle.fileno()).st_size
        self._hashes = {algo: hashlib.new(algo) for algo in algorithms}
        self._chunks: queue.Queue = queue.Queue(maxsize=8)
        self._worker = threading.Thread(target=self._hash_chunks, daemon=True)
        self._worker.start()
        self.bytes_read = 0

    def _hash_chunks(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            for digest in self._hashes.values():
                digest.update(chunk)

    def __len__(self) -> int:
        if self.bytes_read:
            raise StreamReusedError(
                "a request was retried after part of the image had been sent; run again")
        return self._size

    def read(self, size: int = -1) -> bytes:  # pylint: disable=unused-argument
        chunk = self._handle.read(CHUNK)
        if chunk:
            self._chunks.put(chunk)
        self.bytes_read += len(chunk)
        return chunk

    def hexdigests(self) -> dict[str, str]:
        if self.bytes_read != self._size:
            raise StoreOpsError(f"only {self.bytes_read} of {self._size} bytes were sent")
        self._stop_worker()
        return {algo: digest.hexdigest() for algo, digest in self._hashes.items()}

    def _stop_worker(self) -> None:
        if self._worker.is_alive():
            self._chunks.put(None)
            self._worker.join()

    def close(self) -> None:
        self._stop_worker()
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hash_file(path: str) -> dict[str, str]:
    """Hash a file without sending it (when an image exists and no checksum was given)."""
    with HashingReader(path, ALGORITHMS) as reader:
        while reader.read():
            pass
        return reader.hexdigests()
