"""Elle's list-append workload: ``[append k v]`` and ``[r k list]`` micro-ops.

Every appended value is unique per key, so a read of a list names the writer
of each element and reveals the order of its prefix. The version order of a
key is its longest read; every other read must be a prefix of it
(``incompatible-order`` otherwise). From that order (Kingsbury and Alvaro,
"Elle", VLDB 2020, section 4):

``ww``  the writer of element i precedes the writer of element i+1;
``wr``  a transaction's first read of a key (its *external* read, before any
        append of its own) follows the writer of the last element it saw;
``rw``  that reader precedes the writer of the element that came next.

Found without a cycle:

``duplicate-elements``  a read holds the same element twice;
``never-written``       a read holds an element no transaction appended;
``incompatible-order``  two reads of a key that no single order explains;
``G1a``                 a committed read holds an element of an aborted (failed) transaction;
``G1b``                 a read ends at an append that its writer followed with another append to that key;
``dirty-update``        a committed append follows an aborted one in a key's order;
``internal``            a read disagrees with the transaction's own earlier read and appends;
``lost-update``         two committed transactions read the same version of a key and both appended to it;
``future-read``         a read holds an element its own transaction appends only later.

Appends that no read observed still order: they came after every element
read, so the writer of a key's last observed element precedes them (``ww``)
and so does every transaction that read the whole observed list (``rw``).

Appending the same value to a key twice is bad input (a
:class:`~harness.history.HistoryError` at that op's line), as is a read that
is not a list.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Sequence

from checkers.api import CheckResult
from checkers.elle.analysis import Findings, check_txns
from checkers.elle.explain import EdgeExplainer, show, show_key
from checkers.elle.graph import RW, WR, WW, GraphBuilder
from checkers.elle.models import DEFAULT_MODEL, check_model
from checkers.elle.txn import Parsed, Txn, bad_input
from harness.history import History

__all__ = ["ListAppend"]


class ListAppend:
    """The list-append checker: ``check(history)`` against ``models`` (default strict-serializable)."""

    name: str
    fs = ("append", "r")

    def __init__(self, *, models: Sequence[str] = (DEFAULT_MODEL,), timeout_s: float | None = None,
                 name: str = "list-append"):
        self.models = tuple(check_model(m) for m in models)  # a bad name is a usage error, now
        self.timeout_s = timeout_s
        self.name = name

    def check(self, history: History) -> CheckResult:
        return check_txns(history, self, models=self.models, timeout_s=self.timeout_s, name=self.name)

    # --- the workload -------------------------------------------------------

    def analyze(self, h: History, parsed: Parsed, g: GraphBuilder, note: Findings) -> EdgeExplainer:
        txns = parsed.txns

        writer: dict[Any, dict[Any, Txn]] = {}        # key -> element -> (ok/info) appender
        failed: dict[Any, dict[Any, Txn]] = {}        # key -> element -> failed appender
        intermediate: dict[Any, set[Any]] = {}        # key -> elements their writer appended after
        appends_to: list[set[Any] | None] = [None] * len(txns)   # node -> keys it appended to
        for group, table in ((txns, writer), (parsed.failed, failed)):
            for t in group:
                last: dict[Any, Any] = {}
                for f, k, v in t.mops:
                    if f != "append":
                        continue
                    wk = table.get(k)
                    if wk is None:
                        wk = table[k] = {}
                    other = wk.get(v)
                    if other is None and table is failed:
                        other = writer.get(k, {}).get(v)
                    if other is not None:
                        raise bad_input(h, t.op, f"element {show(v)} appended to key {show_key(k)} twice "
                                                 f"(also by the op at index {other.op.invoke.index}); "
                                                 f"list-append needs unique elements per key")
                    wk[v] = t
                    if table is writer:
                        ak = appends_to[t.node]
                        if ak is None:
                            appends_to[t.node] = {k}
                        else:
                            ak.add(k)
                    if k in last:
                        intermediate.setdefault(k, set()).add(last[k])
                    last[k] = v

        longest: dict[Any, list[Any]] = {}
        longest_by: dict[Any, Txn] = {}
        reads: list[tuple[Txn, Any, list[Any], bool]] = []   # (txn, key, list, external?)
        for t in txns:
            if t.status != "ok":
                continue
            state: dict[Any, tuple[bool, list[Any]]] = {}   # key -> (whole list known?, list or own suffix)
            own = appends_to[t.node] or ()
            for i, (f, k, v) in enumerate(t.mops):
                if f == "append":
                    known, lst = state.get(k, (False, []))
                    state[k] = (known, lst + [v])
                    continue
                if v is None:
                    v = []
                elif type(v) is not list:
                    raise bad_input(h, t.op, f"a list-append read of key {show_key(k)} must return a list, "
                                             f"got {show(v)}")
                prior = state.get(k)
                reads.append((t, k, v, prior is None))
                if k in own:
                    later = {x for f2, k2, x in t.mops[i + 1:] if f2 == "append" and k2 == k}
                    seen_later = [x for x in v if x in later]
                    if seen_later:
                        note("future-read", f"future-read: {_name(t)} read key {show_key(k)} = {show(v)}, which "
                                            f"holds its own append of {show(seen_later[0])}, made later in the "
                                            f"same transaction", [t], key=k, value=v, element=seen_later[0])
                if prior is not None:
                    known, lst = prior
                    if (known and v != lst) or (not known and v[len(v) - len(lst):] != lst):
                        note("internal", f"internal: {_name(t)} read key {show_key(k)} = {show(v)}, but its "
                                         f"own earlier ops imply {'' if known else 'a list ending in '}"
                                         f"{show(lst)}", [t], key=k, value=v, expected=lst,
                             expected_suffix_only=not known)
                state[k] = (True, v)
                lo = longest.get(k)
                if lo is None or len(v) > len(lo):
                    longest[k] = v
                    longest_by[k] = t

        def duplicates(t: Txn, k: Any, v: list[Any]) -> None:
            if len(v) != len(set(v)):
                dups = sorted({show(x) for x in v if v.count(x) > 1})
                note("duplicate-elements", f"duplicate-elements: {_name(t)} read key {show_key(k)} = "
                                           f"{show(v)}, which holds {', '.join(dups)} more than once",
                     [t], key=k, value=v)

        # Version orders; reads that are not a prefix of their key's order. A
        # read that is a prefix holds a duplicate only if the longest does, so
        # only those two kinds of read are searched for duplicates.
        for k, order in longest.items():
            duplicates(longest_by[k], k, order)
        compatible: list[tuple[Txn, Any, list[Any]]] = []
        for t, k, v, ext in reads:
            order = longest[k]
            if v is not order and order[:len(v)] != v:
                duplicates(t, k, v)
                other = longest_by[k]
                note("incompatible-order", f"incompatible-order: key {show_key(k)} was read as {show(v)} by "
                                           f"{_name(t)} and as {show(order)} by {_name(other)}; neither is "
                                           f"a prefix of the other", [t, other], key=k, values=[v, order])
                self._check_elements(k, v, writer, failed, t, note)
            elif ext:
                compatible.append((t, k, v))
        for k, order in longest.items():
            self._check_elements(k, order, writer, failed, longest_by[k], note)
        self._dirty_updates(longest, writer, failed, note)

        # Dependency edges, collected per kind and added in bulk.
        # Appends no read observed come after every element read (each read is the whole list).
        unseen: dict[Any, list[Txn]] = {}
        for k, wk in writer.items():
            in_order = set(longest.get(k, ()))
            if len(in_order) < len(wk):
                unseen[k] = list({id(w): w for x, w in wk.items() if x not in in_order}.values())
        ww_a: list[int] = []
        ww_b: list[int] = []
        for k, order in longest.items():
            wk = writer.get(k, {})
            prev = None
            for x in order:   # aborted or unknown elements are skipped: the order around them stands
                cur = wk.get(x)
                if cur is not None:
                    if prev is not None:
                        ww_a.append(prev.node)
                        ww_b.append(cur.node)
                    prev = cur
            if prev is not None:
                for w in unseen.get(k, ()):
                    ww_a.append(prev.node)
                    ww_b.append(w.node)
        g.extend(ww_a, ww_b, WW)
        wr_a: list[int] = []
        wr_b: list[int] = []
        rw_a: list[int] = []
        rw_b: list[int] = []
        read_then_appended: dict[tuple[Any, int], list[Txn]] = {}   # (key, version read) -> txns
        no_writers: dict[Any, Txn] = {}
        for t, k, v in compatible:
            own = appends_to[t.node]
            if own is not None and k in own:
                read_then_appended.setdefault((k, len(v)), []).append(t)
            wk = writer.get(k, no_writers)
            order = longest[k]
            if v:
                w = wk.get(v[-1])
                if w is not None:
                    wr_a.append(w.node)
                    wr_b.append(t.node)
                    if k in intermediate and v[-1] in intermediate[k] and w is not t:
                        note("G1b", f"G1b: {_name(t)} read key {show_key(k)} = {show(v)}, ending at "
                                    f"{_name(w)}'s append of {show(v[-1])}, which {_name(w)} followed "
                                    f"with another append to {show_key(k)}: an intermediate version",
                             [t, w], key=k, value=v, element=v[-1])
            for x in islice(order, len(v), None):   # the next committed append after what was read
                w = wk.get(x)
                if w is not None:
                    rw_a.append(t.node)
                    rw_b.append(w.node)
                    break
            else:                      # it read every element read: each unseen append came later
                for w in unseen.get(k, ()):
                    rw_a.append(t.node)
                    rw_b.append(w.node)
        g.extend(wr_a, wr_b, WR)
        g.extend(rw_a, rw_b, RW)
        for (k, n), ts in read_then_appended.items():
            if len(ts) > 1:
                seen = show(longest[k][:n]) if n else "the empty (initial) list"
                note("lost-update", f"lost-update: {len(ts)} committed transactions "
                                    f"({', '.join(_name(t) for t in ts)}) read key {show_key(k)} as {seen} "
                                    f"and each appended to it", ts, key=k, value=longest[k][:n])
        return self._explainer(longest, writer)

    @staticmethod
    def _check_elements(k: Any, lst: list[Any], writer: dict[Any, dict[Any, Txn]],
                        failed: dict[Any, dict[Any, Txn]], reader: Txn, note: Findings) -> None:
        wk, fk = writer.get(k, {}), failed.get(k, {})
        for x in lst:
            if x in wk:
                continue
            f = fk.get(x)
            if f is not None:
                note("G1a", f"G1a: {_name(reader)} read key {show_key(k)} = {show(lst)}, which holds "
                            f"{show(x)}, appended by {_name(f)}, a transaction that failed (aborted read)",
                     [reader, f], key=k, value=lst, element=x)
            else:
                note("never-written", f"never-written: {_name(reader)} read key {show_key(k)} = {show(lst)}, "
                                      f"which holds {show(x)}, an element no transaction appended",
                     [reader], key=k, value=lst, element=x)

    @staticmethod
    def _dirty_updates(longest: dict[Any, list[Any]], writer: dict[Any, dict[Any, Txn]],
                       failed: dict[Any, dict[Any, Txn]], note: Findings) -> None:
        for k, fk in failed.items():
            order = longest.get(k)
            if not order:
                continue
            wk = writer.get(k, {})
            aborted = None
            for x in order:
                if x in fk and aborted is None:
                    aborted = x
                elif aborted is not None and x in wk:
                    a, c = fk[aborted], wk[x]
                    note("dirty-update", f"dirty-update: key {show_key(k)} reads {show(order)}: {_name(c)}'s "
                                         f"append of {show(x)} came after {show(aborted)}, appended by "
                                         f"{_name(a)}, which failed", [c, a], key=k, value=order,
                         aborted_element=aborted, element=x)
                    break

    @staticmethod
    def _explainer(longest: dict[Any, list[Any]], writer: dict[Any, dict[Any, Txn]]) -> EdgeExplainer:
        def ext_reads(t: Txn) -> list[tuple[Any, list[Any]]]:
            seen: set[Any] = set()
            out = []
            for f, k, v in t.mops:
                if k not in seen and f == "r":
                    out.append((k, v or []))
                seen.add(k)
            return out

        def explain(a: Txn, b: Txn, kind: int, names: dict[int, str]) -> dict[str, Any]:
            A, B = names[a.node], names[b.node]
            if kind == WW:
                for f, k, v in a.mops:
                    order = longest.get(k, [])
                    if f == "append" and v in order:
                        nxt = _next_written(order, order.index(v) + 1, writer[k])
                        if nxt is not None and writer[k][nxt] is b:
                            return {"key": k, "value": v, "value'": nxt,
                                    "why": f"{B} appended {show(nxt)} after {A} appended {show(v)} "
                                           f"to {show_key(k)}"}
                        late = _unseen_append(b, k, order)
                        if nxt is None and late is not None:
                            return {"key": k, "value": v, "value'": late,
                                    "why": f"{B}'s append of {show(late)} to {show_key(k)} was never read, so it "
                                           f"came after {A}'s append of {show(v)}, the last element read"}
            if kind == WR:
                for k, v in ext_reads(b):
                    if v and writer.get(k, {}).get(v[-1]) is a:
                        return {"key": k, "value": v[-1], "read": v,
                                "why": f"{B} observed {A}'s append of {show(v[-1])} to key {show_key(k)}"}
            if kind == RW:
                for k, v in ext_reads(a):
                    order = longest.get(k, [])
                    nxt = _next_written(order, len(v), writer.get(k, {}))
                    late = _unseen_append(b, k, order) if nxt is None else None
                    if late is not None:
                        seen = f"{show(v)}" if v else "the empty (initial) state"
                        return {"key": k, "read": v, "value'": late,
                                "why": f"{A} read key {show_key(k)} as {seen}, without {B}'s append of "
                                       f"{show(late)}, which no read ever saw and so came later"}
                    if nxt is not None and writer[k][nxt] is b:
                        seen = f"{show(v)}" if v else "the empty (initial) state"
                        return {"key": k, "read": v, "value'": nxt,
                                "why": f"{A} read key {show_key(k)} as {seen}, without {B}'s append of "
                                       f"{show(nxt)}, which came next"}
            return {"why": f"{A} precedes {B} (no reason recorded)"}

        return explain


def _next_written(order: list[Any], i: int, wk: dict[Any, Txn]) -> Any:
    """The first element of ``order`` from position ``i`` that a committed (ok/info) transaction appended."""
    for x in order[i:]:
        if x in wk:
            return x
    return None


def _unseen_append(t: Txn, k: Any, order: list[Any]) -> Any:
    """An element ``t`` appended to ``k`` that no read observed, if any."""
    for f, kk, v in t.mops:
        if f == "append" and kk == k and v not in order:
            return v
    return None


def _name(t: Txn) -> str:
    return f"the transaction at index {t.op.invoke.index} (process {t.op.process})"
