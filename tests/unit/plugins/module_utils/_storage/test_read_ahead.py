"""ReadAhead: a source's chunks fetched on a thread, in order, in bounded memory."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._storage.base import ReadAhead, Stream


class Source(Stream):
    """``count`` chunks, then an end (or ``failure``); counts what was read ahead."""

    def __init__(self, count, failure=None):
        self.count, self.failure, self.read_chunks, self.closed = count, failure, 0, False

    def read(self, size=-1):
        if self.read_chunks == self.count:
            if self.failure:
                raise self.failure
            return b""
        self.read_chunks += 1
        return self.read_chunks.to_bytes(4, "big") * (size // 4)

    def close(self):
        self.closed = True


def drain(stream):
    chunks = []
    while chunk := stream.read():
        chunks.append(chunk)
    return chunks


def test_chunks_come_in_order_and_the_source_is_closed():
    source = Source(5)
    with ReadAhead(source, chunk=8) as stream:
        assert [int.from_bytes(c[:4], "big") for c in drain(stream)] == [1, 2, 3, 4, 5]
        assert stream.read() == b""
    assert source.closed


def test_a_source_error_is_raised_after_the_chunks_before_it():
    source = Source(2, failure=OSError("swift went away"))
    with ReadAhead(source, chunk=8) as stream:
        assert len(stream.read()) == 8 and len(stream.read()) == 8
        with pytest.raises(OSError, match="swift went away"):
            stream.read()


def test_no_more_than_depth_chunks_wait_and_closing_early_stops_the_thread():
    source = Source(1000)
    stream = ReadAhead(source, chunk=8, depth=2)
    assert len(stream.read()) == 8
    threading.Event().wait(0.2)  # let the thread fill what it may
    assert source.read_chunks <= 1 + 2 + 1  # the one taken, two waiting, one in hand
    stream.close()  # returns: the thread blocked on the full queue sees the stop
    assert source.closed and source.read_chunks < 1000
