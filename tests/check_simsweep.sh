#!/usr/bin/env bash
# simsweep end to end: --help, bad input exits 2 with one line, a small
# sweep writes its table, a second call redoes nothing, SIGINT stops a sweep
# that a later call completes, and a simsweep without MPI (NOMPI: simsweep
# itself in a build without MPI) refuses a launcher's world of two ranks.
# The runs over MPI ranks are check_simsweep_mpi.sh.
# Usage: check_simsweep.sh SIMSWEEP SOURCE_DIR NOMPI
set -u
simsweep=$1
src=$2
nompi=$3
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
cd "$work" || exit 2

# A 2 x 2 sweep of 20 clients for one simulated minute.
cat >tiny.json <<JSON
{
  "base": "$src/scenarios/dedicated_supernodes.json",
  "parameters": [{"path": "supernodes.count", "values": [2, 5]}],
  "repetitions": 2,
  "set": ["population.clients=20", "duration=\"1min\"", "churn.ramp=\"10s\""],
  "metrics": ["headline.login_success_rate", "metrics.login.time_s.mean"],
  "out": "out"
}
JSON

table_complete() { grep -q '"complete":[[:space:]]*true' out/table.json && [ "$(wc -l <out/table.csv)" = 5 ]; }

# expect_error NAME EXPECTED_SUBSTRING ARGS...
expect_error() {
    local name=$1 want=$2
    shift 2
    local out rc
    out=$("$simsweep" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != 2 ]; then bad "$name: exit $rc, expected 2 ($out)"; return; fi
    if ! grep -qF -- "$want" <<<"$out"; then bad "$name: message '$out' lacks '$want'"; return; fi
    if [ "$(wc -l <<<"$out")" != 1 ]; then bad "$name: expected one line, got: $out"; return; fi
    ok
}

"$simsweep" --help | grep -q "Exit status: 0 done" && ok || bad "--help"

# A launcher's environment of two ranks (as mpirun sets it) without MPI:
# refused, exit 2, rank 0 says why, the other rank is silent, nothing runs.
for var in OMPI_COMM_WORLD PMI; do
    out=$(env "${var}_SIZE=2" "${var}_RANK=0" "$nompi" tiny.json 2>&1)
    rc=$?
    [ "$rc" = 2 ] && grep -q "built without MPI" <<<"$out" && [ "$(wc -l <<<"$out")" = 1 ] && ok ||
        bad "$var rank 0 of 2 without MPI: exit $rc: $out"
    out=$(env "${var}_SIZE=2" "${var}_RANK=1" "$nompi" tiny.json 2>&1)
    rc=$?
    [ "$rc" = 2 ] && [ -z "$out" ] && ok || bad "$var rank 1 of 2 without MPI: exit $rc: $out"
done
[ ! -e out ] && ok || bad "a refused rank wrote out/"
expect_error no-args "expected one sweep file"
expect_error bad-flag "Unknown option --frobnicate" --frobnicate tiny.json
expect_error missing "nope.json: cannot read: No such file or directory" nope.json
printf '{"base": "x.json", "repetitons": 3}' >typo.json
expect_error typo 'typo.json: $.repetitons: unknown key (did you mean "repetitions"?)' typo.json
sed 's/"values": \[2, 5\]/"values": [2, 0]/' tiny.json >zero.json
expect_error bad-point 'zero.json: $.parameters: point 1 (supernodes.count=0)' zero.json
sed 's/metrics.login.time_s.mean/metrics.login.time_x.mean/' tiny.json >metric.json
expect_error bad-metric 'did you mean "metrics.login.time_s.mean"?' metric.json --out out-metric

sed 's/"out": "out"/"name": "..\/..\/up", "out": "out"/' tiny.json >name.json
expect_error bad-name 'name.json: $.name: expected a name of 1 to 100 of the characters' name.json

"$simsweep" tiny.json --list | grep -q "p1    supernodes.count=5" && ok || bad "--list"
# --list names every seed: 5 repetitions, 5 seeds, no ellipsis.
sed 's/"repetitions": 2/"repetitions": 5/' tiny.json >five.json
"$simsweep" five.json --list | awk '$1 == "p0" { for (i = 1; i <= NF; i++) if ($i == "seeds") n = NF - i }
    END { exit !(n == 5) }' && ! "$simsweep" five.json --list | grep -q '\.\.\.' && ok || bad "--list seeds: $("$simsweep" five.json --list)"
out=$("$simsweep" tiny.json --jobs 2 2>&1)
[ $? = 0 ] && ok || bad "sweep: $out"
grep -q "4 run now, 0 reused" <<<"$out" && ok || bad "sweep summary: $out"
table_complete && ok || bad "table incomplete"
out=$("$simsweep" tiny.json 2>&1)
grep -q "0 run now, 4 reused" <<<"$out" && ok || bad "resume: $out"
# Derived seeds (15 or 16 digits) are written exactly, in the run and the table.
seed=$("$simsweep" tiny.json --list | awk '$1 == "p1" { print $(NF - 1) }')
grep -q "^	\"seed\":	$seed,\$" out/runs/p1-r0/results.json && ok || bad "seed $seed not exact in p1-r0"
grep -q "\"seeds\":.*\b$seed\b" out/table.json && ok || bad "seed $seed not exact in table.json"
# runs.csv: one row per run and metric (4 x 2), naming the run's directory
# and seed; the mean of a point's rows is the table's mean.
[ "$(head -1 out/runs.csv)" = "run,point,repetition,seed,supernodes.count,metric,value" ] && ok ||
    bad "runs.csv header: $(head -1 out/runs.csv)"
