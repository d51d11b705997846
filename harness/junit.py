"""JUnit XML for CI: one test case per checker, failing with the anomaly summaries.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) read JUnit XML, so a
splitbrain run shows up there as tests: ``splitbrain run ... --junit FILE`` writes
one ``<testsuite>`` per run (several with ``--repeat K``, one per seed) and one
``<testcase>`` per checker in ``results.json``:

- valid: a passing test case;
- invalid: ``<failure type="anomaly">``, message = the first anomaly's summary,
  text = every summary, then the report path and the reproducing command;
- unknown: ``<error type="unknown">`` with why the checker could not decide.

Runs with no checker results (the run itself failed) get one test case named
``verdict`` carrying the overall verdict. Text is stripped of characters XML 1.0
cannot hold (values from the system under test can contain anything), and the
file is written atomically.
"""

from __future__ import annotations

import os
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["junit_xml", "write_junit"]

_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_MESSAGE = 500
MAX_SUMMARIES = 100


def _clean(s: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(s))


def _verdict(valid: Any) -> str:
    return "valid" if valid is True else "invalid" if valid is False else "unknown"


def _summaries(res: Mapping[str, Any]) -> list[str]:
    out = []
    for a in res.get("anomalies", ()) or ():
        if isinstance(a, Mapping):
            out.append(f"{a.get('kind', 'anomaly')}: {a.get('summary', '')}")
        else:
            out.append(str(a))
    return out


def _footer(results: Mapping[str, Any], report: Path | None) -> list[str]:
    lines = []
    if report is not None:
        lines.append(f"report: {report}")
    if results.get("command"):
        lines.append(f"reproduce: {results['command']}")
    return lines


def _testcase(suite: ET.Element, classname: str, name: str, res: Mapping[str, Any],
              results: Mapping[str, Any], report: Path | None) -> str:
    stats = res.get("stats", {}) if isinstance(res.get("stats"), Mapping) else {}
    elapsed = stats.get("elapsed_s", 0)
    tc = ET.SubElement(suite, "testcase", classname=_clean(classname), name=_clean(name),
                       time=f"{elapsed:.3f}" if isinstance(elapsed, (int, float)) else "0")
    verdict = _verdict(res.get("valid"))
    if verdict == "invalid":
        summaries = _summaries(res) or ["the checker found the history invalid (no anomaly recorded)"]
        text = summaries[:MAX_SUMMARIES]
        if len(summaries) > MAX_SUMMARIES:
            text.append(f"... and {len(summaries) - MAX_SUMMARIES} more anomalies")
        el = ET.SubElement(tc, "failure", type="anomaly", message=_clean(summaries[0][:MAX_MESSAGE]))
        el.text = _clean("\n".join(text + [""] + _footer(results, report)))
    elif verdict == "unknown":
        why = str(res.get("error") or "the checker could not decide")
        el = ET.SubElement(tc, "error", type="unknown", message=_clean(why[:MAX_MESSAGE]))
        el.text = _clean("\n".join([why, ""] + _footer(results, report)))
    return verdict


def _suite(root: ET.Element, results: Mapping[str, Any], report: Path | None) -> None:
    target = str(results.get("target") or "run")
    variant = str(results.get("variant") or "default")
    seed = results.get("seed")
    suite = ET.SubElement(root, "testsuite",
                          name=_clean(f"splitbrain {target}/{variant}" + (f" seed={seed}" if seed is not None else "")))
    props = ET.SubElement(suite, "properties")
    for key in ("target", "variant", "backend", "workload", "seed", "run_id", "command", "started_at"):
        if results.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=_clean(results[key]))
    if report is not None:
        ET.SubElement(props, "property", name="report", value=_clean(report))
    classname = f"splitbrain.{target}.{variant}".replace(" ", "_")
    checkers = results.get("checkers") or {}
    verdicts = []
    if isinstance(checkers, Mapping) and checkers:
        for name, res in checkers.items():
            res = res if isinstance(res, Mapping) else {"valid": "unknown", "error": f"malformed result: {res!r}"}
            verdicts.append(_testcase(suite, classname, str(name), res, results, report))
    else:
        overall = {"valid": results.get("valid"), "anomalies": [],
                   "error": results.get("error") or "the run recorded no checker results"}
        verdicts.append(_testcase(suite, classname, "verdict", overall, results, report))
    stats = results.get("stats") if isinstance(results.get("stats"), Mapping) else {}
    duration = stats.get("duration_s", 0) if stats else 0
    suite.set("tests", str(len(verdicts)))
    suite.set("failures", str(verdicts.count("invalid")))
    suite.set("errors", str(verdicts.count("unknown")))
    suite.set("skipped", "0")
    suite.set("time", f"{duration:.3f}" if isinstance(duration, (int, float)) else "0")
    if results.get("started_at"):
        suite.set("timestamp", _clean(results["started_at"]))


def junit_xml(runs: Sequence[Mapping[str, Any]], *, reports: Sequence[Path | None] | None = None) -> str:
    """The JUnit document for ``runs`` (each a ``results.json`` dict), as text."""
    reports = list(reports) if reports is not None else [None] * len(runs)
    if len(reports) != len(runs):
        raise ValueError(f"got {len(runs)} runs but {len(reports)} report paths; pass one per run or none")
    root = ET.Element("testsuites", name="splitbrain")
    for results, report in zip(runs, reports):
        _suite(root, results, report)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: Mapping[str, Any] | Sequence[Mapping[str, Any]], path: str | Path, *,
                reports: Sequence[Path | None] | None = None) -> Path:
    """Write JUnit XML for one run's results (a dict) or several (a list, e.g. ``--repeat``).

    ``reports`` optionally gives each run's ``report.html`` path, quoted in
    failure texts. Returns ``path``.
    """
    runs = [results] if isinstance(results, Mapping) else list(results)
    text = junit_xml(runs, reports=reports)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")  # plain open: the umask applies, readable by CI uploaders
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
