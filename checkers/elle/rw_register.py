"""Elle's rw-register workload: ``[w k v]`` and ``[r k v]`` micro-ops.

Written values are unique per key, so a read names its writer. Unlike a list,
a register's read reveals nothing of the order of earlier versions, so each
key's version order is a partial order inferred only from what the history
allows (Kingsbury and Alvaro, "Elle", section 4.3):

* the initial state ``nil`` precedes every written version;
* writes follow reads: a transaction that read version ``u`` of a key and then
  wrote ``v`` to it installed ``v`` after ``u``;
* with ``sequential_keys=True``, per-key process order: each process observes
  and installs the versions of a key in order (assume it only if the store
  promises per-key sequential consistency);
* with ``linearizable_keys=True``, per-key real-time order: a transaction sees
  every version of a key installed or seen by one that completed before it
  began (assume it only if each key is linearizable).

Only a transaction's last write to a key is installed; its first read of a key
(before writing it) is its external read. Edges: ``ww`` between the writers of
``u`` and ``v`` when ``u`` directly precedes ``v``; ``wr`` from a writer to each
external reader of its version; ``rw`` from each external reader of ``u`` to the
writers of the versions directly after ``u``.

Found without a cycle: ``G1a`` (read of a failed write), ``G1b`` (read of a
version its writer overwrote in the same transaction), ``internal`` (a read
that disagrees with the transaction's own earlier read or write),
``never-written``, ``cyclic-versions`` (the inferred order has a cycle; the key
is then left out of the graph) and ``lost-update`` (two committed
transactions read the same version of a key and both wrote it).
"""

from __future__ import annotations

from typing import Any, Sequence

from checkers.api import CheckResult
from checkers.elle.analysis import Findings, check_txns
from checkers.elle.explain import EdgeExplainer, show, show_key
from checkers.elle.graph import RW, WR, WW, GraphBuilder
from checkers.elle.models import DEFAULT_MODEL, check_model
from checkers.elle.txn import Parsed, Txn, bad_input
from harness.history import History

__all__ = ["RWRegister"]

_INIT = ("initial",)  # stands for nil in version graphs (None is a legal key of a dict, but clearer)


