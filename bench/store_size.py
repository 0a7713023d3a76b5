"""Save traces through runs.store.append in batches of a given size and report what the database holds per event:
``python -m bench.store_size traces.json 1 3 2000`` prints JSON {batch size: bytes per event}. Runs in a child
process against a database of its own (DATABASE_URL), which it fills one batch size at a time."""
import json
import os
import sys


def table_bytes(connection):
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SELECT pg_total_relation_size('runs_chunk') + pg_total_relation_size('runs_run')")
            return c.fetchone()[0]
    with connection.cursor() as c:  # SQLite: the pages the two tables and their indexes occupy
        c.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'runs_chunk%' OR name LIKE 'runs_run%' "
                  "OR name LIKE 'sqlite_autoindex_runs_%' OR name LIKE 'chunk_unique_start'")
        return c.fetchone()[0] or 0


def main(path, sizes):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server_settings")
    import django

    django.setup()
    from django.db import connection

    from runs import store
    from runs.models import Chunk, Run

    with open(path) as f:
        traces = json.load(f)
    out = {}
    for size in sizes:
        Chunk.objects.all().delete()
        Run.objects.all().delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("VACUUM FULL runs_chunk")
                c.execute("VACUUM FULL runs_run")
        base, events, packed = table_bytes(connection), 0, 0
        for trace in traces:
            init = trace[0]
            run = store.create_run(init["scenario"], init["params"], init["seed"], [])
            for i in range(0, len(trace), size):
                batch = trace[i:i + size]
                store.append(run.id, batch, [], trace[-1]["summary"] if i + size >= len(trace) else None)
                packed += len(Chunk.pack(batch))
            events += len(trace)
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("VACUUM runs_chunk")
        out[size] = {"db": (table_bytes(connection) - base) / events, "packed": packed / events, "events": events}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2:]])
