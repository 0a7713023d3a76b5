"""Events encoded once where they are made (runs.events): one encoder call a stretch, the same bytes as ever."""
import orjson
import pytest

import simulations
from runs.events import array, encoded


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_every_scenario_s_trace_encodes_to_the_bytes_of_its_json(slug):
    trace = simulations.get(slug).run()
    assert array(encoded(trace)) == orjson.dumps(trace, option=orjson.OPT_NON_STR_KEYS)
    assert [(seq, kind) for seq, kind, _ in encoded(trace)] == [(e["seq"], e["kind"]) for e in trace]


@pytest.mark.parametrize("events", [
    [{"seq": 0, "kind": "send", "data": {"seq": 9, "x": 1}}, {"seq": 1, "kind": "note", "data": [{"seq": 2}]}],
    [{"seq": 0, "kind": "note", "text": 'a,{"seq":1} inside a string'}, {"seq": 1, "kind": "note"}],
    [{"seq": 0, "kind": "a", "list": [1, {"seq": 3}, {"seq": 4}]}],  # objects after a comma that start with seq
    [{"kind": "init", "seq": 0}, {"seq": 1, "kind": "b"}],  # an event whose JSON does not start with seq
    [{"seq": 0, "kind": "state", "state": {1: "int keys"}}],
])
def test_events_that_look_like_several_are_still_one_each(events):
    got = encoded(events)
    assert len(got) == len(events) and orjson.loads(array(got)) == [
        orjson.loads(orjson.dumps(e, option=orjson.OPT_NON_STR_KEYS)) for e in events]
    assert [orjson.loads(array([e]))[0] for e in got] == orjson.loads(array(got))


def test_nothing_encodes_to_an_empty_array():
    assert encoded([]) == [] and array([]) == b"[]"
