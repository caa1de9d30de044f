#!/usr/bin/env bash
# simrun end to end: bad input exits 2 with one clear message and leaves no
# results directory; a run writes results.json and timeseries.csv atomically;
# an interrupt (a real SIGINT, raised at a virtual time by a test hook) stops
# at an event boundary and writes results marked interrupted; the same seed
# gives the same bytes outside the engine section.
# Usage: check_simrun.sh SIMRUN SOURCE_DIR
set -u
simrun=$1
src=$2
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
# cap_fields FILE FIELD...: tshark's fields of every frame ("" without tshark).
cap_fields() {
    local f=$1
    shift
    command -v tshark >/dev/null 2>&1 || return 0
    tshark -r "$f" -T fields $(printf -- '-e %s ' "$@") 2>/dev/null
}
small=(--set population.clients=60 --duration 3min --set warmup=0 --quiet)

# expect_error NAME EXPECTED_SUBSTRING ARGS...
expect_error() {
    local name=$1 want=$2
    shift 2
    local out rc
    out=$("$simrun" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != 2 ]; then bad "$name: exit $rc, expected 2 ($out)"; return; fi
    if ! grep -qF -- "$want" <<<"$out"; then bad "$name: message '$out' lacks '$want'"; return; fi
    if [ "$(wc -l <<<"$out")" != 1 ]; then bad "$name: expected one line, got: $out"; return; fi
    ok
}

cd "$work" || exit 2
expect_error no-args "expected one scenario file" 
expect_error bad-flag "Unknown option --frobnicate" --frobnicate "$src/scenarios/baseline.json"
expect_error missing-file "nope.json" nope.json
expect_error bad-set "population.clients" "$src/scenarios/baseline.json" --set population.clients=-3
expect_error bad-set-syntax "--set" "$src/scenarios/baseline.json" --set population.clients
expect_error bad-duration "duration" "$src/scenarios/baseline.json" --duration 5parsecs
expect_error bad-queue "--queue" "$src/scenarios/baseline.json" --queue calendar
expect_error bad-json "malformed JSON" "$src/tests/bad/malformed_trailing_comma.json"
# Inputs that used to pass silently or hang: NUL bytes, NUL escapes,
# control bytes echoed raw, unbounded rates, a time series of millions of rows.
printf '{"name": "ab", "population": {"clients": 10}}\0garbage' > "$work/nul-byte.json"
expect_error nul-byte "nul-byte.json:1:46: expected text; found a NUL byte" "$work/nul-byte.json"
printf '{"name": "a\\u0000b"}' > "$work/nul-escape.json"
expect_error nul-escape "nul-escape.json:1:12: expected a string without NUL characters" "$work/nul-escape.json"
expect_error nul-set "expected a value without NUL characters" "$src/scenarios/baseline.json" --set 'name="a\u0000b"'
printf '{"name": "x", "population": {"clients": 10},\n"k\033[2J": 1}' > "$work/ctl.json"
expect_error control-bytes '$.k\x1b[2J: unknown key' "$work/ctl.json"
cp "$work/ctl.json" "$work/new
line.json"
expect_error control-name 'new\x0aline.json' "$work/new
line.json"
expect_error rate-range "expected a number from 0 to 3600; found 1e+300" "$src/scenarios/baseline.json" --set workload.call_rate=1e300
expect_error lognormal-mu "\$.workload.call_duration.mu" "$src/scenarios/baseline.json" --set 'workload.call_duration={"dist":"lognormal","mu":900,"sigma":1}'
# A signal while the world is built: nothing runs, nothing is written, exit 130.
out=$("$simrun" "$src/scenarios/baseline.json" "${small[@]}" --out "$work/stopped" --test-raise-sigint-at build 2>&1)
rc=$?
if [ "$rc" != 130 ] || [ -e "$work/stopped" ] || ! grep -q "interrupted while building the world" <<<"$out"; then
    bad "signal during build: exit $rc, $(ls -d "$work"/stopped* 2>/dev/null), '$out'"
else ok; fi
expect_error mem-limit "100 clients need about 49.2 MiB of memory; the limit is 10.0 MiB (--max-memory)" "$src/scenarios/baseline.json" --set population.clients=100 --max-memory 10M
expect_error mem-machine "this machine's memory; --max-memory sets another" "$src/scenarios/baseline.json" --set population.clients=100000000
expect_error mem-flag "--max-memory: expected a size" "$src/scenarios/baseline.json" --max-memory 4X
head -3 "$src/tests/data/traces/synthetic.csv" > "$work/nul-trace.csv"
printf '\0' >> "$work/nul-trace.csv"
expect_error nul-trace "nul-trace.csv:4:1: expected text; found a NUL byte" "$src/scenarios/trace_replay.json" --set "churn.trace.file=\"$work/nul-trace.csv\""
expect_error ts-floor "expected an interval of at least 18ms" "$src/scenarios/baseline.json" --set outputs.timeseries_interval=1ms
if [ -e results ]; then bad "bad input left a results directory"; else ok; fi

