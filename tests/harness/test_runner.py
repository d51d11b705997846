"""The interpreter and ``execute`` with real threads, a real recorder file, and trivial clients.

The cluster here is a test double (nodes without processes): the runner only
asks it for addresses, and these clients never connect. Real clusters are
exercised end to end in ``test_run_cli.py``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import generators as gen
from harness.client import Completion
from harness.cluster import Address
from harness.generators import OpSpec
from harness.history import NEMESIS, History, read_jsonl
from harness.recorder import Recorder
from harness.runner import Interpreter, NemesisPlan, execute, stats_of
from harness.target import Target, Workload, WorkloadContext


@dataclass
class NullCluster:
    nodes: tuple[str, ...] = ("n1", "n2", "n3")

    def start(self, node): pass
    def stop(self, node): pass
    def address(self, node): return Address(host="127.0.0.1", port=9)
    def alive(self, node): return True


@dataclass
class Journal:
    """What the test clients and nemesis saw, shared across their copies."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    opened: list[str] = field(default_factory=list)
    closed: int = 0
    setup: int = 0
    teardown: int = 0
    invoked: list[tuple[int, str]] = field(default_factory=list)
    nemesis: list[str] = field(default_factory=list)


class ScriptedClient:
    """ok for everything, except: f "lost" -> info, f "boom" -> raises, f "no" -> fail."""

    def __init__(self, journal: Journal, node: str | None = None):
        self.j, self.node = journal, node

    def open(self, node, address):
        with self.j.lock:
            self.j.opened.append(node)
        return ScriptedClient(self.j, node)

    def setup(self):
        self.j.setup += 1

    def invoke(self, op):
        with self.j.lock:
            self.j.invoked.append((op.process, op.f))
        if op.f == "boom":
            raise ConnectionResetError("peer went away")
        if op.f == "lost":
            return Completion(type="info", error="timeout")
        if op.f == "no":
            return Completion(type="fail", error="refused")
        return Completion(type="ok", value=op.value)

    def teardown(self):
        self.j.teardown += 1

    def close(self):
        with self.j.lock:
            self.j.closed += 1


class RecordingNemesis:
    def __init__(self, journal: Journal):
        self.j = journal

    def setup(self, cluster):
        self.j.nemesis.append("setup")
        return self

    def invoke(self, op):
        self.j.nemesis.append(op.f)
        return Completion(type="info", value={"did": op.f})

    def teardown(self):
        self.j.nemesis.append("teardown")


class Slot:
    def __init__(self, node, client):
        self.node, self.client = node, client

    def invoke(self, op):
        return self.client.invoke(op)

    def close(self):
        pass


@pytest.fixture
def recorder(tmp_path):
    with Recorder(tmp_path / "history.jsonl") as r:
        yield r


def interp(recorder, journal, n=3, nemesis=None):
    slots = [Slot(f"n{i % 3 + 1}", ScriptedClient(journal, f"n{i % 3 + 1}")) for i in range(n)]
    return Interpreter(recorder=recorder, clients=slots, nemesis=nemesis, rng=random.Random(1))


def test_every_op_is_invoked_once_and_recorded_in_order(recorder):
    j = Journal()
    with interp(recorder, j, n=4) as it:
        it.run(gen.clients(gen.limit(200, gen.fn(lambda rng: OpSpec(f="write", value=rng.randrange(9))))))
    ev = read_jsonl(recorder.path).ops  # the recorder keeps no events: the file is the history
    assert len(j.invoked) == 200 and len(ev) == 400
    assert [e.index for e in ev] == list(range(400))
    assert all(a.time <= b.time for a, b in zip(ev, ev[1:]))
    h = History.of(ev)
    assert len(h.operations) == 200 and all(o.status == "ok" for o in h.operations)
    assert {e.node for e in ev} == {"n1", "n2", "n3"}
    assert len(recorder) == 400 and recorder.counts == {"invoke": 200, "ok": 200, "fail": 0, "info": 0}


def test_info_gives_the_worker_a_fresh_process_and_the_op_stays_open(recorder):
    j = Journal()
    with interp(recorder, j, n=2) as it:
        # phases: the reads start once "lost" has completed, so which processes
        # exist then does not depend on thread timing; process 2 must be one
        it.run(gen.phases(gen.clients(OpSpec(f="lost", process=0)),
                          gen.clients(gen.seq([OpSpec(f="read", process=2),
                                               gen.limit(6, gen.repeat(OpSpec(f="read")))]))))
    h = read_jsonl(recorder.path)  # raises if a process invoked twice while open
    lost = [o for o in h.operations if o.f == "lost"]
    assert lost[0].process == 0 and lost[0].status == "info"
    later = {o.process for o in h.operations if o.f == "read"}
    assert 0 not in later and 2 in later  # worker 0 went on as process 0 + concurrency
    assert later <= {1, 2}


