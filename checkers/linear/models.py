"""Sequential specifications ("models") for the linearizability search.

A :class:`Model` is plain data: a frozen dataclass of functions, as Porcupine's
``Model`` is. ``call`` turns one history operation into a :class:`Call` once,
before the search (normalising values to hashable data, choosing the
partition ``key``); ``step(state, call)`` returns the state after the call, or
an :class:`Illegal` value saying why the call cannot happen in that state. It
never raises and never mutates; states are hashable so the search can cache them.

A :class:`Call` also carries three hints the search uses to cut work; a model
may leave them at their defaults (no hint), but must not get them wrong:

``read_only``  ``step`` never changes the state (reads). An ``info`` read is
               dropped; a legal ``ok`` read is linearized without branching.
``free``       read-only and legal in every state (a Knossos ``nil`` read): an
               ``ok`` free call can be dropped outright.
``needs``      the one state in which the call is legal, or :data:`NOTHING`
               when there is no such single state.
``makes``      :data:`ANY`, or the one state the call leaves behind (for a
               call that is not read-only); a call with a fixed ``makes``
               must be legal exactly in state ``needs`` (in every state when
               ``needs`` is :data:`NOTHING`). With ``needs`` this lets the search
               prove "no candidate can produce what the next read must see",
               and drop ``info`` calls whose effect nobody could observe.

Models (``make_model(name, ...)``): ``register``, ``cas-register``, ``kv``,
``multi-register``, ``mutex``, ``set``, ``counter``, ``fifo-queue``. Options:
``init`` (initial state, default ``nil`` as in Jepsen; ``kv`` keys start as
``""``, counters at 0, the mutex free), ``nil_read_unknown`` (Knossos: an
``ok`` read of ``nil`` carries no information and always passes), and for
``register``/``cas-register`` ``independent`` (values are Jepsen
``independent`` tuples ``[key, v]``, one register per key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import attrgetter, is_
from typing import Any, Callable, Hashable, NamedTuple, Sequence

__all__ = [
    "ANY", "NOTHING", "UNKNOWN", "MODELS", "Call", "Illegal", "Model", "ModelInputError", "make_model",
]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOTHING: Any = _Marker("NOTHING")
"""``Call.needs`` when legality is not one fixed state."""
ANY: Any = _Marker("ANY")
"""``Call.makes`` when the state after the call is not one fixed value."""
UNKNOWN: Any = _Marker("UNKNOWN")
"""``Call.ret`` of an ``info`` call: its result was never seen."""


class ModelInputError(ValueError):
    """An operation the model cannot use; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Illegal:
    """``step``'s answer for a call that cannot happen in the state.

    ``reason`` is ``template`` filled with ``args`` written as EDN, formatted
    only when read: the search discards millions of these unread.
    """

    template: str
    args: tuple[Any, ...] = ()

    @property
    def reason(self) -> str:
        return self.template.format(*(_edn(a) for a in self.args))


class Call(NamedTuple):
    """One operation as a model sees it (see the module docstring for the hints).

    A named tuple rather than a frozen dataclass: one is built per operation
    before every search, and a tuple is built three times as fast.
    """

    f: str
    arg: Hashable
    ret: Hashable
    key: Hashable = None
    read_only: bool = False
    free: bool = False
    needs: Hashable = NOTHING
    makes: Hashable = ANY


