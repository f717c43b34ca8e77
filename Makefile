# Coffer build. `make` builds build/cofferd and build/coffer (optimised);
# `make test-bin` builds the same code with ASan+UBSan under build/asan plus every test binary, and
# (with clang, FUZZ_CC) the libFuzzer targets under build/fuzz.
# Every src/*/*.c is part of libcoffer; every tests/unit/test_*.c and tests/e2e/e2e_*.c is one test
# binary, every tests/fuzz/fuzz_*.c one fuzz target, every console/* file part of the web console
# (embedded into libcoffer as build/gen/console_files.c). Adding a file never needs an edit here.
# Files built into the daemon go through one script, scripts/embed.sh (xxd -i, src/api/embed.h): the
# console's files as the table console_files, openapi/coffer.json as openapi_files.
CC      ?= cc
# Quiet: make prints one line per program it links ("LD build/asan/tests/test_x"), not every compiler
# command (warnings and errors still show); `make V=1` prints the commands.
ifneq ($(V),1)
MAKEFLAGS += --silent
endif
PKGS    := libmicrohttpd gnutls jansson sqlite3 libpq libcrypto libzstd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wformat=2 -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
VERSION := $(shell cat VERSION)
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DCOFFER_VERSION='"$(VERSION)"' -Isrc -Itests $(WARN) \
                 $(PKG_CFLAGS) -pthread -g
CFLAGS_REL    := $(CFLAGS_COMMON) -O2 -march=x86-64-v2
CFLAGS_ASAN   := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LIBS    := $(PKG_LIBS) -lpthread -lm
# libFuzzer targets: clang (Debian's clang with libclang-rt-14-dev), the whole library instrumented.
FUZZ_CC ?= clang
CFLAGS_FUZZ := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined

