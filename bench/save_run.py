"""Save a trace as a Run in the servers' database, in chunks as streaming saves them: ``python -m bench.save_run
trace.json [chunk size]`` prints the run id. Runs in a child process with the servers' DATABASE_URL."""
import json
import os
import sys


def main(path, size=2000):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server_settings")
    import django

    django.setup()
    from runs.models import Chunk, Run

    with open(path) as f:
        trace = json.load(f)
    init, end = trace[0], trace[-1]
    run = Run.objects.create(scenario=init["scenario"], params=init["params"], seed=init["seed"],
                             status=Run.Status.ENDED, event_count=len(trace), summary=end.get("summary"))
    Chunk.objects.bulk_create([Chunk(run=run, start=i, count=len(trace[i:i + size]), data=Chunk.pack(trace[i:i + size]))
                               for i in range(0, len(trace), size)])
    print(run.id)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
