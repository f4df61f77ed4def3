#!/usr/bin/env bash
# The one command to get a running Quantixkvm on this machine: installs what is
# missing, starts PostgreSQL and RabbitMQ, a private libvirt daemon (QEMU) and a
# single-node Ceph cluster, builds the test guest image and the solution, then
# starts the control plane and one node agent in the background and waits until
# the agent's host is ONLINE. A second run with everything up is quick.
#   QKVM_HYPERVISOR=qemu  (default) real guests: the agent drives a private session libvirtd
#                         (infra/dev/libvirtd.sh; QEMU with KVM when it works, TCG otherwise)
#   QKVM_HYPERVISOR=test  libvirt's in-process test driver (no guests really run; any machine)
#   QKVM_CEPH=0           do not start Ceph (infra/dev/ceph.sh): no RBD pools then
#   QKVM_HOSTS=N          N hosts (default 1): each another private libvirtd (QEMU) and its own agent,
#                         named <host>-2 … <host>-N, for clusters, migration, maintenance and HA on one machine
#   Agent__HostName       (default: $(hostname)-dev)
#   Agent__LibvirtUri     (default: the private daemon's URI, or test:///default)
set -euo pipefail

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$DEV_DIR/lib.sh"

QKVM_HYPERVISOR="${QKVM_HYPERVISOR:-qemu}"
QKVM_CEPH="${QKVM_CEPH:-1}"
QKVM_HOSTS="${QKVM_HOSTS:-1}"
[[ "$QKVM_HOSTS" =~ ^[1-9]$ ]] || qkvm_die "QKVM_HOSTS must be 1 to 9 (got '$QKVM_HOSTS')"
case "$QKVM_HYPERVISOR" in
  qemu | test) ;;
  *) qkvm_die "QKVM_HYPERVISOR must be qemu or test (got '$QKVM_HYPERVISOR')" ;;
esac

"$DEV_DIR/install.sh"
"$DEV_DIR/start-services.sh"

# Folders the agent reads from or writes to (see docs/operations.md, "Storage on real hosts").
GUEST_DIR="$QKVM_DATA/guest"      # infra/dev/guest-image.sh builds the test guest here
IMAGES_DIR="$QKVM_DATA/images"    # your own images, to import with file:// URLs
POOLS_DIR="$QKVM_DATA/pools"      # put dir pools here (e.g. $QKVM_DATA/pools/local)
CONSOLE_DIR="$QKVM_DATA/libvirt/consoles"
SEED_DIR="$QKVM_DATA/libvirt/seeds"
mkdir -p "$GUEST_DIR" "$IMAGES_DIR" "$POOLS_DIR"

# Ceph for RBD pools, before libvirtd (which starts its rbd pools as it starts). The agent
# gets the keyring (read by it, never sent anywhere); the monitors, pool and user are what
# you give createStoragePool.
ceph_line=""
unset QKVM_CEPH_CONF QKVM_CEPH_USER QKVM_CEPH_MON
if [[ "$QKVM_CEPH" != 0 ]]; then
  "$DEV_DIR/ceph.sh" start
  ceph_env="$("$DEV_DIR/ceph.sh" env)" || qkvm_die "infra/dev/ceph.sh env failed"
  # Only what the agent and the summary need; the key itself stays in the keyring file.
  while IFS= read -r line; do
    case "$line" in
      "export QKVM_CEPH_CONF="* | "export QKVM_CEPH_POOL="* | "export QKVM_CEPH_USER="* | "export QKVM_CEPH_MON="*)
        eval "${line#export }"
        ;;
    esac
  done <<<"$ceph_env"
  ceph_keyring="$(dirname "$QKVM_CEPH_CONF")/ceph.client.$QKVM_CEPH_USER.keyring"
  [[ -r "$ceph_keyring" ]] || qkvm_die "the Ceph keyring $ceph_keyring is missing or unreadable"
  export Agent__Ceph__KeyringPath="${Agent__Ceph__KeyringPath:-$ceph_keyring}"
  export Agent__Ceph__ConfPath="${Agent__Ceph__ConfPath:-$QKVM_CEPH_CONF}"
  ceph_line="monitor $QKVM_CEPH_MON, pool $QKVM_CEPH_POOL, user $QKVM_CEPH_USER (keyring $Agent__Ceph__KeyringPath)"
