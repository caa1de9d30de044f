#!/usr/bin/env bash
# simsweep over MPI ranks. The same small sweep runs on the local cores and
# under `mpirun -np 2`; the two ranks share the runs (rank 0 reports its
# half), rank 0 writes the table, and table.csv is byte for byte the local
# one; a second mpirun reuses every run. A simsweep without MPI (NOMPI)
# started by mpirun as two ranks exits 2 and runs nothing.
# MPIRUN empty: simsweep was built without MPI, skipped (exit 77) with the
# reason. Any other failure, a missing launcher included, fails.
# Usage: check_simsweep_mpi.sh SIMSWEEP NOMPI SOURCE_DIR MPIRUN
set -u
simsweep=$1
nompi=$2
src=$3
mpirun=$4
if [ -z "$mpirun" ]; then
    echo "skipped: simsweep was built without MPI (cmake printed \"MPI support: OFF\"; install the" \
         "Debian packages openmpi-bin and libopenmpi-dev and configure again)"
    exit 77
fi
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
cd "$work" || exit 2

# A 2 x 2 sweep of 20 clients for one simulated minute.
cat >tiny.json <<JSON
{
  "base": "$src/scenarios/dedicated_supernodes.json",
  "parameters": [{"path": "supernodes.count", "values": [2, 5]}],
  "repetitions": 2,
  "set": ["population.clients=20", "duration=\"1min\"", "churn.ramp=\"10s\""],
  "metrics": ["headline.login_success_rate", "metrics.login.time_s.mean",
              "metrics.search.latency_s.mean"]
}
JSON

# Open MPI's plugins leak at exit (LeakSanitizer in ASan builds); the local
# sweeps of check_simsweep.sh cover our own leaks. Root needs the launcher's
# consent; two ranks on a smaller machine need --oversubscribe.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
flags=(-np 2 --oversubscribe -x ASAN_OPTIONS)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)

out=$("$simsweep" tiny.json --out local --jobs 2 --quiet 2>&1)
[ $? = 0 ] && ok || bad "local sweep: $out"

out=$("$mpirun" "${flags[@]}" "$simsweep" tiny.json --out mpi --jobs 1 2>&1)
rc=$?
[ "$rc" = 0 ] && ok || bad "mpirun: exit $rc: $out"
grep -q "2 run now, 0 reused by rank 0" <<<"$out" && ok || bad "mpirun: rank 0 did not run half: $out"
grep -q '"complete":[[:space:]]*true' mpi/table.json && ok || bad "mpirun: table incomplete"
[ "$(ls mpi/runs | wc -l)" = 4 ] && ok || bad "mpirun: runs: $(ls mpi/runs)"
[ "$(wc -l <mpi/table.csv)" = 7 ] && ok || bad "mpirun: table.csv: $(cat mpi/table.csv)"
if cmp local/table.csv mpi/table.csv; then ok; else
    bad "table.csv over MPI differs from the local one: $(diff local/table.csv mpi/table.csv)"
fi
cmp -s local/runs.csv mpi/runs.csv && ok || bad "runs.csv over MPI differs from the local one"
out=$("$mpirun" "${flags[@]}" "$simsweep" tiny.json --out mpi 2>&1)
grep -q "0 run now, 2 reused" <<<"$out" && ok || bad "mpirun again: $out"

out=$("$mpirun" "${flags[@]}" "$nompi" tiny.json --out nompi 2>&1)
rc=$?
[ "$rc" = 2 ] && ok || bad "simsweep without MPI under mpirun: exit $rc, expected 2: $out"
[ "$(grep -c "built without MPI" <<<"$out")" = 1 ] && ok || bad "no single refusal: $out"
[ ! -e nompi ] && ok || bad "simsweep without MPI under mpirun wrote nompi/"

echo "simsweep over MPI: $pass passed, $fail failed"
[ "$fail" = 0 ]
