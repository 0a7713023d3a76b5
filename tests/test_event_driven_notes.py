import pytest

from simulations.params import ParamError
from simulations.scenarios.event_driven_notes import EventDrivenNotes


def run(params=None, faults=None, seed=1):
    trace = EventDrivenNotes().run(params or {}, seed, faults)
    return trace, trace[-1]["summary"]


def sends(trace, label=None, src=None, dst=None):
    return [e for e in trace if e["kind"] == "send" and label in (None, e["label"])
            and src in (None, e["src"]) and dst in (None, e["dst"])]


def red(trace, name):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name and not e["ok"]]


def final(trace, name):
    return [e for e in trace if e["kind"] == "check" and e["name"] == name][-1]


def consumed(trace):
    """Events as the broker hands them to the notes service, in order: (type, id, user)."""
    return [(e["label"], e["data"]["event"]["id"], e["data"]["event"]["user"])
            for e in sends(trace, src="Broker", dst="NotesService")]


def test_without_faults_the_projection_converges_to_the_users_after_a_few_hops():
    trace, summary = run({"users": 3, "notes": 2})
    assert summary["users_active"] == summary["projection"] == ["u1", "u2", "u3"]
    assert summary["consistent"] is True
    theory = summary["theory"]
    assert theory["min_lag_ms"] <= summary["lag_ms"] <= theory["max_lag_ms_without_faults"]
    assert summary["notes_accepted"] == 6 and summary["notes_rejected"] == 0
    assert summary["duplicates_ignored"] == 0 and summary["effects"] == {"e1": 1, "e2": 1, "e3": 1}
    assert final(trace, "projection_consistent")["ok"] and final(trace, "effect_at_most_once")["ok"]
    assert {e["src"] for e in sends(trace, "UserCreated", dst="Broker")} == {"Relay"}
    assert summary["stopped"] == "quiescent"


def test_the_outbox_row_commits_in_the_same_transaction_and_is_marked_after_the_broker_confirms():
    trace, _ = run({"users": 1})
    labels = [(e["src"], e["dst"], e["label"]) for e in sends(trace)]
    tx = labels.index(("UserService", "UserDB", "TX"))
    tailed = labels.index(("UserDB", "Relay", "OUTBOX"))
    confirmed = labels.index(("Broker", "Relay", "ACK"))
    marked = labels.index(("Relay", "UserDB", "MARK PUBLISHED"))
    assert tx < tailed < confirmed < marked


def test_dual_write_without_outbox_loses_the_event_when_the_service_crashes_before_publishing():
    trace, summary = run({"users": 3, "outbox": False, "crash_before_publish": True})
    assert summary["users_active"] == ["u1", "u2", "u3"]
    assert summary["projection"] == ["u2", "u3"]
    assert summary["consistent"] is False and summary["violations"] == ["projection_consistent"]
    assert red(trace, "projection_consistent")[0]["detail"] == "projection misses u1"
    assert [e for e in sends(trace, "UserCreated", dst="Broker") if e["data"]["event"]["user"] == "u1"] == []
    assert summary["notes_rejected"] == 1  # u1's note: the notes service never heard of u1
    assert summary["events_committed"] == 3 and "e1" not in summary["effects"]
    assert summary["theory"]["converges"] is False


def test_the_outbox_survives_a_crash_between_commit_and_publish():
    trace, summary = run({"users": 3, "crash_before_publish": True})
    assert any(e["kind"] == "crash" and e["node"] == "UserService" for e in trace)
    assert summary["projection"] == summary["users_active"] == ["u1", "u2", "u3"]
    assert summary["consistent"] is True and not red(trace, "projection_consistent")
    assert summary["lag_ms"] <= summary["theory"]["max_lag_ms_without_faults"]


def test_relay_crash_after_publish_duplicates_the_event_and_dedupe_ignores_it():
    trace, summary = run({"users": 2, "relay_crash_after_publish": True})
    restart = next(e["t"] for e in trace if e["kind"] == "recover" and e["node"] == "Relay")
    rereads = [e["t"] for e in sends(trace, "READ OUTBOX", src="Relay") if e["t"] >= restart]
    assert rereads == [restart + 10]  # its first poll after the restart finds the row still unmarked
    assert [c for c in consumed(trace) if c[1] == "e1"] == [("UserCreated", "e1", "u1")] * 2
    assert summary["duplicates_ignored"] == 1
    assert summary["effects"] == {"e1": 1, "e2": 1} and summary["welcome_notes"] == 2
    assert not red(trace, "effect_at_most_once") and summary["consistent"]


def test_relay_duplicate_takes_effect_twice_without_dedupe():
    trace, summary = run({"users": 2, "relay_crash_after_publish": True, "dedupe": False})
    assert summary["effects"]["e1"] == 2 and summary["welcome_notes"] == 3
    broken = red(trace, "effect_at_most_once")[0]
    assert broken["detail"] == "UserCreated e1 for u1 took effect 2 times."
    second_apply = [e for e in sends(trace, "APPLY") if e["data"]["event"]["id"] == "e1"][1]
    assert second_apply["t"] < broken["t"] < trace[-1]["t"]
    assert summary["violations"] == ["effect_at_most_once"]


