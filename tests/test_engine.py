"""The kernel, the network and the fault script: determinism first, then every intervention."""
import json

import pytest

import simulations
from simulations import Node, Param, ParamError, Scenario
from simulations.engine import TONES, Simulation
from simulations.faults import validate_faults


class Pinger(Node):
    def on_start(self):
        if self.id == "A":
            for i in range(self.sim.params["count"]):
                self.send("B", "PING", {"i": i})

    def on_message(self, msg):
        if msg.label == "PING":
            self.send(msg.src, "PONG", msg.data)


class PingPong(Scenario):
    slug = "ping-pong"
    params = (Param("count", "int", 5, "pings", 1, 100), Param("jitter", "int", 0, "extra delay", 0, 5),
              Param("loss", "float", 0.0, "loss", 0, 1))

    def nodes(self, params):
        return ["A", "B", "C"]

    def setup(self, sim, params):
        sim.network.jitter = params["jitter"]
        sim.network.loss = params["loss"]
        return [Pinger(n) for n in self.nodes(params)]


def run(faults=(), seed=0, **params):
    scenario = PingPong()
    params, faults = scenario.parse(params, list(faults))
    return scenario.simulate(params, seed, faults).run()


def kinds(trace, kind):
    return [e for e in trace if e["kind"] == kind]


def test_trace_starts_with_init_and_ends_with_end_with_contiguous_seq():
    trace = run()
    assert trace[0]["kind"] == "init" and trace[-1]["kind"] == "end"
    assert [e["seq"] for e in trace] == list(range(len(trace)))
    assert trace[0]["nodes"] == [{"id": n, "label": n} for n in "ABC"]
    assert all(isinstance(e["t"], int) for e in trace)
    assert [e["t"] for e in trace] == sorted(e["t"] for e in trace)


def test_same_inputs_give_a_byte_identical_trace():
    a = run(seed=7, jitter=3, loss=0.3, count=30)
    b = run(seed=7, jitter=3, loss=0.3, count=30)
    assert json.dumps(a) == json.dumps(b)


def test_another_seed_differs_where_randomness_is_used():
    assert run(seed=1, jitter=3, loss=0.3, count=30) != run(seed=2, jitter=3, loss=0.3, count=30)


def test_summary_counts_messages_by_fate_and_label():
    summary = run(count=4)[-1]["summary"]
    assert summary["messages_sent"] == 8
    assert summary["messages_delivered"] == 8
    assert summary["messages_dropped"] == 0
    assert summary["messages_by_label"] == {"PING": 4, "PONG": 4}
    assert summary["violations"] == []


def test_every_send_is_delivered_or_dropped_once():
    trace = run(count=20, loss=0.5, seed=3)
    sent = {e["msg"] for e in kinds(trace, "send")}
    ended = [e["msg"] for e in trace if e["kind"] in ("deliver", "drop")]
    assert sorted(ended) == sorted(sent)
    assert {e["reason"] for e in kinds(trace, "drop")} == {"loss"}


def test_drop_matches_the_nth_message_by_label():
    trace = run([{"action": "drop", "match": {"label": "PONG", "nth": 2}}], count=3)
    drops = kinds(trace, "drop")
    assert len(drops) == 1 and drops[0]["reason"] == "manual"
    pongs = [e["msg"] for e in kinds(trace, "send") if e["label"] == "PONG"]
    assert drops[0]["msg"] == pongs[1]


def test_duplicate_delivers_a_second_copy():
    trace = run([{"action": "duplicate", "match": {"label": "PING"}}], count=1)
    sends = kinds(trace, "send")
    assert [s["label"] for s in sends].count("PING") == 2
    assert sends[1]["dup"] == sends[0]["msg"]
    assert trace[-1]["summary"]["messages_by_label"]["PONG"] == 2


def test_delay_holds_a_message_back_by_the_given_ticks():
    trace = run([{"action": "delay", "match": {"label": "PING"}, "by": 5}], count=1)
    deliver = kinds(trace, "deliver")[0]
    assert deliver["t"] == 6


def test_crash_drops_messages_to_the_node_and_recover_resumes():
    trace = run([{"action": "crash", "node": "B", "at": 0}, {"action": "recover", "node": "B", "at": 3}], count=2)
    assert [e["reason"] for e in kinds(trace, "drop")] == ["crashed", "crashed"]
    assert [e["kind"] for e in trace if e["kind"] in ("crash", "recover")] == ["crash", "recover"]


