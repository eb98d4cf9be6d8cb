#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: the ctest tests fuzz.* (see
# tests/CMakeLists.txt and README.md). New inputs go to a scratch corpus in
# the build tree, never into the committed seed corpora, which are read only.
#
#   run_fuzzer.sh <fuzzer> <scratch dir> <seconds> <max_len> <seed dir>...
#
# Exit status: 0 when the time ran out without a finding, 77 (ctest's skip)
# when the fuzzer is not built, 1 on any finding (crash, sanitizer report,
# check failure, timeout of one input, out of memory, leak).
set -u
fuzzer=$1 scratch=$2 seconds=$3 max_len=$4
shift 4

if [[ ! -x $fuzzer ]]; then
  echo "SKIPPED: $fuzzer is not built. 'make test' builds it (make fuzz-build);"
  echo "a tree elsewhere can be named with -DSTRATA_FUZZ_BUILD_DIR=<dir>."
  exit 77
fi

seeds=()
for dir in "$@"; do
  [[ -d $dir ]] && seeds+=("$dir")  # a fuzzer may have no regressions/ yet
done

rm -rf "$scratch"
mkdir -p "$scratch/corpus" "$scratch/artifacts"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

"$fuzzer" "$scratch/corpus" "${seeds[@]}" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$scratch/artifacts/"
status=$?

if [[ $status -ne 0 ]]; then
  [[ $status -eq 77 ]] && status=1  # never let a finding pass for a skip
  echo
  echo "FINDING in $(basename "$fuzzer"); the input that shows it:"
  ls -l "$scratch/artifacts/"
  echo "Reproduce: $fuzzer $scratch/artifacts/<file>   (STRATA_FUZZ_TRACE=1 explains refusals)"
fi
exit $status
