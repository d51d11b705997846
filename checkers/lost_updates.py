"""Who lost each element: set-full's lost and stale elements explained by the read-modify-writes.

:class:`checkers.sets.SetFull` says *that* an acknowledged element is
missing. On a store whose clients add to a set by read-modify-write, the
answer to *why* is in the history, if each add's completion records the
version it read and the version it wrote (``[k, x, {"read": R, "version": V,
"node": N}]``, as :mod:`targets.quorum_store.client` does on ``seed`` and
``abd``): an add of ``x`` writes the list it read plus ``x``, so a version's
content is its writer's element plus the content of the version its writer
read. That *lineage* is followed from the final read of the key back:

* the final read returned version F; its writer read version F', whose
  writer read F'', ... none of them holds ``x`` (the read missed it);
* walking back, the last writer whose version is still ordered after ``x``'s
  version V(x) is **the write that lost it**: add ``y`` read version R (a
  version without ``x``) and wrote version W > V(x) over it;
* the **concurrent pair** is (add ``x``, add ``y``): when both read the same
  version R it is the textbook lost update (both read R, ``y`` wrote last);
  when ``y`` began after ``x`` was acknowledged, ``y`` read a stale quorum;
  when W > V(x) only because ``y``'s coordinator clock ran ahead, the clock
  offsets in effect say so.

Stale elements (a read that missed an element known to exist) get the
version that read returned and its writer: in the anomaly when set-full
reports stale anomalies (``linearizable=True``), and always in each key's
``stats["stale_explained"]`` for set-full's ``worst_stale`` rows.

Clock offsets are the clock nemesis's (:mod:`nemesis.clock`), read back
from the history by :mod:`harness.clock_offsets`: each add's coordinator
offset over the time the add ran (a range while a skew was being applied).
Without clock events none are named.

:class:`LostUpdates` wraps the set checker (usually
``Independent(SetFull)``): verdict, kinds and stats are the inner checker's;
each ``lost`` / ``stale`` anomaly gains ``data["explanation"]`` and a
sentence in its summary, and ``stats`` gains ``lost_acknowledged_count``
(lost elements whose add completed ``ok``) and ``lost_by`` (element -> the
add that overwrote it and, with clock events, ``clock_lead_ms``: how far its
coordinator's clock was surely ahead of the lost add's; for every lost
element, not only those described), and ``clock_won``: up to 8 lost
elements whose overwriter's clock was ahead, each with its explanation
(set-full describes the first lost elements, usually before any skew),
summed over the keys and in each key's child result (the run's
``results.json`` keeps the children).
Versions that are not ordered (vclock's clocks) have no lineage; the
explanation then says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from checkers.api import Anomaly, Checker, CheckResult
from checkers.sets import LIMIT
from harness.clock_offsets import clock_spans, offset_during, offset_text
from harness.history import History, Op, Operation

__all__ = ["Clocks", "Lineage", "LostUpdates", "fmt_version", "lineages"]


def _vkey(v: Any) -> str | None:
    return None if v is None else json.dumps(v, sort_keys=True, separators=(",", ":"))


def _ordered(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and isinstance(v[1], str)


def _gt(a: Any, b: Any) -> bool:
    return _ordered(a) and _ordered(b) and (a[0], a[1]) > (b[0], b[1])


def _meta(op: Op | None) -> dict[str, Any]:
    v = op.value if op is not None else None
    return v[2] if isinstance(v, list) and len(v) >= 3 and isinstance(v[2], dict) else {}


def _ref(o: Operation) -> dict[str, Any]:
    c = o.completion
    m = _meta(c)
    return {"element": o.invoke.value[1], "index": o.invoke.index,
            "completed": c.index if c is not None else None, "status": o.status,
            "process": o.process, "node": (c.node if c is not None else None) or o.invoke.node or m.get("node"),
            "read": m.get("read"), "version": m.get("version")}


class Clocks:
    """Each node's clock offset over time, as the clock nemesis recorded it (:mod:`harness.clock_offsets`)."""

    def __init__(self, history: History) -> None:
        self._spans = clock_spans(history.ops)

    def __bool__(self) -> bool:
        return bool(self._spans)

    def during(self, node: str | None, start: int | None, end: int | None) -> tuple[float, float] | None:
        """The range of ``node``'s offset in ms over ``[start, end]``; None when the history cannot tell."""
        return offset_during(self._spans, node, start, end)


