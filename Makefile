# Bulwark — top-level entry points. See README.md.
BUILD    ?= build
ASAN     ?= build-asan
DATA     ?= $(CURDIR)/data/run
SIP      ?=
HTTP     ?=

.PHONY: all deps build run test unit asan integration fuzz bench clean

all: build

deps:
	@./scripts/deps.sh all

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# Start bulwarkd in the foreground on an embedded data directory.
run: build
	@mkdir -p $(DATA)
	@echo "bulwark: data directory $(DATA)"
	@echo "bulwark: in another shell:  $(BUILD)/src/cli/bulwark --data $(DATA) ext list"
	exec $(BUILD)/src/daemon/bulwarkd --data $(DATA) $(if $(SIP),--sip $(SIP)) $(if $(HTTP),--http $(HTTP))

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

$(ASAN)/build.ninja:
	meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps $(ASAN)/build.ninja
	meson compile -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --suite unit --suite fuzz --print-errorlogs

integration: build
	BULWARK_BUILD=$(CURDIR)/$(BUILD) python3 -m pytest -q tests/integration

# Every test: unit (plain and under ASan/UBSan), fuzz corpus replay, integration.
test: build unit asan integration

bench: build
	./bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN)
