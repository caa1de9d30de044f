#!/usr/bin/env bash
# Runs every libFuzzer harness of a -DSKYSIM_FUZZ=ON build for a bounded
# time and fails on any crash, hang, leak or sanitizer report.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS_PER_HARNESS [HARNESS...]
#
# Seed corpora are made afresh at each run in BUILD_DIR/fuzz/seeds/<name>
# (from scenarios/, tests/data/, tests/bad/, analysis/sweeps/,
# results/golden/, and fuzz_seeds for the binary formats); what the fuzzer
# learns is kept in BUILD_DIR/fuzz/corpus/<name> and reused by the next run.
# Logs go to BUILD_DIR/fuzz/logs/<name>.log, a failing input to
# BUILD_DIR/fuzz/artifacts/. Environment: FUZZ_JOBS harnesses at once
# (default 1), FUZZ_TIMEOUT seconds for one input to count as a hang
# (default 25), FUZZ_RSS_MB memory limit (default 2048).
set -uo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS_PER_HARNESS [HARNESS...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/tests/fuzz
jobs=${FUZZ_JOBS:-1}
timeout=${FUZZ_TIMEOUT:-25}
rss=${FUZZ_RSS_MB:-2048}

all=(wire_decode wire_udp_open wire_nack wire_hello stun node_peer scenario scenario_set
     churntrace latency calibration sweep golden)
if [ $# -gt 0 ]; then names=("$@"); else names=("${all[@]}"); fi
for n in "${names[@]}"; do
    if [ ! -x "$bin/fuzz_$n" ]; then
        echo "fuzz: $bin/fuzz_$n missing: build with -DCMAKE_C_COMPILER=clang -DSKYSIM_FUZZ=ON" >&2
        exit 2
    fi
done

work=$build/fuzz
rm -rf "$work/seeds" "$work/logs"
mkdir -p "$work/seeds" "$work/corpus" "$work/logs" "$work/artifacts"

# ---- seed corpora
seed_copy() { # seed_copy NAME FILE...: copies the files that exist
    local n=$1 f
    shift
    mkdir -p "$work/seeds/$n"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$work/seeds/$n/"; done
    return 0
}
"$bin/fuzz_seeds" "$work/seeds" || { echo "fuzz: fuzz_seeds failed" >&2; exit 1; }
seed_copy scenario "$src"/scenarios/*.json "$src"/tests/bad/*.json
seed_copy churntrace "$src"/tests/data/traces/*.avail "$src"/tests/data/traces/*.csv \
    "$src"/tests/data/traces/*.fta
seed_copy latency "$src"/tests/data/net/*.syscoord "$src"/tests/data/net/*.csv \
    "$src"/tests/data/net/*.tsv
seed_copy calibration "$src"/scenarios/calibration/*.json
seed_copy sweep "$src"/analysis/sweeps/*.json
seed_copy golden "$src"/results/golden/*.json
mkdir -p "$work/seeds/scenario_set"
i=0
grep -v '^#' "$src/tests/fuzz/seeds/scenario_set.txt" | while IFS= read -r line; do
    i=$((i + 1))
    printf '%s\n' "$line" | tr '|' '\n' > "$work/seeds/scenario_set/set-$i"
done

# ---- one harness: prints its line, returns non-zero on failure
run_one() {
    local n=$1 log=$work/logs/$1.log rc start end
    mkdir -p "$work/corpus/$n"
    start=$(date +%s)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin/fuzz_$n" -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb="$rss" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$n-" \
        "$work/corpus/$n" "$work/seeds/$n" > "$log" 2>&1
    rc=$?
    end=$(date +%s)
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    if [ $rc -eq 0 ] && grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer)|runtime error:' "$log"; then
        rc=99 # a report that did not stop the run
    fi
    if [ $rc -eq 0 ]; then
        printf 'fuzz_%-14s ok      %9s execs  cov %6s  ft %6s  %4ss\n' "$n" "${execs:-?}" \
            "${cov:-?}" "${ft:-?}" "$((end - start))"
        return 0
    fi
    local what art
    what=$(grep -m1 -oE 'ERROR: (libFuzzer: [a-z-]+|AddressSanitizer: [a-z-]+|LeakSanitizer)|runtime error: .*|property broken: .*' "$log")
    art=$(grep -m1 -oE 'Test unit written to [^ ]+' "$log" | sed 's/Test unit written to //')
    printf 'fuzz_%-14s FAILED  %9s execs  exit %d: %s; input %s; log %s\n' "$n" "${execs:-?}" \
        "$rc" "${what:-see log}" "${art:-none}" "$log"
    return 1
}

pass=0
fail=0
results=$work/logs/results
: > "$results"
running=0
for n in "${names[@]}"; do
    ( if run_one "$n"; then echo pass >> "$results"; else echo fail >> "$results"; fi ) &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
pass=$(grep -c pass "$results")
fail=$(grep -c fail "$results")
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -eq "${#names[@]}" ]
