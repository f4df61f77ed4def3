#!/usr/bin/env bash
# Starts the private PostgreSQL 15 cluster and RabbitMQ 3.10 node of the dev
# environment on 127.0.0.1, and the private Open vSwitch + OVN stack
# (infra/dev/ovs.sh, unix sockets only), in $QKVM_DATA. Idempotent: what already
# runs is left alone; stale pid files and half-dead leftovers are cleaned up.
#   QKVM_PG_FAST=1  start PostgreSQL without durability (fsync etc. off): test runs only.
#   QKVM_OVS=0      do not start Open vSwitch/OVN (only one such stack per network
#                   namespace: a second data folder needs QKVM_OVS_NETNS, see ovs.sh).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QKVM_OVS="${QKVM_OVS:-1}"

[[ -x "$QKVM_PG_BIN/pg_ctl" && -x "$QKVM_RABBIT_BIN/rabbitmq-server" ]] ||
  qkvm_die "PostgreSQL/RabbitMQ not installed; run infra/dev/install.sh first"
command -v curl >/dev/null || qkvm_die "curl is missing; run infra/dev/install.sh first"

mkdir -p "$QKVM_DATA" "$QKVM_LOGS" "$QKVM_RUN"

# One start at a time: a second concurrent run waits instead of racing.
exec 9>"$QKVM_RUN/start-services.lock"
flock 9

if qkvm_is_root; then
  for user in postgres rabbitmq; do
    id "$user" >/dev/null 2>&1 || qkvm_die "user '$user' missing; run infra/dev/install.sh"
    # The services run as their own users: they must be able to reach $QKVM_DATA.
    runuser -u "$user" -- test -x "$QKVM_DATA" ||
      qkvm_die "user '$user' cannot enter $QKVM_DATA (a parent folder is not world-executable); set QKVM_DATA to another folder"
  done
fi

# ---------------------------------------------------------------- PostgreSQL

pg_psql_admin() {
  qkvm_pg psql -X -q -v ON_ERROR_STOP=1 -h "$QKVM_PG_SOCKDIR" -p "$QKVM_PG_PORT" \
    -U "$(qkvm_pg_superuser)" -d postgres "$@"
}

pg_ready() {
  qkvm_pg pg_isready -q -h "$QKVM_PG_SOCKDIR" -p "$QKVM_PG_PORT" -t 2 >/dev/null 2>&1
}

pg_init() {
  # A data folder without PG_VERSION is a half-finished initdb: start over.
  if [[ -d "$QKVM_PG_DATA" && ! -f "$QKVM_PG_DATA/PG_VERSION" ]]; then
    qkvm_warn "removing incomplete PostgreSQL data folder $QKVM_PG_DATA"
    rm -rf "$QKVM_PG_DATA"
  fi
  [[ -f "$QKVM_PG_DATA/PG_VERSION" ]] && return 0
  qkvm_log "PostgreSQL: initdb $QKVM_PG_DATA"
  mkdir -p "$QKVM_PG_DATA"
  qkvm_own postgres "$QKVM_PG_DATA"
  chmod 700 "$QKVM_PG_DATA"
  # Peer auth on the private socket (admin), SCRAM passwords over TCP (apps, tests).
  qkvm_pg initdb -D "$QKVM_PG_DATA" -E UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 >"$QKVM_LOGS/initdb.log" 2>&1 ||
    qkvm_die "initdb failed; see $QKVM_LOGS/initdb.log"
  # Our settings live in their own file, rewritten on each start (see pg_start).
  printf "\n# Quantixkvm dev settings\ninclude_if_exists = 'quantixkvm.conf'\n" |
    qkvm_as postgres tee -a "$QKVM_PG_DATA/postgresql.conf" >/dev/null
}

