# Thin wrapper over CMake. `make run`, `make cluster` and `make test` work on a
# fresh Debian 12 machine as root: they install what is missing, build, then run.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
DEB_BUILD  ?= build-deb
JOBS       ?= $(shell nproc)
CONFIG     ?= config/single-node.yaml
CMAKE_FLAGS ?=
PREFIX     ?= /usr/local
UNIT_DIR   ?= /etc/systemd/system
# The programs a broker needs; `make run` and `make cluster` build only these
# (and the libraries they link), not the unit tests and benchmarks of `all`.
PROGRAMS   := stratad strata

.PHONY: all deps test-deps configure build programs run cluster cluster-down cluster-status test fuzz-build \
        generate bench compat chaos clean install deb image test-packaging test-container packaging-deps

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

programs: deps configure
	cmake --build $(BUILD) -j $(JOBS) --target $(PROGRAMS)

run: programs
	$(BUILD)/src/stratad --config $(CONFIG)

# Three broker+controller nodes on localhost:9092-9094, data and logs in ./cluster.
cluster: programs
	@STRATAD=$(BUILD)/src/stratad STRATA=$(BUILD)/src/strata bash scripts/cluster.sh up

cluster-down:
	@STRATAD=$(BUILD)/src/stratad STRATA=$(BUILD)/src/strata bash scripts/cluster.sh down

cluster-status:
	@STRATAD=$(BUILD)/src/stratad STRATA=$(BUILD)/src/strata bash scripts/cluster.sh status

# Binaries to $(PREFIX)/bin, the configuration to /etc/strata, the unit to
# $(UNIT_DIR) (/etc/systemd/system); then (unless DESTDIR is set) the strata user and
# /var/lib/strata. The unit names $(PREFIX)/bin/stratad, hence the reconfigure.
install: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DSTRATA_SYSTEMD_UNIT_DIR=$(UNIT_DIR) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS) --target $(PROGRAMS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --strip
	@if [ -z "$(DESTDIR)" ]; then sh packaging/postinst make-install; fi

# build-deb/strata_<version>_amd64.deb: the programs for /usr, the unit in
# /lib/systemd/system, the package's dependencies found by dpkg-shlibdeps.
deb: deps
	cmake -S . -B $(DEB_BUILD) -G Ninja -DCMAKE_INSTALL_PREFIX=/usr -DSTRATA_SYSTEMD_UNIT_DIR=/lib/systemd/system \
	      -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(DEB_BUILD) -j $(JOBS) --target $(PROGRAMS)
	cd $(DEB_BUILD) && cpack -G DEB >/dev/null && ls -l $(CURDIR)/$(DEB_BUILD)/strata_*.deb

# The container image strata:latest, from the package (docker/build-image.sh).
image: deb packaging-deps
	@docker info >/dev/null 2>&1 || { echo "make image: no Docker engine answers; start one (dockerd &)"; exit 1; }
	bash docker/build-image.sh $(DEB_BUILD)/strata_*.deb

# Slow tests, not in ctest: the package in a debootstrapped Debian 12 chroot;
# the image and a three-node compose cluster in Docker.
test-packaging: deb packaging-deps
	bash tests/packaging/test_deb.sh $(DEB_BUILD)/strata_*.deb

test-container: image
	/usr/bin/python3 tests/packaging/test_container.py
	/usr/bin/python3 tests/cli/test_quickstart.py --sections container

packaging-deps:
	@bash scripts/install-deps.sh --packaging

# The libFuzzer tree: clang with ASan+UBSan, only the protocol library.
fuzz-build: test-deps
	bash tests/fuzz/build.sh . $(FUZZ_BUILD) $(JOBS)

# ctest builds the fuzz tree itself (the fuzz.build test), beside the first
# integration tests. Most tests wait on sockets and timers rather than
# compute, so ctest runs TEST_JOBS of them at once (the fuzzers, the compat
# build and the chaos run count for their PROCESSORS).
TEST_JOBS ?= 4
test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) --timeout 900

# The compat tier's whole list (tests/compat/tests.list): librdkafka's own
# tests against one node, then three nodes, then one and three nodes with
# the KIP-848 consumer group protocol. `make test` runs their fast subsets.
compat: test-deps build
	bash tests/compat/build.sh $(BUILD)/compat
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 1; \
	one=$$?; \
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 3; \
	three=$$?; \
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 1 --protocol consumer; \
	kip848=$$?; \
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 3 --protocol consumer; \
	kip848three=$$?; \
	test $$one -eq 0 -a $$three -eq 0 -a $$kip848 -eq 0 -a $$kip848three -eq 0

# The fault tier (tests/fault/README.md): a 3-node cluster under a seeded
# fault schedule, then the checker. DURATION in seconds, SEED to replay a
# run, FAULTS as fault names or families (kills, pause, partitions, netem,
# clock, disk, corruption, all); the history goes to HISTORY. Needs root.
DURATION ?= 180
SEED     ?=
FAULTS   ?= all
HISTORY  ?= chaos-$(shell date -u +%Y%m%dT%H%M%S).jsonl
chaos: programs
	@bash scripts/install-deps.sh --fault
	STRATAD=$(BUILD)/src/stratad /usr/bin/python3 tests/fault/run.py --duration $(DURATION) \
	  $(if $(SEED),--seed $(SEED)) --faults $(FAULTS) --history $(HISTORY)

# Regenerates the protocol codecs from ../shared/kafka-protocol.
generate:
	python3 src/protocol/codegen/generate.py --schemas ../shared/kafka-protocol --out .

bench: build
	bash tests/bench/run.sh

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(DEB_BUILD)
