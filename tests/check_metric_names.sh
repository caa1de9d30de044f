#!/usr/bin/env bash
# Metric names are written once, in protocol/metric_table.h (the protocol's)
# and sim/world/simmetric.h (the simulator's); everything else refers to
# them by id. This check fails when C code in protocol/, sim/ or analysis/ spells one
# of those names (or the literal part of a family's pattern) as a string,
# comments aside, or looks a metric up or interns one by a literal.
set -u
root=${1:-${SKYSIM_SOURCE_DIR:-.}}
cd "$root" || exit 2
dirs="protocol sim analysis"
tables="protocol/metric_table.h sim/world/simmetric.h"
# One extended regex per name: a quoted scalar name ("login.success"), or
# a quoted string starting with a family's literal prefix ("call.path.).
pat=$(mktemp)
trap 'rm -f "$pat"' EXIT
grep -hoE '^[[:space:]]*X\([A-Z_0-9]+, "[^"]+"' $tables | sed -E 's/.*"([^"]+)"$/\1/' | sort -u |
    while IFS= read -r n; do
        lit=${n%%%s*}
        q=$(printf '%s' "$lit" | sed 's/[.[\*^$+?(){}|]/\\&/g')
        if [ "$lit" = "$n" ]; then printf '"%s"\n' "$q"; else printf '"%s\n' "$q"; fi
    done >"$pat"
[ -s "$pat" ] || { echo "metric names: no names found in $tables"; exit 2; }
printf '%s\n' '\b(metrics_find|metrics_intern|env_metric_intern)[[:space:]]*\([^;]*"' >>"$pat"
fail=0
for f in $(find $dirs -name '*.c' -o -name '*.h' | grep -vE '^(sim/world/simmetric|protocol/metric_table)\.' | sort); do
    hits=$(sed -e 's://.*$::' "$f" | perl -0pe 's{/\*.*?\*/}{ "\n" x ($& =~ tr/\n//) }gse' |
           grep -nEf "$pat")
    if [ -n "$hits" ]; then
        printf '%s: metric name retyped (use the id from the metric tables):\n%s\n' "$f" "$hits"
        fail=1
    fi
done
if [ "$fail" = 0 ]; then echo "metric names: 1 passed, 0 failed"; else echo "metric names: 0 passed, 1 failed"; fi
exit $fail
