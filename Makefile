# vhost-user-rtc: the one build.
#
#   make            build the daemon and tools (build/)
#   make check      install build deps if missing, then unit, integration
#                   and end-to-end tests, plain and under ASan/UBSan
#   make demo       daemon serving a real QEMU guest, showing its view
#   make bench      latency/throughput benchmark (see README)
#   make soak       256 VMs with requests in flight for SOAK_SECONDS (600)
#   make e2e        only the end-to-end test (real QEMU + Linux guest)
#   make SAN=1 ...  the ASan/UBSan variant (build-asan/)

SHELL := /bin/bash
CC := gcc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

ifeq ($(SAN),1)
B := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
OPT := -O1 -g
else
B := build
SANFLAGS :=
OPT := -O2 -g
endif

GLIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags glib-2.0 2>/dev/null)
GLIB_LIBS := $(shell $(PKG_CONFIG) --libs glib-2.0 2>/dev/null)
# libgps: the gpsd client (sync/gpsd.c); VRTC_HAVE_GPSD tells the daemon
# source_gpsd_ops is there.
GPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libgps 2>/dev/null) \
	-DVRTC_HAVE_GPSD=1
GPS_LIBS := $(shell $(PKG_CONFIG) --libs libgps 2>/dev/null || echo -lgps)

