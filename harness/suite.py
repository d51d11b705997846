"""Suite files: a matrix of runs with the verdict each should get, as CI runs them.

A suite is a TOML file (read with :mod:`tomllib`)::

    [suite]
    name = "quorum-store"             # default: the file's stem
    description = "..."

    [defaults]                        # any entry key, for every entry
    target = "quorum-store"
    time_limit = 30

    [[entry]]                         # one or more
    variant = "seed"
    nemesis = ["partition", "kill", "pause"]
    seed = [1, 2]
    expect = "invalid"

Entry keys are ``splitbrain run``'s flags with ``_`` for ``-``. The *matrix
keys* ``target``, ``variant``, ``workload``, ``nemesis``, ``time_limit`` and
``seed`` take one value or a list; an entry runs once per combination (the
product, in that order). ``nemesis`` values are what ``--nemesis`` takes, so
``"partition,kill"`` is one run with both faults and ``["partition", "kill"]``
two runs. The other keys take one value: ``backend``, ``nodes``,
``concurrency``, ``rate``, ``nemesis_interval``, ``options`` (a table of
``--option`` pairs) and ``expect``: the verdict the runs must get, ``"valid"``,
``"invalid"`` or ``"unknown"``, or a list of those. ``target`` and ``expect``
are required (in the entry or in ``[defaults]``).

A suite is also a *sweep* when entries carry ``row`` (a configuration's label,
e.g. ``"W=N, R=1"``) and, optionally, ``claim`` (what that configuration is
said to trade): the runs of one row are summed up into one line of a table of
measured columns (:mod:`harness.sweep_stats`) on the suite's page and in its
``sweep.json``. Entries of one row may differ in any key (a row is usually one
variant and ``options``); the row's label is part of each run's id, so two
rows may run the same variant, faults and seeds with other options.

This module only parses and expands, and is pure: a malformed file, an unknown
key or a wrong type raises :class:`SuiteError`, whose text is
``FILE:LINE: what is wrong``. Whether a target, variant or fault exists is the
run command's check (``harness.commands.run.resolve``), made for every run
before any starts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["EXPECTABLE", "Suite", "SuiteError", "SuiteRun", "load_suite", "parse_suite"]

EXPECTABLE = ("valid", "invalid", "unknown")
"""Verdicts an entry may expect. A run that could not be completed gets ``"error"``,
which no entry may expect: a broken environment must fail the suite."""

MATRIX_KEYS = ("target", "variant", "workload", "nemesis", "time_limit", "seed")
_NUMBER = (int, float)
# key -> (accepted types, what to write), for one value
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "target": ((str,), "a target name"),
    "variant": ((str,), "a variant name"),
    "workload": ((str,), "a workload name"),
    "nemesis": ((str,), 'faults as --nemesis takes them, e.g. "partition,kill" or "none"'),
    "time_limit": (_NUMBER, "seconds, e.g. 30"),
    "seed": ((int,), "an integer seed"),
    "backend": ((str,), "a backend name"),
    "nodes": ((int,), "a node count"),
    "concurrency": ((int,), "a number of client workers"),
    "rate": (_NUMBER, "ops per second"),
    "nemesis_interval": (_NUMBER, "seconds"),
    "options": ((dict,), "a table of --option values, e.g. {keys = 5}"),
    "expect": ((str, list), 'one of "valid", "invalid", "unknown", or a list of them'),
    "row": ((str,), 'a row label of the sweep table, e.g. "W=N, R=1"'),
    "claim": ((str,), "the row's claim, as text"),
}
_SECTIONS = {"suite": {"name", "description"}, "defaults": set(_TYPES), "entry": set(_TYPES)}


class SuiteError(ValueError):
    """A suite file that cannot be used; ``str()`` is ``FILE:LINE: what is wrong``."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteRun:
    """One run of the expanded matrix: the ``splitbrain run`` settings and the expected verdicts.

    ``None`` settings take ``splitbrain run``'s defaults. ``line`` is the line of
    the ``[[entry]]`` it came from, for error messages; ``id`` names it in the
    summary, the JUnit file and the log (unique within the suite).
    """

    id: str
    line: int
    target: str
    expect: tuple[str, ...]
    variant: str | None = None
    workload: str | None = None
    nemesis: str | None = None
    time_limit: float | None = None
    seed: int | None = None
    backend: str | None = None
    nodes: int | None = None
    concurrency: int | None = None
    rate: float | None = None
    nemesis_interval: float | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    row: str | None = None
    claim: str | None = None

    def expects(self, verdict: str) -> bool:
        return verdict in self.expect


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    """A parsed suite: its name, description, file and the runs, in file order."""

    name: str
    description: str
    path: Path
    runs: tuple[SuiteRun, ...]