def fmt_version(v: Any) -> str:
    """A version for people: ``wall clock 1764...ms``, ``(3, n2/1)``, ``none`` for an empty key."""
    if not _ordered(v):
        return json.dumps(v)
    if v[0] == 0:
        return "none (the empty set)"
    return f"{v[0]} ms (wall clock)" if v[1] == "" else f"({v[0]}, {v[1]})"


@dataclass(slots=True, kw_only=True)
class Lineage:
    """One key's read-modify-writes: who wrote each version, and what each final read returned."""

    writers: dict[str, Operation] = field(default_factory=dict)  # version -> the ok add that wrote it
    adds: dict[Any, Operation] = field(default_factory=dict)      # element -> its add
    reads: dict[int, Operation] = field(default_factory=dict)     # invocation index -> ok read
    last_read: Operation | None = None

    def loser(self, x: Any) -> tuple[Operation | None, str]:
        """The add that wrote over ``x`` on the final read's lineage, and why none when there is none."""
        a = self.adds.get(x)
        va = _meta(a.completion).get("version") if a is not None else None
        if self.last_read is None:
            return None, "the key was never read"
        version = _meta(self.last_read.completion).get("version")
        if not _ordered(version):
            return None, "its versions are not ordered (no lineage to follow)"
        if va is None:
            return None, "its add did not record the version it wrote (not acknowledged)"
        last_after: Operation | None = None
        for _ in range(100_000):
            if not _gt(version, va):
                break
            w = self.writers.get(_vkey(version) or "")
            if w is None:
                if last_after is None:
                    return None, (f"the final read's version {version} was written by an add that recorded "
                                  f"no version (its reply was lost)")
                return last_after, (f"the lineage breaks at version {version}, which it read (its writer "
                                    f"recorded no version), so the loss may lie further back")
            last_after = w
            version = _meta(w.completion).get("read")
        if last_after is None:
            return None, f"the final read returned a version not after {va}"
        return last_after, ""


def lineages(history: History) -> dict[Any, Lineage]:
    """Every key's :class:`Lineage` from the ``add`` and ``read`` operations (``[k, x, meta]`` values)."""
    out: dict[Any, Lineage] = {}
    for o in history.operations:
        v = o.invoke.value
        if not (isinstance(v, list) and len(v) >= 2):
            continue
        lin = out.setdefault(v[0], Lineage())
        if o.f == "add":
            lin.adds[v[1]] = o
            ver = _meta(o.completion).get("version")
            if ver is not None:  # a failed seed write still stored its version where it landed
                lin.writers.setdefault(_vkey(ver) or "", o)
        elif o.f == "read" and o.status == "ok":
            lin.reads[o.invoke.index] = o
            if lin.last_read is None or o.invoke.index > lin.last_read.invoke.index:
                lin.last_read = o
    return out


def _concurrent(a: Operation, b: Operation) -> bool:
    a_end = a.completion.index if a.completion is not None else 1 << 62
    b_end = b.completion.index if b.completion is not None else 1 << 62
    return a.invoke.index < b_end and b.invoke.index < a_end


def _lead(clocks: Clocks, a: Operation, b: Operation) -> float | None:
    """How far ``b``'s coordinator clock was surely ahead of ``a``'s while they ran (ms); None without clocks."""
    if not clocks:
        return None
    ra = clocks.during(_ref(a)["node"], a.invoke.time, a.completion.time if a.completion is not None else None)
    rb = clocks.during(_ref(b)["node"], b.invoke.time, b.completion.time if b.completion is not None else None)
    return None if ra is None or rb is None else rb[0] - ra[1]