class RWRegister:
    """The rw-register checker: ``check(history)`` against ``models`` (default strict-serializable)."""

    name: str
    fs = ("w", "r")

    def __init__(self, *, models: Sequence[str] = (DEFAULT_MODEL,), timeout_s: float | None = None,
                 sequential_keys: bool = False, linearizable_keys: bool = False, name: str = "rw-register"):
        self.models = tuple(check_model(m) for m in models)  # a bad name is a usage error, now
        self.timeout_s = timeout_s
        self.sequential_keys = sequential_keys
        self.linearizable_keys = linearizable_keys
        self.name = name

    def check(self, history: History) -> CheckResult:
        return check_txns(history, self, models=self.models, timeout_s=self.timeout_s, name=self.name)

    def analyze(self, h: History, parsed: Parsed, g: GraphBuilder, note: Findings) -> EdgeExplainer:

        writer: dict[tuple[Any, Any], Txn] = {}       # (key, value) -> installing (ok/info) txn
        overwritten: dict[tuple[Any, Any], Txn] = {}  # (key, value) written then overwritten in one txn
        failed: dict[tuple[Any, Any], Txn] = {}
        for group, table in ((parsed.txns, writer), (parsed.failed, failed)):
            for t in group:
                final: dict[Any, Any] = {}
                for f, k, v in t.mops:
                    if f != "w":
                        continue
                    kv = (k, v)
                    other = writer.get(kv) or overwritten.get(kv) or failed.get(kv)
                    if other is not None and other is not t:
                        raise bad_input(h, t.op, f"value {show(v)} written to key {show_key(k)} twice (also by "
                                                 f"the op at index {other.op.invoke.index}); rw-register "
                                                 f"needs unique values per key")
                    if table is failed:
                        failed[kv] = t          # every write of an aborted txn is aborted
                    elif k in final:
                        overwritten[(k, final[k])] = t
                    final[k] = v
                for k, v in final.items():
                    table[(k, v)] = t

        succ: dict[Any, dict[Any, set[Any]]] = {}     # key -> version -> later versions
        why: dict[tuple[Any, Any, Any], str] = {}     # (key, u, v) -> why u < v
        readers: dict[tuple[Any, Any], list[Txn]] = {}   # (key, version) -> external readers
        writes: dict[tuple[Any, int], Any] = {}       # (key, txn node) -> installed value
        keys: set[Any] = set()

        def before(k: Any, u: Any, v: Any, reason: str) -> None:
            if u != v:
                succ.setdefault(k, {}).setdefault(u, set()).add(v)
                why.setdefault((k, u, v), reason)

        for t in parsed.txns:
            seen: dict[Any, Any] = {}     # key -> last value this txn read or wrote
            ext: dict[Any, Any] = {}
            for f, k, v in t.mops:
                keys.add(k)
                if f == "w":
                    seen[k] = v
                    writes[(k, t.node)] = v
                    continue
                if t.status != "ok":
                    continue
                if k in seen:
                    if seen[k] != v:
                        note("internal", f"internal: the transaction at index {t.op.invoke.index} read key "
                                         f"{show_key(k)} = {show(v)} after its own ops left it at "
                                         f"{show(seen[k])}", [t], key=k, value=v, expected=seen[k])
                    continue
                seen[k] = v
                ext[k] = v
                u = _INIT if v is None else v
                readers.setdefault((k, u), []).append(t)
                if v is None:
                    continue
                w = writer.get((k, v))
                if w is None:
                    if (k, v) in failed:
                        note("G1a", f"G1a: the transaction at index {t.op.invoke.index} read key {show_key(k)} = "
                                    f"{show(v)}, written by the failed transaction at index "
                                    f"{failed[(k, v)].op.invoke.index} (aborted read)", [t, failed[(k, v)]],
                             key=k, value=v)
                    elif (k, v) in overwritten:
                        o = overwritten[(k, v)]
                        if o is not t:
                            note("G1b", f"G1b: the transaction at index {t.op.invoke.index} read key "
                                        f"{show_key(k)} = {show(v)}, which the transaction at index "
                                        f"{o.op.invoke.index} wrote and then overwrote (intermediate read)",
                                 [t, o], key=k, value=v)
                    else:
                        note("never-written", f"never-written: the transaction at index {t.op.invoke.index} read "
                                              f"key {show_key(k)} = {show(v)}, a value no transaction wrote",
                             [t], key=k, value=v)
                    continue
                if w is not t:
                    g.add(w.node, t.node, WR)
            for k, v in ext.items():
                mine = writes.get((k, t.node))
                if mine is not None and mine != v:
                    before(k, _INIT if v is None else v, mine,
                           f"the transaction at index {t.op.invoke.index} read {show(v)} and then wrote "
                           f"{show(mine)}")
        for (k, v), t in writer.items():
            before(k, _INIT, v, "every key starts at nil")
        if self.sequential_keys or self.linearizable_keys:
            self._session_order(parsed.txns, writes, before, realtime=self.linearizable_keys)

        # Lost updates: two committed txns installed versions after reading the same one.
        for (k, u), rs in readers.items():
            ws = [t for t in rs if (k, t.node) in writes]
            if len(ws) > 1:
                note("lost-update", f"lost-update: {len(ws)} committed transactions (at indices "
                                    f"{', '.join(str(t.op.invoke.index) for t in ws)}) read key {show_key(k)} = "
                                    f"{show(None if u is _INIT else u)} and each wrote it",
                     ws, key=k, value=None if u is _INIT else u)

        direct = self._direct(succ, note)
        for k, edges in direct.items():
            for u, vs in edges.items():
                wu = writer.get((k, u))
                for v in vs:
                    wv = writer.get((k, v))
                    if wv is None:
                        continue
                    if wu is not None:
                        g.add(wu.node, wv.node, WW)
                    for r in readers.get((k, u), ()):
                        if r is not wv:
                            g.add(r.node, wv.node, RW)
        return self._explainer(direct, why, writer)

    @staticmethod
    def _session_order(txns: Sequence[Txn], writes: dict[tuple[Any, int], Any], before: Any, *,
                       realtime: bool) -> None:
        """Per key, ordered transactions see versions only move forward.

        Each ``ok`` transaction spans, per key, from the first version it saw
        (its external read, or its write if it wrote blind) to the last (its
        write, else that read). Process order (``realtime=False``): a process's
        earlier span ends at or before its later one begins. Real time: so does
        every span that completed before the transaction was invoked (a sweep
        keeps, per key, the completed spans not yet known to precede another).
        """
        spans: dict[int, dict[Any, tuple[Any, Any]]] = {}
        for t in txns:
            if t.status != "ok":
                continue
            first: dict[Any, Any] = {}
            for f, k, v in t.mops:
                if k not in first:
                    first[k] = writes.get((k, t.node)) if f == "w" else (_INIT if v is None else v)
            spans[t.node] = {k: (u, writes.get((k, t.node), u)) for k, u in first.items()}
        ok = [t for t in txns if t.status == "ok"]
        if not realtime:
            last: dict[tuple[Any, Any], tuple[Any, Txn]] = {}
            for t in ok:
                for k, (u, v) in spans[t.node].items():
                    prev = last.get((t.op.process, k))
                    if prev is not None:
                        before(k, prev[0], u, f"process {show(t.op.process)} saw {show(prev[0])} in the "
                                              f"transaction at index {prev[1].op.invoke.index} first "
                                              f"(sequential keys)")
                    last[(t.op.process, k)] = (v, t)
            return
        events = sorted([(t.op.invoke.index, 1, t.node) for t in ok]
                        + [(t.op.completion.index, 0, t.node) for t in ok])  # type: ignore[union-attr]
        by_node = {t.node: t for t in ok}
        frontier: dict[Any, set[int]] = {}
        preds: dict[tuple[int, Any], set[int]] = {}
        for _, is_invoke, node in events:
            for k, (u, v) in spans[node].items():
                front = frontier.setdefault(k, set())
                if is_invoke:
                    for n1 in front:
                        t1 = by_node[n1]
                        before(k, spans[n1][k][1], u,
                               f"the transaction at index {t1.op.invoke.index} completed before the one at "
                               f"index {by_node[node].op.invoke.index} began (linearizable keys)")
                    preds[(node, k)] = set(front)
                else:
                    front -= preds.pop((node, k), set())
                    front.add(node)

    @staticmethod
    def _direct(succ: dict[Any, dict[Any, set[Any]]], note: Findings) -> dict[Any, dict[Any, set[Any]]]:
        """Per key, the version edges with transitive ones dropped (only direct successors make rw/ww edges)."""
        out: dict[Any, dict[Any, set[Any]]] = {}
        for k, edges in succ.items():
            order = _topo(edges)
            if order is None:
                note("cyclic-versions", f"cyclic-versions: the versions inferred for key {show_key(k)} "
                                        f"form a cycle; no order of its writes explains the history",
                     [], key=k)
                continue
            # reach[v]: versions reachable from v, computed in reverse topological order.
            reach: dict[Any, set[Any]] = {}
            for u in reversed(order):
                r: set[Any] = set()
                for v in edges.get(u, ()):
                    r |= reach.get(v, set())
                reach[u] = r | edges.get(u, set())
            out[k] = {u: {v for v in vs if not any(v in reach.get(w, ()) for w in vs if w != v)}
                      for u, vs in edges.items()}
        return out

    @staticmethod
    def _explainer(direct: dict[Any, dict[Any, set[Any]]], why: dict[tuple[Any, Any, Any], str],
                   writer: dict[tuple[Any, Any], Txn]) -> EdgeExplainer:
        def ext_reads(t: Txn) -> list[tuple[Any, Any]]:
            seen: set[Any] = set()
            out = []
            for f, k, v in t.mops:
                if k not in seen and f == "r":
                    out.append((k, v))
                seen.add(k)
            return out

        def final_writes(t: Txn) -> dict[Any, Any]:
            return {k: v for f, k, v in t.mops if f == "w"}

        def explain(a: Txn, b: Txn, kind: int, names: dict[int, str]) -> dict[str, Any]:
            A, B = names[a.node], names[b.node]
            wb = final_writes(b)
            if kind == WW:
                for k, u in final_writes(a).items():
                    v = wb.get(k)
                    if v is not None and v in direct.get(k, {}).get(u, ()):
                        return {"key": k, "value": u, "value'": v,
                                "why": f"{B} wrote {show(v)} to {show_key(k)} after {A} wrote {show(u)} "
                                       f"({why[(k, u, v)]})"}
            if kind == WR:
                for k, v in ext_reads(b):
                    if v is not None and writer.get((k, v)) is a:
                        return {"key": k, "value": v,
                                "why": f"{B} read {A}'s write of {show(v)} to key {show_key(k)}"}
            if kind == RW:
                for k, v in ext_reads(a):
                    u = _INIT if v is None else v
                    nxt = wb.get(k)
                    if nxt is not None and nxt in direct.get(k, {}).get(u, ()):
                        seen = "the initial (nil) state" if v is None else show(v)
                        return {"key": k, "value": v, "value'": nxt,
                                "why": f"{A} read {seen} of key {show_key(k)}, and {B} wrote the next version "
                                       f"{show(nxt)} ({why[(k, u, nxt)]})"}
            return {"why": f"{A} precedes {B} (no reason recorded)"}

        return explain


def _topo(edges: dict[Any, set[Any]]) -> list[Any] | None:
    """A topological order of a small version graph, or ``None`` when it has a cycle."""
    indeg: dict[Any, int] = {}
    for u, vs in edges.items():
        indeg.setdefault(u, 0)
        for v in vs:
            indeg[v] = indeg.get(v, 0) + 1
    ready = [u for u, d in indeg.items() if d == 0]
    out = []
    while ready:
        u = ready.pop()
        out.append(u)
        for v in edges.get(u, ()):
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return out if len(out) == len(indeg) else None
