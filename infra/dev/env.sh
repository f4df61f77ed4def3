# shellcheck shell=bash
# Quantixkvm developer environment: ports, folders and the app's configuration.
# Sourced by the other infra/dev scripts; also fine to source in your own shell
# (`source infra/dev/env.sh`) before `dotnet run` / `dotnet test` by hand.
# Every value can be overridden by setting the variable before sourcing.
# No `set -e` here on purpose: this file must not change the options of an
# interactive shell that sources it.

# The repository root, found from this file's own location (not the cwd).
QKVM_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export QKVM_REPO

# All private state (databases, logs, pid files). <repo>/.data is git-ignored.
export QKVM_DATA="${QKVM_DATA:-$QKVM_REPO/.data}"

# Ports stay below 32768: 32768-60999 is the kernel's ephemeral range, and a
# listener there can fail with EADDRINUSE when a client socket took the port.
export QKVM_PG_PORT="${QKVM_PG_PORT:-15433}"
export QKVM_AMQP_PORT="${QKVM_AMQP_PORT:-15673}"
export QKVM_RABBIT_DIST_PORT="${QKVM_RABBIT_DIST_PORT:-15674}"
export QKVM_EPMD_PORT="${QKVM_EPMD_PORT:-15675}"
export QKVM_RABBIT_MGMT_PORT="${QKVM_RABBIT_MGMT_PORT:-15676}"
export QKVM_HTTP_PORT="${QKVM_HTTP_PORT:-18080}"

# DEVELOPMENT-ONLY credentials: every service listens on 127.0.0.1 only.
# Never reuse these names/passwords for a real deployment.
export QKVM_PG_DATABASE="${QKVM_PG_DATABASE:-quantixkvm}"
export QKVM_PG_USER="${QKVM_PG_USER:-quantixkvm}"
export QKVM_PG_PASSWORD="${QKVM_PG_PASSWORD:-quantixkvm}"
export QKVM_RABBIT_USER="${QKVM_RABBIT_USER:-quantixkvm}"
export QKVM_RABBIT_PASSWORD="${QKVM_RABBIT_PASSWORD:-quantixkvm}"

# The private RabbitMQ node's Erlang name (for rabbitmqctl -n).
export QKVM_RABBIT_NODENAME="${QKVM_RABBIT_NODENAME:-quantixkvm@localhost}"

# App configuration as ASP.NET Core environment variables ("__" = section separator).
export ConnectionStrings__Postgres="${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=$QKVM_PG_PORT;Database=$QKVM_PG_DATABASE;Username=$QKVM_PG_USER;Password=$QKVM_PG_PASSWORD}"
export RabbitMq__Host="${RabbitMq__Host:-127.0.0.1}"
export RabbitMq__Port="${RabbitMq__Port:-$QKVM_AMQP_PORT}"
export RabbitMq__Username="${RabbitMq__Username:-$QKVM_RABBIT_USER}"
export RabbitMq__Password="${RabbitMq__Password:-$QKVM_RABBIT_PASSWORD}"
export RabbitMq__VirtualHost="${RabbitMq__VirtualHost:-/}"
export RabbitMq__ManagementPort="${RabbitMq__ManagementPort:-$QKVM_RABBIT_MGMT_PORT}"

# Ceph (infra/dev/ceph.sh): private single-node cluster (one mon, one osd) on
# 127.0.0.1 for RBD storage pools. `infra/dev/ceph.sh env` prints the rest
# (ceph.conf path, client key, mon address).
export QKVM_CEPH_MON_PORT="${QKVM_CEPH_MON_PORT:-16789}"       # mon, msgr v2
export QKVM_CEPH_MON_V1_PORT="${QKVM_CEPH_MON_V1_PORT:-16790}" # mon, msgr v1 (libvirt/QEMU <host port=...>)
export QKVM_CEPH_OSD_PORT_MIN="${QKVM_CEPH_OSD_PORT_MIN:-16800}" # osd's ms bind port range
export QKVM_CEPH_OSD_PORT_MAX="${QKVM_CEPH_OSD_PORT_MAX:-16830}"
export QKVM_CEPH_POOL="${QKVM_CEPH_POOL:-qkvm}"

# Open vSwitch + OVN (infra/dev/ovs.sh): private daemons reached over unix
# sockets only (no TCP port). Always derived from QKVM_DATA (not overridable):
# a value inherited from another data folder would reach the wrong stack.
# `infra/dev/ovs.sh env` prints these plus the stack's network namespace.
export QKVM_OVS_DB="unix:$QKVM_DATA/ovs/run/db.sock"         # Open_vSwitch database (ovs-vsctl --db)
export QKVM_OVN_NB_DB="unix:$QKVM_DATA/ovn/run/ovnnb_db.sock" # OVN_Northbound (ovn-nbctl --db)
export QKVM_OVN_SB_DB="unix:$QKVM_DATA/ovn/run/ovnsb_db.sock" # OVN_Southbound (ovn-sbctl --db)