def test_client_exception_becomes_info_with_the_error_and_fail_stays_fail(recorder):
    j = Journal()
    with interp(recorder, j, n=1) as it:
        it.run(gen.clients([OpSpec(f="boom"), OpSpec(f="no"), OpSpec(f="read")]))
    comps = [e for e in read_jsonl(recorder.path).ops if e.type != "invoke"]
    assert [(e.type, e.process) for e in comps] == [("info", 0), ("fail", 1), ("ok", 1)]
    assert comps[0].error == "ConnectionResetError: peer went away"
    assert comps[1].error == "refused"


def test_nemesis_ops_are_two_info_events_of_process_nemesis(recorder):
    j = Journal()
    nem = RecordingNemesis(j)
    with interp(recorder, j, n=2, nemesis=nem) as it:
        it.run(gen.any_of(gen.clients(gen.limit(20, gen.repeat(OpSpec(f="read")))),
                          gen.nemesis([OpSpec(f="start-partition", value="halves"), OpSpec(f="stop-partition")])))
    nev = [e for e in read_jsonl(recorder.path).ops if e.process == NEMESIS]
    assert recorder.nemesis_events == nev and recorder.nemesis_count == 4
    assert [(e.type, e.f) for e in nev] == [("info", "start-partition"), ("info", "start-partition"),
                                            ("info", "stop-partition"), ("info", "stop-partition")]
    assert nev[0].value == "halves" and nev[1].value == {"did": "start-partition"}
    assert j.nemesis == ["start-partition", "stop-partition"]


class HangingSlot(Slot):
    """f "hang" blocks until the test releases it (a client without a timeout)."""

    def __init__(self, node, client, release):
        super().__init__(node, client)
        self.release = release

    def invoke(self, op):
        if op.f == "hang":
            self.release.wait(30)
            return Completion(type="ok")
        return super().invoke(op)


def test_a_worker_stuck_past_the_drain_timeout_is_abandoned_and_rejoins_later(recorder):
    j = Journal()
    release = threading.Event()
    slots = [HangingSlot(f"n{i + 1}", ScriptedClient(j), release) for i in range(2)]
    with Interpreter(recorder=recorder, clients=slots, nemesis=None, rng=random.Random(1),
                     drain_timeout_s=0.2) as it:
        it.run(gen.clients([OpSpec(f="hang", process=0)]))  # returns despite the op in flight
        it.run(gen.phases(gen.clients(gen.limit(3, gen.repeat(OpSpec(f="read"))))))
        assert [p for p, f in j.invoked if f == "read"] == [1, 1, 1]
        release.set()
        deadline = time.monotonic() + 10
        # between runs nothing is recorded: the completion waits in the interpreter's queue
        while it._done.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        it.run(gen.phases(gen.clients(gen.each_process(OpSpec(f="after")))))
    h = read_jsonl(recorder.path)
    hang = [o for o in h.operations if o.f == "hang"][0]
    assert hang.status == "ok" and hang.completion.index > hang.invoke.index
    assert sorted(p for p, f in j.invoked if f == "after") == [0, 1]  # worker 0 is back


# --- execute -------------------------------------------------------------------

def make_target(journal: Journal, gen_fn, final=None) -> tuple[Target, Workload]:
    wl = Workload(name="w", description="test", generator=gen_fn, checker=lambda ctx: None, final=final)
    t = Target(name="t", description="test", variants={"v": "v"}, default_variant="v",
               node_command=lambda ctx: [], ready=lambda addr: True,
               client=lambda: ScriptedClient(journal), workloads={"w": wl}, default_workload="w")
    return t, wl


