# fio-bounce: a fio external ioengine that bounces misaligned O_DIRECT I/O.
#
#   make               build engine/fio-bounce.so (installs missing packages)
#   make unit          build the unit tests only: needs no fio at all
#   make deps          install the Debian packages builds and tests need
#   make demo          run the demo job on a scratch file
#   make test          unit + integration tests (root: creates loop devices)
#   make test T=rmw    only the tests whose name contains "rmw"
#   make SANITIZE=1 test   the same, engine and unit tests under ASan+UBSan
#   make bench         fio io_uring vs fio-bounce, interleaved, prints ratios;
#                      then QEMU (qemu-img bench) as a peer
#   make compare       the A/B job library on both engines: report + plots
#                      (COMPARE_ARGS='--pairs 15 --only rand-4k-qd32' ...)
#   make install       $(DESTDIR)$(PREFIX)/lib/fio/fio-bounce.so, the man
#                      page, fio-bounce-compare and the job library
#   make deb           build/fio-engine-bounce_<version>_<arch>.deb
#   make compat        make test under the system fio and each fio release in
#                      ../shared/fio-src (FIO_SHARED=DIR), plus any tree or
#                      tarball in FIO_TREES="a b.tar.xz"; built once, cached
#   make soak          numjobs=4 QD128 misaligned randrw+verify, threads and
#                      processes, loop4k and ext4 (SOAK_S seconds each, 600)
#   make valgrind      the integration subset of every path under memcheck
#   make fuzz          libFuzzer: planner, overlap table, alignment (FUZZ_S
#                      seconds each, default 60; FUZZ_RUNS=N runs N inputs)
#
# FIO_SRC=/path/to/configured/fio builds against that fio tree instead of the
# source of the installed Debian fio.

CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= python3
SANITIZE ?= 0
FIO_SRC  ?=
T        ?=

BUILD := build
# Debian packages that builds and tests need, installed by 'deps' when
# missing. fio is not among them: it comes with its own source in the fio
# step below, because the two must be the same version, and only the adapter
# needs either. strace counts the syncfs calls of end_syncfs.
DEPS_PKGS := liburing-dev libfuse3-dev fuse3 pkg-config e2fsprogs util-linux \
	     strace
# fio-bounce-compare's plots, the man page checks and the package.
VENDOR_PKGS := python3-matplotlib groff man-db dpkg-dev lintian
DEPS_PKGS += $(VENDOR_PKGS)
# What make bench runs besides fio: qemu-img bench, QEMU's block layer as a peer.
BENCH_PKGS := qemu-utils valgrind

ifeq ($(SANITIZE),1)
OUT          := $(BUILD)/asan
ENGINE       := $(OUT)/fio-bounce.so
SAN_FLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
# fio itself is not built with ASan, so the runtime must come first.
SAN_PRELOAD   = $(shell $(CC) -print-file-name=libasan.so)
TEST_ENV      = FIOB_SANITIZE=1 FIOB_PRELOAD=$(SAN_PRELOAD)
else
OUT          := $(BUILD)/obj
ENGINE       := engine/fio-bounce.so
SAN_FLAGS    :=
TEST_ENV      =
endif

FIO_PATH_FILE := $(BUILD)/fio-src.path
# Resolved when a recipe runs, i.e. after tools/setup.sh wrote it.
FIO_TREE = $(shell cat $(FIO_PATH_FILE))
FIO_VERSION = $(shell sed -n 's/^FIO_VERSION = //p' $(FIO_TREE)/FIO-VERSION-FILE)

WARN      := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
# -MMD -MP: each object's header dependencies, written as it is compiled.
DEP_FLAGS := -MMD -MP
BASE_FLAGS = -std=gnu11 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64 \
	     -fPIC -fvisibility=hidden $(WARN) $(SAN_FLAGS) $(DEP_FLAGS) $(CFLAGS)
FIO_FLAGS  = -I$(OUT) -I$(FIO_TREE) -include $(FIO_TREE)/config-host.h \
	     -DFIO_INC_DEBUG
# What the fio tree looks like (engine/fiob_fio_compat.h reads it).
FIO_FEATURES := $(OUT)/fiob_fio_features.h

