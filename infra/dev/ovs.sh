#!/usr/bin/env bash
# A private Open vSwitch 3.1 + OVN 23.03 stack for the networking work, all
# state in $QKVM_DATA/ovs and $QKVM_DATA/ovn, reached over unix sockets only
# (no TCP port). No systemd needed.
#
#   infra/dev/ovs.sh start    create the databases (first time) and start every daemon; idempotent
#   infra/dev/ovs.sh stop     delete every bridge, then stop every daemon; idempotent
#   infra/dev/ovs.sh status   exit 0 when every daemon runs and br-int + the chassis exist; one-line summary
#   infra/dev/ovs.sh env      `export` lines for clients (database sockets, run folders, namespace)
#
# Daemons (pid files, control sockets and database sockets in the run/ folders):
#   ovs/run/db.sock        ovsdb-server with the Open_vSwitch database (ovs/conf.db)   = QKVM_OVS_DB
#   ovs-vswitchd           userspace datapath only (no kernel module here): bridges need datapath_type=netdev
#   ovn/run/ovnnb_db.sock  ovsdb-server with OVN_Northbound (ovn/ovnnb_db.db)          = QKVM_OVN_NB_DB
#   ovn/run/ovnsb_db.sock  ovsdb-server with OVN_Southbound (ovn/ovnsb_db.db)          = QKVM_OVN_SB_DB
#   ovn-northd             NB -> SB
#   ovn-controller         this machine's chassis (system-id kept in ovn/system-id); it creates br-int
# The socket names are the tools' defaults, so OVS_RUNDIR / OVN_RUNDIR (see `env`)
# are enough for ovs-vsctl, ovn-nbctl etc. (and libvirt's ovs-vsctl calls).
#
# What cannot coexist: ovs-vswitchd's userspace datapath always opens a TAP
# device named "ovs-netdev", and every bridge's internal port is a TAP device
# of the bridge's name (br-int). So only ONE stack per network namespace; a
# second one fails with "ovs-netdev: creating tap device failed: Device or
# resource busy". QKVM_OVS_NETNS=NAME runs this stack's switch side
# (ovs-vswitchd, ovn-controller) inside its own network namespace NAME (made by
# start, deleted by stop), so several stacks (one per QKVM_DATA) run side by
# side; the ports to plug must then live in that namespace. Without it the
# stack uses this machine's namespace (what libvirt's guest TAP devices need).
# The namespace chosen at start is remembered (ovs/netns); stop and status use it.
#
# TAP devices outlive ovs-vswitchd: stop deletes the bridges while it runs
# (and tells it to exit with --cleanup); leftover TAP devices of a crashed
# daemon that no process holds are deleted too.
#
# The daemons need root (TAP devices): run as another user, the script reruns
# itself through `sudo -n` and gives the sockets to that user.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Our paths go into OVSDB values and daemon arguments: keep them to plain characters.
[[ "$QKVM_DATA" =~ ^/[A-Za-z0-9._/-]+$ ]] ||
  qkvm_die "QKVM_DATA must be an absolute path of letters, digits and ._/- for the OVS stack (got '$QKVM_DATA')"
