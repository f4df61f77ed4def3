#!/usr/bin/env bash
# Builds a tiny bootable guest disk for real-QEMU tests (TCG, no KVM needed):
# $QKVM_DATA/guest/qkvm-guest.img, a raw, partitionless FAT "superfloppy" with
# syslinux, Debian's own kernel (downloaded with apt-get download, not
# installed) and a busybox initramfs carrying the virtio modules. Prints the
# image's path as the last line on stdout; progress goes to stderr.
#
# Rebuilt only when missing or when this script changed (its hash is stored
# next to the image). Needs no root: busybox-static, syslinux, mtools,
# dosfstools (infra/dev/install.sh installs them) and the apt package lists.
#   QKVM_GUEST_KERNEL_PKG=linux-image-...-amd64   pin the kernel package.
#
# What the guest prints on its serial console (ttyS0), for tests to wait on:
#   QKVM-GUEST-READY                      once booted (modules loaded)
#   QKVM-DISKS vda:SERIAL vdb:SERIAL ...  at start and whenever /sys/block/vd* changes (0.5 s poll)
#   QKVM-CIDATA key: value                per line of meta-data of an ISO9660 disk labelled cidata
#   QKVM-USERDATA first line              first line of that disk's user-data
#   QKVM-POWEROFF                         on the ACPI power button (virsh shutdown), then powers off
#   QKVM-NET ethN MAC ADDRESS/PREFIX      a NIC's DHCP lease (udhcpc), at boot and for every NIC hot-plugged later
#   QKVM-NET ethN MAC none                no DHCP server answered that NIC (5 discovers); its link stays up
#   QKVM-NET-GONE ethN                    the NIC was unplugged (1 s poll)
# The kernel answers pings on its own once a NIC has its address.
set -euo pipefail

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$DEV_DIR/lib.sh"

# The daemon's QEMU runs as another user: everything built here must be readable.
umask 022

GUEST_DIR="$QKVM_DATA/guest"
CACHE_DIR="$GUEST_DIR/cache"
IMAGE="$GUEST_DIR/qkvm-guest.img"
STAMP="$IMAGE.script-sha256"
IMAGE_MIB=32
# Loaded in this order after their dependencies (from the kernel's modules.dep).
GUEST_MODULES=(virtio_pci virtio_blk virtio_net isofs button evdev)
KERNEL_CMDLINE="console=ttyS0 quiet panic=-1"

log() { qkvm_log "$@" >&2; }

script_hash="$(sha256sum "$DEV_DIR/$(basename "${BASH_SOURCE[0]}")" | cut -d' ' -f1)"

image_is_current() {
  [[ -s "$IMAGE" && -f "$STAMP" && "$(cat "$STAMP")" == "$script_hash" ]]
}

if image_is_current; then
  printf '%s\n' "$IMAGE"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb busybox mkfs.fat syslinux mcopy gzip flock; do
  command -v "$tool" >/dev/null ||
    qkvm_die "$tool is missing (packages busybox-static, syslinux, mtools, dosfstools); run infra/dev/install.sh"
done

mkdir -p "$GUEST_DIR" "$CACHE_DIR"
# One build at a time; a concurrent run waits, then finds the image current.
exec 8>"$GUEST_DIR/.build.lock"
flock 8
if image_is_current; then
  printf '%s\n' "$IMAGE"
  exit 0
fi

# Leftovers of a build that was killed.
rm -rf "$GUEST_DIR"/build.*
WORK="$(mktemp -d "$GUEST_DIR/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------ kernel

# The concrete package behind linux-image-amd64 (e.g. linux-image-6.1.0-56-amd64).
kernel_package() {
  local pkg
  if [[ -n "${QKVM_GUEST_KERNEL_PKG:-}" ]]; then
    printf '%s' "$QKVM_GUEST_KERNEL_PKG"
    return 0
  fi
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)"
  if [[ -z "$pkg" ]]; then
    pkg="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
      cut -d' ' -f1 | sort -V | tail -n 1)"
  fi
  printf '%s' "$pkg"
}