pg_start() {
  local pid fast_opts="" deadline p
  mkdir -p "$QKVM_PG_SOCKDIR"
  qkvm_own postgres "$QKVM_PG_SOCKDIR"
  chmod 755 "$QKVM_PG_SOCKDIR"
  touch "$QKVM_PG_LOG"
  qkvm_own postgres "$QKVM_PG_LOG"

  pid="$(qkvm_pg_postmaster_pid)"
  if [[ -n "$pid" ]]; then
    # Running, or still starting up: give it up to 30 s before judging it.
    for ((deadline = SECONDS + 30; SECONDS < deadline; )); do
      if pg_ready; then
        qkvm_log "PostgreSQL: already running (pid $pid, fsync=$(pg_psql_admin -Atc 'SHOW fsync'))"
        return 0
      fi
      sleep 1
    done
    # QUIT = PostgreSQL's immediate shutdown; KILL if even that is ignored.
    qkvm_warn "PostgreSQL pid $pid is alive but not answering; stopping it"
    qkvm_stop_pid "$pid" postgres 10 QUIT
  fi

  # Postmaster gone: children of a killed postmaster (they chdir into the data
  # folder) may linger and keep the shared memory in use, so end them first.
  for p in $(qkvm_pids_with_cwd "$QKVM_PG_DATA"); do
    qkvm_warn "ending leftover PostgreSQL process $p ($(qkvm_cmdline "$p"))"
    qkvm_stop_pid "$p" "postgres child" 5
  done
  if [[ -f "$QKVM_PG_DATA/postmaster.pid" ]]; then
    qkvm_warn "removing stale $QKVM_PG_DATA/postmaster.pid"
    rm -f "$QKVM_PG_DATA/postmaster.pid"
  fi
  # The socket lock file names the old postmaster too; if that PID is still a
  # zombie (PID 1 here is slow to reap) postgres would take it for alive.
  rm -f "$QKVM_PG_SOCKDIR/.s.PGSQL.$QKVM_PG_PORT.lock" "$QKVM_PG_SOCKDIR/.s.PGSQL.$QKVM_PG_PORT"
  qkvm_require_free_port "$QKVM_PG_PORT" PostgreSQL

  # Written on each start so changed ports/folders take effect.
  qkvm_as postgres tee "$QKVM_PG_DATA/quantixkvm.conf" >/dev/null <<EOF
# Written by infra/dev/start-services.sh on each start; edits are overwritten.
port = $QKVM_PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$QKVM_PG_SOCKDIR'
# Integration tests run many connection pools side by side.
max_connections = 200
password_encryption = 'scram-sha-256'
EOF

  if [[ "${QKVM_PG_FAST:-0}" == 1 ]]; then
    # Test runs only: no durability, much faster schema setup and appends.
    fast_opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    qkvm_log "PostgreSQL: starting on 127.0.0.1:$QKVM_PG_PORT (QKVM_PG_FAST=1: fsync/synchronous_commit/full_page_writes off)"
  else
    qkvm_log "PostgreSQL: starting on 127.0.0.1:$QKVM_PG_PORT"
  fi
  (
    cd "$QKVM_PG_DATA" # runuser keeps the cwd; the postgres user may not read ours
    qkvm_pg pg_ctl -D "$QKVM_PG_DATA" -l "$QKVM_PG_LOG" -w -t 60 -o "$fast_opts" start >/dev/null
  ) || {
    tail -n 20 "$QKVM_PG_LOG" >&2 || true
    qkvm_die "PostgreSQL did not start; see $QKVM_PG_LOG"
  }
}

pg_provision() {
  # Idempotent: role with password (SCRAM), allowed to create databases; the
  # database owned by it, so it may CREATE SCHEMA there (tests make one each).
  pg_psql_admin -v user="$QKVM_PG_USER" -v pass="$QKVM_PG_PASSWORD" -v db="$QKVM_PG_DATABASE" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN CREATEDB PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"user";
GRANT ALL PRIVILEGES ON DATABASE :"db" TO :"user";
SQL
}

# ------------------------------------------------------------------ RabbitMQ

