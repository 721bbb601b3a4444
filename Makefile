# vhost-user-rtc: the one build.
#
#   make            build the daemon and tools (build/)
#   make check      install build deps if missing, then unit, integration
#                   and end-to-end tests, plain and under ASan/UBSan
#   make demo       daemon serving a real QEMU guest, showing its view
#   make bench      latency/throughput benchmark, report under build/
#   make soak       256 VMs with requests in flight for SOAK_SECONDS (600)
#   make e2e        only the end-to-end test (real QEMU + Linux guest)
#   make e2e-arm64  the same on an arm64 guest (-M virt; pci, then mmio)
#   make e2e-migrate  live migration between two QEMU 11.1: unplug,
#                   migrate, plug (vhost-user-rtc-ctl migrate)
#   make install    daemon, tools, units, man pages (PREFIX, DESTDIR);
#                   an edited config is kept. make uninstall removes them
#   make deb        the Debian package (build/deb/), see contrib/debian
#   make package-test  install/uninstall into a DESTDIR, then the .deb
#                   built, lintian-checked and installed in a bookworm root
#   make e2e-phc    the daemon in a guest on an emulated NIC's PHC that
#                   ptp4l disciplines, with a ptp4l outage; tests/e2e/README.md
#   make check-monitoring  the Prometheus rules and Grafana dashboard in
#                   contrib/: promtool, and a live daemon's /metrics
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
# libgps: the gpsd client (sync/sources/gpsd.c), always built in.
GPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libgps 2>/dev/null)
GPS_LIBS := $(shell $(PKG_CONFIG) --libs libgps 2>/dev/null || echo -lgps)

# libcap and libseccomp: the privilege drop (src/privdrop.c).
PRIV_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcap libseccomp 2>/dev/null)
PRIV_LIBS := $(shell $(PKG_CONFIG) --libs libcap libseccomp 2>/dev/null)
# json-glib: the control socket's JSON status (src/) and the probe's
# reading of it.
JSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-glib-1.0 2>/dev/null)
JSON_LIBS := $(shell $(PKG_CONFIG) --libs json-glib-1.0 2>/dev/null)

