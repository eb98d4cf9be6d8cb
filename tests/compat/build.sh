#!/usr/bin/env bash
# Builds librdkafka 2.12's own test runner (tests/test-runner) from the
# sources node-rdkafka's npm package carries (package/deps/librdkafka is the
# full librdkafka tree, tests/ included). Nothing else is downloaded: npm's
# registry serves the tarball, Debian's -dev packages (scripts/install-deps.sh
# --test) the libraries it links.
#
#   tests/compat/build.sh [<build dir>]     (default: build/compat)
#
# The build is cached in <build dir>: a rerun with the runner present is a
# no-op. Prints the runner's path on its last line.
set -euo pipefail

node_rdkafka_version=3.6.1   # carries librdkafka 2.12.0
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
out=${1:-$source_dir/build/compat}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tree=$out/node-rdkafka-$node_rdkafka_version/package/deps/librdkafka
runner=$tree/tests/test-runner

# SSL (OpenSSL from Debian's libssl-dev) for the TLS and SASL/SCRAM tests
# (0097, 0135 on run.py's secured clusters); RapidJSON (rapidjson-dev, found
# by configure itself) for the tests that check the statistics JSON (0053,
# 0101, 0110). No GSSAPI (Cyrus SASL), libcurl (OIDC) or external LZ4 (the
# built-in copy is used); zlib, zstd and snappy come from Debian.
# --no-download keeps mklove from fetching its modules or any dependency.
configure_args=(--no-download --disable-gssapi --disable-curl --disable-lz4-ext)
# The stamp records what the runner was built with: a build made with other
# options (an older build.sh's, or before rapidjson-dev was installed) is
# configured and built again.
stamp_text="${configure_args[*]} rapidjson=$([[ -f /usr/include/rapidjson/schema.h ]] && echo yes || echo no)"

if [[ -x "$runner" && "$(cat "$out/built.stamp" 2>/dev/null)" == "$stamp_text" ]]; then
    echo "$runner"
    exit 0
fi

# Serialized: ctest's fixture and `make compat` may start it at once.
exec 9>"$out/build.lock"
flock 9
if [[ -x "$runner" && "$(cat "$out/built.stamp" 2>/dev/null)" == "$stamp_text" ]]; then
    echo "$runner"
    exit 0
fi

if [[ ! -d "$tree/tests" ]]; then
    tarball=$out/node-rdkafka-$node_rdkafka_version.tgz
    if [[ ! -f "$tarball" ]]; then
        (cd "$out" && npm pack --silent "node-rdkafka@$node_rdkafka_version" >/dev/null)
    fi
    rm -rf "$out/node-rdkafka-$node_rdkafka_version"
    mkdir -p "$out/node-rdkafka-$node_rdkafka_version"
    tar xzf "$tarball" -C "$out/node-rdkafka-$node_rdkafka_version"
fi

cd "$tree"
grep -q '^#define RD_KAFKA_VERSION  *0x020c' src/rdkafka.h ||
    { echo "compat/build.sh: $tree is not librdkafka 2.12" >&2; exit 1; }

# Logs go beside the tree, not in it: mklove takes any configure.* file in
# the tree for one of its modules.
if [[ -f Makefile.config && "$(cat "$out/built.stamp" 2>/dev/null)" != "$stamp_text" ]]; then
    make clean >/dev/null 2>&1 || true
    make -C tests clean >/dev/null 2>&1 || true
    rm -f Makefile.config config.h
fi
if [[ ! -f Makefile.config ]]; then
    # Through ccache when there is one (configure records CC and CXX): a
    # fresh clone (CI's) then rebuilds librdkafka from the cache.
    if command -v ccache >/dev/null; then
        export CC="ccache ${CC:-cc}" CXX="ccache ${CXX:-c++}" CCACHE_BASEDIR=$source_dir CCACHE_NOHASHDIR=true
    fi
    ./configure "${configure_args[@]}" >"$out/configure.out" 2>&1 ||
        { tail -30 "$out/configure.out" >&2; exit 1; }
fi
jobs=${JOBS:-$(nproc)}
make -j"$jobs" libs >"$out/make-libs.out" 2>&1 || { tail -30 "$out/make-libs.out" >&2; exit 1; }
make -j"$jobs" -C tests test-runner >"$out/make-tests.out" 2>&1 || { tail -30 "$out/make-tests.out" >&2; exit 1; }
echo "$stamp_text" >"$out/built.stamp"
echo "$runner"
