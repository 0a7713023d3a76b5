"""Serve one address from several daphne processes on this machine: `make serve` (WORKERS, default one per core).

The processes share one listening socket (daphne --fd), and the kernel hands each new connection to one of
them, so no proxy is needed on one machine. They must share the channel layer: REDIS_URL is required (a
watcher or a learner on one process follows a run streamed by another), and a `manage.py searchworker` runs
beside them to take the searches they queue there. Ctrl-C stops them all.

    .venv/bin/python scripts/serve.py --workers 2 --port 8000
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--search-workers", type=int, default=1,
                        help="manage.py searchworker processes beside them (with REDIS_URL the searches of "
                             "'Find a way to break it' wait in Redis for one)")
    args = parser.parse_args()
    if args.workers > 1 and not os.environ.get("REDIS_URL"):
        sys.exit("serve: several processes need REDIS_URL (their shared channel layer)")
    listener = socket.create_server((args.host, args.port), backlog=1024)
    listener.set_inheritable(True)
    fd = listener.fileno()
    command = [sys.executable, "-m", "daphne", "--fd", str(fd), "config.asgi:application"]
    workers = [subprocess.Popen(command, cwd=ROOT, pass_fds=[fd]) for _ in range(args.workers)]
    if os.environ.get("REDIS_URL"):
        workers += [subprocess.Popen([sys.executable, "manage.py", "searchworker"], cwd=ROOT)
                    for _ in range(args.search_workers)]
    print(f"Lifelines: http://{args.host}:{args.port}/ from {args.workers} daphne processes (Ctrl-C stops them)",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(w.poll() is None for w in workers):
            try:
                workers[0].wait(1)
            except subprocess.TimeoutExpired:
                pass
        return "serve: a daphne process stopped; stopping the others"
    except KeyboardInterrupt:
        return 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            w.wait()


if __name__ == "__main__":
    sys.exit(main())