def test_partition_drops_across_groups_until_it_heals():
    trace = run([{"action": "partition", "groups": [["A"], ["B", "C"]], "at": 0, "until": 1}], count=2)
    assert {e["reason"] for e in kinds(trace, "drop")} == {"partition"}
    faults = [e["fault"]["action"] for e in kinds(trace, "fault")]
    assert faults == ["partition", "heal"]


def test_loss_rate_set_mid_run():
    trace = run([{"action": "loss", "rate": 1.0, "at": 1}], count=3)
    assert {e["reason"] for e in kinds(trace, "drop")} == {"loss"}
    assert len(kinds(trace, "deliver")) == 3  # the pings got through, every pong is lost


def test_live_interventions_are_recorded_so_the_run_reexecutes_exactly():
    scenario = PingPong()
    params, _ = scenario.parse({"count": 10, "jitter": 2}, [])
    sim = scenario.simulate(params, 5)
    sim.advance(6)
    sim.inject({"action": "crash", "node": "B"})
    sim.advance(5)
    sim.inject({"action": "recover", "node": "B"})
    sim.inject({"action": "drop", "match": {"src": "B"}})
    live = sim.run()
    assert all("seq" in f and "at" in f for f in sim.interventions)
    again = scenario.simulate(params, 5, sim.interventions).run()
    assert json.dumps(again) == json.dumps(live)


def test_a_message_in_flight_can_be_dropped_by_its_id():
    scenario = PingPong()
    params, _ = scenario.parse({"count": 1}, [])
    sim = scenario.simulate(params)
    sim.advance(1)
    msg = kinds(sim.trace, "send")[0]["msg"]
    sim.inject({"action": "drop", "match": {"msg": msg}})
    trace = sim.run()
    assert kinds(trace, "drop")[0]["msg"] == msg


def test_event_cap_stops_a_run_with_a_note():
    class Forever(Node):
        def on_start(self):
            self.send(self.id, "LOOP")

        def on_message(self, msg):
            self.send(self.id, "LOOP")

    class Loop(PingPong):
        def setup(self, sim, params):
            return [Forever("A"), Node("B"), Node("C")]

    scenario = Loop()
    params, _ = scenario.parse({}, [])
    trace = Simulation(scenario, params, max_events=500).run()
    assert trace[-1]["summary"]["stopped"] == "event cap"
    assert any(e["kind"] == "note" and "would not end" in e["text"] for e in trace)
    assert len(trace) < 520


@pytest.mark.parametrize("fault, message", [
    ({"action": "explode"}, "action must be one of"),
    ({"action": "crash", "node": "Z"}, "unknown node"),
    ({"action": "crash", "node": "A", "at": -1}, "at must be"),
    ({"action": "loss", "rate": 2}, "rate must be"),
    ({"action": "partition", "groups": [["A"], ["A"]]}, "two groups"),
    ({"action": "partition", "groups": [["A"]], "at": 5, "until": 5}, "until must be after"),
    ({"action": "drop", "match": {"colour": "red"}}, "match must be"),
    ({"action": "delay", "match": {}}, "by must be"),
    ({"action": "crash", "node": "A", "extra": 1}, "unexpected field"),
    ("crash A", "must be an object"),
])
def test_bad_fault_scripts_are_refused_with_a_reason(fault, message):
    with pytest.raises(ParamError) as e:
        validate_faults([fault], ["A", "B"])
    assert message in e.value.errors["faults"]


@pytest.mark.parametrize("raw, field, message", [
    ({"count": 0}, "count", "at least 1"),
    ({"count": "many"}, "count", "whole number"),
    ({"count": True}, "count", "whole number"),
    ({"loss": "nan"}, "loss", "number"),
    ({"speed": 1}, "speed", "unknown parameter"),
])
def test_bad_params_are_refused_never_clamped(raw, field, message):
    with pytest.raises(ParamError) as e:
        PingPong().parse(raw, [])
    assert message in e.value.errors[field]


def test_params_parse_strings_and_json_alike():
    scenario = simulations.get("bully-election")
    from_strings, _ = scenario.parse({"n": "7", "crashed": "P7,P6", "detector": "P2"}, [])
    from_json, _ = scenario.parse({"n": 7, "crashed": ["P6", "P7"], "detector": "P2"}, [])
    assert from_strings == from_json
    assert from_json["crashed"] == ["P6", "P7"]


