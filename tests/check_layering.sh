#!/usr/bin/env bash
# The layering rules of DESIGN.md and STYLE.md §1 and §5, checked on the
# sources: protocol/ never includes sim/, sim/kernel never includes sim/net
# or higher, and protocol/ calls nothing nondeterministic or OS-like (it
# reaches the world only through protocol/env.h). Prints each violation
# with file and line; exits 1 if there is any.
set -u
root=${1:-${SKYSIM_SOURCE_DIR:-.}}
cd "$root" || exit 2
fail=0
report() { # label, grep output
    if [ -n "$2" ]; then
        printf '%s\n%s\n' "$1" "$2"
        fail=1
    fi
}
report "protocol/ includes sim/:" \
    "$(grep -rnE '#include[[:space:]]*"(\.\./)*sim/' protocol 2>/dev/null)"
report "protocol/base includes protocol/ modules above it:" \
    "$(grep -rnE '#include[[:space:]]*"protocol/[a-z_]+\.h"' protocol/base 2>/dev/null)"
report "sim/kernel includes sim/net, sim/world or protocol/ beyond base:" \
    "$(grep -rnE '#include[[:space:]]*"(sim/(net|world)|protocol/[a-z_]+\.h)' sim/kernel 2>/dev/null)"
report "sim/net includes sim/world or protocol/ beyond base:" \
    "$(grep -rnE '#include[[:space:]]*"(sim/world|protocol/[a-z_]+\.h)' sim/net 2>/dev/null)"
# Feature modules over the node plumbing (DESIGN.md "Inside protocol/"):
# each may include the plumbing (node.h, node_int.h), wire, crypto, env,
# the service modules hostcache, stun, media, mediapath, the metric table,
# base and its own headers,
# never another feature's. One line per converted feature: its files, then
# its own headers. Add a line when a feature is converted.
features='
loginsrv.c|loginsrv.h
websrv.c|websrv.h
client.c natdet.c client.h client_int.h|client.h client_int.h
supernode.c|supernode.h
search.c presence.c|search.h search_int.h
call.c relay.c gateway.c|call.h call_int.h
conf.c|conf.h
'
allowed='node|node_int|wire|crypto|env|hostcache|stun|media|mediapath|metric_table'
fhits=""
while IFS='|' read -r files own; do
    [ -n "$files" ] || continue
    own_re=$(printf '%s' "$own" | sed -e 's/\.h//g' -e 's/ /|/g')
    for f in $files; do
        h=$(grep -nE '#include[[:space:]]*"protocol/[a-z_]+\.h"' "protocol/$f" 2>/dev/null |
            grep -vE "\"protocol/($allowed|$own_re)\.h\"")
        [ -n "$h" ] && fhits="$fhits$(printf '%s' "$h" | sed "s|^|protocol/$f:|")"$'\n'
    done
done <<< "$features"
report "feature modules include other features:" "${fhits%$'\n'}"
# Calls forbidden in protocol/ (STYLE.md §5). Comments are stripped first.
# An allocation of a world-wide object (not per node) is allowed when its
# line says so with the comment "not per node".
forbidden='\b(time|clock_gettime|gettimeofday|rand|srand|random|getenv|fopen|printf|fprintf|puts|socket|sleep|usleep)[[:space:]]*\(|\bg_random_|\bg_get_(real|monotonic)_time\b|\bmalloc[[:space:]]*\(|\bg_malloc0?[[:space:]]*\(|\bg_new0?[[:space:]]*\('
hits=""
for f in $(find protocol -name '*.c' -o -name '*.h' | grep -v '^protocol/base/' | sort); do
    h=$(sed -e 's://.*$::' "$f" | perl -0pe 's{/\*.*?\*/}{ "\n" x ($& =~ tr/\n//) }gse' |
        grep -nE "$forbidden" | while IFS=: read -r n rest; do
            sed -n "${n}p" "$f" | grep -q 'not per node' || printf '%s:%s:%s\n' "$f" "$n" "$rest"
        done)
    [ -n "$h" ] && hits="$hits$h"$'\n'
done
report "forbidden calls in protocol/ (use env.h):" "${hits%$'\n'}"
# Mutable statics in protocol/ (static const is fine).
report "mutable static variables in protocol/:" \
    "$(grep -rnE '^[[:space:]]*static[[:space:]]+(volatile[[:space:]]+)?(unsigned|signed|int|long|short|char|bool|double|float|size_t|u?int[0-9]+_t|[A-Z][A-Za-z]+)[[:space:]*]+[a-z_][a-z_0-9]*[[:space:]]*(=|;|\[)' protocol 2>/dev/null | grep -v 'static const')"
if [ "$fail" = 0 ]; then echo "layering: 1 passed, 0 failed"; else echo "layering: 0 passed, 1 failed"; fi
exit $fail
