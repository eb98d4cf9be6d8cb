#!/usr/bin/env bash
# Storage benchmark: each figure of tests/bench/storage_bench.cc beside dd on
# the same file system, in the same run. Figures go to docs/benchmarks.md.
#
#   tests/bench/storage_bench.sh [build dir] [data dir] [MiB]
set -euo pipefail
BUILD=${1:-build}
DIR=${2:-$BUILD/storage-bench}
MIB=${3:-512}
BENCH=$BUILD/tests/storage/storage_bench
[ -x "$BENCH" ] || { echo "build storage_bench first (cmake --build $BUILD --target storage_bench)"; exit 1; }
mkdir -p "$DIR"
DD="$DIR/dd.bin"

echo "== file system: $(df -T "$DIR" | awk 'NR==2 {print $2, $1}'), $MIB MiB per figure"
echo "-- dd"
# A first write of a fresh file runs slow here (block allocation, writeback
# of the previous run): warm up once, unreported, so that dd is not
# understated against the figures it is compared with.
dd if=/dev/zero of="$DD" bs=1M count="$MIB" status=none; rm -f "$DD"
sync
# dd's own "copied, S s" line, as MB/s (its unit varies between MB and GB).
dd_mbps() { awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") print $1 / $(i - 1) / 1e6}'; }
DD_WRITE=$(dd if=/dev/zero of="$DD" bs=1M count="$MIB" 2>&1 | tail -1)
echo "dd bs=1M (page cache):        $DD_WRITE"
rm -f "$DD"; sync
DD_SYNC=$(dd if=/dev/zero of="$DD" bs=1M count="$MIB" conv=fdatasync 2>&1 | tail -1)
echo "dd bs=1M conv=fdatasync:      $DD_SYNC"
echo "dd read bs=1M (page cache):   $(dd if="$DD" of=/dev/null bs=1M 2>&1 | tail -1)"
rm -f "$DD"
echo "-- strata storage"
OUT=$("$BENCH" "$DIR/data" "$MIB" 2>/dev/null)
echo "$OUT"
rm -rf "$DIR"
# The targets of docs/benchmarks.md, as ratios to dd from this same run.
W=$(echo "$DD_WRITE" | dd_mbps); S=$(echo "$DD_SYNC" | dd_mbps)
echo "-- against dd (targets: append_nosync >= 0.80 of dd, groupsync >= 0.70 of dd conv=fdatasync)"
echo "$OUT" | awk -v w="$W" -v s="$S" '
    $1 == "append_nosync" { printf "%-18s %.2f of dd bs=1M (%.0f MB/s)\n", $1, $(NF-1) / w, w }
    $1 ~ /^groupsync/     { printf "%-18s %.2f of dd conv=fdatasync (%.0f MB/s)\n", $1, $(NF-1) / s, s }'
