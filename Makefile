# Bulwark — top-level entry points. See README.md.
BUILD    ?= build
ASAN     ?= build-asan
DATA     ?= $(CURDIR)/data/run
SIP      ?=
HTTP     ?=
# Debian's interpreter, where python3-pytest is installed (a pyenv python on
# PATH would not have it).
PYTHON   ?= /usr/bin/python3

.PHONY: all deps build run test unit asan scan integration gui gui-deps screenshots fuzz bench clean

all: build

deps:
	@./scripts/deps.sh all

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# Start bulwarkd in the foreground on an embedded data directory.
# HTTP=127.0.0.1:8080 also serves the admin API on TCP (the admin password
# is written to $(DATA)/admin-password at the first start with HTTP, never
# printed).
run: build
	@mkdir -p $(DATA)
	@echo "bulwark: starting bulwarkd on data directory $(DATA) (Ctrl-C stops it)"
	@echo "bulwark: in another shell, for example:"
	@echo "    $(BUILD)/src/cli/bulwark --data $(DATA) status"
	@echo "    $(BUILD)/src/cli/bulwark --data $(DATA) ext add 201 --type sip --name \"Ada Lovelace\" --generate-password --generate-pin"
	@echo "    $(BUILD)/src/cli/bulwark --data $(DATA) commit"
	@echo "    $(BUILD)/src/cli/bulwark --data $(DATA) ext list"
	@echo "  (or: export BULWARK_DATA=$(DATA); see docs/admin/getting-started.md)"
	@$(if $(HTTP),echo "bulwark: web GUI at http://$(HTTP)/ (user admin, password in $(DATA)/admin-password; docs/admin/gui.md)")
	exec $(BUILD)/src/daemon/bulwarkd --data $(DATA) $(if $(SIP),--sip $(SIP)) $(if $(HTTP),--http $(HTTP))

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

$(ASAN)/build.ninja:
	meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps $(ASAN)/build.ninja
	meson compile -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --suite unit --suite fuzz --print-errorlogs

# clang's static analyzer over the whole tree, in a build of its own;
# fails on any report (the count is kept at zero: fix it, or show in a
# comment at the spot why it cannot happen and restructure so the
# analyzer sees it too).
SCAN     ?= build-scan
scan: deps
	rm -rf $(SCAN)
	scan-build meson setup $(SCAN) >/dev/null
	scan-build --status-bugs -o $(SCAN)/report ninja -C $(SCAN)

integration: build
	BULWARK_BUILD=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q tests/integration

# The browser tests' driver (playwright-core, pinned by
# tests/gui/package-lock.json). npm ci only when node_modules is missing
# or older than the lockfile: offline once installed.
GUI      := tests/gui
gui-deps: deps
	@if [ ! -f $(GUI)/node_modules/.package-lock.json ] || \
	    [ $(GUI)/package-lock.json -nt $(GUI)/node_modules/.package-lock.json ]; then \
		echo "gui: npm ci in $(GUI)"; \
		cd $(GUI) && npm ci --no-audit --no-fund; \
	fi

# The web GUI in Debian's Chromium (tests/gui/test_gui.py); screenshots
# of the main screens go to $(BUILD)/gui-shots/ (make screenshots: the
# ones in docs/gui/).
gui: build gui-deps
	BULWARK_BUILD=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q tests/gui

screenshots: build gui-deps
	BULWARK_GUI_SHOTS=$(CURDIR)/docs/gui BULWARK_BUILD=$(CURDIR)/$(BUILD) \
		$(PYTHON) -m pytest -q tests/gui

# Every test: unit (plain and under ASan/UBSan), fuzz corpus replay, the
# static analyzer, integration, the browser tests.
test: build unit asan scan integration gui

# Fuzz every harness for real: clang, libFuzzer, ASan/UBSan, seeded with
# the checked-in corpora and the RFC 4475 messages. FUZZ_TIME=1800 for a
# campaign (seconds per harness); see tests/fuzz/README.md.
FUZZ_TIME ?= 60
fuzz: deps
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_ONLY="$(FUZZ_ONLY)" ./scripts/fuzz.sh

bench: build
	./bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(SCAN) build-fuzz
