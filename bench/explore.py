"""Explore: how fast the search of "Find a way to break it" tries runs, and how many it prunes.

Method. A search of BENCH_EXPLORE_RUNS runs (default 10,000) of each set-up below (its defaults, seed 0) for a
break of the invariant named, every perturbation kind, up to three perturbations a run, in this process (as a
worker runs it): invariants that nothing breaks within the budget, so the search spends it all. Figure: runs explored per second of wall time (each run is a whole simulation, its
digest and its candidates), against the target of 10,000 runs in under a minute; the distinct-state ratio
(distinct states / runs) says how much the state digest prunes.
"""
import time

import simulations
from simulations.explore import Search, parse_goal

from .common import env_int, row

SETUPS = [("payment-gateway", {}, "at_most_once_charge"), ("two-phase-commit", {}, "atomicity"),
          ("coffee-shop", {}, "history_contiguous")]
TARGET_SECONDS = 60
FIGURES = {f"explore: {slug}, 10,000-run search": f"10,000 runs < {TARGET_SECONDS} s" for slug, _, _ in SETUPS}


def measure():
    runs = env_int("BENCH_EXPLORE_RUNS", 10_000)
    rows = []
    for slug, raw, invariant in SETUPS:
        scenario = simulations.get(slug)
        params, faults = scenario.parse(raw, [])
        search = Search(scenario, params, 0, faults, parse_goal(scenario, f"invariant:{invariant}"), max_faults=3,
                        max_runs=runs)
        t = time.perf_counter()
        result = search.run()
        seconds = time.perf_counter() - t
        rate = result.runs / seconds
        ratio = result.states / result.runs
        at_target = 10_000 / rate
        rows.append(row(f"explore: {slug}, 10,000-run search", rate, unit="runs/s",
                        shown=f"{rate:,.0f} runs/s ({result.runs:,} runs in {seconds:.1f} s)",
                        target=f"10,000 runs < {TARGET_SECONDS} s", meets=at_target < TARGET_SECONDS,
                        note=f"distinct-state ratio {ratio:.2f} ({result.states:,} states); depth {result.depth}; "
                             f"{'found' if result.found else 'nothing found'}; 10,000 runs take {at_target:.1f} s",
                        runs=result.runs, states=result.states, seconds=seconds, distinct_ratio=ratio))
    return rows
