"""Each variant's claim, shown on real nodes with real faults placed exactly (signals, crash points).

The seed variant's flaws, each produced on purpose and named by the checker;
the durable variant under the same fault, left with nothing to name.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from checkers.saga import check_state
from harness.node.http import Unreachable, call

pytestmark = pytest.mark.slow


def kinds(final: dict[str, Any], told: dict[str, Any] | None = None) -> set[str]:
    return {a.kind for a in check_state(final, told or {})}


def test_the_seed_orchestrator_killed_after_the_charge_leaves_the_order_half_done(saga_nodes: Any) -> None:
    n = saga_nodes("seed", crash_points="after-charge", crash_p="1", crash_once="1", crash_restart="none")
    with pytest.raises(Unreachable):
        n.place("k1", [["p1", 2]])
    assert n.wait_exit("orchestrator") == 70
    n.start("orchestrator")
    final = n.final(wait=1)
    (o,) = final["orders"]
    assert o["status"] == "PENDING" and final["charges"][0]["order_id"] == o["id"]
    found = check_state(final, {})
    assert {a.kind for a in found} == {"order-not-terminal"}
    assert "orchestrator crashed at point after-charge" in found[0].summary


def test_the_durable_orchestrator_resumes_the_saga_it_crashed_in(saga_nodes: Any) -> None:
    n = saga_nodes("durable", crash_points="after-charge", crash_p="1", crash_once="1", crash_restart="none")
    with pytest.raises(Unreachable):
        n.place("k1", [["p1", 2]])
    assert n.wait_exit("orchestrator") == 70
    n.start("orchestrator")
    final = n.final(wait=5)
    assert [o["status"] for o in final["orders"]] == ["CONFIRMED"]
    assert len(final["charges"]) == 1 and final["crashes"][0]["point"] == "after-charge"
    assert kinds(final) == set()
    assert n.place("k1", [["p1", 2]])["status"] == "CONFIRMED"   # the key answers the same order
    assert len(n.final(wait=0)["orders"]) == 1


def _place_with_payment_paused(n: Any, key: str, hold: float) -> Any:
    n.signal("payment", signal.SIGSTOP)
    threading.Timer(hold, n.signal, ("payment", signal.SIGCONT)).start()
    return n.place(key, [["p2", 1]], timeout=10)


def test_a_seed_charge_that_timed_out_is_kept_by_a_cancelled_order(saga_nodes: Any) -> None:
    n = saga_nodes("seed")
    told = _place_with_payment_paused(n, "k1", 1.0)          # the charge call times out after 0.5 s
    assert told["status"] == "FAILED"
    time.sleep(1.0)                                           # payment wakes and performs the charge
    final = n.final(wait=1)
    assert [o["status"] for o in final["orders"]] == ["CANCELLED"]
    assert {"cancelled-but-charged", "illegal-saga", "ack-broken"} <= kinds(
        final, {"k1": (told["status"], told["order"])})


def test_the_durable_saga_waits_out_a_slow_payment_instead_of_guessing(saga_nodes: Any) -> None:
    n = saga_nodes("durable")
    told = _place_with_payment_paused(n, "k1", 1.0)
    assert told["status"] in ("CONFIRMED", "PENDING")
    final = n.final(wait=5)
    assert [o["status"] for o in final["orders"]] == ["CONFIRMED"] and len(final["charges"]) == 1
    assert kinds(final, {"k1": (told["status"], told["order"])}) == set()


def test_a_seed_retry_of_an_order_in_flight_creates_a_second_order(saga_nodes: Any) -> None:
    n = saga_nodes("seed")
    n.signal("payment", signal.SIGSTOP)
    first = threading.Thread(target=n.place, args=("k1", [["p3", 1]]), kwargs={"timeout": 10})
    first.start()
    time.sleep(0.2)                                           # the first is waiting on the charge
    n.place("k1", [["p3", 1]], timeout=10)                    # the client's retry, same key
    n.signal("payment", signal.SIGCONT)
    first.join()
    final = n.final(wait=1)
    assert len(final["orders"]) == 2
    assert "duplicate-orders-for-key" in kinds(final)


def test_choreography_drops_an_event_whose_handler_is_down(saga_nodes: Any) -> None:
    n = saga_nodes("choreography")
    n.kill("inventory")
    told = n.place("k1", [["p1", 1]])
    assert told["status"] == "PENDING"
    time.sleep(0.5)                                           # the bus tried once, failed, dropped it
    n.start("inventory")
    final = n.final(wait=1.5)
    assert [o["status"] for o in final["orders"]] == ["PENDING"] and final["reservations"] == []
    assert kinds(final) == {"order-not-terminal"}


def test_choreography_without_faults_confirms_and_cancels_cleanly(saga_nodes: Any) -> None:
    n = saga_nodes("choreography", balances="u1=40")
    a = n.addr["orchestrator"]
    n.place("k1", [["p1", 1]])                                # 30 of 40: confirmed
    # The bus is asynchronous: let k1's saga finish first, so that k2 is the one declined.
    end = time.monotonic() + 15
    while time.monotonic() < end:
        rows = call((a.host, a.port), "POST", "/status", {"key": "k1"}, timeout=5)["orders"]
        if rows and rows[0]["status"] in ("CONFIRMED", "CANCELLED"):
            break
        time.sleep(0.05)
    n.place("k2", [["p1", 1]])                                # declined: restored and cancelled
    final = n.final(wait=5)
    assert sorted(o["status"] for o in final["orders"]) == ["CANCELLED", "CONFIRMED"]
    assert kinds(final) == set()
    (row,) = call((a.host, a.port), "POST", "/status", {"key": "k2"}, timeout=5)["orders"]
    assert row["status"] == "CANCELLED"


def test_the_final_read_disarms_every_crash_point_for_good(saga_nodes: Any) -> None:
    n = saga_nodes("durable", crash_points="all", crash_p="1")
    n.final(wait=0)                                           # recovery must not be cut short by a crash
    n.kill("orchestrator")
    n.start("orchestrator")                                   # a restart reads the options again
    assert n.place("k1", [["p1", 1]])["status"] == "CONFIRMED"
    final = n.final(wait=0)
    assert final["crashes"] == [] and kinds(final) == set()


def test_a_crash_point_with_a_restart_delay_comes_back_as_the_same_process_without_its_memory(
        saga_nodes: Any) -> None:
    from targets.saga_orders import TARGET
    ready = next(r.ready for r in TARGET.roles if r.name == "orchestrator")
    n = saga_nodes("seed", crash_points="after-charge", crash_p="1", crash_once="1", crash_restart="0.5")
    pid = n.procs["orchestrator"].pid
    with pytest.raises(Unreachable):
        n.place("k1", [["p1", 2]])
    end = time.monotonic() + 10
    while not ready(n.addr["orchestrator"]):
        assert n.procs["orchestrator"].poll() is None and time.monotonic() < end
        time.sleep(0.05)
    assert n.procs["orchestrator"].pid == pid
    final = n.final(wait=1)
    assert [o["status"] for o in final["orders"]] == ["PENDING"]   # the saga's progress was in memory
    assert kinds(final) == {"order-not-terminal"}
