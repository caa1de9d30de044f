#!/usr/bin/env bash
# The Wireshark dissector (tools/wireshark/skysim.lua) through tshark on
# captures of every shipped scenario (shortened): no malformed frame, no
# Lua error, no error-level expert note, and the dissector claims frames;
# on nat_heavy (captured at the access links and the core) the UDP message
# types of login and NAT detection are de-obfuscated (PROBE, PROBE_ACK,
# PING, PONG, STUN_ASSIST), NAcks, media datagrams (some scenario) and
# TCP hellos are decoded, and most
# envelopes on the core decode. Exit 77 (skipped) without tshark.
# Usage: check_wireshark.sh SIMRUN SOURCE_DIR
set -u
simrun=$1
src=$2
command -v tshark >/dev/null 2>&1 || { echo "skipped: tshark is not installed"; exit 77; }
. "$(dirname "$0")/check_lib.sh" # $work, ok, bad, pass, fail
cd "$work" || exit 2

# One tshark pass per capture, one line per frame, tab-separated:
# malformed, lua error, expert severity, skysim frame id, hello magic, TCP
# frame length, crc_ok, type, NAck port, interface name, function & 0x8f.
fields() {
    tshark -X "lua_script:$src/tools/wireshark/skysim.lua" -r "$1" -T fields -E occurrence=f \
        -e _ws.malformed -e _ws.lua.error -e _ws.expert.severity -e skysim.frame_id \
        -e skysim.hello.magic -e skysim.tcp.length -e skysim.crc_ok -e skysim.type \
        -e skysim.nack.seen_port -e frame.interface_name -e skysim.function.kind 2>/dev/null
}

# Shortened: 20 clients, 4 minutes without warm-up; the scheduled events
# of flash_crowd and supernode_failure are moved into those minutes.
for scn in "$src"/scenarios/*.json; do
    name=$(basename "$scn" .json)
    [ "$name" = schema ] && continue # the JSON Schema of the scenarios, not one
    ev=()
    case $name in
    flash_crowd) ev=(--set 'events[0].at="1min"' --set 'events[1].at="2min"') ;;
    supernode_failure) ev=(--set 'events[0].at="2min"') ;;
    esac
    "$simrun" "$scn" --quiet --duration 4min --set warmup=0 --set population.clients=20 "${ev[@]}" \
        --out "$name" --pcap run.pcapng --pcap-at access,core 2>/dev/null || { bad "$name: simrun exit $?"; continue; }
    fields "$name/run.pcapng" >"$name.tsv"
    # Severity error is 0x00800000 (8388608) in Wireshark's expert levels.
    errs=$(awk -F'\t' '$1 != "" || $2 != "" || $3 >= 8388608' "$name.tsv" | wc -l)
    claimed=$(awk -F'\t' '$4 != "" || $5 != "" || $6 != ""' "$name.tsv" | wc -l)
    echo "$name: $(wc -l <"$name.tsv") frames, $claimed dissected as skysim, $errs in error"
    [ "$errs" = 0 ] && ok || bad "$name: $errs frames malformed or in error"
    [ "$claimed" -gt 0 ] && ok || bad "$name: the dissector claims no frame"
done

# What the dissector decodes, on nat_heavy.
types=$(awk -F'\t' '$7 == 1 { print $8 }' nat_heavy.tsv | sort -un | tr '\n' ' ')
for t in 1 2 3 4 5; do
    grep -qw "$t" <<<"$types" && ok || bad "type $t never de-obfuscated (types seen: $types)"
done
awk -F'\t' '$9 > 0' nat_heavy.tsv | grep -q . && ok || bad "no NAck decoded"
cat ./*.tsv | awk -F'\t' '$11 == "0x0d" || $11 == 13' | grep -q . && ok || bad "no media datagram recognised"
awk -F'\t' '$5 != ""' nat_heavy.tsv | grep -q . && ok || bad "no TCP hello decoded"
# On the core every envelope carries the addresses its key was made from
# (except datagrams sent to a wrong address, which the receiver NAcks).
read -r yes no < <(awk -F'\t' '$10 == "core" && $7 == 1 { y++ } $10 == "core" && $7 == 0 { n++ }
                              END { print y + 0, n + 0 }' nat_heavy.tsv)
echo "nat_heavy core: $yes envelopes de-obfuscated, $no not"
[ "$yes" -gt $((4 * no)) ] && ok || bad "core: only $yes of $((yes + no)) envelopes de-obfuscated"

echo "wireshark dissector: $pass passed, $fail failed"
[ "$fail" = 0 ]
