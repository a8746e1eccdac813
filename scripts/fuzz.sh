#!/bin/sh
# make fuzz: run every fuzz harness (clang, libFuzzer, ASan/UBSan) for
# FUZZ_TIME seconds each. Seeds: the checked-in corpus of the harness
# (tests/fuzz/corpus/NAME/, replayed by make test) and, for SIP, the
# RFC 4475 torture messages in ../shared/conformance/rfc4475 when present
# (also for the call harness).
# FUZZ_ONLY="NAME ..." limits the run to some harnesses.
# New inputs go to build-fuzz/work/NAME (never into the tree); crashes to
# build-fuzz/artifacts/. Exit status non-zero when any harness failed.
set -eu
BUILD=${FUZZ_BUILD:-build-fuzz}
TIME=${FUZZ_TIME:-60}
JOBS=${FUZZ_JOBS:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
meson compile -C "$BUILD" >/dev/null
mkdir -p "$BUILD/artifacts"
# -jobs forks workers that log to ./fuzz-N.log: only when asked for
par=""
[ "$JOBS" -gt 1 ] && par="-jobs=$JOBS -workers=$JOBS"
rc=0
for dir in tests/fuzz/corpus/*/; do
	name=$(basename "$dir")
	# FUZZ_ONLY="sip csv": just these harnesses
	case " ${FUZZ_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
	bin="$BUILD/tests/fuzz/fuzz_$name"
	if [ ! -x "$bin" ]; then
		echo "fuzz: no harness binary $bin for corpus $dir" >&2
		rc=1
		continue
	fi
	work="$BUILD/work/$name"
	mkdir -p "$work"
	seeds="$dir"
	# call: bytes before a script's first separator come from phone A
	if { [ "$name" = sip ] || [ "$name" = call ]; } &&
	   [ -d ../shared/conformance/rfc4475 ]; then
		seeds="$seeds ../shared/conformance/rfc4475"
	fi
	echo "fuzz: $name for ${TIME}s (seeds: $seeds)"
	# shellcheck disable=SC2086
	if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	     "$bin" -max_len=8192 -timeout=5 -rss_limit_mb=2048 \
		-max_total_time="$TIME" $par \
		-print_final_stats=1 \
		-artifact_prefix="$BUILD/artifacts/$name-" \
		"$work" $seeds 2>"$BUILD/fuzz-$name.log"; then
		echo "fuzz: $name FAILED — see $BUILD/fuzz-$name.log and $BUILD/artifacts/" >&2
		tail -40 "$BUILD/fuzz-$name.log" >&2
		rc=1
	else
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' \
			"$BUILD/fuzz-$name.log" | sed "s/^/fuzz: $name: /"
	fi
done
exit $rc
