# sluice — build, test, fuzz, bench, demo.
#
# `make` builds build/sluice.  Every target that compiles first makes sure the
# Debian -dev packages are there (`make deps` installs the missing ones), so a
# fresh Debian 12 machine needs nothing by hand.
#
# Sources are found by wildcard: a new module is a new .c in common/,
# orchestrator/, steps/ or runners/ and a header in include/sluice/; a new unit
# test is tests/unit/test_NAME.c; a new fuzz harness tests/fuzz/fuzz_NAME.c.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BUILD      ?= build
CC         ?= cc
PKGS       := yaml-0.1 sqlite3 libcurl libseccomp libcap libcrypto jansson
TEST_PKGS  := check
DEB_PKGS   := libyaml-dev libsqlite3-dev libcurl4-openssl-dev libseccomp-dev libcap-dev \
              check libssl-dev libjansson-dev pkg-config libxml2-utils
FUZZ_DEBS  := clang libclang-rt-14-dev
BENCH_DEBS := ninja-build time python3-pandas python3-scipy python3-numpy bubblewrap
# Oracles the tests compare against (scipy for drift statistics).
TEST_DEBS  := python3-scipy python3-croniter python3-numpy python3-jsonschema libxml2-utils sqlite3 util-linux procps

# `=` (not `:=`): evaluated when a recipe runs, i.e. after `deps` installed pkg-config.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
CHECK_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -Iinclude -D_GNU_SOURCE \
             -DSLUICE_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
LDFLAGS  ?=

