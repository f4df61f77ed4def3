#!/usr/bin/env bash
# The one command to get a running Quantixkvm on this machine: installs what is
# missing, starts PostgreSQL and RabbitMQ, builds the solution, then starts the
# control plane and one node agent (libvirt test driver by default) in the
# background and waits until the control plane is ready.
#   Agent__HostName   (default: $(hostname)-dev)
#   Agent__LibvirtUri (default: test:///default, libvirt's in-process test driver)
set -euo pipefail

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$DEV_DIR/lib.sh"

"$DEV_DIR/install.sh"
"$DEV_DIR/start-services.sh"

cd "$QKVM_REPO"
# Only the two programs: the platform must start even while a test project is being edited.
for project in src/Quantixkvm.ControlPlane src/Quantixkvm.Agent; do
  qkvm_log "building $project (Release)"
  dotnet build "$project" -c Release -nologo -v quiet ||
    qkvm_die "build of $project failed (see the errors above)"
done

export Agent__HostName="${Agent__HostName:-$(hostname)-dev}"
export Agent__LibvirtUri="${Agent__LibvirtUri:-test:///default}"

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

# Up means usable: the agent's host is registered and ONLINE, so a first createVm finds it.
qkvm_log "waiting for host \"$Agent__HostName\" to register and come ONLINE"
online=0
for _ in {1..60}; do
  hosts="$(curl -s --max-time 2 "$BASE_URL/graphql" -H 'content-type: application/json' \
    -d '{"query":"{ hosts { name state } }"}' || true)"
  if [[ "$hosts" == *"\"name\":\"$Agent__HostName\",\"state\":\"ONLINE\""* ]]; then
    online=1
    break
  fi
  qkvm_pid_alive "$(qkvm_read_pidfile "$QKVM_RUN/agent.pid")" ||
    show_logs_and_fail "the node agent exited during start-up"
  sleep 1
done
((online)) || show_logs_and_fail "host \"$Agent__HostName\" did not come ONLINE within 60 s (last answer: ${hosts:-none})"

cat <<EOF

Quantixkvm is up.
  GraphQL (HTTP)       $BASE_URL/graphql
  GraphQL (WebSocket)  ws://127.0.0.1:$QKVM_HTTP_PORT/graphql   (graphql-transport-ws)
  GraphiQL explorer    $BASE_URL/graphiql
  Node agent           host "$Agent__HostName", libvirt $Agent__LibvirtUri
  Logs                 $CP_LOG
                       $AGENT_LOG
                       $QKVM_LOGS/postgres.log, $QKVM_LOGS/rabbitmq/
  Stop everything      $QKVM_REPO/infra/dev/stop.sh
EOF
