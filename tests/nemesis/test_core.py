"""The nemesis protocol's no-op, composition by f, and validating wrapper."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client import Completion
from harness.history import NEMESIS, Op
from nemesis.core import Compose, Nemesis, NemesisError, Noop, Validate, info


def _op(f: str, value: Any = None, **kw: Any) -> Op:
    return Op(index=0, type=kw.pop("type", "info"), process=kw.pop("process", NEMESIS), f=f, value=value, **kw)


class _Recorder:
    def __init__(self, *fs: str, answer: Any = None):
        self.fs = frozenset(fs)
        self.seen: list[str] = []
        self.torn_down = 0
        self.cluster: Any = None
        self.answer = answer

    def setup(self, cluster: Any) -> "_Recorder":
        self.cluster = cluster
        return self

    def invoke(self, op: Op) -> Any:
        self.seen.append(op.f)
        return self.answer if self.answer is not None else info({"did": op.f})

    def teardown(self) -> None:
        self.torn_down += 1


def test_every_nemesis_here_satisfies_the_protocol() -> None:
    assert isinstance(Noop(), Nemesis)
    assert isinstance(Compose([Noop()]), Nemesis)
    assert isinstance(Validate(Noop()), Nemesis)


def test_compose_routes_each_op_by_f(bare_cluster: Any) -> None:
    a, b = _Recorder("kill", "start"), _Recorder("pause", "resume")
    n = Compose([a, b]).setup(bare_cluster)
    assert n.fs == {"kill", "start", "pause", "resume"}
    assert n.invoke(_op("pause")).value == {"did": "pause"}
    n.invoke(_op("kill"))
    n.invoke(_op("resume"))
    assert a.seen == ["kill"] and b.seen == ["pause", "resume"]
    assert a.cluster is bare_cluster and b.cluster is bare_cluster
    n.teardown()
    assert a.torn_down == b.torn_down == 1


def test_compose_refuses_overlapping_and_unknown_ops() -> None:
    with pytest.raises(NemesisError, match="both .* handle 'kill'"):
        Compose([_Recorder("kill"), _Recorder("kill", "start")])
    with pytest.raises(NemesisError, match="no nemesis handles 'explode'"):
        Compose([_Recorder("kill")]).invoke(_op("explode"))


def test_compose_tears_down_what_was_set_up_when_a_setup_fails(bare_cluster: Any) -> None:
    class _Broken(_Recorder):
        def setup(self, cluster: Any) -> "_Recorder":
            raise RuntimeError("no")
    a = _Recorder("kill")
    with pytest.raises(RuntimeError):
        Compose([a, _Broken("pause")]).setup(bare_cluster)
    assert a.torn_down == 1


def test_noop_handles_nothing_and_says_so() -> None:
    c = Noop().invoke(_op("kill"))
    assert c.type == "info" and "does not handle 'kill'" in c.error


def test_validate_passes_good_completions_through(bare_cluster: Any) -> None:
    n = Validate(_Recorder("kill")).setup(bare_cluster)
    assert n.invoke(_op("kill")) == Completion(type="info", value={"did": "kill"})


@pytest.mark.parametrize(("op", "answer", "match"), [
    (_op("pause"), None, "does not handle 'pause'"),
    (_op("kill", type="invoke", process=3), None, "nemesis ops are process 'nemesis'"),
    (_op("kill"), Completion(type="ok"), "returns Completion\\(type='info'"),
    (_op("kill"), {"type": "info"}, "returns Completion"),
])
def test_validate_names_what_the_nemesis_got_wrong(bare_cluster: Any, op: Op, answer: Any, match: str) -> None:
    n = Validate(_Recorder("kill", answer=answer)).setup(bare_cluster)
    with pytest.raises(NemesisError, match=match):
        n.invoke(op)


def test_validate_checks_what_setup_returns(bare_cluster: Any) -> None:
    class _Bad(_Recorder):
        def setup(self, cluster: Any) -> Any:
            return 42
    with pytest.raises(NemesisError, match="setup returned int"):
        Validate(_Bad("kill")).setup(bare_cluster)