fi

libvirt_uri=test:///default
guest_image=""
if [[ "$QKVM_HYPERVISOR" == qemu ]]; then
  "$DEV_DIR/libvirtd.sh" start
  libvirt_uri="$("$DEV_DIR/libvirtd.sh" uri)"
  # libvirt creates a dir pool's folder as the daemon's user: the parent must be its.
  qkvm_own quantixkvm "$POOLS_DIR"
  qkvm_log "test guest image (infra/dev/guest-image.sh; built when missing or outdated)"
  guest_image="$("$DEV_DIR/guest-image.sh" | tail -n 1)" ||
    qkvm_die "infra/dev/guest-image.sh failed (see above)"
  [[ -s "$guest_image" ]] || qkvm_die "infra/dev/guest-image.sh printed no image path (got '$guest_image')"
fi

cd "$QKVM_REPO"
# Only the two programs: the platform must start even while a test project is being edited.
for project in src/Quantixkvm.ControlPlane src/Quantixkvm.Agent; do
  qkvm_log "building $project (Release)"
  dotnet build "$project" -c Release -nologo -v quiet ||
    qkvm_die "build of $project failed (see the errors above)"
done

export Agent__HostName="${Agent__HostName:-$(hostname)-dev}"
export Agent__LibvirtUri="${Agent__LibvirtUri:-$libvirt_uri}"
export Agent__ImportRoots__0="${Agent__ImportRoots__0:-$GUEST_DIR}"
export Agent__ImportRoots__1="${Agent__ImportRoots__1:-$IMAGES_DIR}"
export Agent__ConsoleLogDirectory="${Agent__ConsoleLogDirectory:-$CONSOLE_DIR}"
export Agent__SeedDirectory="${Agent__SeedDirectory:-$SEED_DIR}"
export Agent__WorkDirectory="${Agent__WorkDirectory:-$QKVM_DATA/agent/work}"
# HA's storage-lease fencer: every agent renews its lease here, and the control plane reads them (on real hosts: shared storage).
LEASE_DIR="$QKVM_DATA/leases"
mkdir -p "$LEASE_DIR"
export Agent__LeaseDirectory="${Agent__LeaseDirectory:-$LEASE_DIR}"
export ControlPlane__Fencing__LeaseDirectory="${ControlPlane__Fencing__LeaseDirectory:-$LEASE_DIR}"
# Heartbeat every second (the default is 5 s), so a cluster's detection time can be a few seconds here
# (it must stay well above the heartbeat interval, or a host flaps between ONLINE and UNREACHABLE).
export Agent__HeartbeatSeconds="${Agent__HeartbeatSeconds:-1}"
# The hosts are daemons on this machine: migration streams go over loopback.
export Agent__MigrateAddress="${Agent__MigrateAddress:-127.0.0.1}"
# Networks (docs/networking.md): this machine's Open vSwitch and OVN northbound databases (infra/dev/ovs.sh). Every
# agent here may write OVN's northbound database; the control plane chooses one.
export Agent__Network__OvsDb="${Agent__Network__OvsDb:-$QKVM_OVS_DB}"
export Agent__Network__OvnNorthboundDb="${Agent__Network__OvnNorthboundDb:-$QKVM_OVN_NB_DB}"
if ! qkvm_is_root; then
  export Agent__Network__IpCommandPrefix__0=sudo Agent__Network__IpCommandPrefix__1=-n
fi
if [[ "$QKVM_HYPERVISOR" == qemu ]]; then
  # The session libvirtd is unprivileged and cannot run ovs-vsctl: the agent plugs the NICs itself (plug mode "agent",
  # as os-vif does) with TAPs owned by the daemon's user, which its QEMU opens. The dev OVS stack and the daemons share
  # this machine's network namespace, so the TAPs, br-int and QEMU all meet there.
  export Agent__Network__PlugMode="${Agent__Network__PlugMode:-agent}"
  tap_owner="$(id -un)"
  qkvm_is_root && tap_owner=quantixkvm
  export Agent__Network__TapOwner="${Agent__Network__TapOwner:-$tap_owner}"
