#!/usr/bin/env bash
# Configures (once) and builds the libFuzzer tree: clang, ASan + UBSan, only
# the protocol library and the fuzzers (STRATA_FUZZ=ON).
#
#   build.sh <source dir> <build dir> [jobs]
#
# `make fuzz-build` runs it, and so does the ctest test fuzz.build, the
# fixture of the fuzz.* tests: inside ctest the compile overlaps the
# integration tests, which mostly wait on sockets and timers, instead of
# holding `make test` up before ctest starts. Exit status 77 (ctest's skip,
# and the fuzz.* tests then skip too) when there is no clang++.
set -euo pipefail
source_dir=$1 build_dir=$2 jobs=${3:-$(nproc)}
if ! command -v clang++ >/dev/null; then
  echo "SKIPPED: no clang++ (make test-deps installs it)"
  exit 77
fi
if [[ ! -f $build_dir/build.ninja ]]; then
  CXX=clang++ cmake -S "$source_dir" -B "$build_dir" -G Ninja -DSTRATA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build_dir" -j "$jobs"
