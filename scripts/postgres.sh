#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL cluster for the PostgreSQL test path (DESIGN.md §9).
#   eval "$(scripts/postgres.sh start)"   # exports VIGPARENT_TEST_POSTGRES_URL
#   scripts/postgres.sh stop
set -euo pipefail
dir=${VIG_PG_DIR:-/tmp/vigparent-pg}
port=${VIG_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres "$dir"
      as_pg "$bin/initdb" -D "$dir" -A trust -U vig --no-sync >/dev/null
    fi
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" ||
    as_pg "$bin/pg_ctl" -D "$dir" -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" \
      -l "$dir/server.log" -w start >/dev/null
    echo "export VIGPARENT_TEST_POSTGRES_URL=postgresql+psycopg://vig@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$dir/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