# A complete run.
"$simrun" "$src/scenarios/baseline.json" "${small[@]}" --seed 3 --out run1
rc=$?
[ "$rc" = 0 ] && ok || bad "run exited $rc"
for f in results.json timeseries.csv; do [ -s "run1/$f" ] && ok || bad "run1/$f missing"; done
ls -d run1.tmp-* >/dev/null 2>&1 && bad "temporary directory left behind" || ok
grep -q '"interrupted":[[:space:]]*false' run1/results.json && ok || bad "run1 not marked complete"

# The terminal summary never prints nan: a figure without observations
# (no failover happened in this run) reads "n/a".
summary=$("$simrun" "$src/scenarios/baseline.json" --set population.clients=20 --duration 1min \
    --set warmup=0 --seed 3 --out summary-run)
echo "$summary" | grep -qiw nan && bad "summary prints nan: $summary" || ok

# Gauges never go negative and timeseries.csv holds no literal nan: the
# trace_replay run below used to show -3 relayed calls (a call that
# connected on a relay and was re-established directly was subtracted twice).
"$simrun" "$src/scenarios/trace_replay.json" --set population.clients=120 --duration 15min \
    --seed 7 --quiet --out ts-run 2>/dev/null
neg=$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "" && $i < 0) print "line " NR ": " $0 }' ts-run/timeseries.csv)
[ -z "$neg" ] && ok || bad "negative time-series values: $neg"
grep -qiw nan ts-run/timeseries.csv && bad "timeseries.csv holds nan" || ok
echo "$summary" | grep -q 'failover mean n/a$' && ok || bad "no n/a for the failover time: $summary"

# Determinism: same seed, same bytes (results.json outside "engine", timeseries.csv).
"$simrun" "$src/scenarios/baseline.json" "${small[@]}" --seed 3 --out run2
strip() { sed '/"engine"/,$d' "$1"; }
cmp -s <(strip run1/results.json) <(strip run2/results.json) && ok || bad "results.json differs between identical runs"
cmp -s run1/timeseries.csv run2/timeseries.csv && ok || bad "timeseries.csv differs between identical runs"
"$simrun" "$src/scenarios/baseline.json" "${small[@]}" --seed 4 --out run3
cmp -s <(strip run1/results.json) <(strip run3/results.json) && bad "another seed gave identical results" || ok