def test_consumer_crash_before_ack_gets_the_event_redelivered():
    trace, summary = run({"users": 2, "consumer_crash_before_ack": True})
    redelivered = [e for e in sends(trace, src="Broker", dst="NotesService") if e["data"].get("redelivered")]
    assert redelivered and summary["redeliveries"] == len(redelivered)
    assert any(e["kind"] == "drop" and e["dst"] == "NotesService" and e["reason"] == "crashed" for e in trace)
    assert summary["duplicates_ignored"] == 1 and summary["effects"] == {"e1": 1, "e2": 1}
    assert summary["consistent"] and not summary["violations"]


def test_consumer_redelivery_takes_effect_twice_without_dedupe():
    trace, summary = run({"users": 2, "consumer_crash_before_ack": True, "dedupe": False})
    assert summary["effects"]["e1"] == 2
    assert red(trace, "effect_at_most_once") and summary["violations"] == ["effect_at_most_once"]
    assert summary["consistent"]  # the projection is a set: the damage is the second welcome note


def test_deleting_a_user_removes_it_from_the_projection():
    _, summary = run({"users": 3, "delete_user": True})
    assert summary["users_active"] == summary["projection"] == ["u2", "u3"]
    assert summary["events_committed"] == 4 and summary["consistent"]


def test_reordered_delete_before_create_is_handled_by_the_tombstone():
    trace, summary = run({"users": 2, "delete_user": True, "reorder": True})
    u1 = [c for c in consumed(trace) if c[2] == "u1"]
    assert u1 == [("UserDeleted", "e3", "u1"), ("UserCreated", "e1", "u1")]
    assert summary["stale_ignored"] == 1
    assert summary["projection"] == summary["users_active"] == ["u2"]
    assert not summary["violations"]


def test_reorder_alone_deletes_u1_so_there_is_a_delete_to_reorder():
    trace, summary = run({"users": 2, "reorder": True})
    assert [c[0] for c in consumed(trace) if c[2] == "u1"] == ["UserDeleted", "UserCreated"]
    assert summary["users_active"] == summary["projection"] == ["u2"]


def test_reordered_delete_before_create_resurrects_the_user_without_versions():
    trace, summary = run({"users": 2, "delete_user": True, "reorder": True, "dedupe": False})
    assert summary["users_active"] == ["u2"] and summary["projection"] == ["u1", "u2"]
    assert red(trace, "projection_consistent")[0]["detail"] == "projection still has deleted u1"
    assert summary["consistent"] is False and summary["theory"]["converges"] is False


def test_broker_down_delays_the_projection_then_it_recovers():
    trace, summary = run({"users": 2, "broker_down_ms": 500})
    assert [(e["kind"], e["t"]) for e in trace if e.get("node") == "Broker" and e["kind"] in ("crash", "recover")] \
        == [("crash", 0), ("recover", 500)]
    assert any(e["kind"] == "drop" and e["dst"] == "Broker" for e in trace)
    assert summary["consistent"] and summary["projection"] == ["u1", "u2"]
    assert 500 - 20 <= summary["lag_ms"] <= 500 + 1000
    assert summary["notes_rejected"] == 2  # written 100 ms after each user, while the projection still lagged
    _, longer = run({"users": 2, "broker_down_ms": 3000})
    assert longer["lag_ms"] > summary["lag_ms"] and longer["consistent"]


def test_dropping_the_consumer_ack_with_an_engine_fault_causes_a_redelivery_that_dedupe_absorbs():
    faults = [{"action": "drop", "match": {"label": "ACK", "src": "NotesService"}}]
    trace, summary = run({"users": 2}, faults)
    assert summary["redeliveries"] == 1 and summary["duplicates_ignored"] == 1
    assert not summary["violations"]
    _, naive = run({"users": 2, "dedupe": False}, faults)
    assert naive["violations"] == ["effect_at_most_once"]


def test_a_broker_crash_mid_run_loses_nothing_with_the_outbox():
    faults = [{"action": "crash", "node": "Broker", "at": 15}, {"action": "recover", "node": "Broker", "at": 400}]
    _, summary = run({"users": 5}, faults)
    assert summary["consistent"] and summary["projection"] == ["u1", "u2", "u3", "u4", "u5"]
    assert not summary["violations"]


def test_same_inputs_give_the_same_trace():
    params = {"users": 4, "delete_user": True, "reorder": True, "relay_crash_after_publish": True,
              "consumer_crash_before_ack": True, "broker_down_ms": 300, "notes": 2}
    assert run(params, seed=3)[0] == run(params, seed=3)[0]


@pytest.mark.parametrize("params", [
    {"users": 0},
    {"users": 21},
    {"notes": 6},
    {"broker_down_ms": 10001},
    {"outbox": "maybe"},
    {"poll_ms": 0},
    {"delay_ms": 0},
    {"notes_after_ms": 10001},
])
def test_runaway_or_inconsistent_parameters_are_refused(params):
    with pytest.raises(ParamError):
        EventDrivenNotes().run(params)


