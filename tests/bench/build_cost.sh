#!/usr/bin/env bash
# What `make run` costs to build, against what `make build` (all) costs,
# without a wall-clock race on a shared machine: counts the build edges of
# each target set and measures the compiler's CPU time (user+sys, ccache off)
# of every Nth compile command of each, run one at a time.
#   tests/bench/build_cost.sh [build dir] [N]      (default: build, every 10th)
# A configured build tree is needed; nothing in it is written (objects go to
# a temporary directory). N=1 measures every compile exactly.
set -euo pipefail
build=${1:-build}
step=${2:-10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$build"

commands() { ninja -t commands "$@" | grep -E ' -c [^ ]+\.(cc|cpp)$'; }
commands all | sort -u >"$out/all"
commands stratad strata | sort -u >"$out/run"
comm -23 "$out/all" "$out/run" >"$out/extra"   # compiled for `all` only: tests, benchmarks
echo "build edges: all $(ninja -t commands all | wc -l), stratad+strata $(ninja -t commands stratad strata | wc -l)"
echo "compile commands: all $(wc -l <"$out/all"), stratad+strata $(wc -l <"$out/run"), all only $(wc -l <"$out/extra")"

# CPU seconds of every step-th command of a list, scaled to the whole list.
measure() {
  local list=$1 total=0 n=0 i=0 count
  count=$(wc -l <"$list")
  while IFS= read -r cmd; do
    if (( i++ % step == 0 )); then
      # Without the launcher and into a scratch object.
      cmd=${cmd#*ccache }
      cmd=$(sed -E "s# -o [^ ]+\.o # -o $out/x.o #; s# -MF [^ ]+ # -MF $out/x.d #" <<<"$cmd")
      local cpu
      cpu=$( { /usr/bin/time -f '%U %S' bash -c "$cmd" 2>&1 >/dev/null; } | tail -1 | awk '{print $1 + $2}')
      total=$(awk -v a="$total" -v b="$cpu" 'BEGIN {print a + b}')
      n=$((n + 1))
    fi
  done <"$list"
  awk -v t="$total" -v n="$n" -v c="$count" -v name="$(basename "$list")" \
    'BEGIN {printf "%-5s %3d of %3d compiles measured: %7.1f CPU s, scaled to all %3d: %7.0f CPU s\n", name, n, c, t, c, t / n * c}'
}
measure "$out/run"
measure "$out/extra"