ADAPTER    := engine/fio-bounce.c
PURE_SRCS  := $(filter-out $(ADAPTER),$(wildcard engine/*.c))
PURE_OBJS  := $(patsubst engine/%.c,$(OUT)/%.o,$(PURE_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/unit/%,$(UNIT_SRCS))
LIBS       := -luring

# A copy of the engine that believes it was built for another fio: the tests
# use it to prove the ABI guard refuses a mismatched build.
WRONGVER   := $(OUT)/fio-bounce-wrongver.so
FAULTFS    := $(BUILD)/faultfs
FAILWAIT   := $(BUILD)/failwait
COPYBENCH  := $(BUILD)/copybench

.PHONY: all deps setup demo test unit bench compare deb install uninstall \
	clean compat soak valgrind fuzz setup-fuzz FORCE

all: $(ENGINE)

# The one package step: every target that needs a package names it (as an
# order-only prerequisite where it must not force rebuilds). Cheap when all
# is installed: it only asks dpkg.
deps:
	@tools/setup.sh --deps $(DEPS_PKGS)

# The fio step: fio and the configured source of exactly that version. Only
# the adapter (and its wrong-version twin) depend on it. Always ask setup
# (it installs nothing when all is present), but only touch the path file
# when the answer changes, so nothing rebuilds needlessly.
$(FIO_PATH_FILE): FORCE | deps
	@mkdir -p $(BUILD)
	@FIO_SRC="$(FIO_SRC)" tools/setup.sh $(BUILD) >$@.$$$$.out && \
		tail -n 1 $@.$$$$.out >$@.$$$$ && rm -f $@.$$$$.out && \
		{ cmp -s $@.$$$$ $@ && rm -f $@.$$$$ || mv $@.$$$$ $@; }

setup: deps $(FIO_PATH_FILE)

# fio-free objects: the engine below the adapter, unit tests, tools.
$(OUT)/%.o: engine/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) -c $< -o $@

$(FIO_FEATURES): tools/fio-features.sh $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	CC="$(CC)" tools/fio-features.sh $(FIO_TREE) $@

# What fio's io_uring engine offers in that tree (option parity): read from
# the tree by tools/uring-opts.sh, regenerated when the tree changes.
URING_OPTS := $(OUT)/fiob_uring_opts.h

$(URING_OPTS): tools/uring-opts.sh $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	tools/uring-opts.sh $(FIO_TREE) >$@.tmp && mv $@.tmp $@

$(OUT)/fio-bounce.o: $(ADAPTER) $(FIO_PATH_FILE) $(FIO_FEATURES) $(URING_OPTS)
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) $(FIO_FLAGS) -DFIOB_BUILT_FOR='"$(FIO_VERSION)"' -c $< -o $@

$(OUT)/fio-bounce-wrongver.o: $(ADAPTER) $(FIO_PATH_FILE) $(FIO_FEATURES) $(URING_OPTS)
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) $(FIO_FLAGS) -DFIOB_BUILT_FOR='"fio-0.0-wrongver"' -c $< -o $@

# Export exactly one symbol, 'ioengine' (engine/fio-bounce.map); nodelete
# keeps the code mapped while fio tears down (same reason as SPDK's plugin).
SO_FLAGS = -shared -Wl,--version-script=engine/fio-bounce.map -Wl,-z,nodelete \
	   $(SAN_FLAGS) $(LDFLAGS)

$(ENGINE): $(OUT)/fio-bounce.o $(PURE_OBJS) engine/fio-bounce.map
	$(CC) $(SO_FLAGS) -o $@ $(OUT)/fio-bounce.o $(PURE_OBJS) $(LIBS)

$(WRONGVER): $(OUT)/fio-bounce-wrongver.o $(PURE_OBJS) engine/fio-bounce.map
	$(CC) $(SO_FLAGS) -o $@ $(OUT)/fio-bounce-wrongver.o $(PURE_OBJS) $(LIBS)

# Their .d files stay out of unit/: the runner runs everything there.
$(OUT)/unit/%: tests/unit/%.c $(PURE_OBJS) | deps
	@mkdir -p $(@D) $(OUT)/unit-deps
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) $(DEP_FLAGS) \
		-MF $(OUT)/unit-deps/$*.d $(CFLAGS) -Iengine -Itests/unit \
		$< $(PURE_OBJS) $(LIBS) -o $@

$(FAULTFS): tests/fuse/faultfs.c | deps
	$(CC) -O2 -Wall $$(pkg-config --cflags fuse3) $< $$(pkg-config --libs fuse3) -o $@

$(FAILWAIT): tests/seccomp/failwait.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall $< -o $@

unit: deps $(UNIT_BINS)

test: deps $(ENGINE) $(WRONGVER) $(UNIT_BINS) $(FAULTFS) $(FAILWAIT)
	$(TEST_ENV) FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_WRONGVER=$(abspath $(WRONGVER)) \
		FIOB_UNIT_DIR=$(abspath $(OUT)/unit) FIOB_FAULTFS=$(abspath $(FAULTFS)) \
		FIOB_FAILWAIT=$(abspath $(FAILWAIT)) \
		FIOB_OBJ_DIR=$(abspath $(OUT)) FIOB_FIO_TREE=$(abspath $(FIO_TREE)) \
		$(PYTHON) tests/run.py $(T)

demo: deps $(ENGINE)
	tools/demo.sh $(abspath $(ENGINE))

$(COPYBENCH): bench/copybench.c engine/fiob_copy.c engine/fiob_copy_select.c engine/fiob_copy*.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -Wall -Iengine bench/copybench.c engine/fiob_copy.c \
		engine/fiob_copy_select.c -o $@

bench: deps $(ENGINE) $(COPYBENCH)
	@tools/setup.sh --deps $(BENCH_PKGS)
	FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_COPYBENCH=$(abspath $(COPYBENCH)) \
		$(PYTHON) bench/bench.py

# ---- the vendor kit: compare, install, deb ---------------------------------
FIO_LIBDIR ?= $(PREFIX)/lib/fio
DATADIR    ?= $(PREFIX)/share/fio-bounce
MANDIR     ?= $(PREFIX)/share/man
COMPARE_ARGS ?=
# What fio-bounce-compare needs at run time, installed under DATADIR with the
# same layout as here (it imports the harness's loop-device helpers and
# bench's statistics).
SHARE_FILES = tools/fio-bounce-compare $(wildcard tools/fiobcompare/*.py) \
	      $(wildcard tests/fiobtest/*.py) bench/report.py \
	      $(wildcard jobs/*.fio jobs/*/*.fio)

compare: deps $(ENGINE)
	tools/fio-bounce-compare --engine $(abspath $(ENGINE)) \
		--out $(BUILD)/compare-$$(date +%Y%m%d-%H%M%S) $(COMPARE_ARGS)

install: $(ENGINE)
	install -d $(DESTDIR)$(FIO_LIBDIR) $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(ENGINE) $(DESTDIR)$(FIO_LIBDIR)/fio-bounce.so
	install -m 0644 man/fio-bounce.7 $(DESTDIR)$(MANDIR)/man7/fio-bounce.7
	install -m 0644 man/fio-bounce-compare.1 $(DESTDIR)$(MANDIR)/man1/fio-bounce-compare.1
	for f in $(SHARE_FILES); do install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done
	chmod 0755 $(DESTDIR)$(DATADIR)/tools/fio-bounce-compare
	ln -srf $(DESTDIR)$(DATADIR)/tools/fio-bounce-compare $(DESTDIR)$(PREFIX)/bin/fio-bounce-compare

uninstall:
	rm -f $(DESTDIR)$(FIO_LIBDIR)/fio-bounce.so $(DESTDIR)$(MANDIR)/man7/fio-bounce.7 \
		$(DESTDIR)$(MANDIR)/man1/fio-bounce-compare.1 \
		$(DESTDIR)$(PREFIX)/bin/fio-bounce-compare
	rm -rf $(DESTDIR)$(DATADIR)

# The package: 'make install' into a staging root (PREFIX=/usr, the engine
# in fio's multiarch engine directory), then tools/mkdeb.sh adds the control
# data and builds it with dpkg-deb. DEB_OUT: where the .deb goes.
DEB_OUT     ?= $(BUILD)
DEB_VERSION ?= 0.1.0~git$(shell git log -1 --format=%cd.%h --date=format:%Y%m%d 2>/dev/null || echo 0)
MULTIARCH    = $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch)