# The newest cached .deb of a package (nothing when none is cached).
cached_deb() {
  local -a debs=()
  mapfile -t debs < <(find "$CACHE_DIR" -maxdepth 1 -name "$1_*.deb" | sort -V)
  ((${#debs[@]})) && printf '%s' "${debs[-1]}"
  return 0
}

pkg="$(kernel_package)"
if [[ -z "$pkg" ]]; then
  # No package lists (apt-get update never ran, offline): use any cached kernel.
  deb="$(find "$CACHE_DIR" -maxdepth 1 -name 'linux-image-*-amd64_*.deb' | sort -V | tail -n 1)"
  [[ -n "$deb" ]] || qkvm_die "no linux-image-*-amd64 package known to apt; run 'apt-get update' first"
  log "apt knows no kernel package; using the cached $(basename "$deb")"
else
  deb="$(cached_deb "$pkg")"
fi
if [[ -z "$deb" ]]; then
  log "downloading $pkg"
  dl="$WORK/download"
  mkdir "$dl"
  apt_opts=()
  # As root apt drops to _apt, which cannot write into our folder.
  qkvm_is_root && apt_opts+=(-o APT::Sandbox::User=root)
  (cd "$dl" && apt-get download "${apt_opts[@]}" "$pkg") >&2 ||
    qkvm_die "apt-get download $pkg failed"
  # Same file system: the cache never holds a half-downloaded .deb.
  for f in "$dl"/*.deb; do mv -f "$f" "$CACHE_DIR/"; done
  deb="$(cached_deb "$pkg")"
  [[ -n "$deb" ]] || qkvm_die "apt-get download $pkg left no .deb in $CACHE_DIR"
fi

log "unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$WORK/kernel"
vmlinuz=("$WORK"/kernel/boot/vmlinuz-*)
[[ -f "${vmlinuz[0]}" ]] || qkvm_die "$(basename "$deb") holds no /boot/vmlinuz-*"
kver="$(basename "${vmlinuz[0]}")"
kver="${kver#vmlinuz-}"
moddir="$WORK/kernel/lib/modules/$kver"
# The package ships no modules.dep (its postinst runs depmod): make one.
busybox depmod -b "$WORK/kernel" "$kver"
[[ -s "$moddir/modules.dep" ]] || qkvm_die "depmod produced no modules.dep for $kver"

# ------------------------------------------------------------------ initramfs

declare -A mod_path=() mod_deps=() mod_seen=()
while IFS= read -r line; do
  file="${line%%:*}"
  name="$(basename "$file" .ko)"
  mod_path[$name]="$file"
  mod_deps[$name]="${line#*:}"
done <"$moddir/modules.dep"

load_order=()
# Depth-first: every dependency before the module that needs it.
resolve_module() {
  local name="$1" dep
  [[ -n "${mod_seen[$name]:-}" ]] && return 0
  mod_seen[$name]=1
  [[ -n "${mod_path[$name]:-}" ]] || qkvm_die "kernel $kver has no module $name"
  for dep in ${mod_deps[$name]}; do
    resolve_module "$(basename "$dep" .ko)"
  done
  load_order+=("$name")
}
for m in "${GUEST_MODULES[@]}"; do resolve_module "$m"; done
log "initramfs modules: ${load_order[*]}"

root="$WORK/initramfs"
mkdir -p "$root"/{bin,dev,etc/acpi/PWRF,lib/modules,mnt,proc,sys,tmp,var/log,var/run/net}
cp "$(command -v busybox)" "$root/bin/busybox"
while IFS= read -r applet; do
  [[ "$applet" == busybox || -z "$applet" ]] || ln -s busybox "$root/bin/$applet"
done < <(busybox --list)
for m in "${load_order[@]}"; do
  cp "$moddir/${mod_path[$m]}" "$root/lib/modules/$m.ko"
done
printf '%s\n' "${load_order[@]}" >"$root/etc/modules"

# busybox acpid maps KEY_POWER to PWRF and runs <confdir>/PWRF/00000080.
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo QKVM-POWEROFF >/dev/console
sync
poweroff -f
EOF
chmod 755 "$root/etc/acpi/PWRF/00000080"

# udhcpc's script: applies a lease and reports it (udhcpc exports interface, ip, mask as a prefix length, router).
cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface" 2>/dev/null || true
    fi
    read -r mac <"/sys/class/net/$interface/address"
    echo "QKVM-NET $interface $mac $ip/$mask" >/dev/console
    ;;
esac
exit 0
EOF
chmod 755 "$root/etc/udhcpc.script"

cat >"$root/init" <<'EOF'
#!/bin/sh
# qkvm guest init: report disks on the serial console, then idle.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
  insmod "/lib/modules/$m.ko" || echo "QKVM-MODULE-FAILED $m"
done </etc/modules
acpid -c /etc/acpi -l /var/log/acpid.log -p /var/run/acpid.pid

# "name:serial:diskseq" per virtio disk; diskseq is new for every attached
# disk, so a disk replaced under the same name (and serial) still counts as new.
disk_list() {
  out=""
  for d in /sys/block/vd*; do
    [ -e "$d" ] || continue
    serial=""
    seq=""
    [ -r "$d/serial" ] && read -r serial <"$d/serial"
    [ -r "$d/diskseq" ] && read -r seq <"$d/diskseq"
    out="$out ${d##*/}:$serial:$seq"
  done
  echo "${out# }"
}

# A NoCloud seed: an ISO9660 volume labelled cidata (or CIDATA).
show_cidata() {
  dev="/dev/$1"
  [ -b "$dev" ] || return 0
  [ "$(dd if="$dev" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ] || return 0
  label="$(dd if="$dev" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' ')"
  case "$label" in cidata | CIDATA) ;; *) return 0 ;; esac
  mkdir -p "/mnt/$1"
  mount -t iso9660 -o ro "$dev" "/mnt/$1" || return 0
  if [ -r "/mnt/$1/meta-data" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in *:*) echo "QKVM-CIDATA $line" ;; esac
    done <"/mnt/$1/meta-data"
  fi
  if [ -r "/mnt/$1/user-data" ]; then
    first=""
    IFS= read -r first <"/mnt/$1/user-data"
    echo "QKVM-USERDATA $first"
  fi
  umount "/mnt/$1"
}