# Every shipped scenario, at a small size, twice: byte-identical results.
for scn in "$src"/scenarios/*.json; do
    n=$(basename "$scn" .json)
    [ "$n" = schema ] && continue # the JSON Schema of the scenarios, not one
    args=(--set population.clients=60 --quiet)
    "$simrun" "$scn" "${args[@]}" --out "det-$n-a" && "$simrun" "$scn" "${args[@]}" --out "det-$n-b"
    if [ $? != 0 ]; then bad "$n: run failed"; continue; fi
    if cmp -s <(strip "det-$n-a/results.json") <(strip "det-$n-b/results.json") &&
       cmp -s "det-$n-a/timeseries.csv" "det-$n-b/timeseries.csv"; then ok; else bad "$n: runs differ"; fi
done

# The three event queues give the same run, byte for byte (STYLE.md §8).
for q in heap ladder; do
    "$simrun" "$src/scenarios/nat_heavy.json" --set population.clients=60 --duration 3min --quiet \
        --seed 3 --queue "$q" --out "q-$q"
done
"$simrun" "$src/scenarios/nat_heavy.json" --set population.clients=60 --duration 3min --quiet \
    --seed 3 --out q-bucket
for q in heap ladder; do
    if cmp -s <(strip "q-$q/results.json") <(strip q-bucket/results.json) &&
       cmp -s "q-$q/timeseries.csv" q-bucket/timeseries.csv; then ok; else bad "queue $q gives another run"; fi
done

# Env trace of one node (--trace-env): bad values exit 2 with one line; the
# log lands in the results directory, names the node, shows both directions
# (calls "->", events "<-"), leaves the results as they are without it and
# is the same bytes in a second run.
expect_error trace-env-nan "--trace-env" "$src/scenarios/baseline.json" --trace-env abc
expect_error trace-env-neg "--trace-env" "$src/scenarios/baseline.json" --trace-env -1
expect_error trace-env-range "node 500 does not exist" "$src/scenarios/baseline.json" "${small[@]}" --trace-env 500
if ls -d results run-te* >/dev/null 2>&1; then bad "bad --trace-env left a results directory"; else ok; fi
for r in te1 te2; do
    "$simrun" "$src/scenarios/baseline.json" "${small[@]}" --seed 3 --out "$r" --trace-env 20 ||
        bad "$r: run with --trace-env failed"
done
log=te1/envtrace-20.log
[ -s "$log" ] && ok || bad "$log missing or empty"
grep -q '^[0-9]*\.[0-9]\{9\} node 20 -> udp_send(' "$log" && ok || bad "$log lacks the node's sends"
grep -q '^[0-9]*\.[0-9]\{9\} node 20 <- start()' "$log" && ok || bad "$log lacks the node's start event"
grep -v -q ' node 20 ' "$log" && bad "$log has lines of another node" || ok
cmp -s <(strip run1/results.json) <(strip te1/results.json) && ok || bad "--trace-env changed results.json"
cmp -s run1/timeseries.csv te1/timeseries.csv && ok || bad "--trace-env changed timeseries.csv"
cmp -s run1/samples.csv te1/samples.csv && ok || bad "--trace-env changed samples.csv"
cmp -s "$log" te2/envtrace-20.log && ok || bad "env trace differs between identical runs"

# Event trace and capture in the results directory; tshark (where installed)
# reads the capture and dissects the STUN exchanges of NAT detection.
"$simrun" "$src/scenarios/nat_heavy.json" --set population.clients=40 --duration 2min --quiet \
    --out cap --trace events.csv --pcap run.pcap
head -1 cap/events.csv | grep -qx 'time_s,node,event' && ok || bad "trace header"
[ "$(grep -c ',login$' cap/events.csv)" = 40 ] && ok || bad "trace lacks the 40 logins"
[ -s cap/run.pcap ] && ok || bad "capture missing"
if command -v tshark >/dev/null 2>&1; then
    n=$(tshark -r cap/run.pcap -Y stun 2>/dev/null | grep -c 'Binding')
    [ "$n" -gt 0 ] && ok || bad "tshark finds no STUN in the capture"
    tshark -r cap/run.pcap -Y 'ip.checksum.status == "Bad"' -o ip.check_checksum:TRUE 2>/dev/null |
        grep -q . && bad "tshark reports bad IP checksums" || ok
fi

# Capture points (pcapng, one interface per point). The default, every
# host's access link, holds each packet once: no IP id twice (the run sends
# fewer than 65536 packets); every interface is named after a host of
# nodes.csv. node:ID captures both directions of one host only; core holds
# public addresses only; a bad point is refused.
if [ -s cap/run.pcap ] && command -v tshark >/dev/null 2>&1; then
    ids=$(cap_fields cap/run.pcap ip.id)
    [ -n "$ids" ] && [ -z "$(sort <<<"$ids" | uniq -d)" ] && ok ||
        bad "access capture: IP ids seen twice: $(sort <<<"$ids" | uniq -d | head -3 | tr '\n' ' ')"
    bad_if=$(cap_fields cap/run.pcap frame.interface_name | sort -u | grep -v '^node [0-9]* ')
    [ -z "$bad_if" ] && ok || bad "interfaces not named after hosts: $bad_if"
fi
"$simrun" "$src/scenarios/nat_heavy.json" --set population.clients=40 --duration 2min --quiet \
    --out cap2 --pcap run.pcapng --pcap-at node:20 --pcap-at core
if [ -s cap2/run.pcapng ] && ! command -v tshark >/dev/null 2>&1; then
    ok # no tshark: nothing to read it with
elif [ -s cap2/run.pcapng ]; then
    ifs=$(cap_fields cap2/run.pcapng frame.interface_name | sort -u | sed 's/ nat .*//; s/ group .*//')
    [ "$(wc -l <<<"$ifs")" = 2 ] && grep -q '^core$' <<<"$ifs" && grep -q '^node 20 ' <<<"$ifs" && ok ||
        bad "node:20 + core: interfaces: $ifs"
    priv=$(cap_fields cap2/run.pcapng ip.src ip.dst frame.interface_name | grep -w core | grep -c -E '(^|[[:space:]])(192\.168|10)\.')
    [ "$priv" = 0 ] && ok || bad "core capture shows $priv private addresses"
else
    bad "node:20 + core: no capture"
fi
expect_error pcap-at 'pcap_at: expected comma-separated capture points' "$src/scenarios/baseline.json" \
    "${small[@]}" --pcap x.pcapng --pcap-at group:nobody
expect_error pcap-at-node 'expected node ids of nodes.csv, 0 to ' "$src/scenarios/baseline.json" \
    "${small[@]}" --pcap x.pcapng --pcap-at node:100000

# --print-resolved: the resolved scenario (--set applied), nothing run or
# written; printed again from its own output, the same bytes.
"$simrun" "$src/scenarios/baseline.json" --print-resolved --set population.clients=7 --out printed >resolved.json
rc=$?
[ "$rc" = 0 ] && grep -q '"clients":[[:space:]]*7,' resolved.json && grep -q '"timeseries_interval"' resolved.json &&
    ok || bad "--print-resolved: exit $rc: $(head -5 resolved.json)"
[ ! -e printed ] && ok || bad "--print-resolved wrote a results directory"
"$simrun" resolved.json --print-resolved | cmp -s - resolved.json && ok || bad "--print-resolved is not a fixed point"

# Interrupt: SIGINT at 90 s of virtual time.
"$simrun" "$src/scenarios/baseline.json" "${small[@]}" --seed 3 --out run4 --test-raise-sigint-at 90
rc=$?
[ "$rc" = 0 ] && ok || bad "interrupted run exited $rc"
grep -q '"interrupted":[[:space:]]*true' run4/results.json && ok || bad "interrupted run not marked"
grep -q '"simulated_s":[[:space:]]*90' run4/results.json && ok || bad "interrupted run did not stop at 90 s"

echo "simrun: $pass passed, $fail failed"
[ "$fail" = 0 ]
