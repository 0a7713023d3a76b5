"""Happened-before from the trace: Lamport clocks, vector clocks, and the relation Lamport defined."""
import pytest

import simulations
from simulations.clocks import clocks, concurrent, event_node, happened_before, with_clocks


def run(slug, params=None, faults=None, seed=0):
    return simulations.get(slug).run(params or {}, seed, faults or [])


def find(trace, kind, **fields):
    return next(e["seq"] for e in trace if e["kind"] == kind and all(e.get(k) == v for k, v in fields.items()))


def lamport_relation(trace):
    """a -> b by Lamport's definition: each node's order plus send -> deliver, closed under transitivity."""
    edges = {i: set() for i in range(len(trace))}
    last, send_of = {}, {}
    for e in trace:
        node = event_node(e)
        if node is None:
            continue
        if node in last:
            edges[last[node]].add(e["seq"])
        last[node] = e["seq"]
        if e["kind"] == "send":
            send_of[e["msg"]] = e["seq"]
        elif e["kind"] == "deliver":
            edges[send_of[e["msg"]]].add(e["seq"])
    before = {}
    for a in reversed(range(len(trace))):
        reach = set()
        for b in edges[a]:
            reach |= {b} | before[b]
        before[a] = reach
    return before


def test_a_message_chain_is_ordered_and_stamped_as_in_the_textbook():
    trace = run("two-generals", {"loss": 0})
    stamps = clocks(trace)
    chain = [find(trace, "send", label="ATTACK AT DAWN"), find(trace, "deliver", msg=1),
             find(trace, "send", label="ACK 1"), find(trace, "deliver", msg=2),
             find(trace, "send", label="ACK 2"), find(trace, "deliver", msg=3)]
    for a, b in zip(chain, chain[1:]):
        assert happened_before(stamps[a], stamps[b]) and not happened_before(stamps[b], stamps[a])
    assert happened_before(stamps[chain[0]], stamps[chain[-1]])  # transitivity
    # A: state, note, send (3 events); B: its first state, then the deliver merges A's [3, 0]
    assert [(stamps[i].node, stamps[i].lamport, stamps[i].vc) for i in chain[:2]] == [("A", 3, (3, 0)), ("B", 4, (3, 2))]


def test_two_sends_with_no_path_between_them_are_concurrent():
    trace = run("gossip", {"n": 4, "mode": "parallel"})
    stamps = clocks(trace)
    p1, p3 = find(trace, "send", src="P1", dst="P2"), find(trace, "send", src="P3", dst="P4")
    assert concurrent(stamps[p1], stamps[p3])
    assert not happened_before(stamps[p1], stamps[p3]) and not happened_before(stamps[p3], stamps[p1])
    # round 2 joins the pairs: P1's first call happened before everything P3 does after P1 calls it
    joined = find(trace, "deliver", src="P1", dst="P3")
    assert happened_before(stamps[p1], stamps[joined]) and happened_before(stamps[p3], stamps[joined])


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_vector_clocks_decide_exactly_lamports_relation(slug):
    trace = run(slug)
    stamps = clocks(trace)
    before = lamport_relation(trace)
    stamped = [i for i, s in enumerate(stamps) if s is not None]
    assert stamped, "every scenario has events on nodes"
    for a in stamped:
        for b in stamped:
            assert happened_before(stamps[a], stamps[b]) == (b in before[a]), (a, b)
            if b in before[a]:
                assert stamps[a].lamport < stamps[b].lamport  # the clock condition


def test_lamport_clocks_order_concurrent_events_too_so_only_vector_clocks_tell_concurrency():
    trace = run("gossip", {"n": 4, "mode": "parallel"})
    stamps = [s for s in clocks(trace) if s is not None]
    assert any(concurrent(a, b) and a.lamport < b.lamport for a in stamps for b in stamps)


def test_a_dropped_message_creates_no_edge():
    trace = run("two-generals", {"loss": 0}, [{"action": "drop", "match": {"label": "ATTACK AT DAWN"}}])
    stamps = clocks(trace)
    send, drop = find(trace, "send", label="ATTACK AT DAWN"), find(trace, "drop", msg=1)
    assert stamps[drop] is None
    at_b = [s for s in stamps if s is not None and s.node == "B"]
    assert at_b and all(concurrent(stamps[send], s) for s in at_b)


def test_lost_messages_to_a_crashed_node_leave_its_clock_alone():
    trace = run("bully-election")
    stamps = clocks(trace)
    drops = [e for e in trace if e["kind"] == "drop"]
    assert drops and all(stamps[e["seq"]] is None for e in drops)
    for e in drops:
        send = stamps[find(trace, "send", msg=e["msg"])]
        assert not any(happened_before(send, s) for s in stamps if s is not None and s.node == e["dst"])


def test_a_duplicate_carries_the_clock_of_the_message_it_copies():
    trace = run("two-generals", {"loss": 0}, [{"action": "duplicate", "match": {"label": "ACK 1"}, "by": 3}])
    stamps = clocks(trace)
    copy = next(e for e in trace if e["kind"] == "send" and "dup" in e)
    original = stamps[find(trace, "send", msg=copy["dup"])]
    assert stamps[copy["seq"]] is None and event_node(copy) is None
    delivered = stamps[find(trace, "deliver", msg=copy["msg"])]
    assert happened_before(original, delivered)


def test_events_on_no_node_have_no_clock():
    trace = run("two-generals", {"loss": 0})
    for e, s in zip(trace, clocks(trace)):
        assert (s is None) == (e["kind"] in ("init", "end", "check", "fault", "drop") or (e["kind"] == "note" and "node" not in e))


def test_with_clocks_adds_lamport_and_vc_in_init_node_order():
    trace = run("two-generals", {"loss": 0})
    out = with_clocks(trace)
    deliver = out[find(trace, "deliver", msg=1)]
    assert deliver["vc"] == [3, 2] and deliver["lamport"] == 4
    assert "vc" not in out[0] and "vc" not in out[-1]
    assert "vc" not in trace[find(trace, "deliver", msg=1)]  # the trace itself is left alone
    assert happened_before(out[find(trace, "send", msg=1)], deliver)


def test_a_trace_without_its_init_is_refused():
    with pytest.raises(ValueError, match="init"):
        clocks([{"seq": 0, "t": 0, "kind": "note", "text": "hi"}])
