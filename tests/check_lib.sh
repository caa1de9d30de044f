# Sourced by the tests/check_*.sh scripts: a scratch directory removed on
# every exit path ($work), and the pass/fail counters with ok and bad
# (bad prints "FAIL: <what>").
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
