"""Every history of the shared corpus reproduces its MANIFEST verdict.

The per-source conventions come from ``shared/corpus/README.md``: Porcupine's
etcd registers start as nil and a nil read means "still nil"; Knossos's
cas-register files start at 0 and an ok read of nil carries no information;
the multi-register starts at {:x 0 :y 0} with nil reads unknown; kv keys
start as "".
"""

from __future__ import annotations

import pytest

from checkers.api import Verdict
from checkers.linearizability import Linearizability
from harness.formats import load_history
from tests.support.corpus import CORPUS, EXPECTED, checker_for, manifest_rows

ROWS = manifest_rows()


def test_corpus_is_there() -> None:
    assert len(ROWS) == 180, f"expected the 180-row corpus at {CORPUS}"


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_corpus_verdict(row: dict[str, str]) -> None:
    history = load_history(CORPUS / row["path"])
    assert sum(1 for o in history.ops if o.type == "invoke") == int(row["ops"])
    result = checker_for(row).check(history)
    assert result.verdict is EXPECTED[row["expected"]], (result.error, result.anomalies)
    if result.verdict is Verdict.INVALID:
        (anomaly,) = result.anomalies
        assert anomaly.kind == "nonlinearizable"
        assert anomaly.data["op"]["type"] == "ok"
        assert anomaly.summary.endswith(".")


def test_knossos_bad_analysis_names_the_op_knossos_names() -> None:
    # knossos wgl_test bad-analysis-test: the first op it cannot linearize is at position 14
    row = next(r for r in ROWS if r["path"].endswith("bad-analysis.edn"))
    result = checker_for(row).check(load_history(CORPUS / row["path"]))
    op = result.anomalies[0].data["op"]
    assert op["complete_index"] == 14
    assert op["f"] == "read" and op["value"] == 2


@pytest.mark.slow
def test_treating_nil_as_a_value_fails_exactly_the_89_knossos_good_files_with_nil_reads() -> None:
    # README: 89 of the 113 good/ files have ok reads of nil; read as real values, all 89 fail
    strict = Linearizability(model="cas-register", init=0, nil_read_unknown=False, timeout_s=60)
    with_nil, failing = set(), set()
    for row in ROWS:
        if row["source"] != "knossos" or "/good/" not in row["path"] or row["model"] != "cas-register":
            continue
        history = load_history(CORPUS / row["path"])
        if any(o.status == "ok" and o.f == "read" and o.value is None for o in history.operations):
            with_nil.add(row["path"])
        if strict.check(history).verdict is Verdict.INVALID:
            failing.add(row["path"])
    assert len(with_nil) == 89
    assert failing == with_nil


INVALID_ROWS = [r for r in ROWS if r["expected"] == "not-linearizable"]


@pytest.mark.parametrize("row", INVALID_ROWS, ids=[r["path"] for r in INVALID_ROWS])
def test_the_explained_prefix_is_a_legal_linearization(row: dict[str, str]) -> None:
    """Replaying the prefix from the initial state gives each recorded state, in real-time order."""
    from checkers.linear.models import Illegal
    from checkers.linear.partition import partition
    from checkers.linear.scheduler import check_partitions

    checker = checker_for(row)
    model = checker.model
    out = check_partitions(partition(load_history(CORPUS / row["path"]), model), model)
    assert out.verdict == "invalid" and out.invalid is not None
    part, res = out.invalid
    state = model.init(part.key)
    for n, (i, recorded) in enumerate(res.prefix):
        state = model.step(state, part.entries[i].call)
        assert not isinstance(state, Illegal), (n, state.reason)
        assert state == recorded
        for j, _ in res.prefix[n + 1:]:  # nothing later in the prefix returned before i was invoked
            later = part.entries[j]
            assert later.ret_pos is None or later.ret_pos > part.entries[i].call_pos
    stuck = part.entries[res.stuck]  # type: ignore[index]
    assert stuck.ret_pos is not None and res.stuck not in {i for i, _ in res.prefix}