deb: deps $(ENGINE)
	rm -rf $(BUILD)/deb
	$(MAKE) -s install DESTDIR=$(abspath $(BUILD)/deb) PREFIX=/usr \
		FIO_LIBDIR=/usr/lib/$(MULTIARCH)/fio
	tools/mkdeb.sh $(BUILD)/deb "$(DEB_VERSION)" "$(FIO_TREE)" $(DEB_OUT)

# The compatibility matrix (tools/compat.sh). fio's own libaio engine is a
# reference in the tests, so libaio-dev goes in before any fio is configured.
FIO_SHARED ?=
FIO_TREES  ?=
SYSTEM_LOG ?=
compat: setup
	@tools/setup.sh --deps libaio-dev
	FIO_SHARED="$(FIO_SHARED)" FIO_TREES="$(FIO_TREES)" T="$(T)" \
		SYSTEM_LOG="$(SYSTEM_LOG)" CC="$(CC)" MAKE="$(MAKE)" \
		tools/compat.sh $(BUILD)/compat

# Keeps the downloaded fio source (build/fio-*, build/dl): it is slow to fetch.
clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/faultfs $(BUILD)/copybench \
		$(BUILD)/deb $(BUILD)/*.deb $(BUILD)/failwait $(BUILD)/fuzz \
		engine/fio-bounce.so bench/results.json

# ---- soak (not part of 'make test'; .ci/run runs a 60 s one) -----------
SOAK_S ?= 600

soak: deps $(ENGINE)
	$(TEST_ENV) FIOB_ENGINE=$(abspath $(ENGINE)) SOAK_S=$(SOAK_S) \
		$(PYTHON) tests/soak.py

# ---- memcheck -----------------------------------------------------------
# The integration subset that takes every path: aligned pass-through,
# memory bounce, window reads and RMW, EOF trim, an injected fault, and the
# iolog end where fio stops reaping. fio runs under valgrind memcheck with
# its jobs as threads; tests/valgrind/fio.supp holds fio's own leaks.
VALGRIND_TESTS := foundation/aligned_randrw_qd32_loop512 \
		  align/bounce_mem_align_forces_mem_bounces \
		  stats/stats_rmw_counters_consistent \
		  eof/randwrite_near_eof_matches_buffered \
		  faults/rmw_read_eio_with_waiters \
		  rmw/iolog_end_lands_queued_writes
VALGRIND_SUM   := $(abspath $(BUILD))/valgrind-summary.txt

valgrind: deps $(ENGINE) $(UNIT_BINS) $(FAULTFS) $(FAILWAIT)
	@tools/setup.sh --deps valgrind
	@rm -f $(VALGRIND_SUM)
	FIOB_VALGRIND=1 FIOB_VALGRIND_SUMMARY=$(VALGRIND_SUM) \
		FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_UNIT_DIR=$(abspath $(OUT)/unit) \
		FIOB_FAULTFS=$(abspath $(FAULTFS)) FIOB_FAILWAIT=$(abspath $(FAILWAIT)) \
		$(PYTHON) tests/run.py $(VALGRIND_TESTS); st=$$?; \
		cd tests && $(PYTHON) -W ignore -m fiobtest.memcheck $(VALGRIND_SUM) && exit $$st

# ---- fuzzing (libFuzzer, clang from Debian) --------------------------
# Each target links the pure engine sources it tests and the models under
# tests/unit, never fio. Seeds: tests/fuzz/corpus/<target>; what a run
# finds new goes to build/fuzz/corpus-<target> (the tree stays clean).
FUZZ_S      ?= 60
FUZZ_RUNS   ?=
FUZZ_CC     ?= clang
FUZZ_OUT    := $(BUILD)/fuzz
FUZZ_PKGS   := clang libclang-rt-dev
FUZZ_FLAGS  := -std=gnu11 -D_GNU_SOURCE -g -O2 -Iengine -Itests/unit \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES  := plan overlap align
FUZZ_BINS   := $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_NAMES))
FUZZ_LIMIT   = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_S))

setup-fuzz:
	@tools/setup.sh --deps $(FUZZ_PKGS)

$(FUZZ_OUT)/fuzz_plan: tests/fuzz/fuzz_plan.c engine/fiob_plan.c \
		       tests/unit/plan_model.h engine/*.h | setup-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< engine/fiob_plan.c -o $@

$(FUZZ_OUT)/fuzz_overlap: tests/fuzz/fuzz_overlap.c engine/fiob_overlap.c \
			  tests/unit/overlap_model.h engine/*.h | setup-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< engine/fiob_overlap.c -o $@

$(FUZZ_OUT)/fuzz_align: tests/fuzz/fuzz_align.c engine/fiob_opt.c \
			tests/unit/align_model.h engine/*.h | setup-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< engine/fiob_opt.c -o $@

# One target at a time, one job each (the machine is shared); prints each
# target's execution count and fails on the first finding.
fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_OUT)/corpus-$$t; \
		case $$t in plan) max=36;; overlap) max=129;; *) max=64;; esac; \
		$(FUZZ_OUT)/fuzz_$$t $(FUZZ_LIMIT) -max_len=$$max -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/crash-$$t- \
			$(FUZZ_OUT)/corpus-$$t tests/fuzz/corpus/$$t \
			>$(FUZZ_OUT)/$$t.log 2>&1 || \
			{ tail -n 40 $(FUZZ_OUT)/$$t.log; \
			  echo "fuzz $$t: FINDING (see $(FUZZ_OUT)/$$t.log)"; exit 1; }; \
		echo "fuzz $$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' \
			$(FUZZ_OUT)/$$t.log) executions, no finding"; \
	done

FORCE:

# The differential fidelity corpus (tests/fidelity, see README): every corpus
# job with fio-bounce against fio's io_uring on fresh 512n, ext4 and 4Kn
# targets. FIDELITY_ARGS: --self-check, --stages 4kn, --direct 1, job-name
# substrings ... (tests/fidelity/run.py --help).
FIDELITY_ARGS ?=
.PHONY: fidelity
fidelity: deps $(ENGINE)
	$(TEST_ENV) FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_FIO_TREE=$(abspath $(FIO_TREE)) \
		$(PYTHON) tests/fidelity/run.py $(FIDELITY_ARGS)

# Header dependencies of everything compiled so far (-MMD -MP).
-include $(wildcard $(OUT)/*.d $(OUT)/unit-deps/*.d)
