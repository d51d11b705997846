"""``splitbrain check HISTORY --model MODEL``: is a recorded history linearizable?

HISTORY is a ``.jsonl`` or ``.edn`` file, or a stored run folder (then the
run's own checker re-checks it, see :func:`harness.store.recheck_run`).
``--init`` takes an EDN or JSON value (``0``, ``nil``, ``'{:x 0 :y 0}'``).
By default a readable summary is printed; ``--json`` prints one object
``{"valid": true|false|"unknown", "model", "ops", "elapsed_s", "anomaly"}``
(and ``"error"`` when unknown).

A run folder whose run never finished (``results.json`` status ``running``:
the harness was killed; ``interrupted``; ``killed``) is re-checked as far as it
was recorded and said to be unfinished, with its op counts: an anomaly in the
recorded part is still an anomaly (exit 1), but a recorded part without one
proves nothing about the rest, so the verdict is unknown (exit 2), as
``splitbrain report`` says.

``--model register`` (or ``cas-register``) on a history whose every value is a
``[key value]`` pair is most likely a multi-key history: when such a check
fails, the command says to add ``--independent`` (exit 3) rather than report a
nonlinearizable first op.

Exit codes: 0 valid, 1 invalid, 2 unknown (a budget ran out, or an unfinished
run), 3 usage or input error (bad file, bad value, unknown model, engine not
installed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

import click

from checkers.catalog import CATALOG
from checkers.linear.models import MODELS
from harness.commands.budget import DEFAULT_CHECK_TIMEOUT_S, MemorySize, Seconds, check_budget_mb
from harness.history import NEMESIS

__all__ = ["check", "parse_value"]


def parse_value(text: str) -> Any:
    """A command-line value given as JSON or EDN (keywords become strings), bounded like every reader."""
    from harness.formats import read_value
    try:
        return read_value(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command(name="check")
@click.argument("history", type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model", type=click.Choice(MODELS + tuple(CATALOG)), default=None,
              help="Sequential specification to check against (required for a history file).")
@click.option("--init", "init", default=None, help="Initial value, as EDN or JSON (default nil).")
@click.option("--nil-read-unknown", is_flag=True, help="An ok read of nil carries no information (Knossos).")
@click.option("--independent", is_flag=True,
              help="register/cas-register values are [key value] tuples; check each key alone.")
@click.option("--timeout", "timeout_s", type=Seconds(), default=DEFAULT_CHECK_TIMEOUT_S, show_default=True,
              help="Give up with verdict unknown after SECONDS.")
@click.option("--max-memory", "max_memory_mb", type=MemorySize(), default=None,
              help="Give up with verdict unknown before the process holds more than SIZE (e.g. 1GiB; "
                   "default: the checker holds at most 1 GiB).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object instead of a summary.")
@click.option("--consistency-model", "consistency_models", multiple=True,
              help="list-append/rw-register: a model to check (repeatable; default strict-serializable).")
@click.option("--engine", type=click.Choice(["splitbrain", "knossos"]), default="splitbrain",
              help="Search engine; knossos needs an installed Knossos.")
@click.option("--knossos-cmd", default=None, help="Command that runs Knossos's CLI (default: knossos).")
def check(history: Path, model: str | None, init: str | None, nil_read_unknown: bool, independent: bool,
          timeout_s: float | None, json_output: bool, engine: str, knossos_cmd: str | None,
          consistency_models: tuple[str, ...] = (), max_memory_mb: float | None = None) -> int:
    """Check HISTORY (.jsonl, .edn, elle-cli .json or a run folder): linearizability, or an Elle/Jepsen model.

    \b
    Exit codes: 0 valid, 1 invalid, 2 unknown (budget ran out, or the run
    never finished), 3 usage or input error.
    """
    if history.is_dir():
        return _recheck_dir(history, json_output)
    if model is None:
        raise click.UsageError("--model is required for a history file; choose one of "
                               + ", ".join(MODELS + tuple(CATALOG)))
    if model in CATALOG:  # transactional, set, counter, bank and queue models
        from checkers.catalog import Options
        from harness.commands.check_models import check_model
        return check_model(history, model, Options(consistency_models=consistency_models, timeout_s=timeout_s,
                                                   init=None if init is None else parse_value(init)), json_output)
    init_value = None if init is None else parse_value(init)

    from checkers.linear.knossos import EngineUnavailable
    from checkers.linearizability import Linearizability
    from harness.formats import load_history
    from checkers.linear.stream import HistoryFile
    from harness.history import History, HistoryError

    try:
        checker = Linearizability(model=model, init=init_value, nil_read_unknown=nil_read_unknown,
                                  independent=independent, timeout_s=timeout_s, engine=engine,  # type: ignore[arg-type]
                                  knossos_cmd=knossos_cmd)
        if max_memory_mb is not None:
            checker.max_cache_mb = check_budget_mb(max_memory_mb)
        h: Any
        if engine == "splitbrain" and _streamed(history):  # checked as it is read: the history is never held
            h = HistoryFile(history)
            result = checker.check(h)
            if not h.operations:
                result = _empty(h)
        else:
            h = load_history(history)
            result = checker.check(h) if h.operations else _empty(h)
    except (HistoryError, EngineUnavailable, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if (result.verdict.value == "invalid" and not independent and model in _KEYED_MODELS
            and _keyed_values(h.ops if isinstance(h, History) else _events_of(history))):
        raise click.UsageError(
            f"every value in {history} is a [key value] pair, so it is most likely a history of "
            f"several keys; check each key alone with --independent (checked as one {model}, "
            f"it is not linearizable from its first op)")

    anomaly = result.anomalies[0].to_json() if result.anomalies else None
    ops = result.stats.get("ops", 0)
    elapsed = result.stats.get("elapsed_s")
    if json_output:
        doc: dict[str, Any] = {"valid": result.verdict.to_json(), "model": model, "ops": ops,
                               "elapsed_s": elapsed, "anomaly": anomaly}
        if result.error:
            doc["error"] = result.error
        click.echo(json.dumps(doc, default=repr))
    else:
        _print_summary(history, model, result, ops, elapsed, anomaly)
    return result.verdict.exit_code


STREAM_BYTES = 32 * 2**20
"""A history file larger than this is checked as it is read (:mod:`checkers.linear.stream`): not held whole."""


def _streamed(path: Path) -> bool:
    try:
        return path.stat().st_size > STREAM_BYTES
    except OSError:
        return False  # the loader words the error


def _empty(h: Any) -> Any:
    """No client operation: nothing was tested, which is not "linearizable" (docs/DESIGN.md)."""
    from checkers.api import CheckResult, Verdict
    why = "only nemesis events" if (h.ops if hasattr(h, "ops") else h.events) else "no operations"
    return CheckResult(checker="linearizability", verdict=Verdict.UNKNOWN, stats={"ops": 0, "elapsed_s": 0.0},
                       error=f"empty history ({why}): nothing to check")


def _print_summary(path: Path, model: str, result: Any, ops: int, elapsed: Any,
                   anomaly: dict[str, Any] | None) -> None:
    word = {"valid": "linearizable", "invalid": "NOT linearizable", "unknown": "unknown"}[result.verdict.value]
    keys = result.stats.get("keys")
    extra = f", {keys} key(s)" if keys and keys > 1 else ""
    click.echo(f"{path}: {word} as a {model} ({ops} ops{extra}, {elapsed} s)")
    if result.error:
        click.echo(f"  {result.error}")
    if anomaly is None:
        return
    d = anomaly["data"]
    from harness.anomaly_text import anomaly_lines
    for line in anomaly_lines(anomaly):
        click.echo(f"  {line}")
    if "prefix" in d:
        shown = d["prefix"][-10:]
        click.echo(f"  last {len(shown)} of the {d['prefix_length']} ops linearized (state after each):")
        for step in shown:
            o = step["op"]
            click.echo(f"    [{o['invoke_index']}] process {o['process']}: {o['call']}  => {step['state']}")
        click.echo(f"  ops concurrent with it ({d['concurrent_count']}):")
        for o in d["concurrent"][:10]:
            click.echo(f"    [{o['invoke_index']}] process {o['process']} {o['type']}: {o['call']}")


_KEYED_MODELS = ("register", "cas-register")


def _keyed_values(events: Iterable[Any]) -> bool:
    """Whether every value of every client invocation and ``ok`` completion is a ``[key value]`` pair.

    ``events`` in file order; a streamed file is read again a block at a time
    (this is asked only of an invalid register history), never held whole.
    """
    seen = False
    for op in events:
        if op.process == NEMESIS or op.type not in ("invoke", "ok") or op.value is None:
            continue
        v = op.value
        if not (isinstance(v, (list, tuple)) and len(v) == 2):
            return False
        seen = True
    return seen


def _events_of(path: Path) -> Iterator[Any]:
    from harness.formats import history_blocks
    for ops, _lines in history_blocks(path):
        yield from ops


_UNFINISHED = {
    "running": "never finished: results.json still says running (its harness was killed, "
               "e.g. by SIGKILL or the OOM killer, or it is still running)",
    "interrupted": "was interrupted (Ctrl-C or SIGTERM) before it finished",
    "killed": "was killed before it finished",
}


def _recheck_dir(run_dir: Path, json_output: bool) -> int:
    """Re-check a run folder (harness.store.recheck_run); say so when the run never finished."""
    import io

    from harness.history import HistoryError, read_jsonl
    from harness.runner import stats_of
    from harness.store import RunStoreError, read_results, recheck_run

    try:
        results = read_results(run_dir)
        status = results.get("status", "done")
    except RunStoreError as e:
        click.echo(f"error: {e}", err=True)
        return 3
    if status in ("done", "environment-error", "harness-error"):
        return recheck_run(run_dir, json_output=json_output)
    buf = io.StringIO()
    code = recheck_run(run_dir, json_output=True, out=buf)
    if code == 3:
        return 3
    doc = json.loads(buf.getvalue())
    try:
        stats = stats_of(read_jsonl(run_dir / "history.jsonl", tolerate_torn_tail=True).ops, 0.0)
    except (OSError, HistoryError) as e:
        click.echo(f"error: {run_dir}: {e}", err=True)
        return 3
    why = _UNFINISHED.get(status, f"did not finish (status {status!r})")
    if status == "interrupted" and results.get("signal"):  # which signal, and when (harness.store.during)
        from harness.store import during

        why = f"was interrupted ({results['signal']}) during {during(results.get('phase'))}, before it finished"
    recorded = doc["valid"]
    verdict = "invalid" if recorded is False else "unknown"
    counts = {k: stats[k] for k in ("ops", "ok", "fail", "info")}
    if json_output:
        click.echo(json.dumps({"valid": "unknown" if verdict == "unknown" else False, "finished": False,
                               "status": status, "recorded_valid": recorded, **counts,
                               "run_dir": str(run_dir), "checkers": doc["checkers"]}, indent=2, default=repr))
        return 2 if verdict == "unknown" else 1
    click.echo(f"{'INVALID: anomalies found' if verdict == 'invalid' else 'UNKNOWN'}: the run {why}")
    click.echo(f"  ops {counts['ops']} recorded: ok {counts['ok']}, fail {counts['fail']}, info {counts['info']} "
               f"(an op still open counts as info)")
    for name, r in (doc.get("checkers") or {}).items():
        anomalies = r.get("anomalies") or []
        said = {True: "valid", False: "invalid"}.get(r.get("valid"), "unknown")
        click.echo(f"  {name} on the recorded part: {said}" + (f", {len(anomalies)} anomal"
                                                               f"{'y' if len(anomalies) == 1 else 'ies'}"
                                                               if anomalies else ""))
        for a in anomalies[:5]:
            click.echo(f"    - {a.get('kind')}: {a.get('summary')}")
    if verdict == "unknown":
        click.echo("  no anomaly in what was recorded; that says nothing about what was not: verdict unknown")
    click.echo(f"  run folder: {run_dir}")
    return 2 if verdict == "unknown" else 1
