"""The 2PC client's completions: what the system may have done decides ok / fail / info.

Against real sockets on 127.0.0.1: a port nobody listens on (connection
refused: nothing was sent) and a black hole that accepts and never answers
(the request was sent; the transaction may still commit).
"""

from __future__ import annotations

import socket
from typing import Iterator

import pytest

from harness.cluster import Address
from harness.history import Op
from harness.target import WorkloadContext
from targets.two_pc.client import TwoPcClient

CTX = WorkloadContext(nodes=("coordinator",), variant="seed", concurrency=1, options={"client_timeout": "0.3"})
PLACE = Op(index=0, type="invoke", process=0, f="place", value={"txn": "t1", "user": "u1", "items": [["p1", 1]]})
READ = Op(index=0, type="invoke", process=0, f="read-all", value=None)


@pytest.fixture
def black_hole() -> Iterator[Address]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield Address(host="127.0.0.1", port=s.getsockname()[1])
    s.close()


def closed_port() -> Address:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return Address(host="127.0.0.1", port=port)


def test_a_sent_transaction_without_an_answer_is_info_never_fail(black_hole: Address) -> None:
    c = TwoPcClient().open("coordinator", black_hole, CTX)
    assert c.timeout_s == 0.3
    assert c.invoke(PLACE).type == "info"


def test_a_refused_connection_is_fail_and_a_read_that_times_out_is_fail(black_hole: Address) -> None:
    assert TwoPcClient().open("coordinator", closed_port(), CTX).invoke(PLACE).type == "fail"
    assert TwoPcClient().open("coordinator", black_hole, CTX).invoke(READ).type == "fail"
