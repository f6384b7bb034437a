# SPDX-License-Identifier: MIT
#
# gort - Go-style runtime for C on Linux.
#
#   make                 libgort.a, libgort.so, gort.pc      (in O=, default build/)
#   make check           build everything and run all tests  (SANITIZE=address,undefined)
#   make demo            the main job: samples/httpd under load, observed live
#   make bench           benchmarks against their peers, printed as ratios
#   make fuzz            libFuzzer targets, FUZZ_TIME seconds each (default 60)
#   make install         PREFIX=/usr/local DESTDIR=
#   make V=1             show full commands;  CC=clang  WERROR=1
#
# Object lists come from Kbuild.  Missing Debian packages are installed by
# tools/install-deps (as root), called from the rules that need them.

VERSION		:= 0.1
ARCH		?= $(shell uname -m)
O		?= build
PREFIX		?= /usr/local
CC		?= gcc
AR		?= ar

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-7s %s\n'
endif

MAKEFLAGS += --no-print-directory
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

# ---- object lists ----
include Kbuild
OBJS		:= $(addprefix $(O)/,$(lib-y) $(arch-$(ARCH)-y))
SAMPLES		:= $(addprefix $(O)/,$(samples-y))
BENCHES		:= $(addprefix $(O)/,$(bench-y))
TEST_SRCS	:= $(sort $(filter-out tests/numa-guest/% tests/fuzz/%,$(wildcard tests/*/*.c)))
TESTS		:= $(patsubst %.c,$(O)/%,$(TEST_SRCS))
# Tests that run inside a multi-node qemu guest: static, no harness deps
# on the host's libraries (tools/numa-guest boots them).
GUEST_SRCS	:= $(sort $(wildcard tests/numa-guest/*.c))
GUEST_TESTS	:= $(patsubst tests/numa-guest/%.c,$(O)/numa-guest/%,$(GUEST_SRCS))

LIBA		:= $(O)/libgort.a
SONAME		:= libgort.so.0
LIBSO		:= $(O)/libgort.so.$(VERSION)
PC		:= $(O)/gort.pc
KSFT		:= $(O)/include/kselftest_harness.h

# ---- flags ----
# Frame pointers everywhere (tracebacks, cheap uprobes); no CET endbr64 so
# a probed function starts with push %rbp (uprobes skip single-stepping).
# No sibling calls: a tail call would drop its caller from tracebacks.
BASEFLAGS	:= -std=gnu11 -g -O2 -pthread -fno-omit-frame-pointer \
		   -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls \
		   -fcf-protection=none
WARNFLAGS	:= -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNFLAGS	+= -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS	:= -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
LIBCFLAGS	:= $(BASEFLAGS) $(WARNFLAGS) $(SANFLAGS) -fPIC -fvisibility=hidden \
		   -Iruntime/include -Iruntime -Iruntime/arch/$(ARCH) $(EXTRA_CFLAGS)
PROGCFLAGS	:= $(BASEFLAGS) $(WARNFLAGS) $(SANFLAGS) -Iruntime/include \
		   -I$(O)/include $(EXTRA_CFLAGS)
PROGLDFLAGS	:= $(SANFLAGS) -rdynamic
PROGLIBS	:= $(LIBA) -luring -lnuma -lpthread -ldl

all: $(LIBA) $(LIBSO) $(PC)

# ---- dependencies (Debian packages) ----
$(O)/.deps-%: tools/install-deps
	@mkdir -p $(@D)
	$(Q)tools/install-deps $*
	@touch $@

deps: $(O)/.deps-all

# ---- the library ----
$(O)/%.o: %.c $(O)/.deps-build
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIBCFLAGS) -MMD -MP -c $< -o $@

$(O)/%.o: %.S $(O)/.deps-build
	$(quiet) AS $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIBCFLAGS) -MMD -MP -c $< -o $@

# The archive holds one object: all of the runtime linked with -r, hidden
# symbols made local, so a static link sees only gort_* (a program may
# have its own lock(), sched or debug).
$(O)/libgort.o: $(OBJS)
	$(quiet) LD $@
	$(Q)$(CC) -r -nostdlib -o $@.tmp $^ && objcopy --localize-hidden $@.tmp $@ && rm -f $@.tmp

$(LIBA): $(O)/libgort.o
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(OBJS) runtime/libgort.map
	$(quiet) LD $@
	$(Q)$(CC) -shared $(SANFLAGS) -Wl,-soname,$(SONAME) \
		-Wl,--version-script=runtime/libgort.map -o $@ $(OBJS) -luring -lnuma -lpthread -ldl
	$(Q)ln -sf libgort.so.$(VERSION) $(O)/$(SONAME)
	$(Q)ln -sf libgort.so.$(VERSION) $(O)/libgort.so

$(PC): runtime/gort.pc.in Makefile
	$(quiet) GEN $@
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---- kselftest harness, from Debian's linux-source-6.12 (never committed) ----
$(KSFT): | $(O)/.deps-test
	$(quiet) KSFT $@
	$(Q)tools/fetch-kselftest $(O)

# ---- programs: tests, samples, benchmarks ----
$(O)/tests/%: tests/%.c tests/gort_test.h $(LIBA) $(KSFT)
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROGCFLAGS) -Itests -MMD -MP $< -o $@ $(PROGLDFLAGS) $(PROGLIBS)

# Static, but for a sanitizer build (no static sanitizer runtime):
# tools/numa-guest then copies the libraries ldd names into the guest.
GUEST_LINK	:= $(if $(SANITIZE),$(SANFLAGS),-static)
$(O)/numa-guest/%: tests/numa-guest/%.c tests/gort_test.h $(LIBA) $(KSFT)
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASEFLAGS) $(WARNFLAGS) $(SANFLAGS) -Iruntime/include -I$(O)/include -Itests \
		$(GUEST_LINK) -MMD -MP $< -o $@ $(LIBA) -luring -lnuma -lpthread -ldl

$(O)/samples/%: samples/%.c $(LIBA)
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROGCFLAGS) -MMD -MP $< -o $@ $(PROGLDFLAGS) $(PROGLIBS)

$(O)/bench/%: bench/%.c $(LIBA)
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROGCFLAGS) -MMD -MP $< -o $@ $(PROGLDFLAGS) $(PROGLIBS)

tests: $(TESTS) $(GUEST_TESTS) $(LIBSO)
samples: $(SAMPLES)
benches: $(BENCHES)

# The C benchmark programs are built (not run) by check, so they cannot rot.
check: all tests samples benches
	$(Q)GORT_SRCDIR=$(CURDIR) tests/run $(O)

demo: $(SAMPLES) $(O)/.deps-demo
	$(Q)tools/demo $(O)

bench: $(BENCHES) $(O)/.deps-bench
	$(Q)bench/run-sched $(O)
	$(Q)bench/run-heap $(O)
	$(Q)bench/run-chan $(O)
	$(Q)bench/run-gc $(O)
	$(Q)bench/run-slice $(O)
	$(Q)bench/run-map $(O)
	$(Q)bench/run-net $(O)

# ---- fuzzing (clang's libFuzzer; not part of check) ----
# make fuzz [FUZZ_TIME=60]: libgort rebuilt with clang and ASan/UBSan in
# $(O)/fuzz, runtime/map.o with libFuzzer's coverage too (the scheduler's
# would be noise); each tests/fuzz/*.c then runs FUZZ_TIME seconds from
# its corpus in $(O)/fuzz/corpus/<name>, which grows from run to run.
FUZZ_TIME	?= 60
FUZZ_SRCS	:= $(sort $(wildcard tests/fuzz/*.c))

$(O)/runtime/map.o: LIBCFLAGS += $(FUZZ_COV)

fuzz: $(O)/.deps-test
	$(Q)$(MAKE) -f $(firstword $(MAKEFILE_LIST)) O=$(O)/fuzz CC=clang \
		SANITIZE=address,undefined FUZZ_COV=-fsanitize=fuzzer-no-link fuzz-run

fuzz-run: $(patsubst tests/fuzz/%.c,$(O)/fuzzers/%,$(FUZZ_SRCS))
	$(Q)for f in $^; do							\
		mkdir -p $(O)/corpus/$${f##*/} &&				\
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1		\
			$(O)/corpus/$${f##*/} || exit 1;			\
	done

$(O)/fuzzers/%: tests/fuzz/%.c $(LIBA)
	$(quiet) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROGCFLAGS) -Itests -fsanitize=fuzzer -DGORT_LIBFUZZER -MMD -MP $< -o $@ \
		$(PROGLDFLAGS) $(PROGLIBS)

# ---- install ----
install: all
	$(quiet) INSTALL $(DESTDIR)$(PREFIX)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/gort
	$(Q)install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	$(Q)ln -sf libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	$(Q)ln -sf libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libgort.so
	$(Q)install -m 644 runtime/include/gort.h $(DESTDIR)$(PREFIX)/include/
	$(Q)install -m 644 $(filter runtime/include/gort/%,$(headers-y)) $(DESTDIR)$(PREFIX)/include/gort/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' runtime/gort.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc

uninstall:
	$(quiet) UNINST $(DESTDIR)$(PREFIX)
	$(Q)rm -f $(DESTDIR)$(PREFIX)/lib/libgort.a $(DESTDIR)$(PREFIX)/lib/libgort.so* \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc $(DESTDIR)$(PREFIX)/include/gort.h
	$(Q)rm -rf $(DESTDIR)$(PREFIX)/include/gort

clean:
	$(quiet) CLEAN $(O)
	$(Q)rm -rf $(O)/runtime $(O)/tests $(O)/numa-guest $(O)/samples $(O)/bench $(O)/libgort* $(O)/gort.pc

distclean:
	$(Q)rm -rf $(O)

.PHONY: all deps tests samples benches check demo bench fuzz fuzz-run install uninstall clean distclean

-include $(shell find $(O) -name '*.d' 2>/dev/null)
