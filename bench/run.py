"""``make bench``: every figure beside its target (and its alternative, measured in the same run), one table.

    python -m bench.run                 # all figures
    python -m bench.run engine memory   # some of them (or BENCH_ONLY=engine,memory)

Each figure runs in a child process of its own with a time limit (BENCH_TIMEOUT, default 240 s, or
BENCH_TIMEOUT_<FIGURE>), so that one that fails or hangs prints "error: ..." in its rows and the table
still comes out. The servers' database is created and migrated once per run (PostgreSQL when
DATABASE_URL points at it, else SQLite) and dropped at the end; REDIS_URL selects the Redis channel layer.
The table goes to stdout and, with every raw figure, to bench/results/latest.json.
"""
import datetime
import importlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import servers
from .common import RESULTS, ROOT, error_row, fmt

FIGURES = ["engine", "first_arrow", "streaming", "viewers", "fanout", "diagram_render", "diagram_overlaps", "scroll",
           "big_run", "page_weight", "memory", "explore", "heavy"]
TIMEOUTS = {"viewers": 360, "scroll": 300, "diagram_overlaps": 300, "big_run": 600}


def run_child(name, out_path):
    """Run one figure in this process and write its rows as JSON (called in the child)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"{name} stopped: over its time limit"))
    module = importlib.import_module(f"bench.{name}")
    rows = module.measure()
    with open(out_path, "w") as f:
        json.dump(rows, f, default=str)


def figure_targets(name):
    """The rows a figure module promises, {figure: target}, for error rows when it cannot say itself."""
    try:
        return importlib.import_module(f"bench.{name}").FIGURES
    except Exception:
        return {name: ""}


def run_figure(name, env):
    """Run a figure in a child process; its rows, or error rows naming what went wrong."""
    timeout = int(os.environ.get(f"BENCH_TIMEOUT_{name.upper()}", os.environ.get("BENCH_TIMEOUT",
                                                                                    TIMEOUTS.get(name, 240))))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    log_path = RESULTS / "logs" / f"{name}.stderr"
    started = time.time()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "bench.run", "--child", name, out], cwd=ROOT, env=env,
                                    stdout=log, stderr=log, start_new_session=True)
            try:
                code = proc.wait(timeout)
                why = f"the figure's process exited with {code}"
            except subprocess.TimeoutExpired:
                why = f"timed out after {timeout} s"
                proc.terminate()  # the child cleans up its servers and browser on SIGTERM
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this runner started for it
                    proc.wait()
                code = None
        if code == 0:
            with open(out) as f:
                rows = json.load(f)
            server = servers.server_error(started)
            for r in rows:
                if r.get("error") and server:
                    r["error"] = f"{r['error']} [{server}]"
                    r["shown"] = f"error: {' '.join(r['error'].split())[:200]}"
            return rows
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        if code is not None and tail:
            why = tail[-1]
        server = servers.server_error(started)
        if server:
            why = f"{why} [{server}]"
        return [error_row(figure, why, target) for figure, target in figure_targets(name).items()]
    finally:
        os.unlink(out)


def table(rows):
    """The one table: figure | measured | target | meets | alternative (same run) | ratio | note."""
    head = ["figure", "measured", "target", "meets", "alternative (same run)", "ratio", "note"]
    body = [[r["figure"], r["shown"], r["target"] or "report",
             "yes" if r["meets"] is True else "NO" if r["meets"] is False else "-",
             r["alternative"] or "-", r["ratio"] or "-", r["note"] or ""] for r in rows]
    widths = [max(len(str(line[i])) for line in [head] + body) for i in range(len(head))]
    widths[-1] = len(head[-1])

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for cells in body]
    return "\n".join(out)


def stack():
    db = os.environ.get("DATABASE_URL", "")
    return {"database": "PostgreSQL" if servers.is_postgres(db) else "SQLite",
            "channel_layer": "Redis" if os.environ.get("REDIS_URL") else "in-memory"}


def main(argv):
    if argv[:1] == ["--child"]:
        return run_child(argv[1], argv[2])
    chosen = argv or [n for n in os.environ.get("BENCH_ONLY", "").split(",") if n] or FIGURES
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        sys.exit(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RESULTS / "logs", ignore_errors=True)
    began, t0 = datetime.datetime.now(datetime.timezone.utc), time.monotonic()
    info = {"started": began.isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(), "loadavg_at_start": os.getloadavg(),
            **stack()}
    print(f"== bench on {info['database']} + {info['channel_layer']} channel layer, {info['cpus']} cores, "
          f"load {info['loadavg_at_start'][0]:.2f}", file=sys.stderr)
    rows, seconds, loads = [], {}, {}
    base = os.environ.get("DATABASE_URL") or ""
    with servers.bench_database(base) as server_db:
        env = {**os.environ, "BENCH_SERVER_DB": server_db, "PYTHONUNBUFFERED": "1"}
        for name in chosen:
            t = time.monotonic()
            loads[name] = round(os.getloadavg()[0], 2)
            print(f"== {name} (load {loads[name]:.2f}) ...", file=sys.stderr, flush=True)
            got = run_figure(name, env)
            seconds[name] = round(time.monotonic() - t, 1)
            print(f"   {name}: {seconds[name]} s; " + "; ".join(f"{r['figure']}: {r['shown']}" for r in got),
                  file=sys.stderr, flush=True)
            rows += got
    info["duration_s"] = round(time.monotonic() - t0, 1)
    info["figure_seconds"] = seconds
    info["figure_loadavg"] = loads
    info["loadavg_at_end"] = os.getloadavg()
    text = table(rows)
    print(text)
    print(f"\n{sum(r['meets'] is True for r in rows)} of {sum(r['meets'] is not None for r in rows)} targets met; "
          f"{info['database']} + {info['channel_layer']}; {fmt(info['duration_s'], 's')}; load average "
          f"{info['loadavg_at_start'][0]:.1f} at start, {info['loadavg_at_end'][0]:.1f} at end on {info['cpus']} cores; "
          f"bench/results/latest.json")
    with open(RESULTS / "latest.json", "w") as f:
        json.dump({"run": info, "rows": rows, "table": text}, f, indent=1, default=str)
    if os.environ.get("BENCH_STRICT") and any(r["meets"] is False for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
