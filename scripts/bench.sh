#!/usr/bin/env bash
# `make bench`: the benchmark table (bench/run.py), on PostgreSQL and Redis when they answer, as in production;
# else on SQLite and whatever channel layer there is. Not part of `make test`: the tests hold no timings.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "== installing Debian's chromium for the browser figures"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

# Redis: the one given, else the standard local port (on a database of its own, away from the tests'), else
# a private one when redis-server is installed, else none (the fan-out figure then reports an error).
if [ -z "${REDIS_URL:-}" ]; then
  if "$PY" -c "import redis; redis.Redis(port=6379, socket_timeout=1).ping()" 2>/dev/null; then
    REDIS_URL="redis://127.0.0.1:6379/3"
  elif command -v redis-server >/dev/null; then
    echo "== starting a private Redis on 6391 for the bench"
    redis-server --port 6391 --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
    redis_pid=$!
    trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do redis-cli -p 6391 ping >/dev/null 2>&1 && break; sleep 0.1; done
    REDIS_URL="redis://127.0.0.1:6391/0"
  fi
fi
[ -n "${REDIS_URL:-}" ] && export REDIS_URL

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
if [ -z "${DATABASE_URL:-}" ] && "$PY" -c "import psycopg; psycopg.connect('$PG_URL', connect_timeout=2).close()" 2>/dev/null; then
  export DATABASE_URL="$PG_URL"
fi

"$PY" -m bench.run "$@" || status=$?

# The load test: 500 clients streaming and 50 page loads a second for LOAD_SECONDS (300 by default).
if [ -z "${BENCH_ONLY:-}" ] && [ "${BENCH_SKIP_LOAD:-0}" != 1 ]; then
  echo "== load test (python -m bench.load; BENCH_SKIP_LOAD=1 skips it)"
  "$PY" -m bench.load || echo "load test: error (exit $?)"
fi
exit "${status:-0}"