fi

CP_DLL="src/Quantixkvm.ControlPlane/bin/Release/net10.0/Quantixkvm.ControlPlane.dll"
AGENT_DLL="src/Quantixkvm.Agent/bin/Release/net10.0/Quantixkvm.Agent.dll"
CP_LOG="$QKVM_LOGS/controlplane.log"
AGENT_LOG="$QKVM_LOGS/agent.log"
BASE_URL="http://127.0.0.1:$QKVM_HTTP_PORT"

# Starts a platform process in the background unless its pid file names a live one.
start_process() {
  local name="$1" log="$2" pidfile="$QKVM_RUN/$1.pid" pid
  shift 2
  pid="$(qkvm_read_pidfile "$pidfile")"
  if qkvm_pid_alive "$pid" && [[ "$(qkvm_cmdline "$pid")" == *Quantixkvm* ]]; then
    qkvm_log "$name: already running (pid $pid); infra/dev/stop.sh then up.sh restarts it with the new build"
    # Started with other settings (e.g. QKVM_HYPERVISOR=test before): say so, it keeps them.
    if [[ "$name" == agent ]] && ! tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" |
      grep -qxF "Agent__LibvirtUri=$Agent__LibvirtUri"; then
      qkvm_warn "the running agent does not use $Agent__LibvirtUri; run infra/dev/stop.sh, then up.sh again"
    fi
    return 0
  fi
  [[ -f "$1" ]] || qkvm_die "$name: $1 not found after the build"
  printf '\n===== %s starting %s =====\n' "$(date -Is)" "$name" >>"$log"
  rm -f "$pidfile" # stale (process gone): the new process writes its own
  # setsid + nohup: the process outlives this script and its terminal. The
  # inner shell writes its own PID and then becomes dotnet (exec), so the
  # pid file names the real process.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid nohup bash -c 'echo $$ >"$0"; exec dotnet "$@"' "$pidfile" "$@" \
    </dev/null >>"$log" 2>&1 &
  # Wait for the pid file so stop.sh can always find the process.
  for _ in {1..50}; do
    [[ -s "$pidfile" ]] && break
    sleep 0.1
  done
  qkvm_log "$name: started (pid $(qkvm_read_pidfile "$pidfile")), log $log"
}

show_logs_and_fail() {
  local log
  for log in "$CP_LOG" "$AGENT_LOG"; do
    printf '\n----- last lines of %s (this start) -----\n' "$log" >&2
    # Only what this start wrote: the lines after the last "starting" marker.
    awk '/^===== .* starting /{buf=""} {buf = buf $0 "\n"} END{printf "%s", buf}' \
      "$log" 2>/dev/null | tail -n 40 >&2 || true
  done
  qkvm_die "$1"
}

start_process controlplane "$CP_LOG" "$CP_DLL" --urls "$BASE_URL"
start_process agent "$AGENT_LOG" "$AGENT_DLL"

# More hosts on this machine (QKVM_HOSTS): each its own libvirtd, folders and agent.
host_names=("$Agent__HostName")
for ((i = 2; i <= QKVM_HOSTS; i++)); do
  host_name="$Agent__HostName-$i"
  host_names+=("$host_name")
  if [[ "$QKVM_HYPERVISOR" == qemu ]]; then
    QKVM_LIBVIRT_INSTANCE=$i "$DEV_DIR/libvirtd.sh" start
    host_uri="$(QKVM_LIBVIRT_INSTANCE=$i "$DEV_DIR/libvirtd.sh" uri)"
    host_dir="$QKVM_DATA/libvirt-$i"
  else
    host_uri=test:///default
    host_dir="$QKVM_DATA/agent-$i"
  fi
  Agent__HostName="$host_name" Agent__LibvirtUri="$host_uri" \
    Agent__ConsoleLogDirectory="$host_dir/consoles" Agent__SeedDirectory="$host_dir/seeds" \
    Agent__WorkDirectory="$QKVM_DATA/agent-$i/work" \
    start_process "agent-$i" "$QKVM_LOGS/agent-$i.log" "$AGENT_DLL"
done

