#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the replica tests (docs/replication.md).
#
#   scripts/pg_cluster.sh start DIR   initializes DIR (once), starts the server,
#                                     prints its connection string on stdout
#   scripts/pg_cluster.sh stop DIR    stops the server started in DIR
#
# Everything lives inside DIR: the data directory (DIR/data), the Unix socket
# (DIR/socket; no TCP: listen_addresses=''), the server's log (DIR/server.log)
# and the server's PID (DIR/postmaster.pid). Authentication is `trust`, so the
# server is for tests only. fsync stays on: the tests measure what production
# would do. Both commands are idempotent: start on a running server prints its
# connection string again; stop on a stopped one does nothing.
#
# initdb and postgres refuse to run as root: as root, the server runs as the
# system user tenantry-pg (created if missing) and DIR is handed to it;
# otherwise it runs as the invoking user.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
port=5432
pg_user=tenantry-pg

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command=$1
dir=$2
case "$command" in start | stop) ;; *) usage ;; esac

# The PID in DIR/postmaster.pid, if that process is still a postgres server.
running_pid() {
  local pid
  [ -f "$dir/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$dir/postmaster.pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
  echo "$pid"
}

connection_string() {
  echo "host=$dir/socket port=$port dbname=postgres user=$run_as"
}

stop() {
  local pid i
  if ! pid=$(running_pid); then
    rm -f "$dir/postmaster.pid"
    return 0
  fi
  # SIGINT: fast shutdown (open transactions are rolled back, clients cut).
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do # 10 s at most
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    echo "pg_cluster: server $pid did not stop in 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do # 5 s at most
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
  fi
  rm -f "$dir/postmaster.pid"
}

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$pg_user" -- "$@"
  else
    "$@"
  fi
}

start() {
  local pid i
  if [ "$(id -u)" -eq 0 ] && ! id "$pg_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  if pid=$(running_pid); then
    connection_string
    return 0
  fi
  # A Unix socket's path holds at most 107 bytes.
  if [ ${#dir} -gt 80 ]; then
    echo "pg_cluster: '$dir' is too long for a Unix socket path (80 bytes at most)" >&2
    exit 1
  fi
  mkdir -p "$dir/socket"
  [ "$(id -u)" -eq 0 ] && chown -R "$pg_user:" "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_server_user "$bin/initdb" --pgdata="$dir/data" --auth=trust --username="$run_as" \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/socket'
port = $port
fsync = on
max_connections = 40
shared_buffers = 32MB
CONF
  fi
  as_server_user "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" \
    --no-wait start >/dev/null
  for ((i = 0; i < 150; i++)); do # 15 s at most
    if [ -f "$dir/data/postmaster.pid" ] &&
      as_server_user "$bin/pg_isready" --quiet --host="$dir/socket" --port=$port; then
      head -n 1 "$dir/data/postmaster.pid" >"$dir/postmaster.pid"
      connection_string
      return 0
    fi
    sleep 0.1
  done
  echo "pg_cluster: the server in $dir did not accept connections within 15 s; its log:" >&2
  tail -n 30 "$dir/server.log" >&2 || true
  exit 1
}

dir=$(realpath -m "$dir")
run_as=$pg_user
[ "$(id -u)" -eq 0 ] || run_as=$(id -un)
"$command"
