# Short commands for danemx. The real build is CMake (CMakeLists.txt); tests are CTest.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build-deps configure build check test test-asan demo install clean tidy

all: build

deps:
	@sh scripts/deps.sh all

build-deps:
	@sh scripts/deps.sh build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: build-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDANEMX_SANITIZE=ON

test: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

test-asan: build-deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_FLAGS)

check: deps
	$(MAKE) test
	$(MAKE) test-asan
	$(MAKE) tidy

demo: deps build
	./$(BUILD)/danemx demo

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# clang-tidy's checks that matter for this code (bugprone-*, security-*); any finding fails.
TIDY_CHECKS = -*,bugprone-*,security-*,clang-analyzer-security.*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
tidy: build
	@echo "clang-tidy ($(TIDY_CHECKS)) over src/"
	@printf '%s\n' src/*/*.c | xargs -P $(JOBS) -n 4 clang-tidy -p $(BUILD) --quiet \
	  --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' 2>/dev/null
	@echo "clang-tidy: no findings"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
