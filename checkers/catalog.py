"""The checkers a history file can be judged by from the command line, by model name.

``splitbrain check FILE --model NAME`` reads this table for every model that
is not a linearizability model (those are :data:`checkers.linear.models.MODELS`).
Each :class:`Entry` builds its checker from :class:`Options`, so the CLI
knows nothing about any one of them.

``set`` and ``counter`` already name linearizability models, so Jepsen's
set and counter checkers are ``jepsen-set`` and ``jepsen-counter`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from checkers.api import Checker

__all__ = ["CATALOG", "Entry", "Options"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """What the command line can say to a checker.

    ``consistency_models``  for the transactional checkers (default strict-serializable);
    ``timeout_s``           cycle-search budget for them;
    ``init``                the bank's initial total (default: the first read's).
    """

    consistency_models: tuple[str, ...] = ()
    timeout_s: float | None = None
    init: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """A model name: one line for ``--help`` and a checker factory."""

    summary: str
    make: Callable[[Options], Checker]


def _list_append(o: Options) -> Checker:
    from checkers.elle import DEFAULT_MODEL, ListAppend
    return ListAppend(models=o.consistency_models or (DEFAULT_MODEL,), timeout_s=o.timeout_s)


def _rw_register(o: Options) -> Checker:
    from checkers.elle import DEFAULT_MODEL, RWRegister
    return RWRegister(models=o.consistency_models or (DEFAULT_MODEL,), timeout_s=o.timeout_s)


def _set(o: Options) -> Checker:
    from checkers.sets import Set
    return Set()


def _set_full(o: Options) -> Checker:
    from checkers.sets import SetFull
    return SetFull()


def _counter(o: Options) -> Checker:
    from checkers.counter import Counter
    return Counter()


def _bank(o: Options) -> Checker:
    from checkers.bank import Bank
    return Bank(total=o.init)


def _queue(o: Options) -> Checker:
    from checkers.queue import Queue
    return Queue()


def _total_queue(o: Options) -> Checker:
    from checkers.queue import TotalQueue
    return TotalQueue()


def _unique_ids(o: Options) -> Checker:
    from checkers.queue import UniqueIds
    return UniqueIds()


CATALOG: dict[str, Entry] = {
    "list-append": Entry(summary="Elle list-append transactions ([append k v], [r k list])", make=_list_append),
    "rw-register": Entry(summary="Elle rw-register transactions ([w k v], [r k v])", make=_rw_register),
    "jepsen-set": Entry(summary="adds and one final read (Jepsen set)", make=_set),
    "set-full": Entry(summary="adds and reads, every element followed (Jepsen set-full)", make=_set_full),
    "jepsen-counter": Entry(summary="adds and reads of a counter, read bounds (Jepsen counter)", make=_counter),
    "bank": Entry(summary="transfers and reads of balances; --init is the total (Jepsen bank)", make=_bank),
    "queue": Entry(summary="enqueues and dequeues of an unordered queue (Jepsen queue)", make=_queue),
    "total-queue": Entry(summary="every enqueued element dequeued once (Jepsen total-queue)", make=_total_queue),
    "unique-ids": Entry(summary="generated ids never repeat (Jepsen unique-ids)", make=_unique_ids),
}
