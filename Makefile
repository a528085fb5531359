# Thin wrapper over CMake/ctest. `make demo` and `make test` work on a fresh
# Debian 12 machine: deploy/deps.sh installs what is missing when run as root.
JOBS    ?= $(shell nproc)
BUILD   ?= build
SANBUILD ?= build-san
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test test-fast demo bench crash layer compose compose-layer clean

all: build

deps:
	@deploy/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Everything: unit, end-to-end, crash tests on the normal build; then unit
# tests and short fuzz runs on a clang ASan+UBSan build.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE fuzz
	@cmake -S . -B $(SANBUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DFORKCAP_SANITIZE=ON -DFORKCAP_FUZZ=ON >/dev/null
	@cmake --build $(SANBUILD) -j$(JOBS)
	cd $(SANBUILD) && ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz'

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

# The demo shows its result, not the build: build output only when the
# build fails, or with V=1.
demo:
ifeq ($(V),1)
	@$(MAKE) --no-print-directory build
else
	@echo "building forkcap, lambda-sim and fake-intake (V=1 shows the build)..."
	@log=$$(mktemp); \
	if $(MAKE) --no-print-directory build >$$log 2>&1; then rm -f $$log; \
	else cat $$log; rm -f $$log; echo "demo: the build failed (output above)" >&2; exit 1; fi
endif
	@deploy/demo.sh $(BUILD)

bench: build
	@tests/bench/run.sh $(BUILD)

# The crash-isolation matrix, long form (>= 1,000 faults; tens of minutes):
# results in $(BUILD)/crash-matrix.jsonl, the README table on stdout.
crash: build
	@tests/crash/matrix.sh $(BUILD)/deploy/sim/lambda-sim $(BUILD)/supervisor/forkcap-testhooks \
	    $(BUILD)/deploy/intake/fake-intake tests/lib/make-ca.sh long $(BUILD)/crash-matrix.jsonl
	@tests/crash/table.sh $(BUILD)/crash-matrix.jsonl

layer: deps
	@deploy/layer/build.sh

# deploy/compose in real containers (root; podman and docker-compose from
# Debian, installed when missing): images built with the compose Dockerfile
# and cached in /var/cache/forkcap-compose, the run in private namespaces,
# then the checks and a summary (tests/compose/containers.sh).
compose:
	@tests/compose/containers.sh .

# The layer Dockerfile's Debian stage with podman: dist/forkcap-layer-*.zip.
compose-layer:
	@COMPOSE_LAYER=1 tests/compose/containers.sh .

clean:
	rm -rf $(BUILD) $(SANBUILD)
