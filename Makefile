# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12
# machine as root: they install what is missing, build, then run.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CONFIG     ?= config/single-node.yaml
CMAKE_FLAGS ?=

.PHONY: all deps test-deps configure build run test fuzz-build generate bench compat clean

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

run: build
	$(BUILD)/src/stratad --config $(CONFIG)

# The libFuzzer tree: clang with ASan+UBSan, only the protocol library.
fuzz-build: test-deps
	@test -f $(FUZZ_BUILD)/build.ninja || CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DSTRATA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

test: test-deps build fuzz-build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# The compat tier's whole list (tests/compat/tests.list): librdkafka's own
# tests against one node, then three nodes. `make test` runs its fast subset.
compat: test-deps build
	bash tests/compat/build.sh $(BUILD)/compat
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 1; \
	one=$$?; \
	STRATAD=$(BUILD)/src/stratad STRATA_COMPAT_BUILD_DIR=$(BUILD)/compat /usr/bin/python3 tests/compat/run.py --nodes 3; \
	three=$$?; \
	test $$one -eq 0 -a $$three -eq 0

# Regenerates the protocol codecs from ../shared/kafka-protocol.
generate:
	python3 src/protocol/codegen/generate.py --schemas ../shared/kafka-protocol --out .

bench: build
	bash tests/bench/run.sh

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