rabbit_write_config() {
  mkdir -p "$QKVM_RMQ_BASE" "$QKVM_RMQ_HOME" "$QKVM_RMQ_CONF" "$QKVM_RMQ_MNESIA" "$QKVM_RMQ_LOGDIR"
  # The Erlang cookie: private, shared by the node and rabbitmqctl via HOME.
  if [[ ! -s "$QKVM_RMQ_HOME/.erlang.cookie" ]]; then
    head -c 30 /dev/urandom | base32 | tr -dc '[:upper:]' >"$QKVM_RMQ_HOME/.erlang.cookie"
  fi
  chmod 400 "$QKVM_RMQ_HOME/.erlang.cookie"
  : >"$QKVM_RMQ_CONF/rabbitmq-env.conf"
  printf '[rabbitmq_management].\n' >"$QKVM_RMQ_CONF/enabled_plugins"
  cat >"$QKVM_RMQ_CONF/rabbitmq.conf" <<EOF
# Written by infra/dev/start-services.sh on each start; edits are overwritten.
listeners.tcp.1 = 127.0.0.1:$QKVM_AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $QKVM_RABBIT_MGMT_PORT
# On a fresh node, create our dev user instead of guest (also ensured by rabbitmqctl).
default_user = $QKVM_RABBIT_USER
default_pass = $QKVM_RABBIT_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
EOF
  if qkvm_is_root; then
    chown -R rabbitmq: "$QKVM_RMQ_BASE" "$QKVM_RMQ_LOGDIR"
  fi
  chmod 700 "$QKVM_RMQ_HOME"
}

rabbit_mgmt_ready() {
  curl -fsS -o /dev/null --max-time 3 -u "$QKVM_RABBIT_USER:$QKVM_RABBIT_PASSWORD" \
    "http://127.0.0.1:$QKVM_RABBIT_MGMT_PORT/api/overview" 2>/dev/null
}

# Ends a node that is not usable (dead beam, hung boot) and its epmd.
rabbit_cleanup() {
  local p
  for p in $(qkvm_rabbit_beam_pids); do
    qkvm_warn "ending leftover RabbitMQ beam process $p"
    qkvm_stop_pid "$p" "RabbitMQ beam" 10
  done
  # epmd outlives the node; a fresh one is started with the node.
  for p in $(qkvm_epmd_pids); do
    qkvm_log "RabbitMQ: ending leftover epmd (pid $p) on port $QKVM_EPMD_PORT"
    qkvm_stop_pid "$p" epmd 5
  done
  if [[ -f "$QKVM_RMQ_PIDFILE" ]]; then
    qkvm_warn "removing stale $QKVM_RMQ_PIDFILE"
    rm -f "$QKVM_RMQ_PIDFILE"
  fi
}

rabbit_ensure_user() {
  local u="$QKVM_RABBIT_USER"
  if qkvm_rabbitmqctl -q list_users 2>/dev/null | awk '{print $1}' | grep -qxF "$u"; then
    qkvm_rabbitmqctl -q change_password "$u" "$QKVM_RABBIT_PASSWORD" >/dev/null
  else
    qkvm_rabbitmqctl -q add_user "$u" "$QKVM_RABBIT_PASSWORD" >/dev/null
  fi
  qkvm_rabbitmqctl -q set_user_tags "$u" administrator >/dev/null
  qkvm_rabbitmqctl -q set_permissions -p / "$u" '.*' '.*' '.*' >/dev/null
}