LIB_SRC  := $(sort $(wildcard common/*.c orchestrator/*.c steps/*.c runners/*.c))
LIB_SRC  := $(filter-out orchestrator/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/orchestrator/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30

.PHONY: all deps ensure-deps test unit integration test-asan fuzz bench demo install \
        format format-check lint-child soak clean

all: $(BUILD)/sluice

# ---- dependencies -----------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS) $(EXTRA_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

ensure-deps:
	@pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null || $(MAKE) --no-print-directory deps

# ---- the binary -------------------------------------------------------------
# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c | ensure-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/sluice: $(MAIN_OBJ) $(BUILD)/libsluice.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- tests ------------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsluice.a | ensure-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsluice.a $(CHECK_LIBS) $(PKG_LIBS)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do CK_VERBOSITY=$${CK_VERBOSITY:-normal} ./$$t || fail=1; done; \
	[ $$fail = 0 ] || { echo "unit tests FAILED"; exit 1; }

integration: $(BUILD)/sluice
	@EXTRA_DEBS="$(TEST_DEBS)" $(MAKE) --no-print-directory deps
	SLUICE=$(abspath $(BUILD)/sluice) tests/integration/run-all.sh

test: lint-child unit integration

test-asan:
	$(MAKE) BUILD=build-asan CC=gcc \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" test

# ---- fuzzing (clang libFuzzer) ----------------------------------------------
fuzz:
	@EXTRA_DEBS="$(FUZZ_DEBS)" $(MAKE) --no-print-directory deps
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	  $(BUILD:build=build-fuzz)/libsluice.a
	@mkdir -p build-fuzz/bin
	@set -e; for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
	    $$(pkg-config --cflags $(PKGS)) -o build-fuzz/bin/$$n $$f build-fuzz/libsluice.a \
	    $$(pkg-config --libs $(PKGS)) -lm; \
	  mkdir -p build-fuzz/corpus/$$n; \
	  seeds=tests/fuzz/seeds/$${n#fuzz_}; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  build-fuzz/bin/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus/$$n $$( [ -d $$seeds ] && echo $$seeds ) \
	    2>build-fuzz/$$n.log || { tail -40 build-fuzz/$$n.log; exit 1; }; \
	  tail -1 build-fuzz/$$n.log; \
	done

# ---- benchmarks, demo, install ----------------------------------------------
# bench/launch.c (bench_sandbox.sh) and bench/hashbench.c (bench_cache.sh): harnesses
# that link sluice's own code
$(BUILD)/bench/%: bench/%.c $(BUILD)/libsluice.a | ensure-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsluice.a $(PKG_LIBS)

bench: $(BUILD)/sluice $(BUILD)/bench/launch $(BUILD)/bench/hashbench
	@EXTRA_DEBS="$(BENCH_DEBS)" $(MAKE) --no-print-directory deps
	SLUICE=$(abspath $(BUILD)/sluice) LAUNCH=$(abspath $(BUILD)/bench/launch) bench/run-all.sh

# bench/soak.sh: SOAK_RUNS (1000) runs with kill -9, floods and gc between them
soak: $(BUILD)/sluice
	@EXTRA_DEBS="$(TEST_DEBS) time" $(MAKE) --no-print-directory deps
	SLUICE=$(abspath $(BUILD)/sluice) bash bench/soak.sh

demo: $(BUILD)/sluice
	@EXTRA_DEBS="$(TEST_DEBS)" $(MAKE) --no-print-directory deps
	SLUICE=$(abspath $(BUILD)/sluice) examples/quickstart/demo.sh

install: $(BUILD)/sluice
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/sluice $(DESTDIR)$(PREFIX)/bin/sluice
	install -m 644 docs/sluice.1 $(DESTDIR)$(PREFIX)/share/man/man1/sluice.1

FORMAT_SRC = $(wildcard include/sluice/*.h common/*.c orchestrator/*.[ch] steps/*.c runners/*.[ch] \
                        tests/unit/*.[ch] tests/fuzz/*.c)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# ---- lint -------------------------------------------------------------------
# runners/sandbox_child.c runs between clone and exec: async-signal-safe calls
# only, no allocation (its opening comment).  A tripwire, not a proof: it looks
# for the usual offenders called by name, outside comments and literals.
CHILD_SRC    := runners/sandbox_child.c
CHILD_BANNED := malloc calloc realloc free strdup strndup aligned_alloc posix_memalign \
                printf fprintf snprintf sprintf asprintf dprintf vprintf vfprintf vsnprintf \
                vsprintf vasprintf fopen fdopen puts fputs perror strerror getenv exit opendir \
                xmalloc xcalloc xrealloc xstrdup arena_[A-Za-z0-9_]*
empty :=
space := $(empty) $(empty)
CHILD_RE     := (^|[^A-Za-z0-9_.>])($(subst $(space),|,$(strip $(CHILD_BANNED))))[[:space:]]*\(
# C without its comments and literals, line for line
STRIP_C      := awk '{ o = ""; i = 1; n = length($$0); \
                  while (i <= n) { c = substr($$0, i, 1); d = substr($$0, i, 2); \
                    if (inc) { if (d == "*/") { inc = 0; i += 2 } else i++; continue } \
                    if (d == "/*") { inc = 1; i += 2; continue } \
                    if (d == "//") break; \
                    if (c == "\"" || c == "\047") { i++; \
                      while (i <= n && substr($$0, i, 1) != c) { if (substr($$0, i, 1) == "\\") i++; i++ } \
                      i++; o = o c c; continue } \
                    o = o c; i++ } \
                  print o }'

lint-child:
	@$(STRIP_C) $(CHILD_SRC) | grep -nE '$(CHILD_RE)' | while IFS=: read -r n code; do \
	  f=$$(echo "$$code" | grep -oE '$(CHILD_RE)' | head -1 | sed -E 's/^[^A-Za-z_]*//; s/[[:space:]]*\($$//'); \
	  echo "$(CHILD_SRC):$$n: $$f() between clone and exec: $$(sed -n "$${n}p" $(CHILD_SRC) | sed 's/^[[:space:]]*//')"; \
	done | { if read -r first; then \
	  { echo "$$first"; cat; } >&2; \
	  echo "lint-child: $(CHILD_SRC) may call only async-signal-safe functions and allocate nothing (see its opening comment)" >&2; \
	  exit 1; fi; }

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
