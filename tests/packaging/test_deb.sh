#!/usr/bin/env bash
# `make test-packaging`: the Debian package on a clean Debian 12 root. Makes a
# minimal Debian 12 chroot with debootstrap (docker/base-image.sh
# --rootfs-only; the clean root is kept as a tarball in /var/tmp for the next
# run), installs the package there with apt (which must find every
# dependency), checks what it installed (user, directories, conffile, unit),
# starts stratad in the chroot as the unit would (user strata, the packaged
# configuration, $NOTIFY_SOCKET, the listener moved to a free port by a
# STRATA_* variable), produces and consumes with kcat from the host, stops it,
# and removes the package. Needs root.
set -euo pipefail
deb=$(realpath "${1:?usage: test_deb.sh strata_<version>_amd64.deb}")
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
cache=${STRATA_ROOTFS_CACHE:-/var/tmp/strata-debian12-rootfs.tar}
root=$(mktemp -d /var/tmp/strata-chroot.XXXXXX)
chmod 755 "$root"  # mktemp made it 0700; the strata user must reach its files
pid=""
notify_pid=""

cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  [[ -n "$notify_pid" ]] && kill "$notify_pid" 2>/dev/null || true
  for m in dev/pts dev proc; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$root/var/lib/strata/stratad.log" ]] && tail -20 "$root/var/lib/strata/stratad.log" >&2; exit 1; }
in_root() { chroot "$root" "$@"; }

if [[ ! -f "$cache" ]]; then
  echo "test_deb: debootstrapping a clean Debian 12 root (once; cached as $cache)"
  bash "$source_dir/docker/base-image.sh" --rootfs-only "$root"
  tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
else
  tar -C "$root" -xf "$cache"
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"  # a minbase root has none; a Debian host has localhost in it
cp "$deb" "$root/tmp/strata.deb"

echo "test_deb: apt-get install ./$(basename "$deb") in the chroot"
in_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq --no-install-recommends /tmp/strata.deb >"$root/tmp/apt.log" 2>&1 \
  || { tail -20 "$root/tmp/apt.log"; fail "the package does not install"; }

# What the package put in place.
in_root getent passwd strata | grep -q ':/var/lib/strata:/usr/sbin/nologin$' || fail "no strata system user"
[[ "$(in_root stat -c '%U:%G %a' /var/lib/strata)" == "strata:strata 750" ]] || fail "/var/lib/strata not strata's"
grep -qx /etc/strata/strata.yaml "$root/var/lib/dpkg/info/strata.conffiles" || fail "strata.yaml is not a conffile"
unit="$root/lib/systemd/system/stratad.service"
[[ -f "$unit" ]] || unit="$root/usr/lib/systemd/system/stratad.service"
grep -qx 'ExecStart=/usr/bin/stratad --config /etc/strata/strata.yaml' "$unit" || fail "unit's ExecStart"
grep -qx 'Type=notify' "$unit" || fail "unit's Type"
in_root stratad --version | grep -q '^stratad ' || fail "stratad --version"
in_root strata --version >/dev/null || fail "strata --version"
in_root stratad check-config /etc/strata/strata.yaml || fail "the packaged configuration does not check"

# Start it as the unit does: user strata, in /var/lib/strata, ready when it
# says so on $NOTIFY_SOCKET.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -f "$root/run/notify.sock"
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
print(s.recv(100).decode(), flush=True)' "$root/run/notify.sock" >"$root/tmp/notified" &
notify_pid=$!
sleep 0.3
chmod 666 "$root/run/notify.sock"
start=$(date +%s%N)
chroot --userspec=strata:strata "$root" /usr/bin/env -i HOME=/var/lib/strata NOTIFY_SOCKET=/run/notify.sock \
  STRATA_LISTENERS="PLAINTEXT://localhost:$port" \
  sh -c 'cd /var/lib/strata && exec /usr/bin/stratad --config /etc/strata/strata.yaml' \
  >"$root/var/lib/strata/stratad.log" 2>&1 &
pid=$!
wait "$notify_pid" || fail "no readiness notification"
notify_pid=""
[[ "$(cat "$root/tmp/notified")" == "READY=1" ]] || fail "notified $(cat "$root/tmp/notified")"
echo "test_deb: stratad ready (READY=1) after $((($(date +%s%N) - start) / 1000000)) ms"

printf 'a:one\nb:two\nc:three\n' | kcat -b "localhost:$port" -P -t pkg -K: -X acks=all || fail "kcat produce"
got=$(kcat -b "localhost:$port" -C -t pkg -e -f '%k:%s\n' | sort)
[[ "$got" == $'a:one\nb:two\nc:three' ]] || fail "consumed: $got"
uid=$(in_root id -u strata)
[[ -n "$(find "$root/var/lib/strata" -mindepth 1 -uid "$uid")" ]] || fail "stratad wrote nothing as strata"
[[ -z "$(find "$root/var/lib/strata" -mindepth 1 ! -uid "$uid" ! -name stratad.log)" ]] || fail "data not strata's"
kill -TERM "$pid"
wait "$pid" || fail "stratad exited with $? on SIGTERM"
pid=""
grep -q 'stopped' "$root/var/lib/strata/stratad.log" || fail "no clean shutdown"

DEBIAN_FRONTEND=noninteractive in_root apt-get remove -y -qq strata >/dev/null 2>&1 || fail "apt-get remove"
[[ ! -e "$root/usr/bin/stratad" && -f "$root/etc/strata/strata.yaml" && -d "$root/var/lib/strata" ]] \
  || fail "remove should take the programs and leave the configuration and the data"
# `make install` with DESTDIR stages the same files under another prefix (in
# the package's build tree, whose prefix is put back afterwards).
stage=$(mktemp -d)
build_dir=$(dirname "$deb")
make -s -C "$source_dir" install BUILD="$build_dir" PREFIX=/opt/strata DESTDIR="$stage" >"$stage.log" 2>&1 \
  || { cat "$stage.log"; fail "make install"; }
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_INSTALL_PREFIX=/usr -DSTRATA_SYSTEMD_UNIT_DIR=/lib/systemd/system >/dev/null
for f in opt/strata/bin/stratad opt/strata/bin/strata etc/strata/strata.yaml etc/systemd/system/stratad.service; do
  [[ -f "$stage/$f" ]] || fail "make install did not stage /$f"
done
grep -qx 'ExecStart=/opt/strata/bin/stratad --config /etc/strata/strata.yaml' "$stage/etc/systemd/system/stratad.service" \
  || fail "make install's unit does not name /opt/strata/bin/stratad"
"$stage/opt/strata/bin/stratad" check-config "$stage/etc/strata/strata.yaml" >/dev/null || fail "staged stratad"
rm -rf "$stage" "$stage.log"

echo "test_deb: PASS ($(basename "$deb"): installs on a clean Debian 12 root, serves kcat, removes)"
