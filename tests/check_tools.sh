#!/usr/bin/env bash
# Every front end on GOption: --version prints "TOOL (skysim) VERSION" and
# the commit, build and library lines, exit 0; --help exits 0; neither
# writes a file (simcalibrate used to write one named "--help"); an unknown
# option exits 2 with one line naming the tool; results.json records the
# same build information under engine.build.
# Usage: check_tools.sh BUILD_DIR VERSION
set -u
bin=$1
want_version=$2
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
for tool in simrun simsweep simplot simcheck simcalibrate simbench; do
    exe=$bin/$tool
    [ -x "$exe" ] || exe=$(find "$bin" -name "$tool" -type f -perm -u+x | head -1)
    if [ -z "$exe" ] || [ ! -x "$exe" ]; then bad "$tool: not built"; continue; fi
    mkdir -p "$work/$tool" && cd "$work/$tool" || exit 2
    out=$("$exe" --version 2>&1)
    rc=$?
    first=$(head -1 <<<"$out")
    if [ "$rc" != 0 ]; then bad "$tool --version: exit $rc"; 
    elif [ "$first" != "$tool (skysim) $want_version" ]; then bad "$tool --version: first line '$first'";
    elif ! grep -qE '^commit ([0-9a-f]{12}(-dirty)?|unknown)$' <<<"$out"; then bad "$tool --version: no commit line";
    elif ! grep -q '^libraries glib [0-9]' <<<"$out"; then bad "$tool --version: no libraries line";
    else ok; fi
    "$exe" --help >/dev/null 2>&1
    rc=$?
    if [ "$rc" != 0 ]; then bad "$tool --help: exit $rc"; else ok; fi
    if [ -n "$(ls -A .)" ]; then bad "$tool: --version/--help wrote files: $(ls -A .)"; else ok; fi
    out=$("$exe" --no-such-option 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != 2 ]; then bad "$tool --no-such-option: exit $rc, expected 2";
    elif [ "$(wc -l <<<"$out")" != 1 ] || ! grep -q "^$tool: " <<<"$out"; then bad "$tool --no-such-option: '$out'";
    else ok; fi
    cd "$work" || exit 2
done
# results.json carries the same build information.
src=$(cd "$(dirname "$0")/.." && pwd)
if "$bin/simrun" "$src/scenarios/baseline.json" --quiet --duration 1min --set population.clients=10 \
    --out "$work/run" >/dev/null 2>&1; then
    v=$(python3 -c "import json,sys; b=json.load(open(sys.argv[1]))['engine']['build']; print(b['version'], b['commit'] != '', 'glib' in b['libraries'])" "$work/run/results.json" 2>&1)
    if [ "$v" = "$want_version True True" ]; then ok; else bad "results.json engine.build: $v"; fi
else
    bad "simrun small run failed"
fi
echo "tools: $pass passed, $fail failed"
[ "$fail" = 0 ]
