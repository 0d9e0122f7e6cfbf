#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL server for Tollway's tests and
# prints its URL. Installs Debian's postgresql package when no server
# binaries are found. The cluster lives outside the clone, in
# $TOLLWAY_CACHE (default /var/cache/tollway as root, where the postgres
# user can reach it, else ~/.cache/tollway), and listens on 127.0.0.1 only.
#   scripts/pg.sh start   -> prints postgres://tollway@127.0.0.1:PORT/postgres
#   scripts/pg.sh stop
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
port="${TOLLWAY_PG_PORT:-55432}"
dir="$cache/pg-$port"
log="$cache/pg-$port.log"

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  echo "pg.sh: installing PostgreSQL from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

# initdb and postgres refuse to run as root: run them as an unprivileged user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-start}" in
  start)
    mkdir -p "$cache"
    if [ ! -s "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres "$dir" "$cache"
      as_owner "$bin/initdb" -D "$dir" -U tollway --auth=trust -E UTF8 >/dev/null
    fi
    [ "$(id -u)" = 0 ] && touch "$log" && chown postgres "$log"
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir" -l "$log" -w -t 60 start \
        -o "-h 127.0.0.1 -p $port -k /tmp -c max_connections=300 -c fsync=on" >/dev/null
    fi
    echo "postgres://tollway@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
