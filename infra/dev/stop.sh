#!/usr/bin/env bash
# Stops the dev environment, in order: platform processes (control plane, then
# the agent, from their pid files), the private libvirtd (its running guests are
# destroyed first), Open vSwitch + OVN (bridges deleted first), Ceph, RabbitMQ
# (and its epmd), PostgreSQL.
# Idempotent: whatever is not running is skipped.
set -euo pipefail

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$DEV_DIR/lib.sh"

# --- platform processes started by up.sh
agents=()
for pidfile in "$QKVM_RUN"/agent-*.pid; do
  [[ -e "$pidfile" ]] && agents+=("$(basename "$pidfile" .pid)")
done
for name in controlplane agent "${agents[@]}"; do
  pidfile="$QKVM_RUN/$name.pid"
  pid="$(qkvm_read_pidfile "$pidfile")"
  # Only signal the PID if it is still one of ours (PIDs get recycled).
  if qkvm_pid_alive "$pid" && [[ "$(qkvm_cmdline "$pid")" == *Quantixkvm* ]]; then
    qkvm_log "stopping $name (pid $pid)"
    qkvm_stop_pid "$pid" "$name" 20
  fi
  rm -f "$pidfile"
done

# --- libvirtd (after the agents, so they see no guest vanish) and its guests; also the extra hosts' daemons (up.sh QKVM_HOSTS)
"$DEV_DIR/libvirtd.sh" stop
for dir in "$QKVM_DATA"/libvirt-[0-9]*; do
  [[ -d "$dir" ]] && QKVM_LIBVIRT_INSTANCE="${dir##*-}" "$DEV_DIR/libvirtd.sh" stop
done

# --- Open vSwitch + OVN (after libvirtd: guests' ports leave the bridges first); its bridges go before its daemons
"$DEV_DIR/ovs.sh" stop || qkvm_warn "infra/dev/ovs.sh stop failed; continuing with the other services"

# --- Ceph (after libvirtd: QEMU with RBD disks must not lose its cluster first)
"$DEV_DIR/ceph.sh" stop

# --- RabbitMQ
mapfile -t beams < <(qkvm_rabbit_beam_pids)
if ((${#beams[@]})); then
  qkvm_log "stopping RabbitMQ (pid ${beams[*]})"
  if [[ -f "$QKVM_RMQ_PIDFILE" ]]; then
    # Orderly shutdown; with the pid file it also waits for the process to exit.
    # Bounded: a node that does not answer is signalled below instead of blocking the stop.
    QKVM_TIMEOUT=60 qkvm_rabbitmqctl -q stop "$QKVM_RMQ_PIDFILE" >/dev/null 2>&1 ||
      qkvm_warn "rabbitmqctl stop failed; signalling the node"
  fi
  for pid in "${beams[@]}"; do
    qkvm_stop_pid "$pid" "RabbitMQ beam" 30
  done
fi
rm -f "$QKVM_RMQ_PIDFILE"
# epmd is a separate daemon that outlives the node: stop it by the PID on our port.
for pid in $(qkvm_epmd_pids); do
  qkvm_log "stopping epmd (pid $pid, port $QKVM_EPMD_PORT)"
  qkvm_stop_pid "$pid" epmd 5
done

# --- PostgreSQL
pid="$(qkvm_pg_postmaster_pid)"
if [[ -n "$pid" ]]; then
  qkvm_log "stopping PostgreSQL (pid $pid)"
  (
    cd "$QKVM_PG_DATA" # runuser keeps the cwd; the postgres user may not read ours
    qkvm_pg pg_ctl -D "$QKVM_PG_DATA" stop -m fast -w -t 60 >/dev/null
  ) || {
    qkvm_warn "pg_ctl stop failed; signalling the postmaster"
    qkvm_stop_pid "$pid" postgres 20 INT # INT = PostgreSQL's fast shutdown
  }
fi
# Leftover backends of a killed postmaster (they work in the data folder).
if [[ -d "$QKVM_PG_DATA" ]]; then
  for pid in $(qkvm_pids_with_cwd "$QKVM_PG_DATA"); do
    qkvm_warn "ending leftover PostgreSQL process $pid"
    qkvm_stop_pid "$pid" "postgres child" 5
  done
fi

qkvm_log "stopped (data kept in $QKVM_DATA; delete it for a clean slate)"
