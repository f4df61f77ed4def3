# shellcheck shell=bash disable=SC2034  # variables here are used by the sourcing scripts
# Helpers shared by the infra/dev scripts (sourced, not run). Loads env.sh.
# Needs only bash, coreutils, util-linux and /proc: a fresh Debian 12 may lack
# iproute2 (ss) and procps (pgrep), so ports and processes are read from /proc.

# shellcheck source=SCRIPTDIR/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

QKVM_PG_BIN="${QKVM_PG_BIN:-/usr/lib/postgresql/15/bin}"
QKVM_RABBIT_BIN="${QKVM_RABBIT_BIN:-/usr/lib/rabbitmq/bin}"

# Private folders of each service (used by the scripts that source this file).
QKVM_LOGS="$QKVM_DATA/logs"
QKVM_RUN="$QKVM_DATA/run"
QKVM_PG_DATA="$QKVM_DATA/postgres"
QKVM_PG_SOCKDIR="$QKVM_RUN/postgres"
QKVM_PG_LOG="$QKVM_LOGS/postgres.log"
QKVM_RMQ_BASE="$QKVM_DATA/rabbitmq"
QKVM_RMQ_HOME="$QKVM_RMQ_BASE/home"
QKVM_RMQ_CONF="$QKVM_RMQ_BASE/config"
QKVM_RMQ_MNESIA="$QKVM_RMQ_BASE/mnesia"
QKVM_RMQ_PIDFILE="$QKVM_RMQ_BASE/rabbitmq.pid"
QKVM_RMQ_LOGDIR="$QKVM_LOGS/rabbitmq"

qkvm_log() { printf '[qkvm] %s\n' "$*"; }
qkvm_warn() { printf '[qkvm] WARNING: %s\n' "$*" >&2; }
qkvm_die() {
  printf '[qkvm] ERROR: %s\n' "$*" >&2
  exit 1
}

qkvm_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as a service's own user when we are root (initdb refuses root,
# RabbitMQ's files belong to its user); as ourselves otherwise. runuser resets
# HOME, so callers that need HOME pass it through `env`. fd 9 (start-services'
# lock) is closed so daemons started here (postmaster, epmd) never hold it.
qkvm_as() {
  local user="$1"
  shift
  if qkvm_is_root; then
    runuser -u "$user" -- "$@" 9>&-
  else
    "$@" 9>&-
  fi
}

# Give a folder to a service user (only possible, and only needed, as root).
qkvm_own() {
  local user="$1"
  shift
  if qkvm_is_root; then
    chown "$user:" "$@"
  fi
}

