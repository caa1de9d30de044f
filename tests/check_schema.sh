#!/usr/bin/env bash
# The JSON Schemas of scenario and sweep files (scenarios/README.md,
# "Editor support"): the committed scenarios/schema.json and
# analysis/sweeps/schema.json are byte for byte what simrun --print-schema
# and simsweep --print-schema make from the readers' key tables; every
# shipped scenario and sweep validates against its schema with a real
# validator (Debian's python3-jsonschema); and mutated copies (a misspelt
# key, a value out of range, a word not among the choices, a wrong type)
# fail both the schema and the program's own reader (exit 2).
# Usage: check_schema.sh BUILD_DIR SOURCE_DIR
set -u
bin=$1
src=$2
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail

# Debian's python3 first (python3-jsonschema), else whatever python3 has it.
py=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import jsonschema' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "FAIL: no python3 with jsonschema (Debian: apt-get install python3-jsonschema)"
    exit 1
fi

# 1. The committed schemas are the generated ones.
"$bin/simrun" --print-schema > "$work/scenario.schema.json" || bad "simrun --print-schema: exit $?"
"$bin/simsweep" --print-schema > "$work/sweep.schema.json" || bad "simsweep --print-schema: exit $?"
for pair in "scenario:scenarios/schema.json" "sweep:analysis/sweeps/schema.json"; do
    kind=${pair%%:*} file=${pair#*:}
    if cmp -s "$work/$kind.schema.json" "$src/$file"; then ok; else
        bad "$file differs from what the $kind reader's tables give; regenerate it:" \
            "./build/$([ "$kind" = scenario ] && echo simrun || echo simsweep) --print-schema > $file"
    fi
done

# --print-schema takes no file: one line, exit 2.
for tool in simrun simsweep; do
    out=$("$bin/$tool" --print-schema x.json 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "^$tool: --print-schema: expected no" <<<"$out"; then ok
    else bad "$tool --print-schema x.json: exit $rc, '$out'"; fi
done

# 2. Shipped files validate; 3. mutated ones do not. The validator prints
# one line per file: "ok NAME" or "invalid NAME: message".
cat > "$work/validate.py" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
for f in sys.argv[2:]:
    errs = sorted(v.iter_errors(json.load(open(f))), key=lambda e: list(e.path))
    print(("ok %s" % f) if not errs else
          "invalid %s: $.%s: %s" % (f, ".".join(map(str, errs[0].path)), errs[0].message[:200]))
PY
validate() { "$py" "$work/validate.py" "$@" 2>&1; }

scenarios=()
for f in "$src"/scenarios/*.json; do [ "$(basename "$f")" = schema.json ] || scenarios+=("$f"); done
sweeps=()
for f in "$src"/analysis/sweeps/*.json; do [ "$(basename "$f")" = schema.json ] || sweeps+=("$f"); done
[ ${#scenarios[@]} -ge 10 ] && ok || bad "only ${#scenarios[@]} scenarios found"
[ ${#sweeps[@]} -ge 2 ] && ok || bad "only ${#sweeps[@]} sweeps found"
while read -r line; do
    case $line in ok\ *) ok ;; *) bad "shipped file fails its schema: $line" ;; esac
done < <(validate "$src/scenarios/schema.json" "${scenarios[@]}"; validate "$src/analysis/sweeps/schema.json" "${sweeps[@]}")

# mutate SRC OUT PYTHON-STATEMENT-ON-d: a copy of SRC with one change.
mutate() {
    "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(d, open(sys.argv[2], "w"), indent=1)' "$@"
}
n=0
while IFS='|' read -r what change; do
    n=$((n + 1))
    m="$work/scn-$n.json" # baseline names no file, so the copy may live elsewhere
    mutate "$src/scenarios/baseline.json" "$m" "$change"
    out=$(validate "$src/scenarios/schema.json" "$m")
    case $out in invalid\ *) ok ;; *) bad "scenario mutation ($what) passes the schema: $out" ;; esac
    "$bin/simrun" "$m" --print-resolved >/dev/null 2>&1
    rc=$?
    [ "$rc" = 2 ] && ok || bad "scenario mutation ($what): simrun exit $rc, expected 2"
done <<'EOF'
misspelt top-level key|d["populaton"] = d.pop("population")
client count out of range|d["population"]["clients"] = 0
unknown churn model|d.setdefault("churn", {})["model"] = "weibull"
loss of 1|d.setdefault("network", {})["loss"] = 1
keepalive not a duration|d.setdefault("protocol", {})["keepalive"] = "ten seconds"
unknown key in a group|d["population"]["groups"][0]["uplink"] = "1Mbit"
distribution without its parameter|d.setdefault("churn", {})["session"] = {"dist": "weibull", "shape": 0.5}
cpu speed factor out of range|d["population"]["groups"][0]["cpu"] = 65
EOF
n=0
while IFS='|' read -r what change; do
    n=$((n + 1))
    m="$work/sweep-$n.json"
    base=$(cd "$src/analysis/sweeps" && cd "$(dirname "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"])' supernode_density.json)")" && pwd)
    mutate "$src/analysis/sweeps/supernode_density.json" "$m" \
        "d['base'] = '$base/' + d['base'].rsplit('/', 1)[-1]; $change"
    out=$(validate "$src/analysis/sweeps/schema.json" "$m")
    case $out in invalid\ *) ok ;; *) bad "sweep mutation ($what) passes the schema: $out" ;; esac
    "$bin/simsweep" "$m" --list >/dev/null 2>&1
    rc=$?
    [ "$rc" = 2 ] && ok || bad "sweep mutation ($what): simsweep exit $rc, expected 2"
done <<'EOF'
misspelt key|d["repetition"] = d.pop("repetitions")
no repetitions|d["repetitions"] = 0
unknown combine|d["combine"] = "product"
parameter with values and range|d["parameters"][0]["range"] = {"from": 1, "to": 3, "step": 1}
metric outside results.json|d["metrics"] = ["headlines.login_success_rate"]
EOF

echo "schema: $pass passed, $fail failed"
[ "$fail" = 0 ]
