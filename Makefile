# Crypto Cat: the two commands a newcomer needs are `make run` and `make test`.
# CMake + Ninja do the building; this file only wires the steps together.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MEMCHECK_BUILD ?= build-memcheck
MEMCHECK_TESTS ?= test_itest
LISTEN     ?= 127.0.0.1:7777
DATA       ?= ./var
FUZZ_SECONDS ?= 300
QUICK      ?= 0
SOAK_SECONDS ?= 600
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps build asan run test test-release test-asan fuzz-build fuzz-smoke fuzz bench bench-follow bench-soak bench-flood bench-membership bench-rekey bench-rooms \
	install uninstall clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCC_SANITIZE=ON

asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The server makes DATA itself, mode 0700.
run: build
	./$(BUILD)/cryptocat-server --listen $(LISTEN) --data $(DATA)

# Every test: unit, Wycheproof, integration, on the normal build and under
# ASan/UBSan, then the fuzz targets replay their seed corpora with a short smoke run.
test: test-release test-asan fuzz-smoke

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

$(FUZZ_BUILD)/build.ninja: CMakeLists.txt
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCC_FUZZ=ON

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz-smoke: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) 10

# Long fuzzing runs: FUZZ_SECONDS per target (default 300).
fuzz: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Issue 11's benchmark (bench/bench.sh): every stage (fan-out against ngircd,
# bench/run.sh; connections; handshakes; bench_flood), then one table of every
# target and $(BUILD)/bench/results.json. Installs ngircd with apt if missing,
# loopback only, about 4 min; QUICK=1: the same comparisons, short, under
# 3 min (bench_flood left out). docs/BENCHMARKS.md section 1.
bench: build
	QUICK=$(QUICK) BENCH_BUILD=$(BUILD) ./bench/bench.sh

# Ten minutes of steady paced load (bench/soak.sh): server memory and p99,
# first minute against the last. SOAK_SECONDS=60 for a smoke run.
bench-soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) BENCH_BUILD=$(BUILD) ./bench/soak.sh

# Handshake floods only (tools/bench_flood.c, with the flooder tools/flood.c):
# four scenarios of 10 s, about a minute. Figures: docs/BENCHMARKS.md section 9.
bench-flood: build
	./$(BUILD)/bench_flood

# One real cryptocat --batch following a room paced at 4000 msg/s
# (tools/bench_follow.c, with loadgen --follower): the client's CPU and how
# far behind it is, as FIGURE lines; about 30 s. docs/BENCHMARKS.md section 10.
bench-follow: build
	./$(BUILD)/bench_follow

# The cost of one new epoch in a 1000-member room (tools/bench_rekey.c): about
# 3 min the first time (1000 RSA keys, kept in /tmp/cryptocat-bench-keys), then
# seconds. Figures: docs/BENCHMARKS.md section 7.
bench-rekey: build
	./$(BUILD)/bench_rekey

# A real client core's create, add and kick in a room of MEMBERS (default
# 5000, the most a room holds) (tools/bench_rooms/): FIGURE lines. The
# first run makes the missing RSA keys (kept in /tmp/cryptocat-bench-keys).
# Figures: docs/BENCHMARKS.md section 11.
bench-rooms: build
	./$(BUILD)/bench_rooms $(if $(MEMBERS),--members $(MEMBERS))

# cryptocat in PREFIX/bin, cryptocat-server in PREFIX/sbin, their manual pages
# in PREFIX/share/man (the install rules of CMakeLists.txt); DESTDIR stages it.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	DESTDIR="$(DESTDIR)" ./scripts/uninstall.sh $(BUILD) "$(PREFIX)"

# The cost of a membership request to a room at the record cap
# (tools/bench_membership.c), with the chain cache and without, for RSA-2048
# and RSA-4096 actors: about 2 min. Figures: docs/BENCHMARKS.md section 8.
bench-membership: build
	for bits in 2048 4096; do for cache in 128 0; do \
	  ./$(BUILD)/bench_membership --server ./$(BUILD)/cryptocat-server \
	    --rsa-bits $$bits --chain-cache $$cache || exit 1; done; done

# The integration tests with the server and the client under valgrind
# (scripts/memcheck.sh): no memory error, no leak. Not part of `make test`:
# hours on 2 cores (each client makes its RSA key under valgrind); a few:
# make memcheck MEMCHECK_TESTS='test_itest_(faults|bounded)'. A build of its
# own, without sanitizers.
$(MEMCHECK_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(MEMCHECK_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCC_TEST_TIMEOUT=14400

memcheck: $(MEMCHECK_BUILD)/build.ninja
	@./scripts/install-deps.sh memcheck
	cmake --build $(MEMCHECK_BUILD) -j $(JOBS)
	./scripts/memcheck.sh $(MEMCHECK_BUILD) '$(MEMCHECK_TESTS)'

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(MEMCHECK_BUILD)