# Alive = exists and is not a zombie (an exited daemon whose parent, often
# PID 1, has not reaped it yet still answers kill -0).
qkvm_pid_alive() {
  local stat
  [[ "${1:-}" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  stat="$(cat 2>/dev/null "/proc/$1/stat")" || return 1
  stat="${stat##*) }" # the state follows the "(comm)" field
  [[ "${stat:0:1}" != Z ]]
}

# The command line of a process as one line ("" when it is gone).
qkvm_cmdline() { tr "\\0" " " 2>/dev/null <"/proc/$1/cmdline" || true; }

# First line of a pid file, or nothing.
qkvm_read_pidfile() {
  local pid=""
  if [[ -f "$1" ]]; then read -r pid <"$1" 2>/dev/null || true; fi
  [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s' "$pid"
  return 0
}

# PIDs of processes with a listening TCP socket on a port (IPv4 or IPv6).
qkvm_listen_pids() {
  local port_hex inode
  local -a inodes=() find_args=()
  port_hex="$(printf '%04X' "$1")"
  # /proc/net/tcp: $2 local address "IP:PORT" (hex), $4 state (0A = LISTEN), $10 inode.
  mapfile -t inodes < <(awk -v p=":$port_hex" \
    '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
  ((${#inodes[@]})) || return 0
  for inode in "${inodes[@]}"; do
    ((${#find_args[@]})) && find_args+=(-o)
    find_args+=(-lname "socket:\\[$inode\\]")
  done
  find /proc/[0-9]*/fd -maxdepth 1 \( "${find_args[@]}" \) 2>/dev/null |
    cut -d/ -f3 | sort -un
}

# PIDs of processes whose working directory is a given folder (PostgreSQL's
# postmaster and all its children chdir into the data folder).
qkvm_pids_with_cwd() {
  local dir link p
  dir="$(readlink -f "$1")"
  for p in /proc/[0-9]*; do
    link="$(readlink "$p/cwd" 2>/dev/null)" || continue
    [[ "$link" == "$dir" ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# Signal a process (TERM unless told), wait up to N seconds, then KILL it.
qkvm_stop_pid() {
  local pid="$1" name="$2" timeout="${3:-15}" signal="${4:-TERM}" i
  qkvm_pid_alive "$pid" || return 0
  kill -"$signal" "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    qkvm_pid_alive "$pid" || return 0
    sleep 0.1
  done
  qkvm_warn "$name (pid $pid) did not stop within ${timeout}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    qkvm_pid_alive "$pid" || return 0
    sleep 0.1
  done
}

# Fail early, with a clear message, when a port we need is held by someone else.
qkvm_require_free_port() {
  local port="$1" what="$2" pids
  # `|| true`: find in /proc can fail on a process that exits meanwhile; that must not end the script silently.
  pids="$(qkvm_listen_pids "$port" | tr '\n' ' ' || true)"
  if [[ -n "$pids" ]]; then
    qkvm_die "port $port (for $what) is already in use by pid(s) ${pids}($(qkvm_cmdline "${pids%% *}" | cut -c1-120)). Stop that process or choose another port via the matching QKVM_*_PORT variable."
  fi
}

# Environment of the private RabbitMQ node, shared by the server and its CLI
# tools (which must see the same HOME, i.e. the same Erlang cookie).
qkvm_rabbit_env() {
  export HOME="$QKVM_RMQ_HOME"
  export RABBITMQ_NODENAME="$QKVM_RABBIT_NODENAME"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$QKVM_AMQP_PORT"
  export RABBITMQ_DIST_PORT="$QKVM_RABBIT_DIST_PORT"
  export ERL_EPMD_PORT="$QKVM_EPMD_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$QKVM_RMQ_MNESIA"
  export RABBITMQ_LOG_BASE="$QKVM_RMQ_LOGDIR"
  export RABBITMQ_CONFIG_FILE="$QKVM_RMQ_CONF/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$QKVM_RMQ_CONF/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$QKVM_RMQ_CONF/enabled_plugins"
  # An empty private env file, so /etc/rabbitmq/rabbitmq-env.conf cannot interfere.
  export RABBITMQ_CONF_ENV_FILE="$QKVM_RMQ_CONF/rabbitmq-env.conf"
  export RABBITMQ_PID_FILE="$QKVM_RMQ_PIDFILE"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbitmqctl against the private node, run as the node's user.
qkvm_rabbitmqctl() {
  (
    qkvm_rabbit_env
    cd "$QKVM_RMQ_BASE" || exit 1
    # QKVM_TIMEOUT (seconds), when set, bounds the call.
    qkvm_as rabbitmq ${QKVM_TIMEOUT:+timeout "$QKVM_TIMEOUT"} env HOME="$QKVM_RMQ_HOME" "$QKVM_RABBIT_BIN/rabbitmqctl" -n "$QKVM_RABBIT_NODENAME" "$@"
  )
}

# The beam process of our node: the pid file's process if it is a live beam,
# plus any RabbitMQ server beam (`-s rabbit boot`) using our private HOME
# (e.g. one that died before or hung after writing its pid file).
qkvm_rabbit_beam_pids() {
  qkvm_pids_by_cmdline "$QKVM_RMQ_PIDFILE" "*beam*-home $QKVM_RMQ_HOME *" "*beam*-home $QKVM_RMQ_HOME *-s rabbit boot*"
}

# The live process its pid file names, if its command line matches the glob
# $2, then every other live process whose command line matches the glob $3:
# a daemon found even when it lost (or never wrote) its pid file.
qkvm_pids_by_cmdline() {
  local pidfile="$1" own="$2" others="$3" pid p
  pid="$(qkvm_read_pidfile "$pidfile")"
  # shellcheck disable=SC2053 # the right-hand sides are glob patterns on purpose
  if qkvm_pid_alive "$pid" && [[ "$(qkvm_cmdline "$pid")" == $own ]]; then
    printf '%s\n' "$pid"
  fi
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$pid" ]] && continue
    # shellcheck disable=SC2053
    if [[ "$(qkvm_cmdline "$p")" == $others ]] && qkvm_pid_alive "$p"; then
      printf '%s\n' "$p"
    fi
  done
  return 0
}

# epmd processes listening on our private epmd port.
qkvm_epmd_pids() {
  local p
  for p in $(qkvm_listen_pids "$QKVM_EPMD_PORT"); do
    [[ "$(qkvm_cmdline "$p")" == *epmd* ]] && printf '%s\n' "$p"
  done
  return 0
}

# Superuser of the private PostgreSQL cluster: initdb names it after the OS user.
qkvm_pg_superuser() {
  if qkvm_is_root; then printf 'postgres'; else id -un; fi
}

# Run a PostgreSQL tool as the cluster's owner.
qkvm_pg() {
  local tool="$1"
  shift
  qkvm_as postgres "$QKVM_PG_BIN/$tool" "$@"
}

# The postmaster's PID if the cluster is running: the pid file names a live
# process working in our data folder (not a recycled PID of something else).
qkvm_pg_postmaster_pid() {
  local pid
  pid="$(qkvm_read_pidfile "$QKVM_PG_DATA/postmaster.pid")"
  if qkvm_pid_alive "$pid" &&
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(readlink -f "$QKVM_PG_DATA")" ]]; then
    printf '%s' "$pid"
  fi
  return 0
}