# libsystemd: sd_notify (src/notify.c): readiness, status, watchdog.
SYSTEMD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libsystemd 2>/dev/null)
SYSTEMD_LIBS := $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wno-unused-parameter
CFLAGS := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE \
	-DVRTC_VERSION='"$(VERSION)"' -MMD -MP $(GLIB_CFLAGS) $(PRIV_CFLAGS) \
	$(GPS_CFLAGS) $(JSON_CFLAGS) $(SYSTEMD_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(GLIB_LIBS) $(PRIV_LIBS) $(GPS_LIBS) $(JSON_LIBS) $(SYSTEMD_LIBS) -lm

# The layers, lowest first. Each folder sees only its own headers and
# those of the layers below it: a backward include does not compile.
# `make lint` (tests/check-layers.sh) holds its own table of which layer
# may use which and checks these include paths, every include and every
# object's undefined symbols against it. The tools sit beside the
# daemon, not above it.
INC_include := -Iinclude
INC_sync/model := $(INC_include) -Isync/model
INC_sync/sources := $(INC_sync/model) -Isync/sources
INC_sync := $(INC_sync/sources) -Isync
INC_device := $(INC_include) -Idevice
INC_src := $(INC_sync) -Idevice -Isrc
INC_src/tools/ctl := $(INC_include) -Isrc/tools/ctl
INC_src/tools/frontend := $(INC_include) -Isrc/tools/frontend
INC_src/tools/probe := $(INC_sync) -Idevice -Isrc/tools/frontend \
	-Isrc/tools/ctl -Isrc/tools/probe
# libvrtc (include/vrtc.h) and its CLI stand on include/ alone: they are
# installed for host programs and built statically for guests.
INC_src/libvrtc := $(INC_include) -Isrc/libvrtc
INC_src/tools/now := $(INC_include)
# The guest agent: libvrtc's internals (the host page and PHC it opens).
INC_src/tools/agent := $(INC_include) -Isrc/libvrtc
# Tests see everything they test.
INC_tests := $(INC_src) -Isrc/tools -Isrc/tools/frontend -Isrc/tools/ctl \
	-Isrc/tools/probe -Isrc/libvrtc -Isrc/tools/agent -Itests/integration \
	-Itests/unit -I.
INC_tests/unit := $(INC_tests)
INC_tests/integration := $(INC_tests)
INC_tests/fuzz := $(INC_tests)
INC_tests/libvrtc := $(INC_tests)
LAYERS := include sync/model sync/sources sync device src src/tools/ctl \
	src/tools/frontend src/tools/probe src/libvrtc src/tools/now \
	src/tools/agent
# The include flags of the folder holding $(1).
incs = $(INC_$(patsubst %/,%,$(dir $(1))))
ALL_INCS := $(INC_tests)

MODEL_SRCS := $(sort $(wildcard sync/model/*.c))
SOURCES_SRCS := $(sort $(wildcard sync/sources/*.c))
SYNC_SRCS := $(MODEL_SRCS) $(SOURCES_SRCS) $(sort $(wildcard sync/*.c))
DEVICE_SRCS := $(sort $(wildcard device/*.c))
DAEMON_SRCS := $(sort $(wildcard src/*.c))
# The program itself (app.h: main, options, configure, serve), linked
# only into the daemon; the other src/ modules are unit-tested alone.
APP_SRCS := src/main.c src/options.c src/configure.c src/serve.c \
	src/serve_upgrade.c
FRONTEND_SRCS := $(sort $(wildcard src/tools/frontend/*.c))
# Helpers shared by integration suites only (real peers and the like).
HARNESS_SRCS := $(sort $(wildcard tests/integration/harness_*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
# The probe tool (eval, bench, check), built on the test front-end.
PROBE_SRCS := $(sort $(wildcard src/tools/probe/*.c))
# The control socket's client side: vhost-user-rtc-ctl and eval --control.
CONTROL_CLIENT_SRCS := src/tools/ctl/control_client.c
# libvrtc: the status-page client library, and its CLI.
VRTC_SRCS := $(sort $(wildcard src/libvrtc/*.c))
NOW_SRCS := $(sort $(wildcard src/tools/now/*.c))
# The guest agent; its model and poll without main() for the unit tests.
AGENT_SRCS := $(sort $(wildcard src/tools/agent/*.c))
AGENT_LIB_SRCS := src/tools/agent/model.c src/tools/agent/agent.c
CAIRO_CFLAGS := $(shell $(PKG_CONFIG) --cflags cairo fontconfig 2>/dev/null)
CAIRO_LIBS := $(shell $(PKG_CONFIG) --libs cairo fontconfig 2>/dev/null)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_OBJS := $(call obj,$(SYNC_SRCS) $(DEVICE_SRCS))
# The daemon's modules other than the program, for their unit tests.
SRC_LIB_OBJS := $(call obj,$(filter-out $(APP_SRCS),$(DAEMON_SRCS)))
DAEMON_OBJS := $(call obj,$(DAEMON_SRCS))
FRONTEND_OBJS := $(call obj,$(FRONTEND_SRCS))
HARNESS_OBJS := $(call obj,$(HARNESS_SRCS))
VRTC_OBJS := $(call obj,$(VRTC_SRCS))
VRTC_PIC_OBJS := $(patsubst %.c,$(B)/pic/%.o,$(VRTC_SRCS))

DAEMON := $(B)/vhost-user-rtc
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))
INTEG_BINS := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRCS))
PROBE := $(B)/vhost-user-rtc-probe
# The operator's client for the control socket.
SUPERVISOR := $(B)/tests/fdstore-supervisor
CTL_SRCS := $(sort $(wildcard src/tools/ctl/*.c))
CTL := $(B)/vhost-user-rtc-ctl
VRTC_SONAME := libvrtc.so.0
VRTC_A := $(B)/libvrtc.a
VRTC_SO := $(B)/$(VRTC_SONAME)
VRTC_PC := $(B)/vrtc.pc
# The library's version (vrtc.h), which the .pc files carry.
VRTC_LIB_VERSION := $(shell sed -n 's/^\#define VRTC_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' \
	include/vrtc.h | paste -sd.)
NOW := $(B)/vrtc-now
AGENT := $(B)/vrtc-agent

.PHONY: all check sweep unit integration e2e e2e-arm64 e2e-phc e2e-migrate demo bench \
	deps format lint install clean check-plain check-asan fuzz soak programs \
	check-libvrtc tsan-libvrtc \
	uninstall deb package-test check-monitoring
.DEFAULT_GOAL := all
.SECONDARY:

all: $(DAEMON) $(PROBE) $(CTL) $(UNIT_BINS) $(INTEG_BINS) $(VRTC_A) \
	$(SUPERVISOR) $(VRTC_SO) $(VRTC_PC) $(VRTC_PC_UNINST) $(NOW) $(AGENT)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call incs,$<) -c $< -o $@

# Only the probe and its tests see cairo.
$(B)/obj/src/tools/probe/%.o $(B)/obj/tests/integration/test_probe.o \
	$(B)/obj/tests/unit/test_probe_tools.o: \
	CFLAGS += $(CAIRO_CFLAGS)

# The library's shared objects: position-independent, only include/vrtc.h
# exported (libvrtc.map).
$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC $(call incs,$<) -c $< -o $@

# libvrtc's objects export only include/vrtc.h (which sets default
# visibility); the rest is hidden, and in the static library made local:
# one relocatable object (ld -r) whose hidden symbols and 0.1
# compatibility functions (vrtc_compat.c) objcopy localizes, so that a
# program linked with libvrtc.a sees the same names as with the .so.
$(B)/obj/src/libvrtc/%.o $(B)/pic/src/libvrtc/%.o: CFLAGS += -fvisibility=hidden

$(VRTC_A): $(VRTC_OBJS)
	rm -f $@ $(B)/libvrtc.o
	ld -r -o $(B)/libvrtc.o $^
	objcopy --localize-hidden --wildcard --localize-symbol='vrtc_*_v0' \
		$(B)/libvrtc.o
	ar rcs $@ $(B)/libvrtc.o

$(VRTC_SO): $(VRTC_PIC_OBJS) src/libvrtc/libvrtc.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(VRTC_SONAME) \
		-Wl,--version-script=src/libvrtc/libvrtc.map -o $@ \
		$(VRTC_PIC_OBJS)
	ln -sf $(VRTC_SONAME) $(B)/libvrtc.so

# vrtc.pc for the PREFIX and LIBDIR at hand (make install writes it
# again for its own); Version: the library's (vrtc.h).
VRTC_PC_LINES = 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' \
	'includedir=$(INCLUDEDIR)' '' 'Name: vrtc' \
	'Description: vhost-user-rtc status page client (time with a bound)' \
	'Version: $(VRTC_LIB_VERSION)' 'Libs: -L$${libdir} -lvrtc' \
	'Cflags: -I$${includedir}'
$(VRTC_PC): Makefile include/vrtc.h
	@mkdir -p $(dir $@)
	printf '%s\n' $(VRTC_PC_LINES) >$@

# pkg-config from the build tree: PKG_CONFIG_PATH=$(B) pkg-config vrtc
# finds this one first (pkg-config prefers NAME-uninstalled.pc).
VRTC_PC_UNINST := $(B)/vrtc-uninstalled.pc
$(VRTC_PC_UNINST): Makefile include/vrtc.h
	@mkdir -p $(dir $@)
	printf '%s\n' 'libdir=$(abspath $(B))' 'includedir=$(abspath include)' \
		'' 'Name: vrtc' \
		'Description: vhost-user-rtc status page client (build tree)' \
		'Version: $(VRTC_LIB_VERSION)' 'Libs: -L$${libdir} -lvrtc' \
		'Cflags: -I$${includedir}' >$@

$(NOW): $(call obj,$(NOW_SRCS)) $(VRTC_A)
	$(CC) $(LDFLAGS) -o $@ $^

# The agent uses libvrtc's internals (vrtc_agent.h, vrtc_page.h), which
# libvrtc.a keeps local: it links the library's objects.
$(AGENT): $(call obj,$(AGENT_SRCS)) $(VRTC_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

# The agent's model and poll, driven by a simulated guest.
$(B)/tests/unit/test_agent: $(call obj,$(AGENT_LIB_SRCS))

$(DAEMON): $(DAEMON_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/unit/test_%: $(B)/obj/tests/unit/test_%.o $(LIB_OBJS) $(SRC_LIB_OBJS) \
		$(VRTC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

$(INTEG_BINS): $(B)/tests/integration/%: $(B)/obj/tests/integration/%.o \
		$(FRONTEND_OBJS) $(HARNESS_OBJS) $(LIB_OBJS) $(VRTC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

$(PROBE): $(call obj,$(PROBE_SRCS) $(CONTROL_CLIENT_SRCS)) $(FRONTEND_OBJS) \
		$(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CAIRO_LIBS)

$(B)/tests/integration/test_probe: LIBS += $(CAIRO_LIBS)
# vrtc-now against pages written with the daemon's own encoder.
$(B)/tests/integration/test_now: $(call obj,src/vmclock_page.c)

# A live page from the daemon's encoder, for the bindings' tests and
# the benchmark (tests/libvrtc/pagewriter.c).
PAGEWRITER := $(B)/tests/libvrtc/vrtc-pagewriter
$(PAGEWRITER): $(B)/obj/tests/libvrtc/pagewriter.o \
		$(call obj,src/vmclock_page.c) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The ABI as programs see it (tests/libvrtc/check-abi.sh): 0.1 and 0.2
# callers of the .so through dlvsym(), and a program on the .a.
$(B)/tests/libvrtc/abi_compat: $(B)/obj/tests/libvrtc/abi_compat.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ldl
$(B)/tests/libvrtc/static_now: $(B)/obj/tests/libvrtc/static_now.o $(VRTC_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# libvrtc(3)'s example, compiled and run on a live page.
$(B)/tests/libvrtc/man_example: src/libvrtc/libvrtc.3 $(VRTC_A)
	@mkdir -p $(dir $@)
	sed -n '/^\.\\" example-begin/,/^\.\\" example-end/p' $< | \
		sed '1d;$$d' | sed 's/\\e/\\/g; s/\\-/-/g' >$@.c
	$(CC) $(CFLAGS) -Iinclude -o $@ $@.c $(VRTC_A)

# One handle, four threads, under ThreadSanitizer (Criterion cannot run
# under it): libvrtc and the test instrumented, the daemon's page encoder
# for the publisher. Not part of check; run it after changing
# vrtc_handle.c. (TSan does not model fences: -Wno-tsan; all the
# handle's shared fields are atomics or under its try-lock.)
TSAN_DIR := build-tsan
$(TSAN_DIR)/vrtc-threads: tests/libvrtc/threads.c $(VRTC_SRCS) \
		src/vmclock_page.c $(MODEL_SRCS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fsanitize=thread $(WARN) -Wno-tsan -D_GNU_SOURCE \
		$(INC_tests) $(GLIB_CFLAGS) -o $@ $^ $(GLIB_LIBS) -lm
tsan-libvrtc: $(TSAN_DIR)/vrtc-threads
	d=$$(mktemp -d) && TSAN_OPTIONS=halt_on_error=1 \
		$(TSAN_DIR)/vrtc-threads $$d 3; r=$$?; rm -rf $$d; exit $$r

LIBVRTC_CHECKS := $(PAGEWRITER) $(B)/tests/libvrtc/abi_compat \
	$(B)/tests/libvrtc/static_now $(B)/tests/libvrtc/man_example
# libvrtc as applications get it: exported symbols and layouts, the
# bindings (Python, Rust, Go) and the man page's example, on live pages.
check-libvrtc: $(VRTC_SO) $(VRTC_A) $(VRTC_PC) $(VRTC_PC_UNINST) \
		$(LIBVRTC_CHECKS)
	tests/libvrtc/check-abi.sh $(B)
	tests/libvrtc/check-man-example.sh $(B)
	tests/libvrtc/check-bindings.sh $(B)

$(CTL): $(call obj,$(CTL_SRCS))
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(JSON_LIBS)

# The probe's plot and log helpers, unit-tested without a daemon.
$(B)/tests/unit/test_probe_tools: $(call obj,src/tools/probe/plot.c \
	src/tools/probe/eval_ref.c src/tools/probe/eval_stats.c \
	src/tools/probe/eval_report.c)
$(B)/tests/unit/test_probe_tools: LIBS += $(CAIRO_LIBS)
# The probe's reading of the control socket's `status json`.
$(B)/tests/unit/test_probe_live: $(call obj,src/tools/probe/eval_live.c \
	$(CONTROL_CLIENT_SRCS))

# systemd's fd store and Restart=on-failure, for the crash-recovery
# tests (tests/support/fdstore_supervisor.c).
$(SUPERVISOR): $(B)/obj/tests/support/fdstore_supervisor.o
	$(CC) $(LDFLAGS) -o $@ $^

# Debian build and test dependencies, installed when missing.
deps:
	@contrib/install-deps.sh build

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		$$t --jobs 2 --short-filename; done

integration: $(DAEMON) $(PROBE) $(CTL) $(NOW) $(SUPERVISOR) $(INTEG_BINS)
	@set -e; for t in $(INTEG_BINS); do echo "== $$t"; \
		VRTC_DAEMON=$(abspath $(DAEMON)) VRTC_CTL=$(abspath $(CTL)) \
		VRTC_SUPERVISOR=$(abspath $(SUPERVISOR)) \
		VRTC_PROBE=$(abspath $(PROBE)) VRTC_NOW=$(abspath $(NOW)) \
		$$t --jobs 1 \
		--short-filename; done

check-plain: all
	$(MAKE) unit integration check-libvrtc

# The alert rules and the dashboard: promtool check/test rules, promtool
# check metrics on a live daemon's /metrics, every metric they name
# exported (tests/monitoring/check-monitoring.sh).
check-monitoring: $(DAEMON) $(PROBE)
	tests/monitoring/check-monitoring.sh $(B)

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
	$(MAKE) check-monitoring
	$(MAKE) sweep SWEEP_SEEDS=20
	$(MAKE) check-asan
	$(MAKE) fuzz FUZZ_SECONDS=10
	$(MAKE) package-test
	$(MAKE) e2e
	$(MAKE) e2e-arm64
	$(MAKE) e2e-phc
	$(MAKE) e2e-migrate
	@echo "make check: all suites passed"

e2e: all
	@contrib/install-deps.sh e2e
	tests/e2e/run.sh $(abspath $(DAEMON))

# arm64: the full test with vhost-user-rtc-pci, then the virtio-mmio
# vhost-user-rtc without the 60 s PHC comparison (the same device code
# behind another transport).
e2e-arm64: all
	@contrib/install-deps.sh e2e
	tests/e2e/run.sh --arch arm64 --transport pci $(abspath $(DAEMON))
	VRTC_E2E_COMPARE=$${VRTC_E2E_COMPARE_MMIO:-10} \
		VRTC_E2E_STALL=$${VRTC_E2E_STALL_MMIO:-10} \
		VRTC_E2E_UPGRADES=$${VRTC_E2E_UPGRADES_MMIO:-1} \
		VRTC_E2E_KILLS=$${VRTC_E2E_KILLS_MMIO:-1} \
		VRTC_E2E_UPGRADE_READS=$${VRTC_E2E_UPGRADE_READS_MMIO:-10} \
		tests/e2e/run.sh --arch arm64 --transport mmio $(abspath $(DAEMON))

# Live migration with stock QEMU 11.1 (the device is unmigratable there):
# vhost-user-rtc-ctl migrate unplugs it, migrates to a second QEMU and
# plugs it there, while the guest reads its PHCs and libvrtc.
e2e-migrate: $(DAEMON) $(CTL)
	@contrib/install-deps.sh e2e
	tests/e2e/migrate.sh $(abspath $(DAEMON))

# The daemon on a real PHC (an emulated igb NIC's) that ptp4l disciplines,
# in a guest, evaluated by the probe through a ptp4l outage; see
# tests/e2e/phc-guest.sh for the longer run the README quotes.
e2e-phc: $(DAEMON) $(PROBE) $(CTL)
	@contrib/install-deps.sh e2e
	tests/e2e/phc-guest.sh $(abspath $(B))

demo: deps
	$(MAKE) all
	@contrib/install-deps.sh e2e
	tests/e2e/demo.sh $(abspath $(DAEMON))

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(abspath $(B))

# 256 VMs keeping READs in flight for SOAK_SECONDS (the integration
# suite runs the same test for 20 s), then 6 M READs at the edge of the
# poll window (test_poll_window, 4 VMs x 250 000 x 6 variants);
# figures in $(B)/soak-results.txt.
SOAK_SECONDS ?= 600
soak: all
	@rm -f $(B)/soak-results.txt
	ulimit -n "$$(ulimit -Hn)"; SOAK_SECONDS=$(SOAK_SECONDS) \
		SOAK_OUT=$(abspath $(B))/soak-results.txt \
		VRTC_DAEMON=$(abspath $(DAEMON)) \
		$(B)/tests/integration/test_soak --jobs 1 --short-filename
	set -o pipefail; POLLWIN_REQUESTS=$${POLLWIN_REQUESTS:-250000} \
		VRTC_DAEMON=$(abspath $(DAEMON)) \
		$(B)/tests/integration/test_poll_window --jobs 1 \
		--short-filename 2>&1 | grep -E '^poll window|Synthesis' | \
		tee -a $(B)/soak-results.txt

# Installation. Directories follow PREFIX (the package uses PREFIX=/usr);
# the config lives in SYSCONFDIR whatever the PREFIX, the units and the
# sysusers file where this host's systemd looks for them.
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir \
	systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell $(PKG_CONFIG) --variable=sysusersdir \
	systemd 2>/dev/null),/usr/lib/sysusers.d)
# QEMU's vhost-user back-end descriptions (docs/interop/vhost-user.json).
VHOST_USER_DIR ?= $(DATADIR)/qemu/vhost-user
CONF_DIR := $(SYSCONFDIR)/vhost-user-rtc
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
# Prometheus alert rules and a Grafana dashboard, for operators.
MONITORING_DIR := $(DATADIR)/vhost-user-rtc
MONITORING := contrib/prometheus/vhost-user-rtc.rules.yml \
	contrib/grafana/vhost-user-rtc.json
# Each beside what it documents.
MAN_PAGES := src/vhost-user-rtc.8 src/tools/ctl/vhost-user-rtc-ctl.1 \
	src/tools/probe/vhost-user-rtc-probe.1 conf/vhost-user-rtc.conf.5 \
	src/tools/now/vrtc-now.1 src/tools/agent/vrtc-agent.8 \
	src/libvrtc/libvrtc.3
# The guest side: udev names for the served PHCs, and a chrony snippet
# for the guest (an example the administrator copies into chrony's
# conf.d: installing it there would make every guest use it).
UDEVDIR ?= $(or $(shell $(PKG_CONFIG) --variable=udevdir udev \
	2>/dev/null),/lib/udev)
GUEST_DATADIR := $(DATADIR)/vrtc-agent
# Everything install puts down but the config (see below), for uninstall.
INSTALLED := $(BINDIR)/vhost-user-rtc $(BINDIR)/vhost-user-rtc-ctl \
	$(BINDIR)/vhost-user-rtc-probe $(BINDIR)/vrtc-now $(BINDIR)/vrtc-agent \
	$(INCLUDEDIR)/vrtc.h $(LIBDIR)/libvrtc.a $(LIBDIR)/$(VRTC_SONAME) \
	$(LIBDIR)/libvrtc.so $(LIBDIR)/pkgconfig/vrtc.pc \
	$(UNITDIR)/vhost-user-rtc.service $(UNITDIR)/vhost-user-rtc@.service \
	$(UNITDIR)/vrtc-agent.service $(UDEVDIR)/rules.d/99-virtio-ptp.rules \
	$(GUEST_DATADIR)/chrony-guest.conf \
	$(SYSUSERSDIR)/vhost-user-rtc.conf \
	$(VHOST_USER_DIR)/50-vhost-user-rtc.json \
	$(addprefix $(MONITORING_DIR)/,$(notdir $(MONITORING))) \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
# @BINDIR@ and @SYSCONFDIR@ in the units and the QEMU description.
SUBST := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

# Only what is installed: the daemon, its two tools, and libvrtc with
# its CLI.
programs: $(DAEMON) $(CTL) $(PROBE) $(NOW) $(AGENT) $(VRTC_A) $(VRTC_SO) \
	$(VRTC_PC)

# The config is treated like a dpkg conffile: installed only when absent.
# An existing one that differs from conf/vhost-user-rtc.conf is left as
# it is and the shipped one put beside it as vhost-user-rtc.conf.new.
# Without DESTDIR, as root, the user vhost-user-rtc is then created
# (systemd-sysusers) and systemd reloaded.
install: programs
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(BINDIR)/vhost-user-rtc
	install -D -m 0755 $(CTL) $(DESTDIR)$(BINDIR)/vhost-user-rtc-ctl
	install -D -m 0755 $(PROBE) $(DESTDIR)$(BINDIR)/vhost-user-rtc-probe
	install -D -m 0755 $(NOW) $(DESTDIR)$(BINDIR)/vrtc-now
	install -D -m 0755 $(AGENT) $(DESTDIR)$(BINDIR)/vrtc-agent
	install -D -m 0644 contrib/99-virtio-ptp.rules \
		$(DESTDIR)$(UDEVDIR)/rules.d/99-virtio-ptp.rules
	install -D -m 0644 contrib/chrony-guest.conf \
		$(DESTDIR)$(GUEST_DATADIR)/chrony-guest.conf
	install -D -m 0644 include/vrtc.h $(DESTDIR)$(INCLUDEDIR)/vrtc.h
	install -D -m 0644 $(VRTC_A) $(DESTDIR)$(LIBDIR)/libvrtc.a
	install -D -m 0755 $(VRTC_SO) $(DESTDIR)$(LIBDIR)/$(VRTC_SONAME)
	ln -sf $(VRTC_SONAME) $(DESTDIR)$(LIBDIR)/libvrtc.so
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	printf '%s\n' $(VRTC_PC_LINES) >$(DESTDIR)$(LIBDIR)/pkgconfig/vrtc.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/vrtc.pc
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(VHOST_USER_DIR)
	$(SUBST) conf/vhost-user-rtc.service.in \
		>$(DESTDIR)$(UNITDIR)/vhost-user-rtc.service
	$(SUBST) conf/vhost-user-rtc@.service.in \
		>$(DESTDIR)$(UNITDIR)/vhost-user-rtc@.service
	$(SUBST) conf/vrtc-agent.service.in \
		>$(DESTDIR)$(UNITDIR)/vrtc-agent.service
	$(SUBST) conf/50-vhost-user-rtc.json.in \
		>$(DESTDIR)$(VHOST_USER_DIR)/50-vhost-user-rtc.json
	chmod 0644 $(DESTDIR)$(UNITDIR)/vhost-user-rtc.service \
		$(DESTDIR)$(UNITDIR)/vhost-user-rtc@.service \
		$(DESTDIR)$(UNITDIR)/vrtc-agent.service \
		$(DESTDIR)$(VHOST_USER_DIR)/50-vhost-user-rtc.json
	install -D -m 0644 conf/vhost-user-rtc.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/vhost-user-rtc.conf
	$(foreach m,$(MAN_PAGES),install -D -m 0644 $(m) \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m));)
	$(foreach f,$(MONITORING),install -D -m 0644 $(f) \
		$(DESTDIR)$(MONITORING_DIR)/$(notdir $(f));)
	@c=$(DESTDIR)$(CONF_DIR)/vhost-user-rtc.conf; \
	if [ ! -e "$$c" ]; then \
		install -D -m 0644 conf/vhost-user-rtc.conf "$$c"; \
		echo "installed $$c"; \
	elif cmp -s conf/vhost-user-rtc.conf "$$c"; then \
		rm -f "$$c.new"; echo "$$c: unchanged"; \
	else \
		install -m 0644 conf/vhost-user-rtc.conf "$$c.new"; \
		echo "$$c: edited, kept; the shipped one is $$c.new"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
		systemd-sysusers $(SYSUSERSDIR)/vhost-user-rtc.conf; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

# The Debian package, from contrib/debian, into build/deb/, lintian-clean.
deb:
	@contrib/install-deps.sh package
	contrib/build-deb.sh build/deb

# install/uninstall into a DESTDIR, contrib/libvirt, then the .deb: built,
# lintian-clean, installed into a clean bookworm root and checked there.
package-test: programs
	@contrib/install-deps.sh package
	tests/package/install.sh
	tests/package/libvirt.sh
	tests/package/apparmor.sh
	contrib/build-deb.sh build/deb
	tests/package/root.sh $(foreach p,vhost-user-rtc vhost-user-rtc-probe \
		libvrtc0 libvrtc-dev vrtc-tools,build/deb/$(p)_$(VERSION)_*.deb)

# Removes what install put down. The config goes only when it is the
# shipped one; an edited config stays (like dpkg remove, not purge). The
# user vhost-user-rtc stays too (Debian never removes system users).
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(MONITORING_DIR) $(DESTDIR)$(GUEST_DATADIR) \
		2>/dev/null || true
	@c=$(DESTDIR)$(CONF_DIR)/vhost-user-rtc.conf; rm -f "$$c.new"; \
	if [ -e "$$c" ] && ! cmp -s conf/vhost-user-rtc.conf "$$c"; then \
		echo "$$c: edited, kept"; \
	else \
		rm -f "$$c"; rmdir "$(DESTDIR)$(CONF_DIR)" 2>/dev/null || true; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ] && \
		[ "$$(id -u)" -eq 0 ]; then systemctl daemon-reload; fi

# libFuzzer harnesses (clang), one per parser of outside input; each runs
# FUZZ_SECONDS on its seed corpus under ASan/UBSan.
FUZZ_SECONDS ?= 60
FB := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -MMD -MP -D_GNU_SOURCE $(GLIB_CFLAGS) $(GPS_CFLAGS) $(JSON_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FB)/%,$(FUZZ_SRCS))
# Of libvrtc only the page reader (fuzz_vrtc_page): the rest carries
# GNU as .symver directives (versioned ABI) clang's assembler reads
# otherwise.
FUZZ_LIB_OBJS := $(patsubst %.c,$(FB)/obj/%.o,$(SYNC_SRCS) $(DEVICE_SRCS) \
	$(filter-out $(APP_SRCS),$(DAEMON_SRCS)) src/libvrtc/vrtc_page.c)

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(call incs,$<) -c $< -o $@

$(FB)/fuzz_%: $(FB)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# The probe's status json reader is not in the daemon's objects.
$(FB)/fuzz_probe_live: $(FB)/obj/src/tools/probe/eval_live.o \
	$(FB)/obj/src/tools/ctl/control_client.o

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
lint: $(DAEMON) $(CTL) $(PROBE) $(NOW) $(AGENT)
	contrib/verify-unit.sh $(DAEMON)
	tests/package/check-man.sh $(B)
	tests/package/apparmor.sh
	clang-format --dry-run --Werror $(C_FILES)
	shellcheck -S warning $(shell git ls-files '*.sh' 2>/dev/null) .ci/run
	tests/check-paths.sh
	tests/check-layers.sh $(B) $(foreach l,$(LAYERS),'$(l):$(INC_$(l))')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance \
		--inline-suppr $(INC_src) $(INC_src/tools/probe) \
		--suppress=missingIncludeSystem sync device src
	clang-tidy --quiet $(filter %.c,$(SYNC_SRCS) $(DEVICE_SRCS) \
		$(DAEMON_SRCS)) -- -std=gnu11 -D_GNU_SOURCE $(INC_src) \
		$(GLIB_CFLAGS) $(GPS_CFLAGS) $(JSON_CFLAGS)
	clang-tidy --quiet $(PROBE_SRCS) $(CTL_SRCS) $(FRONTEND_SRCS) -- \
		-std=gnu11 -D_GNU_SOURCE $(INC_src/tools/probe) \
		$(GLIB_CFLAGS) $(CAIRO_CFLAGS) $(JSON_CFLAGS)
	clang-tidy --quiet $(VRTC_SRCS) $(NOW_SRCS) -- -std=gnu11 \
		-D_GNU_SOURCE $(INC_src/libvrtc)
	clang-tidy --quiet $(AGENT_SRCS) -- -std=gnu11 -D_GNU_SOURCE \
		$(INC_src/tools/agent)

clean:
	rm -rf build build-asan build-fuzz build-tsan

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)
