# The two commands: `make run` and `make test`. Both install what is missing first.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= 2

.PHONY: all deps configure build run test test-asan check-config clean

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

clean:
	rm -rf build
