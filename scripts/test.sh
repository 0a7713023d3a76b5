#!/usr/bin/env bash
# Runs the suite twice: on the embedded defaults (SQLite, in-memory channel layer), then on PostgreSQL and
# Redis. Brings up what is missing: Chromium from apt, and a private Redis where none answers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the browser tests"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
redis_port=$(echo "$REDIS_URL" | sed -E 's#.*:([0-9]+)(/.*)?$#\1#')
if ! "$PY" -c "import redis,sys; redis.Redis.from_url('$REDIS_URL', socket_timeout=1).ping()" 2>/dev/null; then
  if ! command -v redis-server >/dev/null; then
    echo "== installing redis-server"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
  fi
  redis_port=6390
  REDIS_URL="redis://127.0.0.1:$redis_port/0"
  echo "== starting a private Redis on $redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_answers() { "$PY" -c "import psycopg; psycopg.connect('$PG_URL', connect_timeout=2).close()" 2>/dev/null; }
if [ -n "${CI:-}" ] && ! pg_answers; then
  # CI has PostgreSQL: a second pass that quietly fell back to SQLite would hide a broken stack
  echo "== CI: no PostgreSQL answers at $PG_URL; refusing to test on SQLite alone" >&2
  exit 1
fi

echo "== pass 1: SQLite and the in-memory channel layer"
env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest -q "$@"

if pg_answers; then
  echo "== pass 2: PostgreSQL and Redis"
  DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_URL" "$PY" -m pytest -q "$@"
else
  echo "== pass 2 skipped: no PostgreSQL answers at $PG_URL (set PG_URL to point at one)"
  echo "== pass 2 (Redis only): SQLite and Redis"
  REDIS_URL="$REDIS_URL" "$PY" -m pytest -q "$@"
fi
