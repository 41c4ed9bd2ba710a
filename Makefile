# The two commands of the README: `make run` and `make test`. Both install
# what is missing (scripts/install-deps.sh) and build first.
#   make run      narrated demo on the embedded default (SQLite + private broker)
#   make test     whole suite: gcc build, sanitizer build, real services, fuzz
#   make chaos    long fault-injection runs (regenerates docs/RELIABILITY.md)
#   make bench    benchmarks (QUICK=1 for the short mode)
#   make screenshots  the dashboard's screenshots in docs/images (a real browser)
#   make build    just the release build; make format; make tidy
#   make package  the Debian package in build/packages (lintian-clean)
#   make package-test  installs it into a throwaway Debian 12 root and out again
BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= 2
CMAKE_ARGS ?=

.PHONY: all deps bin build build-san run test unit chaos bench fuzz format tidy clean screenshots package package-test

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DDC_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@ninja -C $(BUILD) -j$(JOBS)

build-san: deps
	@CC=clang CXX=clang++ cmake -S . -B $(SAN_BUILD) -G Ninja -DDC_WERROR=ON -DDC_SANITIZE=ON -DDC_FUZZ=ON \
	    -DDC_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS) >/dev/null
	@ninja -C $(SAN_BUILD) -j$(JOBS)

# The demo needs only the three programs, not the test suite.
bin: deps
	@cmake -S . -B $(BUILD) -G Ninja -DDC_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@ninja -C $(BUILD) -j$(JOBS) dc-manager dcctl dc-api

run: bin
	@./scripts/demo.sh

# The programs and their man pages, then the .deb (scripts/package.sh).
package: deps
	@cmake -S . -B $(BUILD) -G Ninja -DDC_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@ninja -C $(BUILD) -j$(JOBS) dc-manager dcctl dc-api dc-worker dc_man_pages
	@BUILD=$(BUILD) ./scripts/package.sh

# Installs, removes and purges the package in a Debian 12 root made with
# debootstrap (cached in $(BUILD)/package-test); needs root.
package-test: package
	@BUILD=$(BUILD) ./scripts/package-test.sh

test: build build-san
	@./scripts/test.sh

# Unit tests only: no services needed.
unit: build
	@ctest --test-dir $(BUILD) -L unit --output-on-failure -j$(JOBS)

fuzz: build-san
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_PARALLEL=1 FUZZ_KEEP_CORPUS=1 FUZZ_REPORT=1 ./scripts/fuzz.sh

chaos: build
	@./scripts/chaos.sh

bench: build
	@QUICK=$(QUICK) ./scripts/bench.sh

# Regenerates docs/images/dashboard*.png by running the browser tests with
# screenshots on (they start their own broker, manager and dc-api).
screenshots: bin
	@mkdir -p docs/images
	@DC_SCREENSHOT_DIR=$(CURDIR)/docs/images DC_API_BIN=$(CURDIR)/$(BUILD)/apps/dc-api \
	  DC_MANAGER_BIN=$(CURDIR)/$(BUILD)/apps/dc-manager DCCTL_BIN=$(CURDIR)/$(BUILD)/apps/dcctl \
	  ./tests/browser/run.sh

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

# clang-tidy with the checks of .clang-tidy over every file of src/ (and the
# headers it includes from src/); any finding fails.
tidy: build
	@run-clang-tidy -p $(BUILD) -j $(JOBS) -quiet "$(CURDIR)/src/.*\.cc$$" >$(BUILD)/tidy.log 2>&1 || \
	  { sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/tidy.log | grep -E "(warning|error):" | sort -u; echo "make tidy: findings above (full log: $(BUILD)/tidy.log)"; exit 1; }
	@echo "make tidy: clean ($$(grep -c '^clang-tidy' $(BUILD)/tidy.log) files)"

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