def test_every_registered_scenario_runs_with_its_defaults_and_declares_its_story():
    for slug, scenario in simulations.SCENARIOS.items():
        assert scenario.slug == slug
        assert scenario.title and scenario.problem and scenario.theory and scenario.source
        trace = scenario.run({}, seed=1)
        summary = trace[-1]["summary"]
        for key in ("messages_sent", "messages_delivered", "messages_dropped", "messages_by_label", "violations"):
            assert key in summary, (slug, key)
        assert json.dumps(scenario.run({}, seed=1)) == json.dumps(trace)


def test_network_mode_holds_every_message_until_the_learner_picks():
    scenario = PingPong()
    params, faults = scenario.parse({"count": 2}, [{"action": "hold"}])
    sim = scenario.simulate(params, 0, faults)
    sim.advance(100)
    assert sim.waiting and not sim.ended
    held = [m.id for m in sim.network.waiting()]
    assert len(held) == 2
    sim.inject({"action": "deliver", "msg": held[1]})  # the second ping overtakes the first
    sim.advance(100)
    delivered = [e["msg"] for e in sim.trace if e["kind"] == "deliver"]
    assert delivered == [held[1]]
    sim.inject({"action": "drop", "match": {"msg": held[0]}})
    sim.inject({"action": "release"})
    trace = sim.run()
    assert trace[-1]["kind"] == "end" and trace[-1]["summary"]["messages_dropped"] == 1
    again = scenario.simulate(params, 0, faults + sim.interventions[1:]).run()
    assert again == trace


def test_a_held_run_that_nobody_picks_ends_with_a_note_when_run_to_completion():
    trace = run([{"action": "hold"}], count=1)
    assert trace[-1]["summary"]["stopped"] == "held"


class Switch(Node):
    """Walks through the states ``steps`` lists, one per tick, tagging a SET message with each step's tag."""

    def on_start(self):
        if self.id == "A":
            for i, (state, tag) in enumerate(self.sim.params["steps"]):
                self.sim.schedule(i, self.step, state, tag)

    def step(self, state, tag):
        self.set_state(**state)
        self.send("B", "SET", tag=tag)


class Banded(Scenario):
    """A breaker-like node: ``breaker`` outranks ``busy`` because it is declared first."""

    slug = "banded"
    bands = {"breaker": {"open": "fault", "half-open": ("wait", "trial")}, "busy": {True: ("busy", "working")},
             "count": {1: "done"}}

    def nodes(self, params):
        return ["A", "B"]

    def setup(self, sim, params):
        return [Switch("A"), Switch("B")]


def banded(steps, faults=()):
    return Simulation(Banded(), {"steps": steps}, 0, list(faults)).run()


def test_a_state_band_is_the_first_declared_key_whose_value_has_a_tone():
    trace = banded([({"breaker": "closed", "busy": True}, None), ({"breaker": "open"}, None),
                    ({"breaker": "half-open"}, None), ({"breaker": "closed"}, None)])
    assert [e.get("band", "-") for e in kinds(trace, "state")] == [
        {"label": "working", "tone": "busy"},  # closed has no tone, so busy draws
        {"label": "open", "tone": "fault"},  # a str value labels itself
        {"label": "trial", "tone": "wait"},  # a (tone, label) pair names it
        {"label": "working", "tone": "busy"},
    ]


def test_a_band_is_written_only_when_it_changes_and_null_when_it_ends():
    trace = banded([({"busy": True, "n": 1}, None), ({"n": 2}, None), ({"busy": False}, None), ({"n": 3}, None)])
    states = kinds(trace, "state")
    assert [("band" in e, e.get("band")) for e in states] == [
        (True, {"label": "working", "tone": "busy"}), (False, None), (True, None), (False, None)]


def test_a_node_without_a_band_never_gets_the_field_and_true_is_not_one():
    trace = banded([({"busy": 1}, None), ({"count": True}, None), ({"count": 2}, None), ({"count": 1}, None)])
    states = kinds(trace, "state")
    assert not any("band" in e for e in states[:3])  # 1 is not True and True is not 1: no tone for either
    assert states[3]["band"] == {"label": "count", "tone": "done"}  # no label and no str: the key names it


