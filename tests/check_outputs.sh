#!/usr/bin/env bash
# simrun's output contract, one check per clause:
# - it writes only into a directory it creates, an empty one, or one that
#   holds the .skysim-results marker of an earlier result; a user's
#   directory or a plain file is refused with exit 2 and one line naming
#   it, before the run starts, and left as it was;
# - an earlier result is replaced as a whole, plots/ included, and nothing
#   .tmp- or .old- stays behind (the rename order is tested in
#   test_results.c);
# - a file error found while building the world leaves no results/;
# - output file names (--pcap, --trace, outputs.*) are plain names, not
#   one another and not a file the run writes itself: exit 2 at start-up;
# - the scenario name (part of results/NAME-SEED) is of a safe character
#   set: exit 2 naming $.name (sweep names: check_simsweep.sh);
# - seeds are exact: --seed is 0 to 2^53-1 (else exit 2), a 16-digit seed
#   is written with all its digits, and the resolved scenario taken from
#   results.json runs again to the same bytes;
# - nodes.csv maps every id of the event trace to a role, group, addresses
#   and true NAT type.
# Usage: check_outputs.sh SIMRUN SOURCE_DIR
set -u
simrun=$1
src=$2
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
small=(--set population.clients=20 --duration 1min --set warmup=0 --quiet)
base=$src/scenarios/baseline.json

