"""nemesis.effect.judge: when do per-link counters say the partitions changed nothing?"""

from __future__ import annotations

from harness.backends.netfilter import LinkCounters, parse_counters
from nemesis.effect import NO_EFFECT, judge
from nemesis.windows import FaultWindow

LINKS = [("n1", "n2"), ("n2", "n1"), ("n1", "n3"), ("n3", "n1"), ("n2", "n3"), ("n3", "n2")]


def window(links) -> FaultWindow:  # type: ignore[no-untyped-def]
    return FaultWindow(kind="partition", start_ns=0, end_ns=1, detail={"links": [list(l) for l in links]},
                       nodes=(), start_index=0, end_index=1)


def counters(**dropped: int) -> dict:
    return {l: LinkCounters(packets=10, bytes=1000, dropped=dropped.get(f"{l[0]}_{l[1]}", 0)) for l in LINKS}


def test_no_partition_no_warning() -> None:
    assert judge(counters(), [], source="iptables")["warning"] is None


def test_a_cut_that_dropped_the_nodes_packets_has_an_effect() -> None:
    out = judge(counters(n1_n2=3), [window([("n1", "n2")])], source="iptables")
    assert out["warning"] is None and out["cut_links"] == ["n1->n2"] and out["links"]["n1->n2"]["dropped"] == 3


def test_cuts_that_dropped_nothing_are_reported_as_no_effect() -> None:
    out = judge(counters(n2_n3=5), [window([("n1", "n2"), ("n2", "n1")])], source="iptables")
    assert out["warning"].startswith(NO_EFFECT)  # drops on a link that was never cut do not count


def test_on_the_proxy_backend_a_silent_link_is_reported_too() -> None:
    c = counters(n1_n2=2)
    c[("n3", "n1")] = LinkCounters()
    out = judge(c, [window([("n1", "n2")])], source="proxy")
    assert out["warning"].startswith(NO_EFFECT) and "n3->n1" in out["warning"]
    assert judge(c, [window([("n1", "n2")])], source="iptables")["warning"] is None


def test_iptables_listings_are_read_per_link() -> None:
    listing = """Chain SBN-CUT (1 references)
    pkts      bytes target     prot opt in     out     source               destination
       4      240 DROP       6    --  *      *       10.77.0.11           0.0.0.0/0            multiport ports 61000:65535 ctdir ORIGINAL
      17     1020 DROP       0    --  *      *       10.77.0.11           0.0.0.0/0            /* sbn:drop:n1:n2 */ ctdir ORIGINAL
Chain SBN-ACCT (1 references)
     120    9000            0    --  *      *       10.77.0.11           0.0.0.0/0            /* sbn:acct:n1:n2 */
"""
    assert parse_counters(listing) == {("n1", "n2"): LinkCounters(packets=120, bytes=9000, dropped=17)}
