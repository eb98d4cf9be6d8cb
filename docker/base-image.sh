#!/usr/bin/env bash
# Builds the Debian 12 base image the Strata image starts from, without any
# image registry: debootstrap writes a minimal Debian 12 root file system from
# the Debian package mirror, and `docker import` turns it into an image.
#
#   docker/base-image.sh [--force] [image]     (default image: strata-debian:12)
#   docker/base-image.sh --rootfs-only DIR     (only the debootstrap part)
#
# The mirror is the first URI of /etc/apt (or STRATA_DEBIAN_MIRROR). Needs
# root and debootstrap (apt-get install debootstrap).
set -euo pipefail

force=0
rootfs_only=""
image="strata-debian:12"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) force=1 ;;
    --rootfs-only) rootfs_only="$2"; shift ;;
    *) image="$1" ;;
  esac
  shift
done

# The mirror this machine's apt already reaches.
default_mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +http[^ ]*' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -1 | awk '{print $2}')
  echo "${uri:-http://deb.debian.org/debian}"
}
mirror="${STRATA_DEBIAN_MIRROR:-$(default_mirror)}"
security="${mirror%/debian}/debian-security"

make_rootfs() {
  local dir="$1"
  command -v debootstrap >/dev/null || { echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  echo "base-image: debootstrap --variant=minbase bookworm $dir $mirror"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 \
    || { tail -20 "$dir.debootstrap.log" >&2; exit 1; }
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  # An image layer needs no package caches, manuals or translations.
  rm -rf "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
         "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
}

if [[ -n "$rootfs_only" ]]; then
  make_rootfs "$rootfs_only"
  exit 0
fi

if [[ $force -eq 0 ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image exists (--force rebuilds it)"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/strata-rootfs.XXXXXX)
trap 'rm -rf "$rootfs" "$rootfs.debootstrap.log"' EXIT
make_rootfs "$rootfs"
tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base-image: $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
