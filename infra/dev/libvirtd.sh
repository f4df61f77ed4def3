#!/usr/bin/env bash
# A private libvirt daemon with the QEMU driver in session mode, for the dev
# platform's node agent: real guests (KVM when it works, TCG otherwise), dir
# and rbd storage pools, all state in $QKVM_DATA/libvirt. No systemd needed.
#
#   infra/dev/libvirtd.sh start    start it (idempotent; a stale pid file or socket is cleaned up)
#   infra/dev/libvirtd.sh stop     destroy the running guests, then stop it (idempotent)
#   infra/dev/libvirtd.sh status   exit 0 when it answers; one-line summary
#   infra/dev/libvirtd.sh uri      the libvirt URI to connect to it (Agent__LibvirtUri)
#
# QKVM_LIBVIRT_INSTANCE=N runs another such daemon (a second "host" on this
# machine, for up.sh's QKVM_HOSTS) in $QKVM_DATA/libvirt-N; each daemon has its own
# host UUID, as libvirt's migration between two daemons needs.
#
# libvirtd refuses to run a session daemon as root: as root it runs as the
# `quantixkvm` system user (infra/dev/install.sh creates it), otherwise as you.
# Its folders (owned by that user):
#   home/ run/ config/ cache/ data/   HOME and XDG_* of the daemon (sockets, definitions, QEMU state)
#   log/libvirtd.log                  the daemon's warnings and errors
#   cache/libvirt/qemu/log/           QEMU's own output per domain (stdio_handler = "file": no virtlogd)
#   consoles/                         guests' serial consoles (Agent__ConsoleLogDirectory)
#   seeds/                            cloud-init NoCloud seed images (Agent__SeedDirectory)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LV_INSTANCE="${QKVM_LIBVIRT_INSTANCE:-}"
[[ -z "$LV_INSTANCE" || "$LV_INSTANCE" =~ ^[0-9]{1,2}$ ]] || qkvm_die "QKVM_LIBVIRT_INSTANCE must be a number (got '$LV_INSTANCE')"
LV_DIR="$QKVM_DATA/libvirt${LV_INSTANCE:+-$LV_INSTANCE}"
LV_LOCK="$QKVM_RUN/libvirtd${LV_INSTANCE:+-$LV_INSTANCE}.lock"
LV_HOME="$LV_DIR/home"
LV_RUNTIME="$LV_DIR/run"   # XDG_RUNTIME_DIR
LV_CONFIG="$LV_DIR/config" # XDG_CONFIG_HOME
LV_CACHE="$LV_DIR/cache"   # XDG_CACHE_HOME
LV_XDG_DATA="$LV_DIR/data" # XDG_DATA_HOME
LV_LOGDIR="$LV_DIR/log"
LV_CONSOLES="$LV_DIR/consoles"
LV_SEEDS="$LV_DIR/seeds"
LV_CONF="$LV_CONFIG/libvirt/libvirtd.conf"
LV_QEMU_CONF="$LV_CONFIG/libvirt/qemu.conf"
LV_SOCKDIR="$LV_RUNTIME/libvirt"
LV_SOCK="$LV_SOCKDIR/libvirt-sock"
LV_PIDFILE="$LV_SOCKDIR/libvirtd.pid"
LV_LOG="$LV_LOGDIR/libvirtd.log"
LV_URI="qemu+unix:///session?socket=$LV_SOCK"
LV_BIN="${QKVM_LIBVIRTD_BIN:-/usr/sbin/libvirtd}"

LV_USER="$(id -un)"
if qkvm_is_root; then
  LV_USER=quantixkvm
fi

# virsh against our daemon; never hangs (a wedged daemon must not block stop).
lv_virsh() { timeout 20 virsh -q -c "$LV_URI" "$@" 9>&-; }

# PIDs of our daemon: the pid file's process first if it is ours (PIDs get
# recycled), then any other libvirtd started with our config file (lost pid file).
lv_daemon_pids() {
  local pid p
  pid="$(qkvm_read_pidfile "$LV_PIDFILE")"
  if qkvm_pid_alive "$pid" && [[ "$(qkvm_cmdline "$pid")" == "$LV_BIN "*"--config $LV_CONF "* ]]; then
    printf '%s\n' "$pid"
  fi
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$pid" ]] && continue
    case "$(qkvm_cmdline "$p")" in
      "$LV_BIN "*"--config $LV_CONF "*) qkvm_pid_alive "$p" && printf '%s\n' "$p" ;;
    esac
  done
  return 0
}

