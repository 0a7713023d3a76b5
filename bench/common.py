"""What every figure shares: its settings from the environment, rows of the table, percentiles."""
import gc
import json
import math
import os
import statistics
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
ORIGIN = "http://127.0.0.1"


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_float(name, default):
    return float(os.environ.get(name, default))


def env_str(name, default):
    return os.environ.get(name, default)


def env_ints(name, default):
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def env_json(name, default):
    raw = os.environ.get(name)
    return json.loads(raw) if raw else default


def percentile(values, p):
    """The p-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values):
    return statistics.median(values) if values else None


def row(figure, value=None, shown=None, target="", meets=None, alternative="", ratio="", note="", unit="",
        error=None, **extra):
    """One line of the table. ``value`` is the raw number kept in the JSON; ``shown`` is how it prints.
    ``meets`` is True/False where there is a target, None where the figure is only reported."""
    return {"figure": figure, "value": value, "unit": unit, "shown": shown if shown is not None else fmt(value, unit),
            "target": target, "meets": meets, "alternative": alternative, "ratio": ratio, "note": note,
            "error": error, **extra}


def error_row(figure, message, target=""):
    message = " ".join(str(message).split())
    return row(figure, shown=f"error: {message[:200]}", target=target, meets=False, error=message)


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            text = f"{value:,.0f}"
        elif abs(value) >= 100:
            text = f"{value:.0f}"
        elif abs(value) >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.2f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def rss_kb(pid):
    """Resident set size of a process, in KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def quiet_collector():
    """The bench client's own garbage collector held off while it measures: its full collections (30-110 ms
    with 500 sockets open) stopped every client's clock at once and were counted as the server's latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
