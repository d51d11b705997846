"""Consistency models as data: which implies which, and which anomalies each proscribes.

Two tables, each row with its source. :data:`IMPLIES` relates a model to the
weaker models it implies (a history satisfying the first satisfies the
second). :data:`PROSCRIBES` lists the anomalies a model rules out *in
addition to* those of the models it implies. From these,
:func:`proscribed` gives everything a model forbids, and :func:`boundary` turns
the anomalies found into the strongest models still possible and the weakest
ruled out.

Sources: Adya, "Weak Consistency" (1999) for PL-1 .. PL-3 and PL-SI; Adya,
Liskov, O'Neil (ICDE 2000); Bailis et al., "Highly Available Transactions"
(VLDB 2014) for lost update under repeatable read; Fekete et al., "Making
Snapshot Isolation Serializable" (TODS 2005) and Cerone, Bernardi, Gotsman
(CONCUR 2015) for SI forbidding every cycle whose anti-dependencies are
non-adjacent; Daudjee and Salem (2004, 2006) for the strong-session and strong
variants, which add process and real-time order.
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["MODELS", "IMPLIES", "PROSCRIBES", "DEFAULT_MODEL", "proscribed", "boundary", "check_model"]

IMPLIES: dict[str, tuple[str, ...]] = {
    "strict-serializable": ("serializable", "strong-snapshot-isolation",          # Adya PL-SS
                            "strong-session-serializable"),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),  # Daudjee
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation",),          # Daudjee
    "strong-session-snapshot-isolation": ("snapshot-isolation",),                 # Daudjee
    "serializable": ("repeatable-read", "snapshot-isolation"),                   # SQL; Bailis, Cerone
    "snapshot-isolation": ("read-committed",),                                   # Adya PL-SI > PL-2
    "repeatable-read": ("read-committed",),                                      # Adya PL-2.99 > PL-2
    "read-committed": ("read-uncommitted",),                                     # Adya PL-2 > PL-1
    "read-uncommitted": (),
}
MODELS = tuple(IMPLIES)
DEFAULT_MODEL = "strict-serializable"

PROSCRIBES: dict[str, tuple[str, ...]] = {
    # Adya PL-1: no write cycles. The rest are not Adya histories at all: a
    # list read twice with one element, versions that no total order holds,
    # and values nobody wrote.
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions", "never-written"),
    # Adya PL-2: G1 = aborted reads, intermediate reads, circular information
    # flow. Incompatible orders and dirty updates imply an aborted read, and a
    # read of one's own future append is a one-transaction G1c (Elle).
    "read-committed": ("G1a", "G1b", "G1c", "dirty-update", "incompatible-order", "future-read"),
    # Adya PL-2.99: no item anti-dependency cycles; Bailis: no lost updates.
    "repeatable-read": ("G2-item", "lost-update", "G-single", "G-nonadjacent"),
    # Adya PL-SI (G-SI ~ G-single) and Cerone/Fekete: cycles with non-adjacent
    # anti-dependencies; first-committer-wins forbids lost updates; Cerone's
    # INT axiom: a transaction sees its own writes.
    "snapshot-isolation": ("internal", "G-single", "G-nonadjacent", "lost-update"),
    # Adya PL-3: every cycle of the serialization graph; Cerone INT.
    "serializable": ("internal", "G2-item", "G-single", "G-nonadjacent"),
    # Daudjee: a session sees its own earlier transactions.
    "strong-session-snapshot-isolation": ("G0-process", "G1c-process", "G-single-process",
                                          "G-nonadjacent-process"),
    "strong-session-serializable": ("G2-item-process",),
    # Daudjee strong SI: a transaction sees everything committed before it began.
    "strong-snapshot-isolation": ("G0-realtime", "G1c-realtime", "G-single-realtime",
                                  "G-nonadjacent-realtime"),
    # Adya PL-SS: the serialization order agrees with real time.
    "strict-serializable": ("G2-item-realtime",),
}


def check_model(name: str) -> str:
    """``name`` if it is a known model, else a ``ValueError`` listing the known ones."""
    if name not in IMPLIES:
        raise ValueError(f"unknown consistency model {name!r}; choose one of {', '.join(MODELS)}")
    return name


def _implied(model: str) -> set[str]:
    seen = {model}
    todo = [model]
    while todo:
        for w in IMPLIES[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def proscribed(models: Iterable[str]) -> frozenset[str]:
    """Every anomaly that at least one of ``models`` (or a model it implies) rules out."""
    out: set[str] = set()
    for m in models:
        for w in _implied(check_model(m)):
            out.update(PROSCRIBES[w])
    return frozenset(out)


def boundary(anomalies: Iterable[str]) -> dict[str, list[str]]:
    """``{"satisfies": strongest models still possible, "violates": weakest models ruled out}``.

    A model is ruled out when it proscribes one of ``anomalies``; every model
    that implies it is then ruled out too (they proscribe a superset).
    """
    found = set(anomalies)
    bad = {m for m in MODELS if proscribed([m]) & found}
    good = [m for m in MODELS if m not in bad]
    strongest = [m for m in good if not any(m in _implied(o) and o != m for o in good)]
    weakest = [m for m in MODELS if m in bad and not any(o in bad and o != m for o in _implied(m))]
    return {"satisfies": strongest, "violates": weakest}
