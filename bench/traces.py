"""Long traces for the figures that need more events than any one run of a registered scenario gives.

``long_trace`` runs one scenario again and again (seeds 0, 1, 2...) and joins the runs into one valid trace:
one ``init``, ``seq`` without gaps, time and message ids carried on, one ``end``. It is what a very long
run of that scenario looks like to the browser and the database.
"""
import simulations


def run_once(slug, params, seed):
    scenario = simulations.get(slug)
    parsed, faults = scenario.parse(params, [])
    return scenario.simulate(parsed, seed, faults).run()


def long_trace(slug, params, min_events=None, min_messages=None, max_runs=10_000):
    """Join runs of ``slug`` until the trace has ``min_events`` events (or ``min_messages`` sends)."""
    out, t0, msg0, sends, seed = [], 0, 0, 0, 0
    last_end = None
    while seed < max_runs:
        trace = run_once(slug, params, seed)
        if not out:
            out.append(dict(trace[0]))
        top_msg = msg0
        for e in trace[1:]:
            if e["kind"] == "end":
                last_end = e
                continue
            e = {**e, "seq": len(out), "t": e["t"] + t0}
            if "msg" in e:
                e["msg"] += msg0
                top_msg = max(top_msg, e["msg"])
            if "dup" in e:
                e["dup"] += msg0
            if e["kind"] == "send":
                sends += 1
            out.append(e)
        t0 += trace[-1]["t"] + 1
        msg0 = top_msg
        seed += 1
        if (min_events and len(out) + 1 >= min_events) or (min_messages and sends >= min_messages):
            break
    out.append({**last_end, "seq": len(out), "t": t0})
    return out


def first_messages(trace, count):
    """The trace cut to its first ``count`` messages: their sends and ends, and the other events up to the
    last of those ends, renumbered; then the end."""
    keep_msgs, last = set(), 0
    for i, e in enumerate(trace):
        if e["kind"] == "send" and len(keep_msgs) < count:
            keep_msgs.add(e["msg"])
        if e["kind"] in ("deliver", "drop") and e["msg"] in keep_msgs:
            last = i
    out = []
    for e in trace[:last + 1]:
        if "msg" in e and e["kind"] in ("send", "deliver", "drop") and e["msg"] not in keep_msgs:
            continue
        out.append({**e, "seq": len(out)})
    out.append({**trace[-1], "seq": len(out), "t": out[-1]["t"]})
    return out
