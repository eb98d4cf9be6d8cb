#!/usr/bin/env bash
# Installs the Debian 12 packages Strata needs to build, run and test, and only
# those missing. Safe to run repeatedly; a no-op (one dpkg query) when all are present.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config python3 lld
  libboost1.74-dev libboost-system1.74-dev librocksdb-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libzstd-dev liblz4-dev libsnappy-dev
  zlib1g-dev libssl-dev libcli11-dev nlohmann-json3-dev libbenchmark-dev libre2-dev
)
# Real clients and tools the test suite drives (kcat, confluent-kafka-python,
# kafka-python on Debian's /usr/bin/python3 with the codec modules it
# imports for snappy, lz4 and zstd; Sarama 1.22 with the Go toolchain that
# builds the tests' small Sarama program offline, GOPATH=/usr/share/gocode)
# the fuzzer's compiler, RapidJSON for the compat tier's statistics-JSON
# tests (tests/compat/build.sh), and the openssl CLI that makes the TLS tests'
# certificates (scripts/make-test-certs.sh); Chromium, which the web
# console's browser test drives headless through puppeteer-core (npm);
# curl and jq, which docs/rest.md's examples use (test_rest_doc.py runs them).
test_packages=(
  kcat librdkafka-dev python3-confluent-kafka python3-kafka
  python3-snappy python3-lz4 python3-zstandard
  golang-go golang-github-shopify-sarama-dev
  clang libclang-rt-14-dev iperf3
  rapidjson-dev
  prometheus
  openssl
  chromium
  curl jq
)
# The fault tier (tests/fault): iptables partitions, tc netem, libfaketime
# clock jumps, libfiu's fiu-run disk faults, stress-ng. `make chaos` installs
# them (`--fault`); `--test` too, for a machine set up to run every tier.
fault_packages=(iptables iproute2 faketime libfaketime fiu-utils stress-ng)

# `make deb`, `make image` and their tests (make test-packaging,
# test-container): dpkg-shlibdeps, debootstrap, a Docker engine and compose.
packaging_packages=(dpkg-dev debootstrap docker.io docker-compose kcat python3-confluent-kafka)

want=("${build_packages[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_packages[@]}" "${fault_packages[@]}"); fi
if [[ "${1:-}" == "--fault" ]]; then want+=("${fault_packages[@]}"); fi
if [[ "${1:-}" == "--packaging" ]]; then want+=("${packaging_packages[@]}"); fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
# Node.js may come from another distribution that bundles npm; only ask
# Debian for it when the command is absent.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
