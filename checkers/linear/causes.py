"""Name the cause of a minimal witness, and say in real time why it is illegal.

:func:`classify` looks at a witness (:mod:`checkers.linear.witness`) of a
register or cas-register key and returns a :class:`Cause`: the pattern's name
(:data:`PATTERNS`) and one or two sentences that argue from the ops' times,
in the issue's words: "write 878 (p19 via n5) completed at 19.088 s, before
the read (p1 via n2) began at 19.103 s, so the read cannot return the older
877". The patterns, tried in this order on every op of the witness that
observed a state (a read's value, a cas's expected value):

``never-written``       no operation of the whole history, failed ones
                        included, wrote the value, and it is not the initial one;
``failed-write-read``   only operations that reported ``fail`` wrote it (by
                        Jepsen's rules a failed op never happened);
``stale-read``          a write ``w`` of another value completed before the
                        observer began, and every write that could have
                        produced the value observed must come before ``w``:
                        it completed before ``w`` began, or a read that began
                        after it completed returned ``w``'s value (``w`` its
                        only writer); or ``w`` is a cas from that value, whose
                        only writer so came before it; or the value is the
                        initial one and nobody wrote it;
``lost-write``          the same, and no read ever saw ``w``'s value or the
                        value of any write begun after ``w``: the
                        acknowledged write vanished;
``flip-flop``           an earlier read (completed before the observer began)
                        returned another value, after every write of the value
                        observed had completed: reads went back in time;
``generic``             none of these: the witness is shown as it is.

When the clock nemesis skewed the nodes, a lost write, stale read or
flip-flop whose older write won only because its node's clock was ahead says
so, with the offsets from the history (:mod:`checkers.linear.clocks`).

Other models get ``generic``. The sentences use :func:`harness.notation.value_text`
for values, so they read like the rest of the report and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

from checkers.linear.clocks import with_clocks
from checkers.linear.models import ANY, NOTHING, Call, Model, ModelInputError
from checkers.linear.partition import Entry
from harness.history import History, Operation
from harness.notation import seconds_text, value_text

__all__ = ["PATTERNS", "Cause", "classify", "op_phrase"]

PATTERNS: Mapping[str, str] = {
    "never-written": "value never written",
    "failed-write-read": "read of a failed write",
    "stale-read": "stale read",
    "lost-write": "lost write",
    "flip-flop": "flip-flopping reads",
    "generic": "not linearizable",
}
"""Pattern name -> the words a reader sees first."""

_REGISTERS = ("register", "cas-register")
ERROR_LIMIT = 100
"""Characters of an error message quoted in prose (the tables give it whole)."""


def _clip(s: str) -> str:
    return s if len(s) <= ERROR_LIMIT else s[: ERROR_LIMIT - 1] + "…"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cause:
    """What a witness shows: ``pattern`` (a key of :data:`PATTERNS`), ``text`` (prose).

    ``roles`` gives a short role per operation (by invocation index), e.g.
    ``"stale read"``, ``"overwrote it"``; ``failed`` the failed operations
    that wrote the value read (they are not in the witness: the search drops
    failed ops, which is the point).
    """

    pattern: str
    text: str
    roles: Mapping[int, str] = field(default_factory=dict)
    failed: tuple[tuple[Operation, Call], ...] = ()

    @property
    def label(self) -> str:
        return PATTERNS[self.pattern]


class _Makers:
    """``makers(x)``: :func:`checkers.linear.witness.makers_of` over ``entries``, from an index by value.

    The patterns ask for the makers of most ops of the key (a lost write: of
    every read after it), each a scan of the key without the index.
    """

    __slots__ = ("by_value", "memo")

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.by_value: dict[Hashable, list[Entry]] = {}
        for m in entries:
            if not m.call.read_only and m.call.makes is not ANY:
                self.by_value.setdefault(m.call.makes, []).append(m)
        self.memo: dict[int, list[Entry]] = {}

    def __call__(self, x: Entry) -> list[Entry]:
        got = self.memo.get(id(x))
        if got is None:
            need = x.call.needs
            end = float("inf") if x.ret_pos is None else x.ret_pos
            got = [] if need is NOTHING else \
                [m for m in self.by_value.get(need, ()) if m is not x and m.call_pos < end]
            self.memo[id(x)] = got
        return got


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


def _at(o: Operation, *, end: bool) -> str:
    ev = o.completion if end else o.invoke
    if ev is None:
        return "never"
    return f"at {seconds_text(ev.time)}" if ev.time is not None else f"at event {ev.index}"


def _who(o: Operation) -> str:
    node = o.invoke.node or (o.completion.node if o.completion is not None else None)
    return f"p{o.process}" + (f" via {node}" if node else "")


def op_phrase(e: Entry | tuple[Operation, Call]) -> str:
    """``write 878 (p19 via n5)``, ``the read (p1 via n2)``, ``cas [1 2] (p3)``."""
    o, c = (e.op, e.call) if isinstance(e, Entry) else e
    who = _who(o)
    if o.f == "read":
        return f"the read ({who})"
    return f"{o.f} {value_text(_plain(c.arg))} ({who})"


def _observes(x: Entry, v: Hashable) -> str:
    """``the read (p1 via n2) returned 877``."""
    if x.call.read_only:
        return f"{op_phrase(x)} returned {value_text(_plain(v))}"
    return f"{op_phrase(x)} succeeded expecting {value_text(_plain(v))}"


def _history_makers(history: History | None, model: Model, key: Hashable,
                    v: Hashable) -> tuple[list[tuple[Operation, Call]], bool]:
    """The operations of the whole history (any status) that write ``v`` to ``key``; and whether it could tell."""
    if history is None:
        return [], False
    out = []
    for o in history.operations:
        ok = o.status == "ok"
        try:
            c = model.call(o.f, o.invoke.value, o.completion.value if ok else None, ok)  # type: ignore[union-attr]
        except (ModelInputError, ValueError, TypeError):
            continue
        if c.key == key and not c.read_only and c.makes == v:
            out.append((o, c))
    return out, True


def _source(v: Hashable, init: Hashable, makers: Sequence[Entry]) -> str:
    """Who wrote ``v``, for the prose."""
    if not makers:
        return f"{value_text(_plain(v))}, the initial value"
    if len(makers) == 1:
        m = makers[0]
        return f"{value_text(_plain(v))} (written by {op_phrase(m)}, completed {_at(m.op, end=True)})"
    last = max(makers, key=lambda m: m.ret_pos or 0)
    return (f"{value_text(_plain(v))} (all {len(makers)} writes of it had completed by "
            f"{_at(last.op, end=True)[3:]})")


def _older(v: Hashable, init: Hashable, makers: Sequence[Entry], before: int) -> bool:
    """Could ``v`` only have been written before event position ``before``?"""
    if not makers:
        return v == init
    return all(m.ret_pos is not None and m.ret_pos < before for m in makers)


def classify(witness: Sequence[Entry], entries: Sequence[Entry], model: Model, init: Hashable, *,
             key: Hashable = None, history: History | None = None,
             stuck: Entry | None = None, minimal: bool = True) -> Cause:
    """The cause of ``witness`` (a non-linearizable subset of ``entries``, one key; 1-minimal if ``minimal``)."""
    if model.name not in _REGISTERS or not witness:
        return _generic(witness, minimal)
    makers = _Makers(entries)
    observers = [x for x in witness if x.call.needs is not NOTHING and x.ret_pos is not None]
    observers.sort(key=lambda x: x is not stuck)  # the op the search got stuck at first
    finders: list[Callable[[Entry], Cause | None]] = [  # in this order, each over every observer
        lambda x: _one_op(x, entries, model, init, key, history),
        lambda x: _against_write(x, witness, entries, init, makers, by_reads=False),
        lambda x: _flip_flop(x, witness, entries, init, makers),  # reads in sequence, the later older: not "stale"
        lambda x: _against_write(x, witness, entries, init, makers, by_reads=True),
    ]
    for find in finders:
        for x in observers:
            cause = find(x)
            if cause is not None:
                return with_clocks(cause, witness, history)
    return _generic(witness, minimal)


def _one_op(x: Entry, entries: Sequence[Entry], model: Model, init: Hashable, key: Hashable,
            history: History | None) -> Cause | None:
    v = x.call.needs
    if v == init:
        return None
    if any(not e.call.read_only and e.call.makes == v for e in entries):
        return None  # a write of v that did not fail (the key's ops are its ok and info ones): no need to look
    writers, known = _history_makers(history, model, key, v)
    if not known or any(o.status != "fail" for o, _ in writers):
        return None
    done = _at(x.op, end=True)
    if not writers:
        start = "nil" if init is None else value_text(_plain(init))
        text = (f"{_observes(x, v)} {done}, but no operation in the history wrote "
                f"{value_text(_plain(v))}, and the register starts as {start}.")
        return Cause(pattern="never-written", text=text, roles={x.op.invoke.index: "read a value never written"})
    w, _ = writers[0]
    err = w.completion.error if w.completion is not None else None
    why = f" ({_clip(err if isinstance(err, str) else value_text(err, ERROR_LIMIT))})" if err else ""
    more = f" (and {len(writers) - 1} other failed write(s))" if len(writers) > 1 else ""
    text = (f"{_observes(x, v)} {done}, a value written only by {op_phrase(writers[0])}{more}, which reported fail "
            f"{_at(w, end=True)}{why}. A failed operation never happened, so nothing could have produced "
            f"{value_text(_plain(v))}: the write reported failed was applied.")
    roles = {x.op.invoke.index: "read the failed write's value"}
    roles.update({o.invoke.index: "reported fail, yet its value was read" for o, _ in writers})
    return Cause(pattern="failed-write-read", text=text, roles=roles, failed=tuple(writers))


def _after(m: Entry, w: Entry, witness: Sequence[Entry], entries: Sequence[Entry], by_reads: bool,
           makers_of: "_Makers") -> Entry | bool:
    """Must ``w`` take effect after ``m``? True by real time; or a read of ``w``'s value that proves it; else False.

    The read ``y`` proves it when ``w`` is the only op that makes the value
    ``y`` returned and ``y`` began after ``m`` completed: ``y`` comes after
    ``m``, and the last change before ``y`` is ``w``, so ``w`` follows ``m``.
    """
    if m.ret_pos is None:
        return False
    if m.ret_pos < w.call_pos:
        return True
    if not by_reads:
        return False
    made = w.call.makes
    writes = makers_of.by_value.get(made, []) if made is not ANY else \
        [e for e in entries if not e.call.read_only and e.call.makes is ANY]
    if writes != [w]:
        return False
    for y in witness:
        if y is not w and y.call.needs == made and y.ret_pos is not None and y.call_pos > m.ret_pos:
            return y
    return False


def _against_write(x: Entry, witness: Sequence[Entry], entries: Sequence[Entry], init: Hashable,
                   makers_of: "_Makers", *, by_reads: bool) -> Cause | None:
    """A stale read (or lost write) of ``x`` against a write of the witness; ``by_reads``: see :func:`_after`."""
    v = x.call.needs
    makers = makers_of(x)
    for w in witness:
        if w.call.read_only or w.ret_pos is None or w.ret_pos >= x.call_pos or w.call.makes == v:
            continue
        consumed = w.call.needs == v and v != init and len(makers) == 1  # a cas from v's only write
        order = [_after(m, w, witness, entries, by_reads, makers_of) for m in makers]
        if not consumed and (not all(order) or (not makers and v != init)):
            continue
        proofs = [(m, y) for m, y in zip(makers, order) if isinstance(y, Entry)]
        lost = _lost(w, entries, makers_of)
        verb = "cannot return" if x.call.read_only else "cannot find"
        what = "the read" if x.call.read_only else op_phrase(x)
        why = "".join(f"; it came after {op_phrase(m)}, since {op_phrase(y)}, begun {_at(y.op, end=False)} after "
                      f"that write had completed {_at(m.op, end=True)}, returned {value_text(_plain(w.call.makes))}"
                      for m, y in proofs[:2] if not consumed)
        if lost:
            text = (f"{op_phrase(w)} was acknowledged {_at(w.op, end=True)}{why}, yet {_observes(x, v)} "
                    f"(begun {_at(x.op, end=False)}), the older {_source(v, init, makers)}, and no later read "
                    f"saw {value_text(_plain(w.call.makes))} or any newer write: the acknowledged write was lost.")
        elif consumed:
            text = (f"{op_phrase(w)} completed {_at(w.op, end=True)}, before {op_phrase(x)} began "
                    f"{_at(x.op, end=False)}, and it had replaced the {value_text(_plain(v))} that only "
                    f"{op_phrase(makers[0])} wrote, so {what} {verb} the older {value_text(_plain(v))}.")
        else:
            older = value_text(_plain(v)) if why else _source(v, init, makers)
            text = (f"{op_phrase(w)} completed {_at(w.op, end=True)}, before {op_phrase(x)} began "
                    f"{_at(x.op, end=False)}{why}, so {what} {verb} the older {older}.")
        roles = {x.op.invoke.index: "stale read" if x.call.read_only else "stale cas",
                 w.op.invoke.index: "lost write" if lost else "overwrote it"}
        roles.update({m.op.invoke.index: "wrote the value read" for m in makers})
        roles.update({y.op.invoke.index: "saw the newer value first" for _, y in proofs})
        return Cause(pattern="lost-write" if lost else "stale-read", text=text, roles=roles)
    return None


def _lost(w: Entry, entries: Sequence[Entry], makers_of: "_Makers") -> bool:
    """No op ever observed ``w``'s value, nor, after ``w`` completed, any write begun after ``w``."""
    made = w.call.makes
    for r in entries:
        if r.call.needs is NOTHING or r.ret_pos is None:
            continue
        if r.call.needs == made:
            return False
        if r.call_pos > (w.ret_pos or 0) and any(m.call_pos > w.call_pos for m in makers_of(r)):
            return False
    return True