[ "$(wc -l <out/runs.csv)" = 9 ] && ok || bad "runs.csv rows: $(cat out/runs.csv)"
grep -q "^p1-r0,1,0,$seed,5,headline.login_success_rate," out/runs.csv && ok || bad "runs.csv p1-r0: $(cat out/runs.csv)"
m=$(awk -F, '$2 == 1 && $6 == "metrics.login.time_s.mean" { s += $7; n++ } END { printf "%.6g", s / n }' out/runs.csv)
t=$(awk -F, '$1 == 5 && $2 == "metrics.login.time_s.mean" { printf "%.6g", $4 }' out/table.csv)
[ -n "$m" ] && [ "$m" = "$t" ] && ok || bad "runs.csv mean $m vs table.csv mean $t"

# Interrupt: ten longer runs on one worker; SIGINT after the first second.
sed -e 's/"repetitions": 2/"repetitions": 5/' -e 's/1min/20min/' -e 's/"out": "out"/"out": "out-int"/' \
    tiny.json >long.json
"$simsweep" long.json --jobs 1 --quiet &
pid=$!
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 0 ] && ok || bad "interrupted sweep: exit $rc"
if grep -q '"complete":[[:space:]]*false' out-int/table-partial.json; then ok; else bad "interrupted table not marked incomplete"; fi
[ ! -e out-int/table.csv ] && [ ! -e out-int/table.json ] && ok || bad "interrupted sweep wrote table.csv/json"
[ -s out-int/runs-partial.csv ] && [ ! -e out-int/runs.csv ] && ok || bad "interrupted sweep: runs tables $(ls out-int)"
ls out-int/runs | grep -q tmp && bad "interrupted sweep left a temporary directory" || ok
out=$("$simsweep" long.json --jobs 2 2>&1)
grep -q "10 runs;" <<<"$out" && grep -q '"complete":[[:space:]]*true' out-int/table.json && ok ||
    bad "resumed sweep: $out"
[ ! -e out-int/table-partial.csv ] && [ ! -e out-int/runs-partial.csv ] && [ -s out-int/runs.csv ] && ok ||
    bad "complete sweep kept table-partial.csv or runs-partial.csv"

# A bad metric path is found after the first run, before the others run,
# and leaves no table.
[ "$(ls out-metric/runs | wc -l)" = 1 ] && ok || bad "bad metric: runs $(ls out-metric/runs)"
[ -z "$(ls out-metric | grep table)" ] && ok || bad "bad metric: a table was written: $(ls out-metric)"

# A failed run (its directory is a user's: refused, an input error, exit 2)
# leaves only a table named partial; the user's file stays.
sed 's/"out": "out"/"out": "out-fail"/' tiny.json >fail.json
mkdir -p out-fail/runs/p1-r0 && echo mine >out-fail/runs/p1-r0/mine.txt
out=$("$simsweep" fail.json --jobs 2 2>&1)
rc=$?
[ "$rc" = 2 ] && ok || bad "failed run: exit $rc: $out"
[ -f out-fail/table-partial.csv ] && [ ! -e out-fail/table.csv ] && ok || bad "failed run: tables $(ls out-fail)"
[ "$(cat out-fail/runs/p1-r0/mine.txt)" = mine ] && ok || bad "failed run: user's file lost"

# Lock, orphans: a long sweep holds out-lock/simsweep.lock; a second sweep
# on the same directory exits 2 naming its pid. Killed with SIGKILL, its
# workers die too (PR_SET_PDEATHSIG), and the next sweep takes the stale
# lock over with a note and discards the killed run's partial directory.
sed -e 's/"repetitions": 2/"repetitions": 1/' -e 's/1min/3h/' -e 's/"out": "out"/"out": "out-lock"/' \
    -e 's/population.clients=20/population.clients=300/' tiny.json >lock.json
"$simsweep" lock.json --jobs 2 --quiet &
pid=$!
for _ in $(seq 100); do [ -n "$(ls out-lock/runs 2>/dev/null | grep tmp)" ] && break; sleep 0.1; done
expect_error lock "is in use by another simsweep (pid $pid, lock out-lock/simsweep.lock)" lock.json
workers=$(pgrep -P $pid | tr '\n' ' ')
[ -n "$workers" ] && ok || bad "lock: no worker of $pid seen"
{ kill -KILL $pid && wait $pid; } 2>/dev/null
alive=""
for _ in $(seq 50); do
    alive=""
    for w in $workers; do kill -0 "$w" 2>/dev/null && alive="$alive $w"; done
    [ -z "$alive" ] && break
    sleep 0.1
done
[ -z "$alive" ] && ok || bad "orphan workers still running:$alive"
ls out-lock/runs | grep -q '\.tmp-' && ok || bad "killed sweep left no partial run to discard"
sed -i 's/3h/1min/; s/population.clients=300/population.clients=20/' lock.json
out=$("$simsweep" lock.json --jobs 2 2>&1)
rc=$?
[ "$rc" = 0 ] && ok || bad "after kill: exit $rc: $out"
grep -q "note: taking over the lock out-lock/simsweep.lock of pid $pid" <<<"$out" && ok || bad "stale lock: $out"
ls out-lock/runs | grep -q -e '\.tmp-' -e '\.old-' && bad "partial run not discarded: $(ls out-lock/runs)" || ok
[ ! -e out-lock/simsweep.lock ] && ok || bad "lock file left after the sweep"
grep -q '"complete":[[:space:]]*true' out-lock/table.json && ok || bad "after kill: table incomplete"

echo "simsweep: $pass passed, $fail failed"
[ "$fail" = 0 ]
