# The two commands: `make run` and `make test`. Both install what is missing first.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= 2

PREFIX ?= /usr

.PHONY: all deps configure build run test test-asan test-loaded fresh-test fuzz fuzz-smoke fuzz-build check-config install package systemd-test bench bench-celery clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j$(JOBS)

run: build
	@mkdir -p var
	exec ./$(BUILD_DIR)/daemon/ticketd --config config/ticketd.yaml

check-config: build
	./$(BUILD_DIR)/daemon/ticketd --check-config --config config/ticketd.yaml

test: build
	ctest --preset $(PRESET)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs it too).
test-asan:
	@$(MAKE) --no-print-directory PRESET=asan test

# The libFuzzer harnesses (tests/fuzz): each runs FUZZ_SECONDS on its seeds and what
# earlier runs found (build/fuzz/fuzz-corpus); FUZZ=name,... picks some; FUZZ_JOBS at once.
FUZZ_SECONDS ?= 300
FUZZ ?=
fuzz-build: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j$(JOBS)

fuzz: fuzz-build
	./tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(subst $(comma), ,$(FUZZ))

# CI: every harness built and run briefly on its corpus, so none of them rots.
fuzz-smoke: fuzz-build
	./tests/fuzz/run.sh build/fuzz 10

comma := ,

# The whole suite RUNS times in a row while stress-ng keeps every core busy (flakiness).
RUNS ?= 10
test-loaded: build
	@./scripts/install-deps.sh --with-stress
	./tests/stress/under_load.sh $(BUILD_DIR) $(RUNS)

# The README's two commands on a fresh minimal Debian 12 (debootstrap + systemd-nspawn;
# needs root): make test there, then make run and the walk-through with curl.
fresh-test:
	@./scripts/install-deps.sh --with-systemd-test
	./tests/fresh/fresh_machine_test.sh

# The FHS layout under $(PREFIX) (default /usr; DESTDIR= for staging): bin/ticketd,
# lib/ticketd/plugins, the systemd unit, /etc/ticketd (kept if present), the SDK.
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# Debian packages: build/release/package/ticketd_<version>_<arch>.deb and ticketd-dev.
package: build
	cd $(BUILD_DIR) && cpack

# Boots the unit under a real systemd in a container (systemd-nspawn, debootstrap).
systemd-test: package
	./tests/systemd/nspawn_test.sh $(BUILD_DIR)

# ticketd against nginx answering statically, side by side (bench/bench.py; JSON lines
# and a table). BENCH_ARGS=--quick for a smoke run.
bench: build
	@./scripts/install-deps.sh --with-bench
	python3 bench/bench.py $(BENCH_ARGS)

# ticketd against Celery + Redis on the same machine (bench/celery/compare.py). Debian's
# python3-celery is for its /usr/bin/python3, hence that interpreter.
bench-celery: build
	@./scripts/install-deps.sh --with-bench --with-celery
	/usr/bin/python3 bench/celery/compare.py $(BENCH_ARGS)

clean:
	rm -rf build
