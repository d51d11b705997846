"""Chart building: quantiles, downsampling of huge timelines, bins."""

from __future__ import annotations

from harness.history import History, Op
from harness.report.charts import axis_for, latency_figure, quantile, throughput_figure, timeline_figure


def _history(n: int, *, fail_every: int = 0) -> History:
    """``n`` ops on 4 processes, 1 ms apart, each taking 2 ms; every k-th fails."""
    ops: list[Op] = []
    i = 0
    for k in range(n):
        p = k % 4
        t = k * 1_000_000
        ops.append(Op(index=i, time=t, process=p, type="invoke", f="write", value=k))
        status = "fail" if fail_every and k % fail_every == 0 else "ok"
        ops.append(Op(index=i + 1, time=t + 2_000_000, process=p, type=status, f="write", value=k))  # type: ignore[arg-type]
        i += 2
    # pair() wants real-time order; interleaved processes stay well-formed because each op is 2 events
    return History.of(sorted(ops, key=lambda o: (o.time, o.index)))


def test_quantile_is_nearest_rank() -> None:
    xs = [float(x) for x in range(1, 101)]
    assert quantile(xs, 0.5) == 50 and quantile(xs, 0.95) == 95 and quantile(xs, 0.99) == 99
    assert quantile([7.0], 0.99) == 7.0


def test_a_small_timeline_shows_every_operation() -> None:
    h = _history(100)
    tl = timeline_figure(h, (), axis_for(h))
    assert not tl.downsampled and tl.shown == 100 and tl.n_processes == 4


def test_a_huge_timeline_keeps_failures_and_named_ops_and_samples_the_rest() -> None:
    h = _history(5_000, fail_every=50)
    named = {h.operations[1234].invoke.index}
    tl = timeline_figure(h, (), axis_for(h), highlight=named, budget=1_000)
    assert tl.downsampled and tl.total == 5_000 and tl.shown <= 1_000
    fails = next(t for t in tl.figure["data"] if t.get("name") == "fail" and t.get("mode") == "markers")
    assert len(fails["x"]) == 100  # every failure kept
    marked = next(t for t in tl.figure["data"] if t.get("name") == "named by an anomaly")
    assert marked["customdata"] == [h.operations[1234].invoke.index]
    assert tl.odd_stride == 1 and tl.ok_stride > 1


def test_named_ops_survive_even_when_failures_alone_exceed_the_budget() -> None:
    h = _history(3_000, fail_every=2)  # 1,500 failures
    named = {h.operations[2001].invoke.index}  # an ok op
    tl = timeline_figure(h, (), axis_for(h), highlight=named, budget=500)
    assert tl.shown <= 500 and tl.odd_stride == 4 and tl.ok_stride > 4  # leftover room goes to ok ops
    marked = next(t for t in tl.figure["data"] if t.get("name") == "named by an anomaly")
    assert marked["customdata"] == [h.operations[2001].invoke.index]


def test_latency_quantile_lines_and_throughput_add_up() -> None:
    h = _history(1_000)
    ax = axis_for(h)
    lat = latency_figure(h, (), ax)
    assert lat is not None
    p99 = next(t for t in lat["data"] if t["name"] == "p99")
    assert p99["y"] and all(abs(y - 2.0) < 1e-9 for y in p99["y"])  # every op takes 2 ms
    thr = throughput_figure(h, (), ax)
    assert thr is not None
    ok = next(t for t in thr["data"] if t["name"] == "ok")
    width_s = ax.end / 1e9 / 120
    assert abs(sum(ok["y"]) * width_s - 1_000) < 5  # completions/s * bin width = completions
