#!/usr/bin/env bash
# A private single-node Ceph 16.2 cluster (one mon, one bluestore osd) on
# 127.0.0.1 for Quantixkvm's RBD storage pools, all state in $QKVM_DATA/ceph.
#
#   infra/dev/ceph.sh start    create (first time) and start; idempotent
#   infra/dev/ceph.sh stop     stop osd and mon (pid files); idempotent
#   infra/dev/ceph.sh status   exit 0 when usable for RBD; one-line summary
#   infra/dev/ceph.sh env      `export` lines for clients (conf, pool, user, key, mon v1/v2)
#
# Ports (env.sh): QKVM_CEPH_MON_PORT (msgr v2), QKVM_CEPH_MON_V1_PORT (msgr v1,
# what libvirt/QEMU use), QKVM_CEPH_OSD_PORT_MIN..MAX (the osd's listeners).
#   QKVM_CEPH_POOL       RBD pool to create (default qkvm)
#   QKVM_CEPH_OSD_SIZE   size of the osd's sparse block file (default 4G; used at creation only)
# The osd is bluestore on a sparse file ($QKVM_DATA/ceph/osd/ceph-0.block,
# outside the osd data folder), so images survive a stop/start. As root the
# daemons run as the `ceph` user (from the ceph packages); otherwise as you.
# The cephx user client.quantixkvm (profile rbd on the pool) has its keyring
# next to ceph.conf, readable by the `quantixkvm` system user (libvirt).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QKVM_CEPH_POOL="${QKVM_CEPH_POOL:-qkvm}"
QKVM_CEPH_MON_PORT="${QKVM_CEPH_MON_PORT:-16789}"
QKVM_CEPH_MON_V1_PORT="${QKVM_CEPH_MON_V1_PORT:-16790}"
QKVM_CEPH_OSD_PORT_MIN="${QKVM_CEPH_OSD_PORT_MIN:-16800}"
QKVM_CEPH_OSD_PORT_MAX="${QKVM_CEPH_OSD_PORT_MAX:-16830}"
QKVM_CEPH_OSD_SIZE="${QKVM_CEPH_OSD_SIZE:-4G}"

CEPH_DIR="$QKVM_DATA/ceph"
CEPH_CONF="$CEPH_DIR/ceph.conf"
CEPH_RUN="$CEPH_DIR/run"
CEPH_LOG="$CEPH_DIR/log"
CEPH_FSID_FILE="$CEPH_DIR/fsid" # generated once, kept even when the cluster is rebuilt
CEPH_MON_ID=a
CEPH_OSD_ID=0
CEPH_MON_DIR="$CEPH_DIR/mon/ceph-$CEPH_MON_ID"
CEPH_OSD_BASE="$CEPH_DIR/osd"
CEPH_OSD_DIR="$CEPH_OSD_BASE/ceph-$CEPH_OSD_ID"
CEPH_OSD_BLOCK="$CEPH_OSD_BASE/ceph-$CEPH_OSD_ID.block"
CEPH_MON_PIDFILE="$CEPH_RUN/ceph-mon.$CEPH_MON_ID.pid"
CEPH_OSD_PIDFILE="$CEPH_RUN/ceph-osd.$CEPH_OSD_ID.pid"
CEPH_ADMIN_KEYRING="$CEPH_DIR/ceph.client.admin.keyring"
CEPH_CLIENT=quantixkvm # cephx user for the platform (client.quantixkvm)
CEPH_CLIENT_KEYRING="$CEPH_DIR/ceph.client.$CEPH_CLIENT.keyring"
CEPH_CLIENT_OS_USER=quantixkvm # the system user libvirt session daemons run as
# Markers written only after a step fully succeeded: missing = half-made.
CEPH_MON_DONE="$CEPH_DIR/mon.done"
CEPH_OSD_DONE="$CEPH_DIR/osd.done"
CEPH_PROVISIONED="$CEPH_DIR/provisioned"

