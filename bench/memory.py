"""Memory: what a saved run costs per event, as packed and as the database holds it.

(The server's resident memory per active run is measured by the concurrent-viewers figure, bench/viewers.py,
while its clients stream.)

Method. A saved run is stored as it streams: each batch sent becomes one ``Chunk`` (``Chunk.pack``: compact
JSON, zlib level 6) plus an update of its ``Run`` row, so its size depends on the batch size, which the
play speed sets: 1 event a batch up to 5x, 3 at 16x, 2,000 at the fastest speed. The traces: a large run
of every registered scenario (the engine figure's parameters), seeds 0 to BENCH_MEMORY_SEEDS-1 (default 1).
They are saved through ``runs.store.append`` exactly as the consumer does, in batches of 1, 3 and 2,000
events, each size into emptied tables of a database of its own (bench/store_size.py in a child process).
Figure: ``Chunk.pack`` bytes per event against the 100-byte target; the note adds what the database
really holds per event (PostgreSQL: ``pg_total_relation_size`` of runs_chunk and runs_run, rows, indexes
and TOAST included, after a VACUUM) and the size of the median saved run.
"""
import json
import os
import tempfile

import simulations

from . import servers
from .common import env_int, row
from .engine import large_params

TARGET = 100
SIZES = {1: "1x (1-event batches)", 3: "16x (3-event batches)", 2000: "fastest (2,000-event batches)"}
FIGURES = {f"stored run: bytes/event at {label}": f"< {TARGET} B/event (Chunk.pack)" for label in SIZES.values()}


def measure():
    seeds = env_int("BENCH_MEMORY_SEEDS", 1)
    traces = []
    for scenario in simulations.SCENARIOS.values():
        params, faults = scenario.parse(large_params(scenario), [])
        traces += [scenario.simulate(params, seed, faults).run() for seed in range(seeds)]
    sizes = sorted(len(t) for t in traces)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(traces, f, separators=(",", ":"))
    try:
        with servers.bench_database(os.environ.get("DATABASE_URL", "")) as db:
            out = servers.python(["-m", "bench.store_size", f.name, *map(str, SIZES)], servers.server_env(db))
    finally:
        os.unlink(f.name)
    measured = json.loads(out.strip().splitlines()[-1])
    engine = "PostgreSQL" if servers.is_postgres(os.environ.get("DATABASE_URL", "")) else "SQLite"
    rows = []
    for size, label in SIZES.items():
        m = measured[str(size)]
        typical = sizes[len(sizes) // 2] * m["db"]
        rows.append(row(f"stored run: bytes/event at {label}", m["packed"], unit="B/event",
                        shown=f"{m['packed']:.0f} B/event", target=f"< {TARGET} B/event (Chunk.pack)",
                        meets=m["packed"] < TARGET,
                        note=f"{engine} holds {m['db']:.0f} B/event (rows, indexes); a median run "
                             f"({sizes[len(sizes) // 2]:,} events) takes {typical / 1024:.0f} KiB; "
                             f"{len(traces)} runs, {m['events']:,} events",
                        db_bytes_per_event=m["db"], batch=size))
    return rows