# A NIC that appeared (at boot, or hot-plugged) asks for a lease in the
# background, so disks keep being reported meanwhile; one that disappeared is
# reported gone. /var/run/net/ethN marks the NICs seen.
net_poll() {
  for n in /sys/class/net/eth*; do
    [ -e "$n" ] || continue
    name="${n##*/}"
    [ -e "/var/run/net/$name" ] && continue
    : >"/var/run/net/$name"
    ip link set dev "$name" up
    (
      if ! udhcpc -i "$name" -q -n -t 5 -s /etc/udhcpc.script >/dev/null 2>&1; then
        read -r mac <"/sys/class/net/$name/address"
        echo "QKVM-NET $name $mac none"
      fi
    ) &
  done
  for m in /var/run/net/eth*; do
    [ -e "$m" ] || continue
    name="${m##*/}"
    [ -e "/sys/class/net/$name" ] && continue
    rm -f "$m"
    echo "QKVM-NET-GONE $name"
  done
}

ip link set dev lo up
echo QKVM-GUEST-READY
last="-"
tick=0
while :; do
  tick=$((tick + 1))
  [ $((tick % 2)) -eq 1 ] && net_poll
  now="$(disk_list)"
  if [ "$now" != "$last" ]; then
    shown=""
    for entry in $now; do shown="$shown ${entry%:*}"; done
    echo "QKVM-DISKS${shown}"
    for entry in $now; do
      case " $last " in *" $entry "*) ;; *) show_cidata "${entry%%:*}" ;; esac
    done
    last="$now"
  fi
  sleep 0.5
done
EOF
chmod 755 "$root/init"

(cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
  gzip -9n >"$WORK/initrd.gz"

# ------------------------------------------------------------------ disk

cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT qkvm
PROMPT 0
TIMEOUT 0
LABEL qkvm
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND $KERNEL_CMDLINE
EOF

export MTOOLS_SKIP_CHECK=1
img="$WORK/qkvm-guest.img"
mkfs.fat -C -n QKVMGUEST "$img" $((IMAGE_MIB * 1024)) >/dev/null
# Through mtools on the file itself: no loop device, no mount, no root.
syslinux --install "$img"
mcopy -i "$img" "${vmlinuz[0]}" ::/vmlinuz
mcopy -i "$img" "$WORK/initrd.gz" ::/initrd.gz
mcopy -i "$img" "$WORK/syslinux.cfg" ::/syslinux.cfg
chmod 644 "$img"

mv -f "$img" "$IMAGE"
printf '%s\n' "$script_hash" >"$STAMP"
log "built $IMAGE (kernel $kver from $(basename "$deb"), initramfs $(($(stat -c %s "$WORK/initrd.gz") / 1024)) KiB)"
if qkvm_is_root && id quantixkvm >/dev/null 2>&1 && ! runuser -u quantixkvm -- test -r "$IMAGE"; then
  qkvm_warn "user quantixkvm cannot read $IMAGE (a parent folder is not world-executable)"
fi
printf '%s\n' "$IMAGE"