class LostUpdates:
    """Wraps a set checker and explains its lost and stale elements (see the module docstring)."""

    def __init__(self, inner: Checker, *, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name

    def check(self, history: History) -> CheckResult:
        r = self.inner.check(history)
        lins = lineages(history)
        clocks = Clocks(history)
        anomalies = [self._explain(a, a.data.get("key"), lins, clocks) for a in r.anomalies]
        by_name = {str(k): k for k in lins}
        children: dict[str, CheckResult] = {}
        lost_by: dict[str, Any] = {}
        acknowledged = 0
        for name, c in (r.children or {}).items():
            key = by_name.get(name)
            lin = lins.get(key) if key is not None else None
            mine: dict[str, Any] = {}
            clock_won: list[dict[str, Any]] = []
            ack = 0
            for x in (c.stats.get("lost", ()) if lin is not None else ()):
                a = lin.adds.get(x)  # type: ignore[union-attr]
                ack += a is not None and a.status == "ok"
                b, _ = lin.loser(x)  # type: ignore[union-attr]
                lead = _lead(clocks, a, b) if a is not None and b is not None else None
                mine[str(x)] = None if b is None or a is None else {
                    "by": b.invoke.value[1], "index": b.invoke.index, "clock_lead_ms": lead}
                if lead is not None and lead > 0 and len(clock_won) < LIMIT and a is not None:
                    ex: dict[str, Any] = {"add": _ref(a)}
                    clock_won.append({"element": x, "summary": self._lost(lin, a, x, ex, clocks),  # type: ignore[arg-type]
                                      "explanation": ex})
            acknowledged += ack
            lost_by.update({f"{name} {x}": v for x, v in mine.items()})
            children[name] = CheckResult(
                checker=c.checker, verdict=c.verdict, error=c.error, children=c.children,
                stats={**dict(c.stats), "lost_acknowledged_count": ack, "lost_by": mine,
                       "stale_explained": self._stale_rows(lin, c.stats.get("worst_stale")),
                       "clock_won": clock_won},
                anomalies=tuple(self._explain(a, key, lins, clocks) for a in c.anomalies))
        stats = {**dict(r.stats), "lost_acknowledged_count": acknowledged, "lost_by": lost_by}
        return CheckResult(checker=self.name, verdict=r.verdict, anomalies=tuple(anomalies), stats=stats,
                           error=r.error, children=children)

    def _explain(self, a: Anomaly, key: Any, lins: Mapping[Any, Lineage], clocks: Clocks) -> Anomaly:
        if a.kind not in ("lost", "stale") or key is None:
            return a
        x = a.data.get("element")
        lin = lins.get(key)
        if lin is None or x not in lin.adds:
            return a
        add = lin.adds[x]
        ex: dict[str, Any] = {"add": _ref(add)}
        if a.kind == "lost":
            prose = self._lost(lin, add, x, ex, clocks)
        else:
            prose = self._stale(lin, a.data, x, ex)
        return Anomaly(kind=a.kind, summary=f"{a.summary}. {prose}", ops=a.ops,
                       data={**dict(a.data), "explanation": ex})

    def _lost(self, lin: Lineage, add: Operation, x: Any, ex: dict[str, Any], clocks: Clocks) -> str:
        b, why = lin.loser(x)
        if b is None:
            ex["overwritten_by"] = None
            return f"No write named: {why}."
        ex["note"] = why or None
        ra, rb = _ref(add), _ref(b)
        ex["overwritten_by"] = rb
        same = _vkey(ra["read"]) == _vkey(rb["read"])
        conc = _concurrent(add, b)
        ex["pair"] = {"same_read": same, "concurrent": conc}
        status = {"ok": "", "fail": ", reported failed yet stored where it landed",
                  "info": ", outcome unknown"}.get(rb["status"], "")
        behind = (" (below the version it read: its coordinator's clock was behind that version's writer's)"
                  if _gt(ra["read"], ra["version"]) else "")
        text = (f"The add of {x!r} (invoked at index {ra['index']} via {ra['node']}) read version "
                f"{fmt_version(ra['read'])} and wrote version {fmt_version(ra['version'])}{behind}; the add of "
                f"{rb['element']!r} (invoked at index {rb['index']} via {rb['node']}{status}) ")
        if same:
            text += (f"read the same version {fmt_version(rb['read'])} and wrote version "
                     f"{fmt_version(rb['version'])} over it")
        else:
            text += (f"read version {fmt_version(rb['read'])}, which did not hold {x!r}, and wrote version "
                     f"{fmt_version(rb['version'])} over it")
        text += (": a read-modify-write race, the two adds concurrent" if conc
                 else ", after the add of %r was acknowledged: it read a stale quorum" % (x,))
        ex["clock_offsets"] = {}
        if clocks:
            ranges = {}
            for who, o in (("add", add), ("overwriter", b)):
                end = o.completion.time if o.completion is not None else None
                ranges[who] = clocks.during(_ref(o)["node"], o.invoke.time, end)
            ex["clock_offsets"] = {w: None if r is None else list(r) for w, r in ranges.items()}
            ra_off, rb_off = ranges["add"], ranges["overwriter"]
            if ra_off is not None and rb_off is not None and not any(ra_off) and not any(rb_off):
                text += f"; no clock offset was in effect on {ra['node']} or {rb['node']}"
            elif ra_off is not None and rb_off is not None:
                text += (f"; clock offsets in effect: {ra['node']} {offset_text(*ra_off)} while the add of {x!r} "
                         f"ran, {rb['node']} {offset_text(*rb_off)} while the add of {rb['element']!r} ran")
                ahead = rb_off[0] - ra_off[1]
                if ahead > 0 and _ordered(ra["version"]) and ra["version"][1] == "":
                    text += (f", so {rb['node']}'s wall-clock versions ran at least {ahead:.0f} ms ahead of "
                             f"{ra['node']}'s")
        return text + (f" ({why})." if why else ".")

    def _stale(self, lin: Lineage, row: Mapping[str, Any], x: Any, ex: dict[str, Any]) -> str:
        absent = row.get("last_absent") or {}
        read = lin.reads.get(absent.get("index", -1))
        if read is None:
            return "The read that missed it recorded no version."
        version = _meta(read.completion).get("version")
        w = lin.writers.get(_vkey(version) or "")
        ex["stale_read"] = {"index": read.invoke.index, "version": version,
                            "writer": None if w is None else _ref(w)}
        va = _meta(lin.adds[x].completion).get("version")
        if w is None:
            return (f"The read that missed it returned version {fmt_version(version)}, by a write that recorded "
                    f"no version.")
        older = "older than" if va is not None and _gt(va, version) else "not descended from"
        return (f"The read that missed it returned version {fmt_version(version)}, written by the add of "
                f"{w.invoke.value[1]!r} (index {w.invoke.index}), {older} the version {fmt_version(va)} that "
                f"held {x!r}.")

    def _stale_rows(self, lin: Lineage | None, rows: Any) -> list[dict[str, Any]]:
        out = []
        for row in rows if lin is not None and isinstance(rows, list) else ():
            x = row.get("element")
            if x not in lin.adds:  # type: ignore[union-attr]
                continue
            ex: dict[str, Any] = {}
            prose = self._stale(lin, row, x, ex)  # type: ignore[arg-type]
            out.append({"element": x, "stable_latency": row.get("stable_latency"), "summary": prose,
                        "explanation": ex})
        return out