# As root the daemons drop to the `ceph` user; their folders belong to it.
CEPH_SETUSER=()
CEPH_DAEMON_USER="$(id -un)"
if qkvm_is_root; then
  CEPH_SETUSER=(--setuser ceph --setgroup ceph)
  CEPH_DAEMON_USER=ceph
fi

# The admin CLI (python: ~0.5 s a call); never hangs longer than its timeout.
ceph_cli() {
  timeout 60 ceph --conf "$CEPH_CONF" --name client.admin --connect-timeout 15 "$@" 9>&-
}

# rbd as the platform's cephx user, with short client timeouts (probes).
ceph_rbd_probe() {
  timeout 30 rbd --conf "$CEPH_CONF" --id "$CEPH_CLIENT" \
    --client_mount_timeout 10 --rados_mon_op_timeout 15 --rados_osd_op_timeout 15 "$@" 9>&-
}

# PIDs of our daemon ($1 = ceph-mon|ceph-osd, $2 = its pid file): the pid
# file's process first if it is ours (PIDs get recycled), then any other
# process of that program started with our ceph.conf (lost pid file).
ceph_daemon_pids() {
  qkvm_pids_by_cmdline "$2" "*$1 *--conf $CEPH_CONF *" "*$1 --conf $CEPH_CONF *"
}