def test_an_arrow_tag_is_written_only_when_given_and_a_duplicate_keeps_it():
    trace = banded([({"n": 1}, "#2"), ({"n": 2}, None)], [{"action": "duplicate", "match": {"label": "SET", "nth": 1}}])
    sends = kinds(trace, "send")
    assert [(s.get("dup") is not None, s.get("tag")) for s in sends] == [(False, "#2"), (True, "#2"), (False, None)]
    assert "tag" not in sends[2]


def test_a_message_delayed_or_duplicated_by_its_id_keeps_its_tag():
    sim = Simulation(Banded(), {"steps": [({"n": 1}, "g1")]}, 0)
    while not kinds(sim.trace, "send"):
        sim.step()
    msg = kinds(sim.trace, "send")[0]["msg"]
    sim.inject({"action": "duplicate", "match": {"msg": msg}})
    sim.inject({"action": "delay", "match": {"msg": msg}, "by": 2})
    trace = sim.run()
    assert [s.get("tag") for s in kinds(trace, "send")] == ["g1", "g1"]
    assert json.dumps(Simulation(Banded(), {"steps": [({"n": 1}, "g1")]}, 0, sim.interventions).run()) == \
        json.dumps(trace)


def test_bands_and_tags_are_deterministic():
    steps = [({"breaker": "open", "busy": True}, "#1"), ({"breaker": "closed"}, "#2"), ({"busy": False}, None)]
    assert json.dumps(banded(steps)) == json.dumps(banded(steps))


def test_every_scenario_declares_bands_with_known_tones_and_short_labels():
    tones = {"hold", "busy", "wait", "fault", "fail", "done", "traitor"}
    assert set(TONES) == tones
    for slug, scenario in simulations.SCENARIOS.items():
        assert scenario.bands, slug
        for key, mapping in scenario.bands.items():
            for value, tone in mapping.items():
                tone, label = tone if isinstance(tone, tuple) else (tone, value if isinstance(value, str) else key)
                assert tone in tones and 0 < len(label) <= 14, (slug, key, value)
        for e in scenario.run({}, seed=1):
            if e["kind"] == "state" and e.get("band"):
                assert e["band"]["tone"] in tones, (slug, e)
            if e["kind"] == "send" and "tag" in e:
                assert isinstance(e["tag"], str) and 0 < len(e["tag"]) <= 6, (slug, e)


def test_every_scenario_and_lesson_ends_with_a_headline_in_words_and_well_formed_known_rows():
    import re

    from scenarios.presets import PRESETS

    runs = [(slug, {}, 0, []) for slug in simulations.SCENARIOS]
    runs += [(slug, params, seed, faults) for slug, lessons in PRESETS.items()
             for _, _, _, params, seed, faults, _ in lessons]
    for slug, params, seed, faults in runs:
        scenario = simulations.get(slug)
        summary = scenario.run(params, seed, faults)[-1]["summary"]
        headline, where = summary["headline"], f"{slug} {params} {faults}"
        names = {i.name for i in scenario.invariants}
        assert isinstance(headline, str) and 20 < len(headline) <= 180, where
        assert headline[0].isupper() or headline[0].isdigit() or headline.split()[0] in scenario.node_ids(params) \
            or re.match(r"[a-z]+-\d", headline), where
        assert headline.endswith(".") and ". " not in headline and "\n" not in headline, where
        assert "{" not in headline and "[" not in headline and '"' not in headline, where
        assert set(re.findall(r"\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b", headline)) <= names, where
        for name in summary["violations"][:1]:
            assert name in headline, where
        assert isinstance(summary["known"], list), where
        for row in summary["known"]:
            assert set(row) == {"quantity", "known", "measured", "agrees", "assumes"}, where
            assert all(isinstance(row[k], str) and row[k] for k in ("quantity", "known", "measured")), where
            assert row["agrees"] in (True, False, None) and (row["assumes"] is None or isinstance(row["assumes"], str))
            assert not re.search(r"[{}\[\]\"]", row["known"] + row["measured"]), where


def test_a_scenario_without_its_own_outcome_gets_the_generic_headline():
    summary = run(count=2)[-1]["summary"]
    assert summary["headline"] == "Ended at t=2: 4 messages; no invariant broken."
    assert summary["known"] == []