# The web console (console/*) and the OpenAPI description become generated C sources of byte arrays
# (scripts/embed.sh, xxd -i), compiled into libcoffer like any source; src/api/console.c serves the
# console at /console, src/api/openapi.c the description at /v2/openapi.json.
CONSOLE := $(sort $(wildcard console/*))
GEN_CONSOLE := build/gen/console_files.c
GEN_OPENAPI := build/gen/openapi_files.c
# the list of console files, rewritten only when it changes, so that removing a file regenerates too
$(shell mkdir -p build/gen && echo '$(CONSOLE)' | cmp -s - build/gen/console.list || echo '$(CONSOLE)' >build/gen/console.list)
SRC     := $(sort $(wildcard src/*/*.c)) $(GEN_CONSOLE) $(GEN_OPENAPI)
OBJ_REL := $(SRC:%.c=build/obj/%.o)
OBJ_ASAN:= $(SRC:%.c=build/asan/obj/%.o)
UNIT    := $(patsubst tests/unit/%.c,build/asan/tests/%,$(sort $(wildcard tests/unit/test_*.c)))
E2E     := $(patsubst tests/e2e/%.c,build/asan/tests/%,$(sort $(wildcard tests/e2e/e2e_*.c)))
E2E_LIB := $(patsubst %.c,build/asan/obj/%.o,$(filter-out $(wildcard tests/e2e/e2e_*.c),$(wildcard tests/e2e/*.c)))
CHECK_OBJ := build/asan/obj/tests/check.o
# the unit tests' shared fixtures (every tests/unit/*.c that is not a test_*.c, e.g. repofix.c), one
# archive, so that a test program links only the fixtures it uses
UNIT_LIB_OBJ := $(patsubst %.c,build/asan/obj/%.o,$(filter-out $(wildcard tests/unit/test_*.c),$(wildcard tests/unit/*.c)))
UNIT_LIB := build/asan/obj/tests/unit/libunit.a
OBJ_FUZZ:= $(SRC:%.c=build/fuzz/obj/%.o)
FUZZ    := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

.PHONY: all test-bin fuzz-bin test clean install install-docs

# The test programs' own objects are kept, not deleted as intermediates: a second `make test-bin` with
# no change rebuilds and relinks nothing (deleted, their .d files made them plain targets that were
# missing, so the next build recompiled and relinked every test program).
.SECONDARY: $(UNIT:build/asan/tests/%=build/asan/obj/tests/unit/%.o) $(E2E:build/asan/tests/%=build/asan/obj/tests/e2e/%.o) \
            $(FUZZ:build/fuzz/%=build/fuzz/obj/tests/fuzz/%.o) $(CHECK_OBJ) $(E2E_LIB) $(UNIT_LIB_OBJ)

# Man pages and shell completion, made from the programs' own help tables (no second copy is kept):
# coffer(1) by `coffer --help-man` (the CLI's command table), cofferd(8) by scripts/help2man.sh from
# `cofferd --help`, the completion by `coffer completion bash` and `coffer completion zsh`. coffer-agent(8): add coffer-agent to
# MAN8 (and its MAN_WHAT_) once it prints --help. `make install` puts them under PREFIX/share.
MAN8    := cofferd
MAN_WHAT_cofferd := the Coffer backup and recovery daemon
MAN_WHAT_coffer-agent := the Coffer agent on a protected host
DOCS_GEN := build/man/coffer.1 $(MAN8:%=build/man/%.8) build/completion/coffer build/completion/_coffer
build/man/coffer.1: build/coffer
	@mkdir -p $(dir $@)
	build/coffer --help-man >$@.tmp && mv $@.tmp $@
build/man/%.8: build/% scripts/help2man.sh
	@mkdir -p $(dir $@)
	scripts/help2man.sh $< 8 "$(MAN_WHAT_$*)" "coffer(1)" >$@.tmp && mv $@.tmp $@
build/completion/coffer: build/coffer
	@mkdir -p $(dir $@)
	build/coffer completion bash >$@.tmp && mv $@.tmp $@
build/completion/_coffer: build/coffer
	@mkdir -p $(dir $@)
	build/coffer completion zsh >$@.tmp && mv $@.tmp $@
all: $(DOCS_GEN)
install: install-docs
install-docs: $(DOCS_GEN)
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	install -m 0644 build/man/coffer.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(MAN8:%=build/man/%.8) $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 build/completion/coffer $(DESTDIR)$(PREFIX)/share/bash-completion/completions/coffer
	install -m 0644 build/completion/_coffer $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_coffer

# make install [DESTDIR=/stage] [PREFIX=/usr/local]: the daemon and the CLI, cofferd's systemd unit (its
# ExecStart pointing at PREFIX), the configuration file (SYSCONF_DIR/coffer/cofferd.conf, 0600), the defaults
# file and the docs. scripts/build-deb.sh packages the same.
PREFIX  ?= /usr/local
SYSTEMD_UNIT_DIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSCONF_DIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
install: all agent-packages install-agent
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(SYSCONF_DIR)/default \
		$(DESTDIR)$(PREFIX)/share/doc/coffer
	install -m 0755 build/cofferd build/coffer $(DESTDIR)$(PREFIX)/bin/
	sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONF_DIR)|g' packaging/cofferd.service.in \
		> $(DESTDIR)$(SYSTEMD_UNIT_DIR)/cofferd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/cofferd.service
	install -m 0644 packaging/cofferd.default $(DESTDIR)$(SYSCONF_DIR)/default/cofferd
	install -d $(DESTDIR)$(SYSCONF_DIR)/coffer
	install -m 0600 packaging/cofferd.conf $(DESTDIR)$(SYSCONF_DIR)/coffer/cofferd.conf
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/coffer/
	install -d $(DESTDIR)$(PREFIX)/share/coffer/agent
	install -m 0644 build/agent/coffer-agent_$(VERSION)_* $(DESTDIR)$(PREFIX)/share/coffer/agent/
# The agent (issue 11): `make install-agent` installs coffer-agent, its systemd unit and
# /etc/default/coffer-agent; `make agent-packages` builds the installers cofferd serves through
# DownloadAgent into build/agent/ (scripts/build-agent-packages.sh: the .deb and the kScript .sh),
# which `make install` puts under PREFIX/share/coffer/agent (svc_agent_package_path finds them).
.PHONY: install-agent agent-packages
install-agent: build/coffer-agent
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(SYSCONF_DIR)/default
	install -m 0755 build/coffer-agent $(DESTDIR)$(PREFIX)/bin/
	sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONF_DIR)|g' packaging/coffer-agent.service.in \
		> $(DESTDIR)$(SYSTEMD_UNIT_DIR)/coffer-agent.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/coffer-agent.service
	install -m 0644 packaging/coffer-agent.default $(DESTDIR)$(SYSCONF_DIR)/default/coffer-agent
agent-packages: build/agent/packages.stamp
build/agent/packages.stamp: build/coffer-agent scripts/build-agent-packages.sh packaging/coffer-agent.service.in \
		packaging/coffer-agent.default packaging/agent/postinst packaging/agent/prerm packaging/agent/install.sh.in VERSION
	+scripts/build-agent-packages.sh build/agent >/dev/null && touch $@
all: build/cofferd build/coffer build/coffer-agent

$(GEN_CONSOLE): $(CONSOLE) build/gen/console.list scripts/embed.sh
	scripts/embed.sh $@ console_files $(CONSOLE)
$(GEN_OPENAPI): openapi/coffer.json scripts/embed.sh
	scripts/embed.sh $@ openapi_files openapi/coffer.json

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REL) -MMD -MP -c $< -o $@
build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -MMD -MP -c $< -o $@

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -MMD -MP -c $< -o $@

build/libcoffer.a: $(OBJ_REL)
	@mkdir -p build; rm -f $@; ar rcs $@ $^
build/asan/libcoffer.a: $(OBJ_ASAN)
	@mkdir -p build/asan; rm -f $@; ar rcs $@ $^

build/cofferd: build/obj/cmd/cofferd.o build/libcoffer.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
build/coffer: build/obj/cmd/coffer.o build/libcoffer.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
build/coffer-agent: build/obj/cmd/coffer-agent.o build/libcoffer.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
build/asan/coffer-agent: build/asan/obj/cmd/coffer-agent.o build/asan/libcoffer.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/cofferd: build/asan/obj/cmd/cofferd.o build/asan/libcoffer.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/coffer: build/asan/obj/cmd/coffer.o build/asan/libcoffer.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)

$(UNIT_LIB): $(UNIT_LIB_OBJ)
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
build/asan/tests/test_%: build/asan/obj/tests/unit/test_%.o $(UNIT_LIB) $(CHECK_OBJ) build/asan/obj/tests/e2e/pgtest.o build/asan/libcoffer.a
	@mkdir -p $(dir $@)
	@echo "LD $@"
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/tests/e2e_%: build/asan/obj/tests/e2e/e2e_%.o $(E2E_LIB) $(CHECK_OBJ) build/asan/libcoffer.a
	@mkdir -p $(dir $@)
	@echo "LD $@"
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)

build/fuzz/libcoffer.a: $(OBJ_FUZZ)
	@mkdir -p build/fuzz; rm -f $@; ar rcs $@ $^
build/fuzz/fuzz_%: build/fuzz/obj/tests/fuzz/fuzz_%.o build/fuzz/libcoffer.a
	@echo "LD $@"
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-bin: $(FUZZ)

test-bin: all agent-packages build/asan/cofferd build/asan/coffer build/asan/coffer-agent $(UNIT) $(E2E) fuzz-bin

test: test-bin
	tests/run-all.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