def test_execute_runs_main_then_heal_then_final_reads(tmp_path):
    j = Journal()
    t, wl = make_target(j, lambda ctx: gen.fn(lambda rng: OpSpec(f="write", value=1)),
                        final=lambda ctx: [OpSpec(f="final-read")])
    plan = NemesisPlan(nemesis=RecordingNemesis(j),
                       generator=gen.nemesis(gen.cycle([gen.sleep(0.05), OpSpec(f="kill"), gen.sleep(0.05),
                                                        OpSpec(f="start")])),
                       final_generator=gen.nemesis([OpSpec(f="start", value="all")]))
    wctx = WorkloadContext(nodes=("n1", "n2", "n3"), variant="v", concurrency=4)
    with Recorder(tmp_path / "history.jsonl") as rec:
        out = execute(cluster=NullCluster(), target=t, workload=wl, wctx=wctx, recorder=rec, seed=3,
                      time_limit_s=0.4, rate=200, nemesis=plan)
    ev = out.events
    fs = [e.f for e in ev]
    last_main = max(i for i, f in enumerate(fs) if f == "write")
    heal = [i for i, e in enumerate(ev) if e.process == NEMESIS and e.value == "all"]
    final = [i for i, f in enumerate(fs) if f == "final-read"]
    assert heal and final and last_main < heal[0] < final[0]
    assert out.recovered and out.stats["ops"] == out.stats["ok"] > 20
    assert out.stats["ops"] < 200  # --rate 200 for 0.4 s: ~80
    assert j.nemesis[0] == "setup" and j.nemesis[-1] == "teardown" and "kill" in j.nemesis
    assert j.setup == 1 and j.teardown == 1 and j.closed == 4
    assert sorted(j.opened) == ["n1", "n1", "n2", "n3"]  # worker i on node i % N


def test_ctrl_c_unwinds_everything_and_leaves_a_readable_history(tmp_path):
    j = Journal()
    count = iter(range(10**9))

    def make(rng):
        if next(count) == 300:
            raise KeyboardInterrupt
        return OpSpec(f="write", value=1)

    t, wl = make_target(j, lambda ctx: gen.fn(make))
    plan = NemesisPlan(nemesis=RecordingNemesis(j), generator=gen.nemesis(gen.seq([])),
                       final_generator=gen.nemesis(gen.seq([])))
    wctx = WorkloadContext(nodes=("n1", "n2"), variant="v", concurrency=3)
    before = {th.name for th in threading.enumerate()}
    with Recorder(tmp_path / "history.jsonl") as rec:
        with pytest.raises(KeyboardInterrupt):
            execute(cluster=NullCluster(nodes=("n1", "n2")), target=t, workload=wl, wctx=wctx,
                    recorder=rec, seed=1, time_limit_s=30, nemesis=plan)
    assert j.nemesis[-1] == "teardown" and j.teardown == 1 and j.closed == 3
    assert {th.name for th in threading.enumerate()} <= before  # every worker joined
    h = read_jsonl(tmp_path / "history.jsonl")
    assert 290 <= len(h.operations) <= 300


def test_stats_count_open_invocations_as_info():
    from harness.history import Op
    ev = [Op(index=0, type="invoke", process=0, f="r"), Op(index=1, type="invoke", process=1, f="r"),
          Op(index=2, type="ok", process=0, f="r"), Op(index=3, type="info", process=NEMESIS, f="kill")]
    s = stats_of(ev, 2.0)
    assert (s["ops"], s["ok"], s["info"], s["nemesis_events"], s["ops_per_s"]) == (2, 1, 1, 1, 1.0)


@dataclass(frozen=True)
class _Receding:
    """A buggy generator: every op it offers is always 1 s in the future."""

    def op(self, ctx):
        if not ctx.free:
            return gen.PENDING, self
        p = min(p for p in ctx.free if p != NEMESIS)
        return OpSpec(f="read", process=p, time=ctx.time + 1_000_000_000), self

    def update(self, ctx, event):
        return self


def test_the_watchdog_ends_a_phase_whose_generator_never_lets_go(recorder):
    j = Journal()
    t0 = time.monotonic()
    with interp(recorder, j, n=2) as it:
        it.run(gen.clients(_Receding()), deadline_s=0.5)
    assert time.monotonic() - t0 < 30  # ended by the watchdog, not by the test timeout
    assert j.invoked == []  # it never got to issue anything


# --- the check's input: the history file, all of it -----------------------------------

class RegisterClient:
    """An in-process register per key (linearizable: one lock), except one planted read of a value never written.

    The planted read is the first read issued once ``after`` ops have completed,
    so it sits well inside the run, thousands of events from either end.
    """

    def __init__(self, shared: dict, node: str | None = None):
        self.shared, self.node = shared, node

    def open(self, node, address):
        return RegisterClient(self.shared, node)

    def setup(self): pass
    def teardown(self): pass
    def close(self): pass

    def invoke(self, op):
        s = self.shared
        k, v = op.value
        with s["lock"]:
            s["done"] += 1
            if op.f == "write":
                s["regs"][k] = v
                return Completion(type="ok", value=[k, v])
            if s["done"] > s["after"] and not s["planted"]:
                s["planted"] = True
                return Completion(type="ok", value=[k, -1])
            return Completion(type="ok", value=[k, s["regs"].get(k)])