def load_suite(path: str | Path) -> Suite:
    """Read and expand the suite at ``path``; :class:`SuiteError` if unreadable or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(path, None, f"cannot read the suite file: {e}") from None
    return parse_suite(text, path)


def parse_suite(text: str, path: str | Path = "<suite>") -> Suite:
    """Parse suite TOML ``text`` (from ``path``, for messages) and expand its matrix."""
    import tomllib

    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)$", str(e))
        msg = str(e)[:m.start()].strip() if m else str(e)
        raise SuiteError(path, int(m.group(1)) if m else None, f"not valid TOML: {msg}") from None
    lines = _Lines(text, path)
    for key in doc:
        if key not in _SECTIONS:
            raise lines.error(None, 0, key, f"unknown section or key {key!r}; a suite has "
                                            f"[suite], [defaults] and [[entry]] tables")
    suite_t = _table(doc, "suite", lines)
    _check_keys(suite_t, "suite", None, 0, lines)
    defaults = _table(doc, "defaults", lines)
    _check_keys(defaults, "defaults", None, 0, lines)
    entries = doc.get("entry", [])
    if not isinstance(entries, list) or not entries:
        raise SuiteError(path, None, "no [[entry]] table: a suite needs at least one entry")
    runs: list[SuiteRun] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SuiteError(path, None, "entry must be a table: write [[entry]] with key = value lines")
        _check_keys(entry, "entry", "entry", i, lines)
        runs.extend(_expand({**defaults, **entry}, lines.header("entry", i), lines, i))
    ids = [r.id for r in runs]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise SuiteError(path, None, f"the matrix has the same run more than once: {', '.join(dup)}")
    name = suite_t.get("name", path.stem)
    desc = suite_t.get("description", "")
    for k, v in (("name", name), ("description", desc)):
        if not isinstance(v, str):
            raise lines.error("suite", 0, k, f"{k} must be a string (not {v!r})")
    return Suite(name=name, description=desc, path=path, runs=tuple(runs))


def _table(doc: Mapping[str, Any], name: str, lines: "_Lines") -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        raise lines.error(None, 0, name, f"{name} must be a table: write [{name}]")
    return t


def _check_keys(table: Mapping[str, Any], section: str, header: str | None, index: int,
                lines: "_Lines") -> None:
    allowed = _SECTIONS[section]
    for key, value in table.items():
        where = header if header is not None else section
        if key not in allowed:
            raise lines.error(where, index, key, f"unknown key {key!r} in [{'[' if header else ''}"
                                                 f"{section}{']' if header else ''}]; expected one of "
                                                 f"{', '.join(sorted(allowed))}")
        if section != "suite":
            _check_type(key, value, lambda msg: lines.error(where, index, key, msg))


def _check_type(key: str, value: Any, error: Any) -> None:
    types, what = _TYPES[key]
    values = value if key in MATRIX_KEYS and isinstance(value, list) else [value]
    if key in MATRIX_KEYS and isinstance(value, list) and not value:
        raise error(f"{key} is an empty list: give at least one value")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, types):
            raise error(f"{key} must be {what}" + (" (or a list of them)" if key in MATRIX_KEYS else "")
                        + f", not {v!r}")
    if key == "expect":
        got = [value] if isinstance(value, str) else value
        bad = [v for v in got if v not in EXPECTABLE]
        if bad or not got:
            raise error(f"expect must be one of {', '.join(EXPECTABLE)} (or a list of them), not {value!r}")
    if key == "options":
        bad = [k for k, v in value.items() if isinstance(v, (dict, list))]
        if bad:
            raise error(f"options.{bad[0]} must be a plain value (a string or a number)")


def _expand(entry: Mapping[str, Any], line: int, lines: "_Lines", index: int) -> list[SuiteRun]:
    for required in ("target", "expect"):
        if required not in entry:
            raise SuiteError(lines.path, line, f"entry has no {required!r} (give it here or in [defaults])")
    axes = [entry[k] if isinstance(entry.get(k), list) else [entry.get(k)] for k in MATRIX_KEYS]
    expect = (entry["expect"],) if isinstance(entry["expect"], str) else tuple(entry["expect"])
    options = {str(k): _option_text(v) for k, v in (entry.get("options") or {}).items()}
    varying = {k for k, axis in zip(MATRIX_KEYS, axes) if len(axis) > 1}
    runs = []
    for combo in itertools.product(*axes):
        m = dict(zip(MATRIX_KEYS, combo))
        runs.append(SuiteRun(
            id=_run_id(m, varying, entry.get("row")), line=line, target=m["target"], expect=expect, variant=m["variant"],
            workload=m["workload"], nemesis=m["nemesis"],
            time_limit=None if m["time_limit"] is None else float(m["time_limit"]), seed=m["seed"],
            backend=entry.get("backend"), nodes=entry.get("nodes"), concurrency=entry.get("concurrency"),
            rate=None if entry.get("rate") is None else float(entry["rate"]),
            nemesis_interval=None if entry.get("nemesis_interval") is None else float(entry["nemesis_interval"]),
            options=options, row=entry.get("row"), claim=entry.get("claim")))
    return runs


def _option_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _run_id(m: Mapping[str, Any], varying: set[str], row: str | None = None) -> str:
    """``quorum-store/seed/partition/seed=1``: unset settings left out, the time limit only
    when the entry lists several (``--time-limit`` may override it, the id stays); a sweep's
    ``row`` after the variant and workload (``quorum-store/seed/W=N, R=1/partition/seed=1``)."""
    parts = [str(m["target"])]
    parts += [str(m[k]) for k in ("variant", "workload") if m[k] is not None]
    if row is not None:
        parts.append(row)
    parts.append(str(m["nemesis"]) if m["nemesis"] is not None else "default-nemesis")
    if "time_limit" in varying:
        parts.append(f"{m['time_limit']:g}s")
    if m["seed"] is not None:
        parts.append(f"seed={m['seed']}")
    return "/".join(parts)


class _Lines:
    """Line numbers for messages: tomllib gives none for keys, so find them in the text."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"'-]+)\s*\]\]?")

    def __init__(self, text: str, path: Path) -> None:
        self.path = path
        self._lines = text.splitlines()
        # (header name, is array table, line number) for each table header
        self._headers = [(m.group(2).strip("\"'"), m.group(1) == "[[", n)
                         for n, raw in enumerate(self._lines, start=1)
                         if (m := self._HEADER.match(raw))]

    def header(self, name: str, index: int) -> int:
        seen = [n for h, _, n in self._headers if h == name]
        return seen[index] if index < len(seen) else 0

    def _span(self, name: str | None, index: int) -> tuple[int, int]:
        if name is None:  # the top level: before the first header
            return 1, (self._headers[0][2] - 1 if self._headers else len(self._lines))
        start = self.header(name, index)
        if not start:
            return 1, len(self._lines)
        later = [n for _, _, n in self._headers if n > start]
        return start, (later[0] - 1 if later else len(self._lines))

    def error(self, table: str | None, index: int, key: str, message: str) -> SuiteError:
        start, end = self._span(table, index)
        pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, end + 1):
            if pat.match(self._lines[n - 1]):
                return SuiteError(self.path, n, message)
        if table is None:  # a top-level table named key
            for h, _, n in self._headers:
                if h == key:
                    return SuiteError(self.path, n, message)
        return SuiteError(self.path, start or None, message)
