#!/usr/bin/env bash
# Churn traces at scale, end to end through simrun: a gzip trace replays
# exactly as its plain form; a trace whose intervals all fall outside the
# run (epoch times, no offset) is refused with exit 2; a malformed line is
# fatal with its line number by default and skipped and counted with
# churn.trace.on_error "skip"; and reading a generated trace of EVENTS
# (default 2,000,000) events, gzip-compressed, takes about the memory of a
# trace of 1 % of its length (peak RSS of both printed).
# Usage: check_trace.sh SIMRUN SOURCE_DIR [EVENTS]
# (SKYSIM_CHECK_MEMORY=0: print the memory figures without bounding them)
set -u
simrun=$1
src=$2
events=${3:-2000000}
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
cd "$work" || exit 2

fta="$src/tests/data/traces/synthetic.fta" # epoch seconds from 1262304000
# run OUT TRACE [--set ...]: trace_replay for 10 minutes on TRACE as FTA.
run() {
    local out=$1 trace=$2
    shift 2
    "$simrun" "$src/scenarios/trace_replay.json" --quiet --duration 10min --out "$out" \
        --set "churn.trace.file=\"$trace\"" --set 'churn.trace.format="fta"' "$@"
}
epoch=(--set 'churn.trace.offset="1262304000s"')
# The results without the engine section (wall time, memory: not replayed).
body() { sed '/"engine":/,$d' "$1/results.json"; }

# gzip: the same file name holds first the plain, then the compressed trace.
cp "$fta" t.fta
run plain "$work/t.fta" "${epoch[@]}" || bad "plain trace: exit $?"
gzip -c "$fta" >t.fta
run gz "$work/t.fta" "${epoch[@]}" || bad "gzip trace: exit $?"
if [ -s plain/results.json ] && [ -s gz/results.json ] && [ "$(body plain)" = "$(body gz)" ] &&
    cmp -s plain/timeseries.csv gz/timeseries.csv; then ok; else
    bad "gzip trace does not replay as the plain one"
fi
grep -q '"churn.trace.bad_lines"' plain/results.json && ok || bad "no churn.trace.bad_lines gauge"

# Epoch times, no offset: nobody would be online. Refused, nothing written.
out=$(run none "$work/t.fta" 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q "no up interval of the 250 trace nodes that drive clients falls inside the run" <<<"$out" &&
    grep -q "span trace times 1262304000 s" <<<"$out" && ok || bad "trace outside the run: exit $rc: $out"
[ ! -e none ] && ok || bad "trace outside the run wrote a results directory"

# A bad line (line 40 of the plain trace): fatal by default, with its line.
awk -F '\t' -v OFS='\t' 'NR == 40 { $6 = 7 } 1' "$fta" >bad.fta
out=$(run badfail "$work/bad.fta" "${epoch[@]}" 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q "bad.fta:40: field 6 (event_type): expected 0 (unavailable) or 1 (available); found \"7\"" <<<"$out" &&
    ok || bad "bad line: exit $rc: $out"
out=$(run badskip "$work/bad.fta" "${epoch[@]}" --set 'churn.trace.on_error="skip"' 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q "bad.fta:40: .*line skipped" <<<"$out" && grep -q "1 malformed lines skipped (the first is line 40" <<<"$out" &&
    ok || bad "skipped bad line: exit $rc: $out"
grep -A2 '"churn.trace.bad_lines"' badskip/results.json | grep -q '"value":[[:space:]]*1\b' && ok ||
    bad "churn.trace.bad_lines is not 1: $(grep -A2 '"churn.trace.bad_lines"' badskip/results.json)"

# Memory: EVENTS availability rows of 1000 nodes, 10 s apart in trace time,
# 5 s up each, against a trace of EVENTS / 100 rows; the run covers the
# first 20 simulated minutes of each. The reader streams: the long file adds
# little to the peak RSS (its text alone is about 50 bytes a row, 100 MB).
gen() {
    awk -v n="$1" 'BEGIN { printf "event_id\tcomponent_id\tnode_id\tplatform_id\tnode_name\tevent_type\tevent_start_time\tevent_stop_time\tevent_end_reason\n";
        for (i = 0; i < n; i++) printf "%d\t0\t%d\t0\th\t1\t%d\t%d\t\n", i, i % 1000, 1000000000 + i * 10, 1000000000 + i * 10 + 5 }' |
        gzip -1 >"$2"
}
small=$((events / 100))
gen "$events" big.fta.gz
gen "$small" small.fta.gz
mem=(--set population.clients=50 --set 'churn.trace.offset="1000000000s"' --duration 20min)
# In an ASan build, freed memory waits in a quarantine (256 MB by default)
# and would count as held: no quarantine for these two runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
run big "$work/big.fta.gz" "${mem[@]}" || bad "big trace: exit $?"
run small "$work/small.fta.gz" "${mem[@]}" || bad "small trace: exit $?"
rss() { grep -o '"peak_rss_kib":[[:space:]]*[0-9]*' "$1/results.json" | grep -o '[0-9]*$'; }
rb=$(rss big)
rs=$(rss small)
echo "peak RSS reading a gzip FTA trace: $events events $rb KiB ($(stat -c %s big.fta.gz) bytes gzip);" \
     "$small events $rs KiB"
# 16 MiB: a sixth of the 2 M-event text that loading it whole would hold.
# Sanitizer builds (SKYSIM_CHECK_MEMORY=0) only print the figures: their
# allocator's overhead is not the program's.
if [ "${SKYSIM_CHECK_MEMORY:-1}" = 0 ]; then ok; elif [ -n "$rb" ] && [ -n "$rs" ] && [ $((rb - rs)) -lt 16384 ]; then ok; else
    bad "reading $events events took $rb KiB against $rs KiB for $small events"
fi

echo "traces: $pass passed, $fail failed"
[ "$fail" = 0 ]