def _flip_flop(x: Entry, witness: Sequence[Entry], entries: Sequence[Entry], init: Hashable,
               makers_of: "_Makers") -> Cause | None:
    v = x.call.needs
    makers = makers_of(x)
    for y in witness:
        if not y.call.read_only or y is x or y.ret_pos is None or y.ret_pos >= x.call_pos:
            continue
        if y.call.needs == v or not _older(v, init, makers, y.call_pos):
            continue
        newer = value_text(_plain(y.call.needs))
        writes = (f"{op_phrase(makers[0])}, completed {_at(makers[0].op, end=True)}" if len(makers) == 1
                  else f"all {len(makers)} writes of it" if makers else "it is the initial value")
        text = (f"{_observes(y, y.call.needs)} and completed {_at(y.op, end=True)}, before {op_phrase(x)} began "
                f"{_at(x.op, end=False)} and returned {value_text(_plain(v))}; every write of "
                f"{value_text(_plain(v))} ({writes}) had completed before the first read began, so once a read "
                f"has returned {newer} a later one cannot go back to {value_text(_plain(v))}.")
        roles = {y.op.invoke.index: "read the newer value first", x.op.invoke.index: "then read the older"}
        roles.update({m.op.invoke.index: "wrote the older value" for m in makers})
        roles.update({m.op.invoke.index: "wrote the newer value" for m in makers_of(y)})
        return Cause(pattern="flip-flop", text=text, roles=roles)
    return None


def _generic(witness: Sequence[Entry], minimal: bool) -> Cause:
    n = len(witness)
    text = (f"no order of these {n} operation{'s' if n != 1 else ''} that respects real time is legal "
            f"for the model" + (", and leaving out any one of them makes the rest legal." if minimal else "."))
    return Cause(pattern="generic", text=text)