rabbit_start() {
  local pid i age timeout server_out="$QKVM_LOGS/rabbitmq-server.out"
  local -a pids
  mapfile -t pids < <(qkvm_rabbit_beam_pids)
  pid="$(qkvm_read_pidfile "$QKVM_RMQ_PIDFILE")"
  if ((${#pids[@]})) && [[ "${pids[0]}" == "$pid" ]]; then
    # A live beam from our pid file: running, or still booting. A node whose
    # pid file is older than the 120 s boot allowance must answer quickly.
    age=$(($(date +%s) - $(stat -c %Y "$QKVM_RMQ_PIDFILE")))
    timeout=$((120 - age))
    ((timeout >= 15)) || timeout=15
    if qkvm_rabbitmqctl -q wait --timeout "$timeout" "$QKVM_RMQ_PIDFILE" >/dev/null 2>&1; then
      for ((i = 0; i < 30; i++)); do
        if rabbit_mgmt_ready; then
          qkvm_log "RabbitMQ: already running (pid $pid)"
          return 0
        fi
        sleep 1
      done
    fi
    qkvm_warn "RabbitMQ pid $pid is alive but not usable; restarting it"
  fi
  rabbit_cleanup
  qkvm_require_free_port "$QKVM_AMQP_PORT" "RabbitMQ AMQP"
  qkvm_require_free_port "$QKVM_RABBIT_DIST_PORT" "RabbitMQ distribution"
  qkvm_require_free_port "$QKVM_EPMD_PORT" "epmd"
  qkvm_require_free_port "$QKVM_RABBIT_MGMT_PORT" "RabbitMQ management"

  rabbit_write_config
  qkvm_log "RabbitMQ: starting node $QKVM_RABBIT_NODENAME on 127.0.0.1:$QKVM_AMQP_PORT"
  (
    qkvm_rabbit_env
    cd "$QKVM_RMQ_BASE" # the node's cwd: readable by its user, and marks its processes
    exec 9>&-           # the node must not hold our start lock
    # The /usr/sbin wrappers insist on /var/lib/rabbitmq: call the real script.
    # setsid: the node must not die with this script's session or terminal.
    if qkvm_is_root; then
      setsid runuser -u rabbitmq -- env HOME="$QKVM_RMQ_HOME" \
        "$QKVM_RABBIT_BIN/rabbitmq-server" </dev/null >>"$server_out" 2>&1 &
    else
      setsid "$QKVM_RABBIT_BIN/rabbitmq-server" </dev/null >>"$server_out" 2>&1 &
    fi
  )
  # rabbitmqctl wait needs the pid file to appear first (await_startup would fail at once).
  if ! qkvm_rabbitmqctl -q wait --timeout 120 "$QKVM_RMQ_PIDFILE" >/dev/null 2>&1; then
    tail -n 30 "$server_out" >&2 || true
    qkvm_die "RabbitMQ did not start; see $server_out and $QKVM_RMQ_LOGDIR"
  fi
  rabbit_ensure_user
  for ((i = 0; i < 60; i++)); do
    rabbit_mgmt_ready && break
    sleep 1
  done
  rabbit_mgmt_ready || qkvm_die "RabbitMQ management API not answering on 127.0.0.1:$QKVM_RABBIT_MGMT_PORT"
  qkvm_log "RabbitMQ: started (pid $(qkvm_read_pidfile "$QKVM_RMQ_PIDFILE"))"
}

pg_init
pg_start
pg_provision
rabbit_start
ovs_line="not started (QKVM_OVS=0)"
if [[ "$QKVM_OVS" != 0 ]]; then
  "$DEV_DIR/ovs.sh" start
  ovs_line="$QKVM_OVS_DB  NB $QKVM_OVN_NB_DB  SB $QKVM_OVN_SB_DB"
fi

cat <<EOF
[qkvm] services ready (data in $QKVM_DATA, logs in $QKVM_LOGS):
  PostgreSQL  127.0.0.1:$QKVM_PG_PORT  database $QKVM_PG_DATABASE, user $QKVM_PG_USER (dev password)  socket dir $QKVM_PG_SOCKDIR
              psql "host=127.0.0.1 port=$QKVM_PG_PORT dbname=$QKVM_PG_DATABASE user=$QKVM_PG_USER password=$QKVM_PG_PASSWORD"
  RabbitMQ    amqp://$QKVM_RABBIT_USER:$QKVM_RABBIT_PASSWORD@127.0.0.1:$QKVM_AMQP_PORT/  node $QKVM_RABBIT_NODENAME (epmd $QKVM_EPMD_PORT, dist $QKVM_RABBIT_DIST_PORT)
              management http://127.0.0.1:$QKVM_RABBIT_MGMT_PORT/ (same user)
  OVS + OVN   $ovs_line
  Stop with:  $QKVM_REPO/infra/dev/stop.sh
EOF
