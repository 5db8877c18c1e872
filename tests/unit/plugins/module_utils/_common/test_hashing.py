from __future__ import annotations

import hashlib

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.hashing import (
    HashingReader,
    StreamReusedError,
    check_readable_file,
    hash_file,
    parse_checksum,
)


def test_reader_hashes_everything_it_hands_out(tmp_path):
    data = bytes(range(256)) * 5000
    path = tmp_path / "img"
    path.write_bytes(data)
    with HashingReader(str(path)) as reader:
        assert len(reader) == len(data)
        sent = b"".join(iter(lambda: reader.read(8192), b""))
        assert sent == data
        assert reader.hexdigests() == {"sha256": hashlib.sha256(data).hexdigest(),
                                       "sha512": hashlib.sha512(data).hexdigest()}
    assert hash_file(str(path)) == {"sha256": hashlib.sha256(data).hexdigest(),
                                    "sha512": hashlib.sha512(data).hexdigest(),
                                    "md5": hashlib.md5(data).hexdigest()}


def test_a_retried_request_cannot_resend_a_half_read_stream(tmp_path):
    path = tmp_path / "img"
    path.write_bytes(b"x" * (3 << 20))
    with HashingReader(str(path)) as reader:
        reader.read(8192)
        with pytest.raises(StreamReusedError):
            len(reader)
        with pytest.raises(Exception, match=f"only {1 << 20} of {3 << 20} bytes"):
            reader.hexdigests()


def test_parse_checksum():
    assert parse_checksum("sha256:" + "AB" * 32) == ("sha256", "ab" * 32)
    assert parse_checksum("sha512:" + "cd" * 64) == ("sha512", "cd" * 64)
    for wrong in ("md5:abc", "sha512:" + "ab" * 32, "sha256:" + "ab" * 64):
        with pytest.raises(InvalidInputError, match="^checksum: '.*' is not sha256:<64 hex digits> "
                                                    "or sha512:<128 hex digits>"):
            parse_checksum(wrong)


def test_check_readable_file(tmp_path):
    with pytest.raises(InvalidInputError, match="is a directory"):
        check_readable_file(str(tmp_path))
    with pytest.raises(InvalidInputError, match=r"^filename: cannot read .*missing \(No such file"):
        check_readable_file(str(tmp_path / "missing"))