# QEMU processes of our guests: their command lines name files under $LV_DIR
# (master key, monitor, console log). They outlive the daemon.
lv_qemu_pids() {
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    case "$(qkvm_cmdline "$p")" in
      *qemu-system-*"$LV_DIR/"*) qkvm_pid_alive "$p" && printf '%s\n' "$p" ;;
    esac
  done
  return 0
}

lv_answers() { lv_virsh uri >/dev/null 2>&1; }

lv_require_tools() {
  [[ -x "$LV_BIN" ]] || qkvm_die "$LV_BIN is missing; run infra/dev/install.sh first (libvirt-daemon, libvirt-daemon-driver-qemu)"
  command -v virsh >/dev/null || qkvm_die "virsh is missing; run infra/dev/install.sh first (libvirt-clients)"
  if qkvm_is_root; then
    id "$LV_USER" >/dev/null 2>&1 || qkvm_die "user '$LV_USER' missing; run infra/dev/install.sh (it creates it)"
    runuser -u "$LV_USER" -- test -x "$QKVM_DATA" ||
      qkvm_die "user '$LV_USER' cannot enter $QKVM_DATA (a parent folder is not world-executable); set QKVM_DATA to another folder"
  fi
  # Unix socket paths are limited to 107 bytes; QEMU's monitor socket is the longest one.
  local longest="$LV_CONFIG/libvirt/qemu/lib/domain-99-qkvm-0123456789abcde/monitor.sock"
  ((${#longest} <= 107)) ||
    qkvm_die "QKVM_DATA ($QKVM_DATA) is too long a path for libvirt's sockets (${#longest} > 107 bytes); choose a shorter one"
}

# Folders and configuration, rewritten on each start (edits are overwritten).
lv_prepare() {
  mkdir -p "$LV_DIR" "$LV_HOME" "$LV_RUNTIME" "$LV_SOCKDIR" "$LV_CONFIG/libvirt" "$LV_CACHE" "$LV_XDG_DATA" \
    "$LV_LOGDIR" "$LV_CONSOLES" "$LV_SEEDS"
  # One UUID per daemon, kept across restarts: two daemons on one machine must not look like the same host.
  [[ -s "$LV_DIR/host-uuid" ]] || cat /proc/sys/kernel/random/uuid >"$LV_DIR/host-uuid"
  cat >"$LV_CONF" <<EOF
# Written by infra/dev/libvirtd.sh on each start; edits are overwritten.
unix_sock_dir = "$LV_SOCKDIR"
host_uuid = "$(cat "$LV_DIR/host-uuid")"
# Warnings and errors only (1 debug, 2 info, 3 warning, 4 error).
log_outputs = "3:file:$LV_LOG"
EOF
  cat >"$LV_QEMU_CONF" <<EOF
# Written by infra/dev/libvirtd.sh on each start; edits are overwritten.
# QEMU's output goes to files (cache/libvirt/qemu/log), not to virtlogd (no such daemon runs here).
stdio_handler = "file"
EOF
  chmod 755 "$LV_DIR" "$LV_CONSOLES" "$LV_SEEDS"
  chmod 700 "$LV_HOME" "$LV_RUNTIME"
  # The daemon owns everything under its folder; consoles/ and seeds/ too (QEMU writes and reads them).
  qkvm_own "$LV_USER" "$LV_DIR" "$LV_CONSOLES" "$LV_SEEDS" "$LV_LOGDIR"
  if qkvm_is_root; then
    chown -R "$LV_USER:" "$LV_HOME" "$LV_RUNTIME" "$LV_CONFIG" "$LV_CACHE" "$LV_XDG_DATA"
  fi
}

cmd_start() {
  local pid p i
  lv_require_tools
  mkdir -p "$QKVM_DATA" "$QKVM_RUN" "$LV_DIR"
  exec 9>"$LV_LOCK"
  flock 9

  pid="$(qkvm_read_pidfile "$LV_PIDFILE")"
  if [[ -n "$pid" ]] && [[ "$(lv_daemon_pids | head -n 1)" == "$pid" ]]; then
    # Running, or still starting up: give it 15 s before judging it.
    for ((i = 0; i < 15; i++)); do
      if lv_answers; then
        lv_prepare # folders of an older layout; the running daemon keeps its configuration
        qkvm_log "libvirtd: already running (pid $pid), $LV_URI"
        return 0
      fi
      sleep 1
    done
    qkvm_warn "libvirtd pid $pid is alive but not answering; restarting it"
  fi

  # Not usable: end any daemon of ours (hung, or running without its pid file).
  for p in $(lv_daemon_pids); do
    qkvm_warn "libvirtd: ending leftover process $p"
    qkvm_stop_pid "$p" libvirtd 10
  done
  if [[ -e "$LV_PIDFILE" || -S "$LV_SOCK" ]]; then
    qkvm_log "libvirtd: removing the stale pid file and sockets of an earlier run"
    rm -f "$LV_PIDFILE" "$LV_SOCK" "$LV_SOCK-ro" "$LV_SOCK-admin"
  fi

  lv_prepare
  qkvm_log "libvirtd: starting a private session daemon as user $LV_USER ($LV_DIR)"
  local -a run_as=()
  qkvm_is_root && run_as=(runuser -u "$LV_USER" --)
  # --daemon: the parent returns once the daemon is initialised (or failed); the
  # daemon itself writes the pid file. A clean environment: only our folders.
  (
    cd "$LV_DIR"
    "${run_as[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      HOME="$LV_HOME" XDG_RUNTIME_DIR="$LV_RUNTIME" XDG_CONFIG_HOME="$LV_CONFIG" \
      XDG_CACHE_HOME="$LV_CACHE" XDG_DATA_HOME="$LV_XDG_DATA" \
      "$LV_BIN" --config "$LV_CONF" --pid-file "$LV_PIDFILE" --timeout 0 --daemon \
      </dev/null >>"$LV_LOGDIR/libvirtd.out" 2>&1 9>&-
  ) || {
    tail -n 20 "$LV_LOG" "$LV_LOGDIR/libvirtd.out" >&2 2>/dev/null || true
    qkvm_die "libvirtd did not start; see $LV_LOG and $LV_LOGDIR/libvirtd.out"
  }
  for ((i = 0; i < 300; i++)); do
    lv_answers && break
    sleep 0.1
  done
  lv_answers || {
    tail -n 20 "$LV_LOG" >&2 2>/dev/null || true
    qkvm_die "libvirtd does not answer on $LV_SOCK; see $LV_LOG"
  }
  qkvm_log "libvirtd: started (pid $(qkvm_read_pidfile "$LV_PIDFILE")), $LV_URI"
}

cmd_stop() {
  local name p
  local -a names=() daemons=()
  if [[ -d "$QKVM_RUN" ]]; then
    exec 9>"$LV_LOCK"
    flock 9
  fi
  mapfile -t daemons < <(lv_daemon_pids)
  # QEMU processes outlive libvirtd: destroy the guests while it can still do so cleanly.
  if ((${#daemons[@]})) && lv_answers; then
    mapfile -t names < <(lv_virsh list --name 2>/dev/null | sed '/^$/d')
    for name in "${names[@]}"; do
      qkvm_log "libvirtd: destroying running domain $name"
      lv_virsh destroy "$name" >/dev/null 2>&1 || qkvm_warn "virsh destroy $name failed"
    done
  fi
  for p in "${daemons[@]}"; do
    qkvm_log "libvirtd: stopping (pid $p)"
    qkvm_stop_pid "$p" libvirtd 20
  done
  # Guests of a daemon that was already gone (or that destroy could not end).
  for p in $(lv_qemu_pids); do
    qkvm_warn "libvirtd: ending leftover QEMU process $p"
    qkvm_stop_pid "$p" qemu 10
  done
  rm -f "$LV_PIDFILE"
  qkvm_log "libvirtd: stopped (definitions kept in $LV_DIR)"
}

cmd_status() {
  local pid count qemus
  pid="$(lv_daemon_pids | head -n 1)"
  if [[ -z "$pid" ]]; then
    qemus="$(lv_qemu_pids | wc -l)"
    echo "libvirtd: DOWN (no daemon for $LV_DIR; $qemus QEMU process(es) of its guests running)"
    return 1
  fi
  if ! lv_answers; then
    echo "libvirtd: NOT ANSWERING (pid $pid, socket $LV_SOCK)"
    return 1
  fi
  count="$(lv_virsh list --name 2>/dev/null | sed '/^$/d' | wc -l)"
  echo "libvirtd: OK pid $pid as $LV_USER, $count running domain(s), $LV_URI"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  uri) printf '%s\n' "$LV_URI" ;;
  *)
    echo "usage: $0 start|stop|status|uri" >&2
    exit 2
    ;;
esac