OVS_NETNS_WANTED="${QKVM_OVS_NETNS:-}"
[[ -z "$OVS_NETNS_WANTED" || "$OVS_NETNS_WANTED" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] ||
  qkvm_die "QKVM_OVS_NETNS must be 1-32 lower-case letters, digits or '-' (got '$OVS_NETNS_WANTED')"

# Nothing to stop where no stack was ever set up (no sudo needed for that answer).
if [[ "${1:-}" == stop && ! -d "$QKVM_DATA/ovs" && ! -d "$QKVM_DATA/ovn" ]]; then
  exit 0
fi

if ! qkvm_is_root; then
  command -v sudo >/dev/null || qkvm_die "the OVS daemons need root (TAP devices) and sudo is missing"
  # sudo sets SUDO_UID/SUDO_GID: the sockets are given to this user.
  exec sudo -n env PATH="$PATH" QKVM_DATA="$QKVM_DATA" QKVM_OVS_NETNS="$OVS_NETNS_WANTED" "$0" "$@"
fi

OVS_DIR="$QKVM_DATA/ovs"
OVS_RUN="$OVS_DIR/run"
OVS_LOGDIR="$OVS_DIR/log"
OVS_DB_FILE="$OVS_DIR/conf.db"
OVS_SOCK="${QKVM_OVS_DB#unix:}" # env.sh: $QKVM_DATA/ovs/run/db.sock
OVS_NETNS_FILE="$OVS_DIR/netns"
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema

OVN_DIR="$QKVM_DATA/ovn"
OVN_RUN="$OVN_DIR/run"
OVN_LOGDIR="$OVN_DIR/log"
OVN_NB_FILE="$OVN_DIR/ovnnb_db.db"
OVN_SB_FILE="$OVN_DIR/ovnsb_db.db"
OVN_NB_SOCK="${QKVM_OVN_NB_DB#unix:}"
OVN_SB_SOCK="${QKVM_OVN_SB_DB#unix:}"
OVN_SYSTEM_ID_FILE="$OVN_DIR/system-id"
OVN_SCHEMA_DIR=/usr/share/ovn
OVN_BRIDGE=br-int

OVS_LOCK="$QKVM_RUN/ovs.lock"
OVS_OUT="$OVS_LOGDIR/daemons.out" # what the daemons print before their log files open

# Everything the daemons would otherwise look for under /var/run, /etc, /var/log.
OVS_ENV=(env OVS_RUNDIR="$OVS_RUN" OVS_DBDIR="$OVS_DIR" OVS_LOGDIR="$OVS_LOGDIR" OVS_SYSCONFDIR="$OVS_DIR"
  OVS_PKGDATADIR=/usr/share/openvswitch)
OVN_ENV=(env OVN_RUNDIR="$OVN_RUN" OVN_DBDIR="$OVN_DIR" OVN_LOGDIR="$OVN_LOGDIR" OVN_SYSCONFDIR="$OVN_DIR"
  OVN_PKGDATADIR="$OVN_SCHEMA_DIR" OVS_RUNDIR="$OVS_RUN")

# Clients: bounded, so a wedged daemon cannot block start or stop.
ovs_vsctl() { timeout 30 ovs-vsctl --db="$QKVM_OVS_DB" --timeout=20 "$@" 9>&-; }
ovn_sbctl() { timeout 30 ovn-sbctl --db="$QKVM_OVN_SB_DB" --timeout=20 "$@" 9>&-; }
ovs_appctl() { timeout 30 ovs-appctl --timeout=20 "$@" 9>&-; }

# The namespace the running (or last) stack uses: "" = this machine's.
ovs_netns_in_use() { cat "$OVS_NETNS_FILE" 2>/dev/null || true; }

# Run a command in the stack's namespace (or here).
ovs_in_netns() {
  local ns="$1"
  shift
  if [[ -n "$ns" ]]; then
    ip netns exec "$ns" "$@"
  else
    "$@"
  fi
}

# Each daemon's pid file, and a command-line glob only our instance matches.
ovs_pidfile() {
  case "$1" in
    ovsdb-server | ovs-vswitchd) printf '%s' "$OVS_RUN/$1.pid" ;;
    *) printf '%s' "$OVN_RUN/$1.pid" ;;
  esac
}
ovs_glob() {
  case "$1" in
    ovsdb-server) printf '%s' "*ovsdb-server $OVS_DB_FILE *" ;;
    ovs-vswitchd) printf '%s' "*ovs-vswitchd $QKVM_OVS_DB *" ;;
    ovnnb_db) printf '%s' "*ovsdb-server $OVN_NB_FILE *" ;;
    ovnsb_db) printf '%s' "*ovsdb-server $OVN_SB_FILE *" ;;
    ovn-northd) printf '%s' "*ovn-northd --ovnnb-db=$QKVM_OVN_NB_DB *" ;;
    ovn-controller) printf '%s' "*ovn-controller $QKVM_OVS_DB *" ;;
  esac
}

# Every live process of a daemon: its pid file's first, then any other of ours (lost pid file).
ovs_daemon_pids() {
  local glob
  glob="$(ovs_glob "$1")"
  qkvm_pids_by_cmdline "$(ovs_pidfile "$1")" "$glob" "$glob"
}

