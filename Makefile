# fio-bounce: a fio external ioengine that bounces misaligned O_DIRECT I/O.
#
#   make               build engine/fio-bounce.so (installs missing packages)
#   make demo          run the demo job on a scratch file
#   make test          unit + integration tests (root: creates loop devices)
#   make test T=rmw    only the tests whose name contains "rmw"
#   make SANITIZE=1 test   the same, engine and unit tests under ASan+UBSan
#   make bench         fio io_uring vs fio-bounce, interleaved, prints ratios
#   make install       $(DESTDIR)$(PREFIX)/lib/fio/fio-bounce.so
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
# Packages the tests need beyond the build's own (FUSE for fault injection).
TEST_PKGS := libfuse3-dev fuse3 pkg-config e2fsprogs util-linux

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
BASE_FLAGS = -std=gnu11 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64 \
	     -fPIC -fvisibility=hidden $(WARN) $(SAN_FLAGS) $(CFLAGS)
FIO_FLAGS  = -I$(FIO_TREE) -include $(FIO_TREE)/config-host.h -DFIO_INC_DEBUG

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
COPYBENCH  := $(BUILD)/copybench

.PHONY: all setup setup-test demo test unit bench install uninstall clean FORCE

all: $(ENGINE)

# Always ask setup (it installs nothing when all is present), but only touch
# the path file when the answer changes, so nothing rebuilds needlessly.
$(FIO_PATH_FILE): FORCE
	@mkdir -p $(BUILD)
	@FIO_SRC="$(FIO_SRC)" tools/setup.sh $(BUILD) >$@.$$$$.out && \
		tail -n 1 $@.$$$$.out >$@.$$$$ && rm -f $@.$$$$.out && \
		{ cmp -s $@.$$$$ $@ && rm -f $@.$$$$ || mv $@.$$$$ $@; }

setup: $(FIO_PATH_FILE)

setup-test: $(FIO_PATH_FILE)
	@FIO_SRC="$(FIO_TREE)" tools/setup.sh $(BUILD) $(TEST_PKGS) >/dev/null

$(OUT)/%.o: engine/%.c engine/*.h $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) -c $< -o $@

# What fio's io_uring engine offers in that tree (option parity): read from
# the tree by tools/uring-opts.sh, regenerated when the tree changes.
URING_OPTS := $(OUT)/fiob_uring_opts.h

$(URING_OPTS): tools/uring-opts.sh $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	tools/uring-opts.sh $(FIO_TREE) >$@.tmp && mv $@.tmp $@

$(OUT)/fio-bounce.o: $(ADAPTER) engine/*.h $(URING_OPTS) $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) $(FIO_FLAGS) -I$(OUT) -DFIOB_BUILT_FOR='"$(FIO_VERSION)"' -c $< -o $@

$(OUT)/fio-bounce-wrongver.o: $(ADAPTER) engine/*.h $(URING_OPTS) $(FIO_PATH_FILE)
	@mkdir -p $(@D)
	$(CC) $(BASE_FLAGS) $(FIO_FLAGS) -I$(OUT) -DFIOB_BUILT_FOR='"fio-0.0-wrongver"' -c $< -o $@

# Export exactly one symbol, 'ioengine' (engine/fio-bounce.map); nodelete
# keeps the code mapped while fio tears down (same reason as SPDK's plugin).
SO_FLAGS = -shared -Wl,--version-script=engine/fio-bounce.map -Wl,-z,nodelete \
	   $(SAN_FLAGS) $(LDFLAGS)

$(ENGINE): $(OUT)/fio-bounce.o $(PURE_OBJS) engine/fio-bounce.map
	$(CC) $(SO_FLAGS) -o $@ $(OUT)/fio-bounce.o $(PURE_OBJS) $(LIBS)

$(WRONGVER): $(OUT)/fio-bounce-wrongver.o $(PURE_OBJS) engine/fio-bounce.map
	$(CC) $(SO_FLAGS) -o $@ $(OUT)/fio-bounce-wrongver.o $(PURE_OBJS) $(LIBS)

$(OUT)/unit/%: tests/unit/%.c tests/unit/fiob_test.h $(PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) $(CFLAGS) -Iengine -Itests/unit \
		$< $(PURE_OBJS) $(LIBS) -o $@

$(FAULTFS): tests/fuse/faultfs.c | setup-test
	$(CC) -O2 -Wall $$(pkg-config --cflags fuse3) $< $$(pkg-config --libs fuse3) -o $@

unit: $(UNIT_BINS)

test: setup-test $(ENGINE) $(WRONGVER) $(UNIT_BINS) $(FAULTFS)
	$(TEST_ENV) FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_WRONGVER=$(abspath $(WRONGVER)) \
		FIOB_UNIT_DIR=$(abspath $(OUT)/unit) FIOB_FAULTFS=$(abspath $(FAULTFS)) \
		$(PYTHON) tests/run.py $(T)

demo: $(ENGINE)
	tools/demo.sh $(abspath $(ENGINE))

$(COPYBENCH): bench/copybench.c engine/fiob_copy.c engine/fiob_copy.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -Wall -Iengine bench/copybench.c engine/fiob_copy.c -o $@

bench: $(ENGINE) $(COPYBENCH)
	FIOB_ENGINE=$(abspath $(ENGINE)) FIOB_COPYBENCH=$(abspath $(COPYBENCH)) \
		$(PYTHON) bench/bench.py

install: $(ENGINE)
	install -d $(DESTDIR)$(PREFIX)/lib/fio
	install -m 0644 $(ENGINE) $(DESTDIR)$(PREFIX)/lib/fio/fio-bounce.so

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/fio/fio-bounce.so

# Keeps the downloaded fio source (build/fio-*, build/dl): it is slow to fetch.
clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/faultfs $(BUILD)/copybench \
		engine/fio-bounce.so bench/results.json

FORCE:
