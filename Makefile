# Coffer build. `make` builds build/cofferd and build/coffer (optimised);
# `make test-bin` builds the same code with ASan+UBSan under build/asan plus every test binary.
# Every src/*/*.c is part of libcoffer; every tests/unit/test_*.c and tests/e2e/e2e_*.c is one test
# binary. Adding a file never needs an edit here.
CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 libpq libcrypto libzstd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wformat=2 -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc -Itests $(WARN) $(PKG_CFLAGS) -pthread -g
CFLAGS_REL    := $(CFLAGS_COMMON) -O2 -march=x86-64-v2
CFLAGS_ASAN   := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LIBS    := $(PKG_LIBS) -lpthread -lm

SRC     := $(sort $(wildcard src/*/*.c))
OBJ_REL := $(SRC:%.c=build/obj/%.o)
OBJ_ASAN:= $(SRC:%.c=build/asan/obj/%.o)
UNIT    := $(patsubst tests/unit/%.c,build/asan/tests/%,$(sort $(wildcard tests/unit/test_*.c)))
E2E     := $(patsubst tests/e2e/%.c,build/asan/tests/%,$(sort $(wildcard tests/e2e/e2e_*.c)))
E2E_LIB := $(patsubst %.c,build/asan/obj/%.o,$(filter-out $(wildcard tests/e2e/e2e_*.c),$(wildcard tests/e2e/*.c)))
CHECK_OBJ := build/asan/obj/tests/check.o

.PHONY: all test-bin test clean
all: build/cofferd build/coffer

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REL) -MMD -MP -c $< -o $@
build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -MMD -MP -c $< -o $@

build/libcoffer.a: $(OBJ_REL)
	@mkdir -p build; rm -f $@; ar rcs $@ $^
build/asan/libcoffer.a: $(OBJ_ASAN)
	@mkdir -p build/asan; rm -f $@; ar rcs $@ $^

build/cofferd: build/obj/cmd/cofferd.o build/libcoffer.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
build/coffer: build/obj/cmd/coffer.o build/libcoffer.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
build/asan/cofferd: build/asan/obj/cmd/cofferd.o build/asan/libcoffer.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/coffer: build/asan/obj/cmd/coffer.o build/asan/libcoffer.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)

build/asan/tests/test_%: build/asan/obj/tests/unit/test_%.o $(CHECK_OBJ) build/asan/obj/tests/e2e/pgtest.o build/asan/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/tests/e2e_%: build/asan/obj/tests/e2e/e2e_%.o $(E2E_LIB) $(CHECK_OBJ) build/asan/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)

test-bin: all build/asan/cofferd build/asan/coffer $(UNIT) $(E2E)

test: test-bin
	tests/run-all.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