# libcap and libseccomp: the privilege drop (src/privdrop.c).
PRIV_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcap libseccomp 2>/dev/null)
PRIV_LIBS := $(shell $(PKG_CONFIG) --libs libcap libseccomp 2>/dev/null)
# json-glib: the control socket's JSON status (src/) and the probe's
# reading of it.
JSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-glib-1.0 2>/dev/null)
JSON_LIBS := $(shell $(PKG_CONFIG) --libs json-glib-1.0 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wno-unused-parameter
CFLAGS := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE \
	-DVRTC_VERSION='"$(VERSION)"' -Iinclude -MMD -MP $(GLIB_CFLAGS) $(PRIV_CFLAGS) \
	$(GPS_CFLAGS) $(JSON_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(GLIB_LIBS) $(PRIV_LIBS) $(GPS_LIBS) $(JSON_LIBS) -lm

SYNC_SRCS := $(sort $(wildcard sync/*.c))
DEVICE_SRCS := $(sort $(wildcard device/*.c))
DAEMON_SRCS := $(sort $(wildcard src/*.c))
FRONTEND_SRCS := $(sort $(wildcard tests/integration/frontend*.c))
# Helpers shared by integration suites only (real peers and the like).
HARNESS_SRCS := $(sort $(wildcard tests/integration/harness_*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
# The probe tool (eval, bench, check), built on the test front-end.
PROBE_SRCS := $(sort $(wildcard src/probe/*.c))
# The control socket's client side: vhost-user-rtc-ctl and eval --control.
CONTROL_CLIENT_SRCS := src/ctl/control_client.c
CAIRO_CFLAGS := $(shell $(PKG_CONFIG) --cflags cairo fontconfig 2>/dev/null)
CAIRO_LIBS := $(shell $(PKG_CONFIG) --libs cairo fontconfig 2>/dev/null)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_OBJS := $(call obj,$(SYNC_SRCS) $(DEVICE_SRCS))
# The daemon's modules other than main(), for their unit tests.
SRC_LIB_OBJS := $(call obj,$(filter-out src/main.c,$(DAEMON_SRCS)))
DAEMON_OBJS := $(call obj,$(DAEMON_SRCS))
FRONTEND_OBJS := $(call obj,$(FRONTEND_SRCS))
HARNESS_OBJS := $(call obj,$(HARNESS_SRCS))

DAEMON := $(B)/vhost-user-rtc
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))
INTEG_BINS := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRCS))
PROBE := $(B)/vhost-user-rtc-probe
# The operator's client for the control socket.
CTL_SRCS := $(sort $(wildcard src/ctl/*.c))
CTL := $(B)/vhost-user-rtc-ctl

.PHONY: all check sweep unit integration e2e demo bench deps format lint \
	install clean check-plain check-asan fuzz soak
.DEFAULT_GOAL := all
.SECONDARY:

all: $(DAEMON) $(PROBE) $(CTL) $(UNIT_BINS) $(INTEG_BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Idevice -Isync -Isrc -Itests/integration -c $< -o $@

# Only the probe and its tests see cairo.
$(B)/obj/src/probe/%.o $(B)/obj/tests/integration/test_probe.o \
	$(B)/obj/tests/unit/test_probe_tools.o: \
	CFLAGS += $(CAIRO_CFLAGS)

$(DAEMON): $(DAEMON_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/unit/test_%: $(B)/obj/tests/unit/test_%.o $(LIB_OBJS) $(SRC_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

$(INTEG_BINS): $(B)/tests/integration/%: $(B)/obj/tests/integration/%.o \
		$(FRONTEND_OBJS) $(HARNESS_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

$(PROBE): $(call obj,$(PROBE_SRCS) $(CONTROL_CLIENT_SRCS)) $(FRONTEND_OBJS) \
		$(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CAIRO_LIBS)

$(B)/tests/integration/test_probe: LIBS += $(CAIRO_LIBS)

$(CTL): $(call obj,$(CTL_SRCS))
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(JSON_LIBS)

# The probe's plot and log helpers, unit-tested without a daemon.
$(B)/tests/unit/test_probe_tools: $(call obj,src/probe/plot.c src/probe/eval_ref.c)
$(B)/tests/unit/test_probe_tools: LIBS += $(CAIRO_LIBS)
# The probe's reading of the control socket's `status json`.
$(B)/tests/unit/test_probe_live: $(call obj,src/probe/eval_live.c \
	$(CONTROL_CLIENT_SRCS))

# Debian build and test dependencies, installed when missing.
deps:
	@contrib/install-deps.sh build

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		$$t --jobs 2 --short-filename; done

integration: $(DAEMON) $(PROBE) $(CTL) $(INTEG_BINS)
	@set -e; for t in $(INTEG_BINS); do echo "== $$t"; \
		VRTC_DAEMON=$(abspath $(DAEMON)) VRTC_CTL=$(abspath $(CTL)) \
		VRTC_PROBE=$(abspath $(PROBE)) $$t --jobs 1 \
		--short-filename; done

check-plain: all
	$(MAKE) unit integration

# The randomized unit suites over fixed seeds 1..SWEEP_SEEDS (each plain
# run draws a new seed; this catches the rare ones reproducibly).
SWEEP_SEEDS ?= 200
sweep: $(UNIT_BINS)
	tests/seed-sweep.sh $(B) $(SWEEP_SEEDS) 1

check-asan:
	$(MAKE) SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MAKE) SAN=1 unit integration

check: deps
	$(MAKE) lint
	$(MAKE) check-plain
	$(MAKE) sweep SWEEP_SEEDS=20
	$(MAKE) check-asan
	$(MAKE) fuzz FUZZ_SECONDS=10
	$(MAKE) e2e
	@echo "make check: all suites passed"

e2e: all
	@contrib/install-deps.sh e2e
	tests/e2e/run.sh $(abspath $(DAEMON))

demo: deps
	$(MAKE) all
	@contrib/install-deps.sh e2e
	tests/e2e/demo.sh $(abspath $(DAEMON))

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(abspath $(B))

# 256 VMs keeping READs in flight for SOAK_SECONDS (the integration
# suite runs the same test for 20 s); figures in $(B)/soak-results.txt.
SOAK_SECONDS ?= 600
soak: all
	@rm -f $(B)/soak-results.txt
	ulimit -n "$$(ulimit -Hn)"; SOAK_SECONDS=$(SOAK_SECONDS) \
		SOAK_OUT=$(abspath $(B))/soak-results.txt \
		VRTC_DAEMON=$(abspath $(DAEMON)) \
		$(B)/tests/integration/test_soak --jobs 1 --short-filename

install: $(DAEMON) $(CTL)
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/bin/vhost-user-rtc
	install -D -m 0755 $(CTL) $(DESTDIR)$(PREFIX)/bin/vhost-user-rtc-ctl
	install -D -m 0644 conf/vhost-user-rtc.conf \
		$(DESTDIR)/etc/vhost-user-rtc/vhost-user-rtc.conf
	install -D -m 0644 conf/vhost-user-rtc@.service \
		$(DESTDIR)/lib/systemd/system/vhost-user-rtc@.service

# libFuzzer harnesses (clang), one per parser of outside input; each runs
# FUZZ_SECONDS on its seed corpus under ASan/UBSan.
FUZZ_SECONDS ?= 60
FB := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -MMD -MP -D_GNU_SOURCE -Iinclude -Idevice -Isync -Isrc \
	-I. $(GLIB_CFLAGS) $(GPS_CFLAGS) $(JSON_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FB)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FB)/obj/%.o,$(SYNC_SRCS) $(DEVICE_SRCS) \
	$(filter-out src/main.c,$(DAEMON_SRCS)))

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FB)/fuzz_%: $(FB)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# The probe's status json reader is not in the daemon's objects.
$(FB)/fuzz_probe_live: $(FB)/obj/src/probe/eval_live.o \
	$(FB)/obj/src/ctl/control_client.o

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; \
		mkdir -p $(FB)/corpus/$$n; echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(FB)/corpus/$$n tests/fuzz/corpus/$$n > $(FB)/$$n.log 2>&1 \
		|| { tail -n 60 $(FB)/$$n.log; exit 1; }; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
		$(FB)/$$n.log; done

C_FILES = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(C_FILES)

# lint also checks the systemd unit offline (systemd-analyze verify, and
# the security exposure score) against the built daemon.
lint: $(DAEMON)
	contrib/verify-unit.sh $(DAEMON)
	clang-format --dry-run --Werror $(C_FILES)
	shellcheck -S warning $(shell git ls-files '*.sh' 2>/dev/null) .ci/run
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance \
		--inline-suppr -Iinclude -Idevice -Isync -Isrc \
		--suppress=missingIncludeSystem sync device src
	clang-tidy --quiet $(filter %.c,$(SYNC_SRCS) $(DEVICE_SRCS) \
		$(DAEMON_SRCS)) -- -std=gnu11 -D_GNU_SOURCE -Iinclude \
		-Idevice -Isync -Isrc $(GLIB_CFLAGS) $(GPS_CFLAGS) $(JSON_CFLAGS)
	clang-tidy --quiet $(PROBE_SRCS) $(CTL_SRCS) -- -std=gnu11 -D_GNU_SOURCE \
		-Iinclude -Idevice -Isync -Isrc -Itests/integration \
		$(GLIB_CFLAGS) $(CAIRO_CFLAGS) $(JSON_CFLAGS)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)