# The daemon's PID when it runs from its pid file (the normal state), else "".
ovs_daemon_pid() {
  local -a pids
  mapfile -t pids < <(ovs_daemon_pids "$1")
  if ((${#pids[@]})) && [[ "${pids[0]}" == "$(qkvm_read_pidfile "$(ovs_pidfile "$1")")" ]]; then
    printf '%s' "${pids[0]}"
  fi
  return 0
}

ovs_daemon_stop() {
  local name="$1" p
  for p in $(ovs_daemon_pids "$name"); do
    qkvm_log "OVS: stopping $name (pid $p)"
    qkvm_stop_pid "$p" "$name" 15
  done
  rm -f "$(ovs_pidfile "$name")"
}

# Start one daemon unless it runs. The OVS daemons detach once they are ready
# (sockets listening), so the command's return means "up" or "failed".
ovs_daemon_start() {
  local name="$1" pid p
  shift
  pid="$(ovs_daemon_pid "$name")"
  if [[ -n "$pid" ]]; then
    qkvm_log "OVS: $name already running (pid $pid)"
    return 0
  fi
  for p in $(ovs_daemon_pids "$name"); do
    qkvm_warn "OVS: ending leftover $name process $p"
    qkvm_stop_pid "$p" "$name" 10
  done
  rm -f "$(ovs_pidfile "$name")"
  "$@" --pidfile="$(ovs_pidfile "$name")" --detach --no-chdir </dev/null >>"$OVS_OUT" 2>&1 9>&- || {
    tail -n 20 "$OVS_OUT" >&2 || true
    qkvm_die "$name did not start; see $OVS_OUT and the logs in $OVS_LOGDIR, $OVN_LOGDIR"
  }
  qkvm_log "OVS: $name started (pid $(qkvm_read_pidfile "$(ovs_pidfile "$name")"))"
}

# A database file from its schema (first time), converted when the schema got newer.
ovs_db_create() {
  local file="$1" schema="$2"
  [[ -r "$schema" ]] || qkvm_die "schema $schema is missing; run infra/dev/install.sh first"
  if [[ ! -s "$file" ]]; then
    ovsdb-tool create "$file" "$schema"
  elif [[ "$(ovsdb-tool needs-conversion "$file" "$schema")" == yes ]]; then
    qkvm_log "OVS: converting $file to the installed schema"
    ovsdb-tool convert "$file" "$schema"
  fi
}

# Names of the TAP devices ovs-vswitchd makes: the datapath's own (ovs-netdev)
# and every internal port (each bridge has one of its name), from the database.
ovs_tap_names() {
  printf 'ovs-netdev\n'
  if [[ -n "$(ovs_daemon_pid ovsdb-server)" ]]; then
    ovs_vsctl --bare --columns=name find Interface type=internal 2>/dev/null || true
  fi
}

# The identity of network namespace $1 ("" = ours) as /proc/PID/ns/net shows it.
ovs_netns_id() {
  if [[ -n "$1" ]]; then
    printf 'net:[%s]' "$(stat -L -c %i "/run/netns/$1")"
  else
    readlink /proc/self/ns/net
  fi
}

# TAP devices in namespace $1 with whether a process holds them: "NAME 1" or "NAME 0".
# A holder has /dev/net/tun open with "iff: NAME" in its fdinfo. Names are per
# namespace, so only holders living in that namespace count (`ip -d tuntap show`
# would take another namespace's br-int holder for this one's).
ovs_taps() {
  local ns_id fd pid name
  local -A held=()
  ns_id="$(ovs_netns_id "$1")"
  while read -r fd; do
    pid="${fd#/proc/}"
    pid="${pid%%/*}"
    [[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$ns_id" ]] || continue
    name="$(sed -n 's/^iff:[[:space:]]*//p' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null)"
    [[ -n "$name" ]] && held["$name"]=1
  done < <(find /proc/[0-9]*/fd -maxdepth 1 -lname /dev/net/tun 2>/dev/null)
  # "NAME: tap persist ..." lines name the devices.
  while read -r name; do
    printf '%s %s\n' "$name" "${held[$name]:-0}"
  done < <(ovs_in_netns "$1" ip tuntap show 2>/dev/null | sed -n 's/^\([^[:space:]:]*\):.*/\1/p')
}

# Those of the named devices (in namespace $1) that exist as TAP devices no
# process holds: leftovers of an ovs-vswitchd that died without cleaning up.
# Held ones belong to a running ovs-vswitchd (ours, or another stack's in the
# same namespace): left alone.
ovs_stray_taps() {
  local ns="$1" tap held name
  shift
  while read -r tap held; do
    for name in "$@"; do
      [[ "$tap" == "$name" && "$held" == 0 ]] && printf '%s\n' "$tap"
    done
  done < <(ovs_taps "$ns")
  return 0
}

ovs_require_tools() {
  local t
  for t in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl ovn-northd ovn-controller ovn-nbctl ovn-sbctl ovn-appctl ip; do
    command -v "$t" >/dev/null ||
      qkvm_die "$t is missing; run infra/dev/install.sh first (openvswitch-switch ovn-central ovn-host iproute2)"
  done
  # The longest unix socket: ovn-controller's control socket (ovn-controller.<pid>.ctl); the limit is 107 bytes.
  local longest="$OVN_RUN/ovn-controller.4194304.ctl"
  ((${#longest} <= 107)) ||
    qkvm_die "QKVM_DATA ($QKVM_DATA) is too long a path for the OVS sockets (${#longest} > 107 bytes); choose a shorter one"
}

# Sockets usable by the user who ran us through sudo (root otherwise).
ovs_give_sockets() {
  local s
  [[ -n "${SUDO_UID:-}" && "${SUDO_UID}" != 0 ]] || return 0
  for s in "$OVS_RUN"/*.sock "$OVS_RUN"/*.ctl "$OVS_RUN"/*.mgmt "$OVN_RUN"/*.sock "$OVN_RUN"/*.ctl; do
    [[ -S "$s" ]] && chown "$SUDO_UID:${SUDO_GID:-}" "$s"
  done
  return 0
}

ovs_ready() {
  local ofport
  ofport="$(ovs_vsctl get Interface "$OVN_BRIDGE" ofport 2>/dev/null)" || return 1
  [[ "$ofport" =~ ^[0-9]+$ ]] || return 1
  [[ -n "$(ovn_sbctl --bare --columns=name find Chassis "name=\"$1\"" 2>/dev/null)" ]]
}

cmd_start() {
  local ns running_ns system_id i
  ovs_require_tools
  mkdir -p "$QKVM_DATA" "$QKVM_RUN" "$OVS_DIR" "$OVS_RUN" "$OVS_LOGDIR" "$OVN_DIR" "$OVN_RUN" "$OVN_LOGDIR"
  chmod 755 "$OVS_DIR" "$OVS_RUN" "$OVN_DIR" "$OVN_RUN"
  exec 9>"$OVS_LOCK"
  flock 9

  ns="$OVS_NETNS_WANTED"
  running_ns="$(ovs_netns_in_use)"
  if [[ "$running_ns" != "$ns" ]] && [[ -n "$(ovs_daemon_pids ovs-vswitchd)$(ovs_daemon_pids ovn-controller)" ]]; then
    qkvm_die "this stack already runs in network namespace '${running_ns:-<this machine>}', not '${ns:-<this machine>}'; run '$0 stop' first"
  fi
  # One userspace datapath per namespace: refuse before starting anything.
  if [[ -z "$(ovs_daemon_pid ovs-vswitchd)" ]] && [[ -z "$ns" || -e "/run/netns/$ns" ]] &&
    ovs_taps "$ns" | grep -x 'ovs-netdev 1' >/dev/null; then
    qkvm_die "another ovs-vswitchd's userspace datapath (TAP device ovs-netdev) runs in network namespace '${ns:-<this machine>}', and only one can. Stop that stack, or set QKVM_OVS_NETNS=<name> to run this one in a namespace of its own"
  fi
  printf '%s' "$ns" >"$OVS_NETNS_FILE"
  if [[ -n "$ns" ]]; then
    if [[ ! -e "/run/netns/$ns" ]]; then
      qkvm_log "OVS: creating network namespace $ns"
      ip netns add "$ns"
    fi
    ip -n "$ns" link set lo up # Geneve to 127.0.0.1 (ovn-encap-ip)
  fi

  # ---- Open_vSwitch database and ovs-vswitchd
  ovs_db_create "$OVS_DB_FILE" "$OVS_SCHEMA"
  ovs_daemon_start ovsdb-server "${OVS_ENV[@]}" ovsdb-server "$OVS_DB_FILE" --remote="punix:$OVS_SOCK" \
    --unixctl="$OVS_RUN/ovsdb-server.ctl" --log-file="$OVS_LOGDIR/ovsdb-server.log"
  ovs_vsctl --no-wait init

  if [[ -z "$(ovs_daemon_pid ovs-vswitchd)" ]]; then
    # Leftovers of our own crashed ovs-vswitchd: it could not make them again.
    local tap
    local -a taps
    mapfile -t taps < <(ovs_tap_names)
    for tap in $(ovs_stray_taps "$ns" "${taps[@]}"); do
      qkvm_warn "OVS: deleting TAP device $tap left by an earlier ovs-vswitchd"
      ovs_in_netns "$ns" ip link delete "$tap" 2>/dev/null || true
    done
  fi
  ovs_daemon_start ovs-vswitchd ovs_in_netns "$ns" "${OVS_ENV[@]}" ovs-vswitchd "$QKVM_OVS_DB" \
    --unixctl="$OVS_RUN/ovs-vswitchd.ctl" --log-file="$OVS_LOGDIR/ovs-vswitchd.log"

  # ---- OVN databases and ovn-northd
  ovs_db_create "$OVN_NB_FILE" "$OVN_SCHEMA_DIR/ovn-nb.ovsschema"
  ovs_db_create "$OVN_SB_FILE" "$OVN_SCHEMA_DIR/ovn-sb.ovsschema"
  ovs_daemon_start ovnnb_db "${OVN_ENV[@]}" ovsdb-server "$OVN_NB_FILE" --remote="punix:$OVN_NB_SOCK" \
    --unixctl="$OVN_RUN/ovnnb_db.ctl" --log-file="$OVN_LOGDIR/ovsdb-server-nb.log"
  ovs_daemon_start ovnsb_db "${OVN_ENV[@]}" ovsdb-server "$OVN_SB_FILE" --remote="punix:$OVN_SB_SOCK" \
    --unixctl="$OVN_RUN/ovnsb_db.ctl" --log-file="$OVN_LOGDIR/ovsdb-server-sb.log"
  # The empty databases need their root rows.
  timeout 30 ovn-nbctl --db="$QKVM_OVN_NB_DB" --timeout=20 init 9>&-
  timeout 30 ovn-sbctl --db="$QKVM_OVN_SB_DB" --timeout=20 init 9>&-
  ovs_daemon_start ovn-northd "${OVN_ENV[@]}" ovn-northd --ovnnb-db="$QKVM_OVN_NB_DB" --ovnsb-db="$QKVM_OVN_SB_DB" \
    --log-file="$OVN_LOGDIR/ovn-northd.log"

  # ---- this machine as an OVN chassis (one system-id per data folder, kept across restarts)
  [[ -s "$OVN_SYSTEM_ID_FILE" ]] || cat /proc/sys/kernel/random/uuid >"$OVN_SYSTEM_ID_FILE"
  system_id="$(cat "$OVN_SYSTEM_ID_FILE")"
  ovs_vsctl --no-wait set Open_vSwitch . \
    "external_ids:ovn-remote=\"$QKVM_OVN_SB_DB\"" \
    "external_ids:system-id=\"$system_id\"" \
    external_ids:ovn-encap-type=geneve \
    external_ids:ovn-encap-ip=127.0.0.1 \
    external_ids:ovn-bridge=$OVN_BRIDGE \
    external_ids:ovn-bridge-datapath-type=netdev
  # ovn-controller 23.03 refuses --unixctl: OVN_RUNDIR places its control socket.
  ovs_daemon_start ovn-controller ovs_in_netns "$ns" "${OVN_ENV[@]}" ovn-controller "$QKVM_OVS_DB" \
    --log-file="$OVN_LOGDIR/ovn-controller.log"

  # ---- ready: ovn-controller made br-int, ovs-vswitchd opened it (an OpenFlow port
  # number; -1 when its TAP device failed), and the chassis is registered.
  for ((i = 0; i < 300; i++)); do
    ovs_ready "$system_id" && break
    sleep 0.1
  done
  ovs_ready "$system_id" || {
    ovs_vsctl show >&2 || true
    qkvm_die "the stack is not ready ($OVN_BRIDGE missing or not opened, or chassis $system_id not registered); see $OVN_LOGDIR/ovn-controller.log and $OVS_LOGDIR/ovs-vswitchd.log"
  }
  ovs_give_sockets
  qkvm_log "OVS: ready (chassis $system_id, namespace ${ns:-<this machine>}); $QKVM_OVS_DB, NB $QKVM_OVN_NB_DB, SB $QKVM_OVN_SB_DB"
}

cmd_stop() {
  local ns bridge tap
  local -a bridges=() taps=()
  if [[ -d "$QKVM_RUN" ]]; then
    exec 9>"$OVS_LOCK"
    flock 9
  fi
  ns="$(ovs_netns_in_use)"
  # ovn-controller first: it would create br-int again.
  ovs_daemon_stop ovn-controller
  mapfile -t taps < <(ovs_tap_names) # before the bridges (and their internal ports) leave the database
  # Bridges while ovs-vswitchd still runs: it removes their TAP devices (the
  # call waits until it has). Then exit --cleanup also removes the datapath's.
  if [[ -n "$(ovs_daemon_pid ovsdb-server)" ]]; then
    mapfile -t bridges < <(ovs_vsctl list-br 2>/dev/null || true)
    for bridge in "${bridges[@]}"; do
      qkvm_log "OVS: deleting bridge $bridge"
      if [[ -n "$(ovs_daemon_pid ovs-vswitchd)" ]]; then
        ovs_vsctl --if-exists del-br "$bridge" || qkvm_warn "ovs-vsctl del-br $bridge failed"
      else
        ovs_vsctl --no-wait --if-exists del-br "$bridge" || qkvm_warn "ovs-vsctl del-br $bridge failed"
      fi
    done
  fi
  if [[ -n "$(ovs_daemon_pid ovs-vswitchd)" ]]; then
    qkvm_log "OVS: stopping ovs-vswitchd (pid $(ovs_daemon_pid ovs-vswitchd), exit --cleanup: its datapath goes too)"
    ovs_appctl -t "$OVS_RUN/ovs-vswitchd.ctl" exit --cleanup >/dev/null 2>&1 ||
      qkvm_warn "ovs-vswitchd did not take 'exit --cleanup'; signalling it"
  fi
  ovs_daemon_stop ovs-vswitchd
  ovs_daemon_stop ovn-northd
  ovs_daemon_stop ovnsb_db
  ovs_daemon_stop ovnnb_db
  ovs_daemon_stop ovsdb-server

  # TAP devices of a daemon that died without cleaning up (none held by a process).
  if [[ -z "$ns" ]] || [[ -e "/run/netns/$ns" ]]; then
    for tap in $(ovs_stray_taps "$ns" "${taps[@]}"); do
      qkvm_warn "OVS: deleting TAP device $tap left by ovs-vswitchd"
      ovs_in_netns "$ns" ip link delete "$tap" 2>/dev/null || true
    done
  fi
  # The namespace goes with everything still in it (veth ends plugged into the bridges).
  if [[ -n "$ns" && -e "/run/netns/$ns" ]]; then
    qkvm_log "OVS: deleting network namespace $ns"
    ip netns delete "$ns" || qkvm_warn "ip netns delete $ns failed"
  fi
  rm -f "$OVS_NETNS_FILE"
  qkvm_log "OVS: stopped (databases kept in $OVS_DIR and $OVN_DIR)"
}

cmd_status() {
  local name pid summary="" down="" system_id bridges
  for name in ovsdb-server ovs-vswitchd ovnnb_db ovnsb_db ovn-northd ovn-controller; do
    pid="$(ovs_daemon_pid "$name")"
    if [[ -n "$pid" ]]; then summary+=" $name=$pid"; else down+=" $name"; fi
  done
  if [[ -n "$down" ]]; then
    echo "OVS: DOWN (not running:$down; running:${summary:- none})"
    return 1
  fi
  system_id="$(cat "$OVN_SYSTEM_ID_FILE" 2>/dev/null || true)"
  if ! ovs_ready "$system_id"; then
    echo "OVS: NOT READY ($OVN_BRIDGE missing or not opened, or chassis $system_id not registered;$summary)"
    return 1
  fi
  bridges="$(ovs_vsctl list-br | tr '\n' ' ')"
  echo "OVS: OK$summary; bridges: ${bridges% }; chassis $system_id; namespace $(ovs_netns_in_use | grep . || echo '<this machine>')"
}

cmd_env() {
  printf 'export QKVM_OVS_DB=%q\n' "$QKVM_OVS_DB"
  printf 'export QKVM_OVN_NB_DB=%q\n' "$QKVM_OVN_NB_DB"
  printf 'export QKVM_OVN_SB_DB=%q\n' "$QKVM_OVN_SB_DB"
  # The namespace the switch side runs in ("" = this machine's): ports to plug must be there.
  printf 'export QKVM_OVS_NETNS=%q\n' "$(ovs_netns_in_use)"
  # Defaults of ovs-vsctl/ovs-appctl and ovn-nbctl/ovn-sbctl/ovn-appctl (and of libvirt's ovs-vsctl calls).
  printf 'export OVS_RUNDIR=%q\n' "$OVS_RUN"
  printf 'export OVN_RUNDIR=%q\n' "$OVN_RUN"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
