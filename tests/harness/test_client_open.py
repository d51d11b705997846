"""``open_client``: clients get the workload context; clients written before it still open."""

from __future__ import annotations

from harness.client import Completion, open_client
from harness.cluster import Address
from harness.target import WorkloadContext

ADDR = Address(host="127.0.0.1", port=1)
CTX = WorkloadContext(nodes=("n1",), variant="v", concurrency=1, options={"depth": "3"})


class New:
    def open(self, node, address, context):
        self.got = (node, address, context.options["depth"])
        return self


class NewKeyword:
    def open(self, node, address, *, context=None):
        self.got = context
        return self


class Old:
    def open(self, node, address):
        self.got = (node, address)
        return self


class Variadic:
    def open(self, *args):
        self.got = args
        return self


def test_a_client_taking_the_context_gets_it() -> None:
    assert open_client(New(), "n1", ADDR, CTX).got == ("n1", ADDR, "3")
    assert open_client(NewKeyword(), "n1", ADDR, CTX).got is CTX
    assert open_client(Variadic(), "n1", ADDR, CTX).got == ("n1", ADDR, CTX)


def test_an_old_two_argument_client_still_opens() -> None:
    assert open_client(Old(), "n1", ADDR, CTX).got == ("n1", ADDR)


def test_errors_from_open_propagate() -> None:
    class Broken:
        def open(self, node, address, context):
            raise ConnectionRefusedError("down")

    try:
        open_client(Broken(), "n1", ADDR, CTX)
    except ConnectionRefusedError as e:
        assert "down" in str(e)
    else:
        raise AssertionError("open_client swallowed the error")
    assert Completion(type="ok").type == "ok"