def test_the_outcome_is_read_back_from_the_file_whole_and_a_planted_anomaly_mid_run_is_found(tmp_path):
    from checkers.api import Verdict
    from checkers.linearizability import Linearizability

    shared = {"lock": threading.Lock(), "regs": {}, "done": 0, "after": 1500, "planted": False}
    counter = iter(range(1, 10**9))

    def op(rng):
        k = rng.randrange(4)
        return OpSpec(f="read", value=[k, None]) if rng.random() < 0.5 else OpSpec(f="write", value=[k, next(counter)])

    # a fixed number of ops, not a time: the test means the same on a loaded machine
    wl = Workload(name="w", description="test", generator=lambda ctx: gen.limit(5000, gen.fn(op)),
                  checker=lambda ctx: Linearizability(model="register", independent=True))
    t = Target(name="t", description="test", variants={"v": "v"}, default_variant="v",
               node_command=lambda ctx: [], ready=lambda addr: True, client=lambda: RegisterClient(shared),
               workloads={"w": wl}, default_workload="w")
    plan = NemesisPlan(nemesis=RecordingNemesis(Journal()),
                       generator=gen.nemesis([gen.sleep(0.05), OpSpec(f="kill"), OpSpec(f="start"),
                                              gen.sleep(0.05), OpSpec(f="kill"), OpSpec(f="start")]),
                       final_generator=gen.nemesis([OpSpec(f="start", value="all")]))
    wctx = WorkloadContext(nodes=("n1", "n2", "n3"), variant="v", concurrency=4)
    with Recorder(tmp_path / "history.jsonl", hold=64) as rec:  # the runner's hold, as in `splitbrain run`
        out = execute(cluster=NullCluster(), target=t, workload=wl, wctx=wctx, recorder=rec, seed=5,
                      time_limit_s=60, nemesis=plan)
        assert len(rec.nemesis_events) == rec.nemesis_count  # a handful: all kept for the display
    assert shared["planted"] and out.stats["ops"] == 5000
    h = out.history()
    assert h.source == str(tmp_path / "history.jsonl") and h.ops == read_jsonl(tmp_path / "history.jsonl").ops
    assert [o.index for o in h.ops] == list(range(len(h.ops)))
    assert len(h.ops) == 2 * out.stats["ops"] + out.stats["nemesis_events"] == len(rec)  # nothing missing
    assert out.stats == {**stats_of(h.ops, out.duration_s), "duration_s": out.stats["duration_s"]}
    assert out.nemesis_events == tuple(o for o in h.ops if o.process == NEMESIS) and len(out.nemesis_events) == 10
    bad = [o for o in h.operations if o.f == "read" and o.completion.value[1] == -1]
    assert len(bad) == 1 and 1000 < bad[0].invoke.index < len(h.ops) - 1000  # deep inside the history
    result = wl.checker(wctx).check(h)
    assert result.verdict is Verdict.INVALID
    assert any(bad[0].completion.index in a.ops or bad[0].invoke.index in a.ops
               for a in result.anomalies), result.anomalies


@pytest.mark.slow  # real nodes on the local backend, a check and a report: seconds
def test_splitbrain_runs_check_judges_the_history_file_whole(tmp_path):
    """Through ``perform_run`` (what ``splitbrain run`` does): the verdict comes from history.jsonl."""
    import dataclasses
    import json

    from harness.commands.run import perform_run, resolve

    shared = {"lock": threading.Lock(), "regs": {}, "done": 0, "after": 300, "planted": False}
    req = resolve("quorum-store", variant="abd", backend="local", nodes=3, nemesis="none", time_limit=2,
                  concurrency=4, rate=None, store=tmp_path / "store")
    req = dataclasses.replace(req, target=dataclasses.replace(req.target, client=lambda: RegisterClient(shared)))
    r = perform_run(req, seed=2, progress=False, echo=lambda *a, **k: None)
    assert shared["planted"]
    h = read_jsonl(r.run_dir / "history.jsonl")
    st = r.results["stats"]
    assert len(h.ops) == 2 * st["ops"] + st["nemesis_events"] and st["ops"] == len(h.operations) > 600
    bad = [o for o in h.operations if o.f == "read" and o.completion.value[1] == -1]
    assert len(bad) == 1 and 300 < bad[0].invoke.index < len(h.ops) - 300
    assert r.exit_code == 1 and r.results["valid"] is False
    cited = {i for c in r.results["checkers"].values() for a in c.get("anomalies", []) for i in a["ops"]}
    assert cited & {bad[0].invoke.index, bad[0].completion.index}, json.dumps(r.results["checkers"])[:2000]
