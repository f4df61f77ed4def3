#!/usr/bin/env bash
# Installs what the dev environment needs on Debian 12 (idempotent, fast when
# everything is present): PostgreSQL 15, RabbitMQ, libvirt + QEMU, Open vSwitch +
# OVN, network test tools, curl; and
# checks that a .NET 10 SDK is available (Debian's registry has none).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
  postgresql              # Debian 12's metapackage pulls PostgreSQL 15
  rabbitmq-server         # 3.10
  libvirt0                # libvirt.so.0, which Quantixkvm.Libvirt P/Invokes
  libvirt-daemon
  libvirt-clients
  libvirt-daemon-driver-qemu
  qemu-system-x86
  qemu-utils
  qemu-block-extra        # QEMU's rbd block driver (Ceph RBD disks)
  libvirt-daemon-driver-storage-rbd  # libvirt's rbd storage pool backend
  genisoimage             # NoCloud cloud-init seed images (cidata)
  ceph-mon                # single-node Ceph for RBD pools (infra/dev/ceph.sh)
  ceph-osd
  ceph-common
  busybox-static          # the tiny test guest (infra/dev/guest-image.sh); udhcpc in test namespaces
  syslinux                # its boot loader, installed onto a FAT image through mtools
  syslinux-common
  mtools
  dosfstools
  openvswitch-switch      # ovsdb-server + ovs-vswitchd (userspace datapath; infra/dev/ovs.sh)
  ovn-central             # OVN northbound/southbound databases and ovn-northd
  ovn-host                # ovn-controller
  iproute2                # ip: bridges, VLANs, veth pairs, network namespaces
  nftables                # nft (host firewalling)
  socat                   # TCP listener/connector inside test namespaces (Quantixkvm.Testing)
  iputils-ping            # ping inside test namespaces
  ethtool                 # test namespaces' veths: TX checksum offload off (OVS's userspace datapath would pass bad TCP checksums)
  curl                    # readiness probes and the RabbitMQ management API
  ca-certificates
)

# Node.js runs the standard GraphQL clients of the end-to-end tests (tests/conformance). A machine that
# already has node and npm (from any source) keeps them; otherwise Debian's packages are enough.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

# dpkg-query is quick; only ask apt when something is really missing.
missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  qkvm_is_root || command -v sudo >/dev/null ||
    qkvm_die "missing packages (${missing[*]}); run this script as root to install them"
  SUDO=()
  qkvm_is_root || SUDO=(sudo)
  qkvm_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no (or old) package lists: update once first.
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  qkvm_log "apt packages: all present"
fi

[[ -x "$QKVM_PG_BIN/initdb" ]] ||
  qkvm_die "PostgreSQL 15 binaries not found in $QKVM_PG_BIN (set QKVM_PG_BIN if they live elsewhere)"
[[ -x "$QKVM_RABBIT_BIN/rabbitmq-server" ]] ||
  qkvm_die "RabbitMQ scripts not found in $QKVM_RABBIT_BIN"

# .NET 10 SDK: not in Debian's registry, so we can only check and explain.
if ! command -v dotnet >/dev/null 2>&1; then
  qkvm_die "the .NET 10 SDK is required but 'dotnet' is not on PATH.
  Install it with Microsoft's script (no root needed):
    curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0
    export DOTNET_ROOT=\$HOME/.dotnet PATH=\$HOME/.dotnet:\$PATH
  or follow https://learn.microsoft.com/dotnet/core/install/linux-debian"
fi
if ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.0\.'; then
  qkvm_die "a .NET 10 SDK is required, found only: $(dotnet --list-sdks 2>/dev/null | tr '\n' ' ')
  Install it with: curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0
  (see https://learn.microsoft.com/dotnet/core/install/linux-debian)"
fi
qkvm_log ".NET SDK: $(dotnet --list-sdks | grep '^10\.0\.' | tail -n 1)"

# libvirtd refuses to run a private (session) daemon as root; the end-to-end tests run theirs as
# this unprivileged system user, so the agent and the test can share one libvirt test-driver host.
if qkvm_is_root && ! id quantixkvm >/dev/null 2>&1; then
  useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin quantixkvm
  qkvm_log "created system user quantixkvm (runs private libvirt daemons in tests)"
fi

# The guests of those unprivileged daemons reach a Linux bridge through QEMU's bridge helper, which makes the TAP:
# it must be setuid root (a dpkg statoverride, so that upgrades keep it) and its ACL must allow the bridges the
# tests make (qkvmtestbr0-9, see tests/Quantixkvm.Libvirt.Tests/LinuxBridge.cs) and no others.
BRIDGE_HELPER=/usr/lib/qemu/qemu-bridge-helper
if qkvm_is_root && [[ -x "$BRIDGE_HELPER" ]]; then
  if ! dpkg-statoverride --list "$BRIDGE_HELPER" >/dev/null; then
    dpkg-statoverride --update --add root root 4755 "$BRIDGE_HELPER"
    qkvm_log "made $BRIDGE_HELPER setuid root (guests of test daemons on Linux bridges)"
  fi
  # The helper drops to the caller's user keeping only CAP_NET_ADMIN, so it opens /dev/net/tun as that user: udev makes
  # it 0666 on a normal host, some containers leave it 0600 (creating a TAP still needs CAP_NET_ADMIN).
  if [[ -c /dev/net/tun && "$(stat -c %a /dev/net/tun)" != 666 ]]; then
    chmod 0666 /dev/net/tun
    qkvm_log "made /dev/net/tun 0666, as udev would"
  fi
  mkdir -p /etc/qemu
  for i in 0 1 2 3 4 5 6 7 8 9; do
    grep -qx "allow qkvmtestbr$i" /etc/qemu/bridge.conf 2>/dev/null || echo "allow qkvmtestbr$i" >>/etc/qemu/bridge.conf
  done
fi