# expect_error NAME EXPECTED_SUBSTRING ARGS...: exit 2 and one line.
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
# no_leftovers NAME: no temporary or set-aside directory in the work folder.
no_leftovers() {
    if ls -d ./*.tmp-* ./*.old-* >/dev/null 2>&1; then bad "$1: left $(ls -d ./*.tmp-* ./*.old-*)"; else ok; fi
}

cd "$work" || exit 2

# A user's directory: refused before the run (a run of an hour of 10^5
# clients would take minutes; the refusal is immediate), files kept.
mkdir thesis && echo '\documentclass{article}' >thesis/thesis.tex && echo notes >thesis/notes.txt
expect_error user-dir "refusing to write into thesis: it exists and is not a skysim results directory" \
    "$base" --quiet --set population.clients=100000 --out thesis
[ "$(ls -A thesis | tr '\n' ' ')" = "notes.txt thesis.tex " ] && ok || bad "user-dir: files now $(ls -A thesis)"
grep -qx '\\documentclass{article}' thesis/thesis.tex && ok || bad "user-dir: thesis.tex changed"
# The same with a subfolder (it used to fail only after the run).
mkdir -p thesis2/figs
expect_error user-subdir "refusing to write into thesis2" "$base" "${small[@]}" --out thesis2
[ -d thesis2/figs ] && ok || bad "user-subdir: figs/ gone"
# A plain file.
echo keep >plain.txt
expect_error plain-file "refusing to write into plain.txt: it exists and is not a directory" \
    "$base" "${small[@]}" --out plain.txt
[ "$(cat plain.txt)" = keep ] && ok || bad "plain-file: changed"
no_leftovers refused

# A new directory gets the marker; an empty directory is accepted.
"$simrun" "$base" "${small[@]}" --out run || bad "run: exit $?"
[ -f run/.skysim-results ] && ok || bad "run: no marker"
mkdir empty
"$simrun" "$base" "${small[@]}" --out empty && [ -s empty/results.json ] && ok || bad "empty dir not accepted"

# An earlier result with plots/ (as simplot leaves it) is replaced as a whole.
mkdir run/plots && echo png >run/plots/login.png
cp run/results.json first.json
"$simrun" "$base" "${small[@]}" --seed 9 --out run
rc=$?
[ "$rc" = 0 ] && ok || bad "replace: exit $rc"
[ ! -e run/plots ] && [ -f run/.skysim-results ] && ok || bad "replace: $(ls -A run)"
grep -q '"seed":[[:space:]]*9' run/results.json && ok || bad "replace: old results.json still there"
no_leftovers replace

# A file error at world build (a bad coordinate file) leaves no results/.
cp "$src/tests/data/net/coords_bad.syscoord" .
cat >coords.json <<'JSON'
{ "name": "coords", "network": { "latency": { "model": "coordinates", "file": "coords_bad.syscoord" } } }
JSON
expect_error world-file "coords_bad.syscoord:4" coords.json "${small[@]}"
[ ! -e results ] && ok || bad "world-file: left $(find results)"

# Output file names: plain, distinct, not the run's own; nothing written.
expect_error pcap-abs '$.outputs.pcap: expected a plain file name' "$base" "${small[@]}" --pcap /tmp/x.pcap
expect_error pcap-dir '$.outputs.pcap: expected a plain file name' "$base" "${small[@]}" --pcap sub/x.pcap
expect_error pcap-dotdot '$.outputs.pcap: expected a plain file name' "$base" "${small[@]}" --pcap ..
expect_error pcap-results 'found "results.json"' "$base" "${small[@]}" --pcap results.json
expect_error trace-ts 'found "timeseries.csv"' "$base" "${small[@]}" --trace timeseries.csv
expect_error trace-samples 'found "samples.csv"' "$base" "${small[@]}" --trace samples.csv
expect_error trace-nodes 'found "nodes.csv"' "$base" "${small[@]}" --trace nodes.csv
expect_error trace-marker 'found ".skysim-results"' "$base" "${small[@]}" --trace .skysim-results
expect_error trace-envtrace 'found "envtrace-20.log"' "$base" "${small[@]}" --trace envtrace-20.log --trace-env 20
expect_error trace-is-pcap '$.outputs.trace: expected a file name other than that of outputs.pcap; found "x"' \
    "$base" "${small[@]}" --trace x --pcap x
printf '{ "name": "o", "outputs": { "pcap": "../escape.pcap" } }' >outputs.json
expect_error outputs-key 'outputs.json: $.outputs.pcap: expected a plain file name' outputs.json "${small[@]}"

# Scenario names: the JSON path is named, nothing is written anywhere.
for n in '../../skysim-escape' '/abs/x' '.hidden' 'two\nlines' 'esc\u001b[31m' 'sp ace'; do
    printf '{ "name": "%s" }' "$n" >named.json
    expect_error "name $n" 'named.json: $.name: expected a name of 1 to 100 of the characters' named.json "${small[@]}"
done
expect_error name-set '$.name: expected a name of' "$base" "${small[@]}" --set 'name="../up"'
# A default name from an odd file name is made safe, not refused.
printf '{ "description": "no name" }' >"odd name.json"
"$simrun" "odd name.json" "${small[@]}" --seed 2 && [ -f results/odd_name-2/results.json ] && ok ||
    bad "odd file name: $(ls results 2>&1)"
rm -rf results
# results/NAME-SEED with NAME "../../skysim-escape" would be ../skysim-escape-SEED.
escaped=$(ls -d ../skysim-escape* /abs 2>/dev/null)
[ -z "$escaped" ] && ok || bad "a name wrote outside the work folder: $escaped"
[ -z "$(ls -A | grep -v -e '^thesis' -e '^plain.txt$' -e '^run$' -e '^empty$' -e '\.json$' -e '^coords')" ] && ok ||
    bad "bad names left: $(ls -A)"

# Seeds.
expect_error seed-negative '--seed: expected an integer from 0 to 9007199254740991; found "-5"' \
    "$base" "${small[@]}" --seed -5
expect_error seed-2p53 'found "9007199254740992"' "$base" "${small[@]}" --seed 9007199254740992
expect_error seed-2p64 'found "18446744073709551616"' "$base" "${small[@]}" --seed 18446744073709551616
printf '{ "seed": 9007199254740993 }' >bigseed.json
expect_error seed-json 'bigseed.json: $.seed: expected an integer from 0 to 9007199254740991' bigseed.json "${small[@]}"
seed=6814627519747841 # 16 digits, as sweeps derive them
"$simrun" "$base" "${small[@]}" --seed $seed --out exact || bad "exact: exit $?"
[ "$(grep -c "\"seed\":[[:space:]]*$seed,\$" exact/results.json)" = 2 ] && ok ||
    bad "exact: seed not written exactly: $(grep '"seed"' exact/results.json)"
# The resolved scenario, cut out of results.json, runs to the same bytes.
sed -n '/^\t"scenario":/,/^\t},$/p' exact/results.json | sed -e '1s/^\t"scenario":[[:space:]]*//' -e '$s/,$//' >resolved.json
"$simrun" resolved.json --quiet --out again || bad "resolved: exit $?"
strip() { sed '/"engine"/,$d' "$1"; }
cmp -s <(strip exact/results.json) <(strip again/results.json) && ok || bad "resolved scenario runs differently"
for f in timeseries.csv samples.csv nodes.csv; do cmp -s exact/$f again/$f && ok || bad "resolved scenario: $f differs"; done

# nodes.csv: one row per server and client (20 clients, 9 servers in the
# baseline), unique ids, dotted addresses, a true NAT type; every id the
# event trace names is in it.
"$simrun" "$base" "${small[@]}" --trace events.csv --out mapped || bad "mapped: exit $?"
[ "$(head -1 mapped/nodes.csv)" = "node,role,group,inside_addr,outside_addr,true_nat" ] && ok ||
    bad "nodes.csv header: $(head -1 mapped/nodes.csv)"
[ "$(grep -c ',client,' mapped/nodes.csv)" = 20 ] && ok || bad "nodes.csv: clients: $(cat mapped/nodes.csv)"
awk -F, 'NR > 1 && !($1 ~ /^[0-9]+$/ && $4 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ &&
    $5 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ && $6 != "") { print "bad row " NR ": " $0; exit 1 }
    NR > 1 && seen[$1]++ { print "duplicate id " $1; exit 1 }' mapped/nodes.csv && ok || bad "nodes.csv rows"
ids=$(cut -d, -f2 mapped/events.csv | sort -u)
missing=$(for i in $ids; do grep -q "^$i," mapped/nodes.csv || echo "$i"; done)
[ -n "$ids" ] && [ -z "$missing" ] && ok || bad "trace ids not in nodes.csv: '$missing' (ids: $ids)"

echo "outputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