def bands(trace, node):
    """The bands drawn along ``node``'s lifeline, in order: (tone, label) as it starts, None as it ends."""
    return [e["band"] and (e["band"]["tone"], e["band"]["label"])
            for e in trace if e["kind"] == "state" and e["node"] == node and "band" in e]


def test_a_publisher_retrying_into_a_down_broker_shows_a_wait_band_and_numbered_resends():
    trace, _ = run({"users": 1, "notes": 0, "broker_down_ms": 1000})
    assert bands(trace, "Relay") == [("wait", "retrying"), None]
    assert [e.get("tag") for e in sends(trace, "UserCreated", src="Relay")] == [None, "#2", "#3", "#4", "#5"]


def test_redelivery_bands_the_broker_and_a_double_effect_bands_the_notes_db():
    trace, _ = run({"users": 1, "consumer_crash_before_ack": True})
    assert bands(trace, "Broker") == [("wait", "redelivering"), None]
    assert sends(trace, "UserCreated", src="Broker")[1]["tag"] == "#2"
    assert bands(trace, "NotesDB") == []  # dedupe: the redelivery is ignored
    doubled, _ = run({"relay_crash_after_publish": True, "dedupe": False})
    assert bands(doubled, "NotesDB") == [("fail", "applied twice")]


def test_outcome_the_dual_write_loses_u1_and_the_theory_row_names_the_missing_outbox():
    _, s = run({"outbox": False, "crash_before_publish": True})
    assert s["headline"].startswith("Notes never heard of u1") and "no outbox" in s["headline"]
    assert "projection_consistent is violated" in s["headline"]
    projection = s["known"][0]
    assert projection["measured"] == "misses u1" and projection["agrees"] is None and "outbox" in projection["assumes"]


def test_outcome_the_slowest_event_never_beats_five_hops():
    _, s = run({})
    lag = next(r for r in s["known"] if r["quantity"].startswith("slowest event"))
    assert lag["measured"] == f"{s['lag_ms']} ms" and lag["agrees"] is True
    assert lag["known"].startswith("at least 10 ms = 5 hops of 2 ms")


# -- the polling relay, the delay and the note times (issue #13) ------------------------------------------------
EXACT = {"users": 1, "delay_ms": 5, "jitter_ms": 0, "poll_ms": 50}


def test_the_relay_polls_the_outbox_on_its_period_and_the_lag_is_the_wait_plus_five_hops():
    # Richardson's polling publisher: commit at t=10 (two hops of 5 ms), the poll at t=50, then five hops.
    trace, summary = run(EXACT)
    assert [e["t"] for e in sends(trace, "TX")] == [5]
    assert [e["t"] for e in sends(trace, "READ OUTBOX")] == [50]
    assert summary["lag_ms"] == (50 - 10) + 5 * 5 == 65
    assert summary["theory"]["min_lag_ms"] == 25 and summary["theory"]["max_lag_ms_without_faults"] == 75
    _, sooner = run({**EXACT, "poll_ms": 20})
    assert sooner["lag_ms"] == (20 - 10) + 25


def polls(trace):
    return [e["t"] for e in trace if e["kind"] == "timer" and e["label"] == "poll outbox"]


def test_an_idle_relay_draws_no_polls_and_a_query_still_unanswered_is_asked_again():
    trace, summary = run({"users": 2})
    assert polls(trace) == [10, 20] and summary["stopped"] == "quiescent"  # one poll per commit, none idle
    eager, summary = run({"users": 2, "poll_ms": 1})  # the answer takes longer than a period
    answers = [e["t"] for e in eager if e["kind"] == "deliver" and e["dst"] == "Relay"
               and e["msg"] in {s["msg"] for s in sends(eager, "OUTBOX")}]
    assert polls(eager) == [5, 6, 7, 8, 9, 16, 17, 18, 19, 20] and answers[0] == 10
    assert summary["stopped"] == "quiescent" and summary["consistent"]


def test_without_the_outbox_there_is_no_relay_and_four_hops():
    trace, summary = run({**EXACT, "outbox": False})
    assert sends(trace, "READ OUTBOX") == [] and summary["lag_ms"] == 4 * 5 == summary["theory"]["min_lag_ms"]


@pytest.mark.parametrize("after,refused", [(44, 1), (46, 0)])
def test_a_note_for_a_user_not_yet_projected_is_refused_to_the_millisecond(after, refused):
    # the 201 reaches the client at t=20 and a note takes two hops to NotesDB; u1 is projected at t=75
    trace, summary = run({**EXACT, "notes_after_ms": after})
    insert = sends(trace, "INSERT NOTE")[0]
    assert insert["t"] + 5 == 20 + after + 10
    assert summary["notes_rejected"] == refused and summary["notes_accepted"] == 1 - refused
    assert sends(trace, "404 Unknown user" if refused else "201 Created", src="NotesService")
