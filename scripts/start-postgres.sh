#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the store tests and prints its URL.
# Installs Debian's postgresql package when no server binaries are present (needs root).
#   export SPECTOOL_TEST_PG_URL=$(bash scripts/start-postgres.sh)
set -euo pipefail
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN=$(find_bin)
if [ -z "$BIN" ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
  BIN=$(find_bin)
fi
PGDIR=$(mktemp -d /tmp/spectool-pg.XXXXXX)
PORT=${SPECTOOL_PG_PORT:-$(python3 -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")}
chown postgres:postgres "$PGDIR"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$BIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1" -w start >/dev/null
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres spectool_test
echo "postgresql://postgres@127.0.0.1:$PORT/spectool_test"