qkvm_log "waiting for $BASE_URL/readyz"
ready=0
for _ in {1..60}; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/readyz" || true)"
  if [[ "$code" == 200 ]]; then
    ready=1
    break
  fi
  # No point waiting for a process that has already exited.
  qkvm_pid_alive "$(qkvm_read_pidfile "$QKVM_RUN/controlplane.pid")" ||
    show_logs_and_fail "the control plane exited during start-up"
  sleep 1
done
((ready)) || show_logs_and_fail "the control plane did not answer 200 on $BASE_URL/readyz within 60 s (last status: ${code:-none})"
qkvm_pid_alive "$(qkvm_read_pidfile "$QKVM_RUN/agent.pid")" ||
  show_logs_and_fail "the node agent exited during start-up"

# Up means usable: the agents' hosts are registered and ONLINE, so a first createVm finds them.
qkvm_log "waiting for host(s) ${host_names[*]} to register and come ONLINE"
online=0
for _ in {1..60}; do
  hosts="$(curl -s --max-time 2 "$BASE_URL/graphql" -H 'content-type: application/json' \
    -d '{"query":"{ hosts { name state } }"}' || true)"
  online=1
  for host_name in "${host_names[@]}"; do
    [[ "$hosts" == *"\"name\":\"$host_name\",\"state\":\"ONLINE\""* ]] || online=0
  done
  if ((online)); then
    break
  fi
  qkvm_pid_alive "$(qkvm_read_pidfile "$QKVM_RUN/agent.pid")" ||
    show_logs_and_fail "the node agent exited during start-up"
  sleep 1
done
((online)) || show_logs_and_fail "host(s) ${host_names[*]} did not all come ONLINE within 60 s (last answer: ${hosts:-none})"

if [[ "$QKVM_HYPERVISOR" == qemu ]]; then
  lv_user="$(id -un)"
  qkvm_is_root && lv_user=quantixkvm
  hypervisor_line="QEMU through a private libvirtd as user $lv_user (infra/dev/libvirtd.sh status);
                       NICs plugged by the agent (PlugMode $Agent__Network__PlugMode, TAPs owned by $Agent__Network__TapOwner)"
else
  hypervisor_line="libvirt's test driver (QKVM_HYPERVISOR=test: nothing really boots)"
fi

cat <<EOF

Quantixkvm is up.
  GraphQL (HTTP)       $BASE_URL/graphql
  GraphQL (WebSocket)  ws://127.0.0.1:$QKVM_HTTP_PORT/graphql   (graphql-transport-ws)
  GraphiQL explorer    $BASE_URL/graphiql
  Node agent(s)        host(s) ${host_names[*]} (first: libvirt $Agent__LibvirtUri)
  Hypervisor           $hypervisor_line
EOF
if [[ -n "$ceph_line" ]]; then
  cat <<EOF
  Ceph (RBD pools)     $ceph_line
                       createStoragePool: kind RBD, cephPool "$QKVM_CEPH_POOL", cephMonitors ["$QKVM_CEPH_MON"], cephUser "$QKVM_CEPH_USER"
EOF
else
  echo "  Ceph (RBD pools)     not started (QKVM_CEPH=0)"
fi
if [[ -n "$guest_image" ]]; then
  cat <<EOF
  Test guest image     $guest_image  (raw)
                       sha256 $(sha256sum "$guest_image" | cut -d' ' -f1)
                       importImage url file://$guest_image
  Your own images      $IMAGES_DIR (file:// imports are allowed from here and $GUEST_DIR)
  Dir pools            put them under $POOLS_DIR/ (e.g. path "$POOLS_DIR/local")
  Guest consoles       $CONSOLE_DIR/qkvm-<vm id without dashes>.log   (tail -f)
EOF
fi
cat <<EOF
  Logs                 $CP_LOG
                       $AGENT_LOG
                       $QKVM_LOGS/postgres.log, $QKVM_LOGS/rabbitmq/$([[ "$QKVM_HYPERVISOR" == qemu ]] && printf ', %s' "$QKVM_DATA/libvirt/log/")
  Try it               README.md, "Try it"; storage: docs/storage.md
  Stop everything      $QKVM_REPO/infra/dev/stop.sh
EOF