# The daemon's PID when it runs from its pid file (the normal state), else "".
ceph_daemon_pid() {
  local -a pids
  mapfile -t pids < <(ceph_daemon_pids "$1" "$2")
  if ((${#pids[@]})) && [[ "${pids[0]}" == "$(qkvm_read_pidfile "$2")" ]]; then
    printf '%s' "${pids[0]}"
  fi
  return 0
}

# Stop every process of a daemon (TERM = clean shutdown) and its pid file.
ceph_daemon_stop() {
  local prog="$1" pidfile="$2" name="$3" p
  for p in $(ceph_daemon_pids "$prog" "$pidfile"); do
    qkvm_log "Ceph: stopping $name (pid $p)"
    qkvm_stop_pid "$p" "$name" 30
  done
  rm -f "$pidfile"
}

ceph_stop_all() {
  ceph_daemon_stop ceph-osd "$CEPH_OSD_PIDFILE" "osd.$CEPH_OSD_ID"
  ceph_daemon_stop ceph-mon "$CEPH_MON_PIDFILE" "mon.$CEPH_MON_ID"
}

ceph_require_tools() {
  local t
  for t in ceph ceph-mon ceph-osd ceph-authtool monmaptool rbd; do
    command -v "$t" >/dev/null || qkvm_die "$t is missing; run infra/dev/install.sh first (ceph-mon ceph-osd ceph-common)"
  done
  if qkvm_is_root; then
    id ceph >/dev/null 2>&1 || qkvm_die "user 'ceph' missing (created by the ceph packages); run infra/dev/install.sh"
    runuser -u ceph -- test -x "$QKVM_DATA" ||
      qkvm_die "user 'ceph' cannot enter $QKVM_DATA (a parent folder is not world-executable); set QKVM_DATA to another folder"
  fi
}

ceph_fsid() {
  if [[ ! -s "$CEPH_FSID_FILE" ]]; then
    cat /proc/sys/kernel/random/uuid >"$CEPH_FSID_FILE.tmp"
    mv "$CEPH_FSID_FILE.tmp" "$CEPH_FSID_FILE"
  fi
  cat "$CEPH_FSID_FILE"
}

# ceph.conf, rewritten on each start (so changed ports take effect).
# Prints "changed" when its content differs from the file in place.
ceph_write_conf() {
  local tmp="$CEPH_CONF.tmp"
  cat >"$tmp" <<EOF
# Written by infra/dev/ceph.sh on each start; edits are overwritten.
[global]
fsid = $(ceph_fsid)
mon host = [v2:127.0.0.1:$QKVM_CEPH_MON_PORT,v1:127.0.0.1:$QKVM_CEPH_MON_V1_PORT]
mon initial members = $CEPH_MON_ID
public network = 127.0.0.0/8
ms bind ipv6 = false
ms bind port min = $QKVM_CEPH_OSD_PORT_MIN
ms bind port max = $QKVM_CEPH_OSD_PORT_MAX
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $CEPH_RUN
admin socket = $CEPH_RUN/\$cluster-\$name.asok
pid file = $CEPH_RUN/\$cluster-\$name.pid
log file = $CEPH_LOG/\$cluster-\$name.log
mon cluster log file = $CEPH_LOG/\$cluster.log
crash dir = $CEPH_DIR/crash
# One osd: no replication, placement across osds (not hosts).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# Dev machines often have fuller disks than Ceph likes (the mon stops below crit).
mon data avail warn = 10
mon data avail crit = 2

[mon]
mon data = $CEPH_DIR/mon/\$cluster-\$id
keyring = \$mon_data/keyring
# Small memory footprint (dev box).
mon memory target = 128M
rocksdb cache size = 32M
mon osd cache size = 50

[osd]
osd data = $CEPH_OSD_BASE/\$cluster-\$id
keyring = \$osd_data/keyring
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = bluestore
# The block device is a sparse file outside the osd data folder.
bluestore block path = $CEPH_OSD_BASE/\$cluster-\$id.block
bluestore block create = true
bluestore block size = $QKVM_CEPH_OSD_SIZE
# Small memory footprint: fixed 64 MiB cache (896M is the smallest memory target
# Ceph accepts, so autotuning is off instead), small rocksdb memtables.
osd memory target = 896M
bluestore cache autotune = false
bluestore cache size = 64M
bluestore rocksdb options = compression=kNoCompression,max_write_buffer_number=2,min_write_buffer_number_to_merge=1,recycle_log_file_num=2,write_buffer_size=16777216,writable_file_max_buffer_size=0,compaction_readahead_size=2097152,max_background_compactions=1,max_total_wal_size=67108864
osd op num shards = 2
osd op num threads per shard = 1

[client]
# \$name: client.admin -> ceph.client.admin.keyring, client.$CEPH_CLIENT -> ceph.client.$CEPH_CLIENT.keyring
keyring = $CEPH_DIR/\$cluster.\$name.keyring
# Clients (CLI, librados in libvirt/QEMU/.NET) write no log file and no admin socket.
log file =
admin socket =
EOF
  chmod 644 "$tmp"
  if [[ -f "$CEPH_CONF" ]] && cmp -s "$tmp" "$CEPH_CONF"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$CEPH_CONF"
    echo changed
  fi
}

# Folders the daemons write to.
ceph_make_dirs() {
  mkdir -p "$CEPH_DIR" "$CEPH_RUN" "$CEPH_LOG" "$CEPH_DIR/crash" "$CEPH_DIR/mon" "$CEPH_OSD_BASE"
  chmod 755 "$CEPH_DIR" # ceph.conf and the client keyring must be reachable by libvirt's user
  qkvm_own "$CEPH_DAEMON_USER" "$CEPH_RUN" "$CEPH_LOG" "$CEPH_DIR/crash" "$CEPH_DIR/mon" "$CEPH_OSD_BASE"
  chmod 750 "$CEPH_DIR/mon" "$CEPH_OSD_BASE"
}

# A half-made or partly deleted cluster: remove all but the fsid (and logs).
ceph_wipe() {
  if [[ -e "$CEPH_ADMIN_KEYRING" || -n "$(find "$CEPH_DIR/mon" "$CEPH_OSD_BASE" -mindepth 1 -print -quit 2>/dev/null)" ]]; then
    qkvm_warn "Ceph: rebuilding the cluster in $CEPH_DIR (an earlier setup was interrupted or partly deleted)"
  fi
  ceph_stop_all
  rm -rf "$CEPH_DIR/mon" "$CEPH_OSD_BASE" "$CEPH_DIR/bootstrap"
  rm -f "$CEPH_MON_DONE" "$CEPH_OSD_DONE" "$CEPH_PROVISIONED" "$CEPH_ADMIN_KEYRING" "$CEPH_CLIENT_KEYRING"
  ceph_make_dirs
}

ceph_mon_mkfs() {
  local boot="$CEPH_DIR/bootstrap" out="$CEPH_LOG/mkfs-mon.out"
  qkvm_log "Ceph: creating mon.$CEPH_MON_ID (fsid $(ceph_fsid))"
  rm -rf "$boot"
  mkdir -p "$boot" "$CEPH_MON_DIR"
  chmod 700 "$boot"
  (
    umask 077
    ceph-authtool --create-keyring "$CEPH_ADMIN_KEYRING" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
    ceph-authtool --create-keyring "$boot/mon.keyring" --gen-key -n "mon." --cap mon 'allow *'
    ceph-authtool "$boot/mon.keyring" --import-keyring "$CEPH_ADMIN_KEYRING"
    monmaptool --create --clobber --enable-all-features --fsid "$(ceph_fsid)" \
      --addv "$CEPH_MON_ID" "[v2:127.0.0.1:$QKVM_CEPH_MON_PORT,v1:127.0.0.1:$QKVM_CEPH_MON_V1_PORT]" "$boot/monmap"
  ) >"$out" 2>&1 || qkvm_die "Ceph: mon bootstrap files failed; see $out"
  qkvm_own "$CEPH_DAEMON_USER" -R "$boot" "$CEPH_MON_DIR"
  ceph-mon --conf "$CEPH_CONF" --mkfs -i "$CEPH_MON_ID" --monmap "$boot/monmap" \
    --keyring "$boot/mon.keyring" "${CEPH_SETUSER[@]}" >>"$out" 2>&1 9>&- ||
    qkvm_die "Ceph: ceph-mon --mkfs failed; see $out"
  rm -rf "$boot"
  touch "$CEPH_MON_DONE"
}

# Start a daemon unless it already runs from its pid file. ceph-mon/ceph-osd
# fork and their parent exits once the daemon is initialised (or failed).
ceph_daemon_start() {
  local prog="$1" pidfile="$2" id="$3" name="$4" pid p
  pid="$(ceph_daemon_pid "$prog" "$pidfile")"
  if [[ -n "$pid" ]]; then
    return 0
  fi
  for p in $(ceph_daemon_pids "$prog" "$pidfile"); do
    qkvm_warn "Ceph: ending leftover $name process $p"
    qkvm_stop_pid "$p" "$name" 15
  done
  if [[ -f "$pidfile" ]]; then
    qkvm_warn "Ceph: removing stale $pidfile"
    rm -f "$pidfile"
  fi
  qkvm_log "Ceph: starting $name"
  (
    cd "$CEPH_DIR"
    # setsid: the daemon must not die with this script's session or terminal.
    setsid "$prog" --conf "$CEPH_CONF" -i "$id" "${CEPH_SETUSER[@]}" \
      </dev/null >>"$CEPH_LOG/$prog.$id.out" 2>&1 9>&-
  ) || {
    tail -n 20 "$CEPH_LOG/ceph-$name.log" >&2 2>/dev/null || true
    qkvm_die "Ceph: $name did not start; see $CEPH_LOG/ceph-$name.log and $CEPH_LOG/$prog.$id.out"
  }
  pid="$(ceph_daemon_pid "$prog" "$pidfile")"
  [[ -n "$pid" ]] || qkvm_die "Ceph: $name exited right after starting; see $CEPH_LOG/ceph-$name.log"
  qkvm_log "Ceph: $name started (pid $pid)"
}

ceph_wait_mon() {
  local deadline
  for ((deadline = SECONDS + 60; SECONDS < deadline; )); do
    ceph_cli mon stat >/dev/null 2>&1 && return 0
    sleep 1
  done
  qkvm_die "Ceph: mon.$CEPH_MON_ID not answering on 127.0.0.1:$QKVM_CEPH_MON_PORT; see $CEPH_LOG/ceph-mon.$CEPH_MON_ID.log"
}

# Registers osd.0 with the mon and formats its bluestore on the sparse file.
ceph_osd_mkfs() {
  local uuid secret out="$CEPH_LOG/mkfs-osd.out"
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  secret="$(ceph-authtool --gen-print-key)"
  qkvm_log "Ceph: creating osd.$CEPH_OSD_ID (bluestore on a $QKVM_CEPH_OSD_SIZE sparse file)"
  rm -rf "$CEPH_OSD_DIR" "$CEPH_OSD_BLOCK"
  mkdir -p "$CEPH_OSD_DIR"
  truncate -s "$QKVM_CEPH_OSD_SIZE" "$CEPH_OSD_BLOCK"
  (
    umask 077
    ceph-authtool --create-keyring "$CEPH_OSD_DIR/keyring" --name "osd.$CEPH_OSD_ID" --add-key "$secret"
  ) >"$out" 2>&1 || qkvm_die "Ceph: osd keyring failed; see $out"
  qkvm_own "$CEPH_DAEMON_USER" -R "$CEPH_OSD_DIR" "$CEPH_OSD_BLOCK"
  # The mon is always fresh here (both are rebuilt together), so osd.0 is new.
  # (`ceph osd purge` would need a ceph-mgr: without one it hangs until its timeout.)
  printf '{"cephx_secret": "%s"}' "$secret" |
    ceph_cli osd new "$uuid" "$CEPH_OSD_ID" -i - >>"$out" 2>&1 ||
    qkvm_die "Ceph: ceph osd new failed; see $out"
  ceph-osd --conf "$CEPH_CONF" -i "$CEPH_OSD_ID" --mkfs --osd-uuid "$uuid" \
    "${CEPH_SETUSER[@]}" >>"$out" 2>&1 9>&- ||
    qkvm_die "Ceph: ceph-osd --mkfs failed; see $out"
  touch "$CEPH_OSD_DONE"
}

# "up in" counts from `ceph osd stat`, e.g. "1 1".
ceph_osd_up_in() {
  ceph_cli osd stat -f json 2>/dev/null |
    sed -n 's/.*"num_up_osds":\([0-9]*\).*"num_in_osds":\([0-9]*\).*/\1 \2/p'
}

ceph_wait_osd() {
  local deadline
  for ((deadline = SECONDS + 90; SECONDS < deadline; )); do
    [[ "$(ceph_osd_up_in)" == "1 1" ]] && return 0
    sleep 1
  done
  qkvm_die "Ceph: osd.$CEPH_OSD_ID not up/in after 90 s; see $CEPH_LOG/ceph-osd.$CEPH_OSD_ID.log"
}

# Pool + rbd application + cephx user; idempotent, run until it succeeded once.
ceph_provision() {
  local want="pool=$QKVM_CEPH_POOL user=client.$CEPH_CLIENT" out="$CEPH_LOG/provision.out"
  if [[ -f "$CEPH_PROVISIONED" && "$(cat "$CEPH_PROVISIONED")" == "$want" && -s "$CEPH_CLIENT_KEYRING" ]]; then
    return 0
  fi
  qkvm_log "Ceph: creating RBD pool '$QKVM_CEPH_POOL' and user client.$CEPH_CLIENT"
  : >"$out"
  if ! ceph_cli osd pool ls 2>>"$out" | grep -qxF "$QKVM_CEPH_POOL"; then
    ceph_cli osd pool create "$QKVM_CEPH_POOL" 8 8 replicated >>"$out" 2>&1 ||
      qkvm_die "Ceph: pool create failed; see $out"
  fi
  timeout 120 rbd --conf "$CEPH_CONF" --id admin pool init "$QKVM_CEPH_POOL" >>"$out" 2>&1 9>&- ||
    qkvm_die "Ceph: rbd pool init failed; see $out"
  local caps=(mon 'profile rbd' osd "profile rbd pool=$QKVM_CEPH_POOL" mgr "profile rbd pool=$QKVM_CEPH_POOL")
  if ceph_cli auth get "client.$CEPH_CLIENT" >/dev/null 2>&1; then
    ceph_cli auth caps "client.$CEPH_CLIENT" "${caps[@]}" >>"$out" 2>&1 ||
      qkvm_die "Ceph: auth caps failed; see $out"
  else
    ceph_cli auth get-or-create "client.$CEPH_CLIENT" "${caps[@]}" >/dev/null 2>>"$out" ||
      qkvm_die "Ceph: auth get-or-create failed; see $out"
  fi
  (
    umask 077
    ceph_cli auth get "client.$CEPH_CLIENT" -o "$CEPH_CLIENT_KEYRING.tmp" >>"$out" 2>&1
  ) || qkvm_die "Ceph: auth get failed; see $out"
  # Readable by the system user libvirt session daemons run as.
  if qkvm_is_root && id "$CEPH_CLIENT_OS_USER" >/dev/null 2>&1; then
    chgrp "$CEPH_CLIENT_OS_USER" "$CEPH_CLIENT_KEYRING.tmp"
    chmod 640 "$CEPH_CLIENT_KEYRING.tmp"
  fi
  mv "$CEPH_CLIENT_KEYRING.tmp" "$CEPH_CLIENT_KEYRING"
  printf '%s' "$want" >"$CEPH_PROVISIONED"
}

ceph_wait_rbd() {
  local deadline
  for ((deadline = SECONDS + 90; SECONDS < deadline; )); do
    ceph_rbd_probe ls -p "$QKVM_CEPH_POOL" >/dev/null 2>&1 && return 0
    sleep 1
  done
  qkvm_die "Ceph: 'rbd ls -p $QKVM_CEPH_POOL' as client.$CEPH_CLIENT still fails after 90 s; see $CEPH_LOG"
}

ceph_complete() {
  [[ -f "$CEPH_MON_DONE" && -f "$CEPH_OSD_DONE" && -d "$CEPH_MON_DIR" && -d "$CEPH_OSD_DIR" && -f "$CEPH_OSD_BLOCK" && -s "$CEPH_ADMIN_KEYRING" ]]
}

cmd_start() {
  local t0=$SECONDS mon_pid osd_pid
  # The data folder first: the tools check also checks that the ceph user can enter it (which fails while it is missing).
  mkdir -p "$QKVM_DATA" "$CEPH_DIR"
  ceph_require_tools
  exec 9>"$CEPH_DIR/ceph.lock"
  flock 9
  ceph_make_dirs
  if [[ "$(ceph_write_conf)" == changed ]]; then
    # Daemons started with another configuration (e.g. other ports): restart them.
    if [[ -n "$(ceph_daemon_pids ceph-mon "$CEPH_MON_PIDFILE")$(ceph_daemon_pids ceph-osd "$CEPH_OSD_PIDFILE")" ]]; then
      qkvm_log "Ceph: ceph.conf changed; restarting the daemons"
      ceph_stop_all
    fi
  fi

  # Fast path: both daemons running, set up, and rbd answers.
  mon_pid="$(ceph_daemon_pid ceph-mon "$CEPH_MON_PIDFILE")"
  osd_pid="$(ceph_daemon_pid ceph-osd "$CEPH_OSD_PIDFILE")"
  if [[ -n "$mon_pid" && -n "$osd_pid" ]] && ceph_complete &&
    [[ "$(cat "$CEPH_PROVISIONED" 2>/dev/null)" == "pool=$QKVM_CEPH_POOL user=client.$CEPH_CLIENT" ]] &&
    ceph_rbd_probe ls -p "$QKVM_CEPH_POOL" >/dev/null 2>&1; then
    qkvm_log "Ceph: already running (mon pid $mon_pid, osd pid $osd_pid), pool '$QKVM_CEPH_POOL' usable"
    return 0
  fi

  if ! ceph_complete; then
    ceph_wipe
  fi
  [[ -f "$CEPH_MON_DONE" ]] || ceph_mon_mkfs
  if [[ -z "$(ceph_daemon_pid ceph-mon "$CEPH_MON_PIDFILE")" ]]; then
    qkvm_require_free_port "$QKVM_CEPH_MON_PORT" "Ceph mon (v2)"
    qkvm_require_free_port "$QKVM_CEPH_MON_V1_PORT" "Ceph mon (v1)"
  fi
  ceph_daemon_start ceph-mon "$CEPH_MON_PIDFILE" "$CEPH_MON_ID" "mon.$CEPH_MON_ID"
  ceph_wait_mon
  [[ -f "$CEPH_OSD_DONE" ]] || ceph_osd_mkfs
  ceph_daemon_start ceph-osd "$CEPH_OSD_PIDFILE" "$CEPH_OSD_ID" "osd.$CEPH_OSD_ID"
  ceph_wait_osd
  ceph_provision
  ceph_wait_rbd
  qkvm_log "Ceph: ready in $((SECONDS - t0)) s: mon 127.0.0.1:$QKVM_CEPH_MON_PORT (v2) / :$QKVM_CEPH_MON_V1_PORT (v1), pool '$QKVM_CEPH_POOL', conf $CEPH_CONF"
  qkvm_log "Ceph: client settings: $0 env"
}

cmd_stop() {
  if [[ -d "$CEPH_DIR" ]]; then
    exec 9>"$CEPH_DIR/ceph.lock"
    flock 9
  fi
  ceph_stop_all
  qkvm_log "Ceph: stopped (data kept in $CEPH_DIR)"
}

cmd_status() {
  local mon_pid osd_pid upin health images
  mon_pid="$(ceph_daemon_pid ceph-mon "$CEPH_MON_PIDFILE")"
  osd_pid="$(ceph_daemon_pid ceph-osd "$CEPH_OSD_PIDFILE")"
  if [[ -z "$mon_pid" ]]; then
    echo "ceph: DOWN (mon.$CEPH_MON_ID not running; osd.$CEPH_OSD_ID ${osd_pid:+"pid $osd_pid"}${osd_pid:+" (useless without the mon)"}$([[ -n "$osd_pid" ]] || echo "not running"))"
    return 1
  fi
  if [[ -z "$osd_pid" ]]; then
    echo "ceph: DOWN (mon.$CEPH_MON_ID pid $mon_pid, osd.$CEPH_OSD_ID not running)"
    return 1
  fi
  upin="$(ceph_osd_up_in)"
  health="$(ceph_cli health 2>/dev/null | head -n 1 | cut -c1-100)" || true
  if ! images="$(ceph_rbd_probe ls -p "$QKVM_CEPH_POOL" 2>/dev/null | wc -l)"; then
    echo "ceph: NOT USABLE (mon pid $mon_pid, osd pid $osd_pid, osds up/in ${upin:-?}, health ${health:-?}; 'rbd ls -p $QKVM_CEPH_POOL' as client.$CEPH_CLIENT fails)"
    return 1
  fi
  echo "ceph: OK mon.$CEPH_MON_ID pid $mon_pid (127.0.0.1:$QKVM_CEPH_MON_V1_PORT v1), osd.$CEPH_OSD_ID pid $osd_pid, osds up/in ${upin/ //}, pool '$QKVM_CEPH_POOL' $images image(s), health: ${health:-?}"
}

cmd_env() {
  local key
  [[ -s "$CEPH_CLIENT_KEYRING" ]] || qkvm_die "no client.$CEPH_CLIENT keyring yet; run $0 start first"
  key="$(ceph-authtool -p -n "client.$CEPH_CLIENT" "$CEPH_CLIENT_KEYRING")" ||
    qkvm_die "cannot read the key from $CEPH_CLIENT_KEYRING"
  printf 'export QKVM_CEPH_CONF=%q\n' "$CEPH_CONF"
  printf 'export QKVM_CEPH_POOL=%q\n' "$QKVM_CEPH_POOL"
  printf 'export QKVM_CEPH_USER=%q\n' "$CEPH_CLIENT"
  printf 'export QKVM_CEPH_KEY=%q\n' "$key"
  printf 'export QKVM_CEPH_MON=%q\n' "127.0.0.1:$QKVM_CEPH_MON_V1_PORT"
  # librados/QEMU try msgr v2 first on a port that is neither 3300 nor 6789 and
  # log one error line before falling back to v1; the v2 port avoids that noise.
  printf 'export QKVM_CEPH_MON_V2=%q\n' "127.0.0.1:$QKVM_CEPH_MON_PORT"
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
