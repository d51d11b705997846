"""A right-to-left override in a value must not reorder the report's text (issue 9, section 6)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from harness.history import Op
from harness.report import write_report
from harness.report.render import make_env
from tests.report.runs import MS, make_run, sample_ops

RLO = "\u202e"


def test_every_printed_value_shows_bidi_controls_as_escapes() -> None:
    env = make_env()
    out = env.from_string("{{ x }}|{{ y }}").render(x=f"a{RLO}b<", y=Markup(f"<b>c\u2067d</b>"))
    assert out == "a\\u202eb&lt;|<b>c\\u2067d</b>"  # still escaped once, Markup still markup


def test_a_value_with_a_right_to_left_override_is_shown_escaped(tmp_path: Path) -> None:
    ops = sample_ops()
    last = ops[-1]
    ops.append(Op(index=last.index + 1, time=last.time + MS, process=5, type="invoke", f="write",
                  value=f"evil{RLO}gnp.exe", node="n1"))
    run = make_run(tmp_path, "bidi", valid=True, ops=ops)
    res = (run / "results.json").read_text(encoding="utf-8").replace("--seed 42", f"--seed 42 --note {RLO}x")
    (run / "results.json").write_text(res, encoding="utf-8")
    html = write_report(run).read_text(encoding="utf-8")
    assert RLO not in html
    assert "\\u202e" in html