_call = tuple.__new__  # Call(...) with keywords parses them on every call; hot models build positionally


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A sequential specification; all fields are plain functions or data.

    ``call(f, invoke_value, ok_value, ok)`` builds the :class:`Call` for one
    operation (``ok`` False for an indeterminate one; ``ok_value`` is then
    ``None``) and raises :class:`ModelInputError` for values it cannot use.
    ``init(key)`` is the state each partition starts in.

    ``grows(s, t)`` (optional) must be True whenever calls whose ``makes`` is
    :data:`ANY` can turn state ``s`` into ``t`` (for ``kv``: ``t`` starts with
    ``s``, as appends only extend); the search then prunes states from which
    the next read's value is out of reach.

    ``unseen(calls)`` (optional) returns a predicate over the ``info`` calls
    of a partition with these ``calls``: True when no call could observe the
    info call's effect, so that leaving it out loses no linearization (for
    ``kv``: an appended or put string that no get's result contains).
    """

    name: str
    init: Callable[[Hashable], Hashable]
    call: Callable[[str, Any, Any, bool], Call]
    step: Callable[[Hashable, Call], Any]
    describe_call: Callable[[Call], str]
    describe_state: Callable[[Hashable], str] = repr
    grows: Callable[[Hashable, Hashable], bool] | None = None
    unseen: Callable[[Sequence[Call]], Callable[[Call], bool]] | None = None


def _h(v: Any) -> Hashable:
    """JSON-ish data as hashable data (lists -> tuples, dicts -> sorted pairs)."""
    if v.__class__ is str or v.__class__ is int or v is None:
        return v
    if isinstance(v, list):
        return tuple(_h(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((k, _h(x)) for k, x in v.items()), key=repr))
    return v


def _edn(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, tuple):
        return "[" + " ".join(_edn(x) for x in v) + "]"
    if isinstance(v, frozenset):
        return "#{" + " ".join(sorted(_edn(x) for x in v)) + "}"
    if v is UNKNOWN:
        return "?"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _describe(c: Call) -> str:
    ret = "" if c.ret is UNKNOWN or c.ret == c.arg else f" -> {_edn(c.ret)}"
    key = "" if c.key is None else f" (key {_edn(c.key)})"
    return f"{c.f} {_edn(c.arg)}{ret}{key}"


def _unknown_f(model: str, f: str, known: tuple[str, ...]) -> ModelInputError:
    return ModelInputError(f"the {model} model has no operation {f!r}; expected one of {list(known)}")


def _pair(model: str, v: Any, what: str) -> tuple[Any, Any]:
    if not (isinstance(v, list) and len(v) == 2):
        raise ModelInputError(f"the {model} model needs {what}, got {v!r}")
    return v[0], v[1]


# --- register and cas-register ----------------------------------------------------


def _register(name: str, *, init: Any, nil_read_unknown: bool, independent: bool, cas: bool) -> Model:
    fs = ("read", "write", "cas") if cas else ("read", "write")
    init_h = _h(init)

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        key = None
        if independent:
            key, inv = _pair(name, inv, "an independent tuple [key value]")
            key = _h(key)
            if ok:
                k2, out = _pair(name, out, "an independent tuple [key value]")
                if _h(k2) != key:
                    raise ModelInputError(f"completion key {k2!r} differs from the invocation's {key!r}")
        # positional tuples (see _call): a corpus file is mostly set-up, and these are most of it
        if f == "read":
            if not ok:
                return _call(Call, (f, None, UNKNOWN, key, True, False, NOTHING, ANY))
            v = out if out.__class__ is int or out is None or out.__class__ is str else _h(out)
            if v is None and nil_read_unknown:
                return _call(Call, (f, None, None, key, True, True, NOTHING, ANY))
            return _call(Call, (f, None, v, key, True, False, v, ANY))
        if f == "write":
            v = inv if inv.__class__ is int or inv is None or inv.__class__ is str else _h(inv)
            return _call(Call, (f, v, v if ok else UNKNOWN, key, False, False, NOTHING, v))
        if f == "cas" and cas:
            old, new = _pair(name, inv, "cas values [old new]")
            old, new = _h(old), _h(new)
            return _call(Call, (f, (old, new), None if ok else UNKNOWN, key, False, False, old, new))
        raise _unknown_f(name, f, fs)

    def step(s: Hashable, c: Call) -> Any:
        if c.read_only:
            if c.free or c.needs == s:
                return s
            return Illegal("read {} but the register holds {}", (c.needs, s))
        if c.f == "write":
            return c.makes
        if s == c.needs:
            return c.makes
        return Illegal("cas expects {} but the register holds {}", (c.needs, s))

    return Model(name=name, init=lambda key: init_h, call=call, step=step,
                 describe_call=_describe, describe_state=_edn)


# --- kv: per key get / put / append -------------------------------------------------

_RET = attrgetter("ret")
_NEEDS = attrgetter("needs")


def _never(c: Call) -> bool:
    return False


_SCAN_CHARS = 20_000_000
"""kv's unseen test looks for each wanted pair of words in the results' text while
pairs x text stay under this (some ms); past it, it splits every result into words."""



def _kv(*, init: Any, nil_read_unknown: bool) -> Model:
    start = "" if init is None else _h(init)

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        # the hot path of a long history: positional tuples, no helper calls for plain string keys
        if inv.__class__ is list and len(inv) == 2:
            key, v = inv
        else:
            key, v = _pair("kv", inv, "[key value]")
        if key.__class__ is not str:
            key = _h(key)
        if f == "get":
            if not ok:
                return _call(Call, (f, None, UNKNOWN, key, True, False, NOTHING, ANY))
            if out.__class__ is list and len(out) == 2:
                k2, r = out
            else:
                k2, r = _pair("kv", out, "[key value]")
            if k2 != key and _h(k2) != key:
                raise ModelInputError(f"completion key {k2!r} differs from the invocation's {key!r}")
            if r is None and nil_read_unknown:
                return _call(Call, (f, None, None, key, True, True, NOTHING, ANY))
            if r.__class__ is not str:
                r = _h(r)
            return _call(Call, (f, None, r, key, True, False, r, ANY))
        if f == "put" or f == "append":
            if v.__class__ is not str and not isinstance(v, str):
                raise ModelInputError(f"kv {f} needs a string value, got {v!r}")
            return _call(Call, (f, v, v if ok else UNKNOWN, key, False, False, NOTHING, v if f == "put" else ANY))
        raise _unknown_f("kv", f, ("get", "put", "append"))

    def step(s: Hashable, c: Call) -> Any:
        if c.read_only:
            if c.free or c.needs == s:
                return s
            return Illegal("get returned {} but the key holds {}", (c.needs, s))
        if c.f == "put":
            return c.arg
        return (s or "") + c.arg  # type: ignore[operator]

    def grows(s: Hashable, t: Hashable) -> bool:
        return isinstance(t, str) and t.startswith(s or "")  # type: ignore[arg-type]

    def unseen(calls: Sequence[Call]) -> Callable[[Call], bool]:
        # A string is seen when some get's result contains it. The distinct results
        # are what is searched; a string of
        # three or more space-separated words is tested against the pairs of
        # adjacent words of those results: its inner words stand as whole, adjacent
        # words in any result containing it, so a pair missing means unseen; else it
        # counts as seen (keeping an info op is never wrong, only slower). Only the
        # pairs the info calls ask about are kept, one result split at a time, so
        # memory stays that of the largest result; this keeps the test near linear.
        infos = list(compress(calls, map(is_, map(_RET, calls), repeat(UNKNOWN))))  # in C: no loop here
        if not infos:
            return _never
        results = set(map(_NEEDS, calls))
        results.discard(NOTHING)
        results = [r for r in results if r.__class__ is str]
        seen: str | None = None
        pairs: set[tuple[str, str]] | None = None

        def unseen_call(c: Call) -> bool:
            nonlocal seen, pairs
            if c.read_only or c.arg.__class__ is not str:
                return False
            inner = c.arg.split(" ")[1:-1]
            if len(inner) < 2:
                if seen is None:
                    seen = "\0".join(results)
                return c.arg not in seen
            if pairs is None:
                wanted = set()
                for x in infos:
                    if not x.read_only and x.arg.__class__ is str:
                        w = x.arg.split(" ")[1:-1]
                        wanted.update(zip(w, w[1:]))
                pairs = set()
                size = sum(map(len, results))
                if len(wanted) * size <= _SCAN_CHARS:
                    # few enough: each pair looked for in the results' text (" a b " is there
                    # iff a and b are adjacent words of a result), in C, no word built
                    text = " " + " \0 ".join(results) + " "
                    pairs = {p for p in wanted if f" {p[0]} {p[1]} " in text}
                    return any(p not in pairs for p in zip(inner, inner[1:]))
                # a few thousand results split at once (in C), joined by a word "\0" no inner
                # word is (else the pair is only taken as seen: kept, never wrongly dropped)
                for at in range(0, len(results), 4096):
                    words = " \0 ".join(results[at:at + 4096]).split(" ")
                    pairs.update(wanted.intersection(zip(words, islice(words, 1, None))))
            return any(p not in pairs for p in zip(inner, inner[1:]))

        return unseen_call

    return Model(name="kv", init=lambda key: start, call=call, step=step,
                 describe_call=_describe, describe_state=_edn, grows=grows, unseen=unseen)


# --- multi-register: atomic transactions of [f k v] micro-ops -----------------------


def _multi_register(*, init: Any, nil_read_unknown: bool) -> Model:
    start = tuple(sorted(((k, _h(v)) for k, v in init.items()), key=repr)) if isinstance(init, dict) else ()
    default = None if isinstance(init, dict) else _h(init)

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        if f != "txn":
            raise _unknown_f("multi-register", f, ("txn",))
        txn = out if ok else inv
        if not isinstance(txn, list):
            raise ModelInputError(f"a txn value must be a vector of [f k v] micro-ops, got {txn!r}")
        micro = []
        for m in txn:
            if not (isinstance(m, list) and len(m) == 3 and m[0] in ("read", "write")):
                raise ModelInputError(f"micro-op must be [:read k v] or [:write k v], got {m!r}")
            r = _h(m[2])
            if m[0] == "read" and (not ok or (r is None and nil_read_unknown)):
                r = UNKNOWN
            micro.append((m[0], _h(m[1]), r))
        ro = all(m[0] == "read" for m in micro)
        free = ro and all(m[2] is UNKNOWN for m in micro)
        return Call(f=f, arg=tuple(micro), ret=None if ok else UNKNOWN, read_only=ro, free=free)

    def step(s: Hashable, c: Call) -> Any:
        regs = dict(s)  # type: ignore[arg-type]
        changed = False
        for mf, k, v in c.arg:  # type: ignore[union-attr]
            if mf == "read":
                if v is not UNKNOWN and regs.get(k, default) != v:
                    return Illegal("read {} = {} but it holds {}", (k, v, regs.get(k, default)))
            else:
                regs[k] = v
                changed = True
        return tuple(sorted(regs.items(), key=repr)) if changed else s

    def describe_state(s: Hashable) -> str:
        return "{" + ", ".join(f"{_edn(k)} {_edn(v)}" for k, v in s) + "}"  # type: ignore[union-attr]

    def describe_call(c: Call) -> str:
        return "txn [" + " ".join(f"[{f} {_edn(k)} {'?' if v is UNKNOWN else _edn(v)}]"
                                  for f, k, v in c.arg) + "]"  # type: ignore[union-attr]

    return Model(name="multi-register", init=lambda key: start, call=call, step=step,
                 describe_call=describe_call, describe_state=describe_state)


# --- mutex, set, counter, fifo-queue -------------------------------------------------


def _mutex(*, init: Any, nil_read_unknown: bool) -> Model:
    held = bool(init)

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        if f == "acquire":
            return Call(f=f, arg=None, ret=None if ok else UNKNOWN, needs=False, makes=True)
        if f == "release":
            return Call(f=f, arg=None, ret=None if ok else UNKNOWN, needs=True, makes=False)
        raise _unknown_f("mutex", f, ("acquire", "release"))

    def step(s: Hashable, c: Call) -> Any:
        if s == c.needs:
            return c.makes
        return Illegal("the lock is already held" if s else "the lock is not held")

    return Model(name="mutex", init=lambda key: held, call=call, step=step, describe_call=lambda c: c.f,
                 describe_state=lambda s: "held" if s else "free")


def _set(*, init: Any, nil_read_unknown: bool) -> Model:
    start = frozenset(_h(x) for x in init) if isinstance(init, list) else frozenset()

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        if f == "add":
            return Call(f=f, arg=_h(inv), ret=None if ok else UNKNOWN)
        if f == "read":
            if not ok:
                return Call(f=f, arg=None, ret=UNKNOWN, read_only=True)
            if out is None and nil_read_unknown:
                return Call(f=f, arg=None, ret=None, read_only=True, free=True)
            if not isinstance(out, list):
                raise ModelInputError(f"a set read must return a vector or set, got {out!r}")
            r = frozenset(_h(x) for x in out)
            return Call(f=f, arg=None, ret=r, read_only=True, needs=r)
        raise _unknown_f("set", f, ("add", "read"))

    def step(s: Hashable, c: Call) -> Any:
        if c.read_only:
            if c.free or c.needs == s:
                return s
            return Illegal("read {} but the set holds {}", (c.needs, s))
        return s | {c.arg}  # type: ignore[operator]

    return Model(name="set", init=lambda key: start, call=call, step=step,
                 describe_call=_describe, describe_state=_edn)


def _counter(*, init: Any, nil_read_unknown: bool) -> Model:
    start = 0 if init is None else init

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        if f == "add":
            if not isinstance(inv, int) or isinstance(inv, bool):
                raise ModelInputError(f"counter add needs an integer, got {inv!r}")
            return Call(f=f, arg=inv, ret=None if ok else UNKNOWN)
        if f == "read":
            if not ok:
                return Call(f=f, arg=None, ret=UNKNOWN, read_only=True)
            if out is None and nil_read_unknown:
                return Call(f=f, arg=None, ret=None, read_only=True, free=True)
            if not isinstance(out, int) or isinstance(out, bool):
                raise ModelInputError(f"counter read must return an integer, got {out!r}")
            return Call(f=f, arg=None, ret=out, read_only=True, needs=out)
        raise _unknown_f("counter", f, ("add", "read"))

    def step(s: Hashable, c: Call) -> Any:
        if c.read_only:
            if c.free or c.needs == s:
                return s
            return Illegal("read {} but the counter is {}", (c.needs, s))
        return s + c.arg  # type: ignore[operator]

    return Model(name="counter", init=lambda key: start, call=call, step=step,
                 describe_call=_describe, describe_state=_edn)


def _fifo_queue(*, init: Any, nil_read_unknown: bool) -> Model:
    start = tuple(_h(x) for x in init) if isinstance(init, list) else ()

    def call(f: str, inv: Any, out: Any, ok: bool) -> Call:
        if f == "enqueue":
            return Call(f=f, arg=_h(inv), ret=None if ok else UNKNOWN)
        if f == "dequeue":
            return Call(f=f, arg=None, ret=_h(out) if ok else UNKNOWN)
        raise _unknown_f("fifo-queue", f, ("enqueue", "dequeue"))

    def step(s: Hashable, c: Call) -> Any:
        q: tuple[Any, ...] = s  # type: ignore[assignment]
        if c.f == "enqueue":
            return q + (c.arg,)
        if c.ret is UNKNOWN:
            return q[1:] if q else Illegal("dequeue from an empty queue")
        if c.ret is None:
            return q if not q else Illegal("dequeue found the queue empty but it holds {}", (q,))
        if q and q[0] == c.ret:
            return q[1:]
        return Illegal("dequeued {} but the head is {}", (c.ret, q[0])) if q else Illegal("dequeued {} from an empty queue", (c.ret,))

    return Model(name="fifo-queue", init=lambda key: start, call=call, step=step,
                 describe_call=_describe, describe_state=_edn)


MODELS: tuple[str, ...] = ("register", "cas-register", "kv", "multi-register", "mutex", "set",
                           "counter", "fifo-queue")


def make_model(name: str, *, init: Any = None, nil_read_unknown: bool = False,
               independent: bool = False) -> Model:
    """Build a model by name; raises ``ValueError`` naming the known models."""
    if independent and name not in ("register", "cas-register"):
        raise ValueError(f"independent=True applies to register and cas-register, not {name!r}")
    if name in ("register", "cas-register"):
        return _register(name, init=init, nil_read_unknown=nil_read_unknown, independent=independent,
                         cas=name == "cas-register")
    builders = {"kv": _kv, "multi-register": _multi_register, "mutex": _mutex, "set": _set,
                "counter": _counter, "fifo-queue": _fifo_queue}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return builders[name](init=init, nil_read_unknown=nil_read_unknown)
