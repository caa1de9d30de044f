#!/usr/bin/env bash
# Kernel vs model: builds network namespaces with real netfilter NATs and
# firewalls, runs the probe sequences of probes.txt against them
# (nsprobe.py) and against the model (the natprobe tool), and prints one
# side-by-side table. Exit 0 when every cell agrees (or is a listed known
# difference), 1 otherwise, 77 (skipped) when it cannot run here: not root,
# no network namespaces, or a tool missing.
#
# Usage: tests/netns/run.sh PATH/TO/natprobe
#
# Topology (TEST-NET addresses only, traffic only between these namespaces):
#   wan: bridge with X = 203.0.113.10 and Y = 203.0.113.20 (ports 3478/3479)
#   r1:  router, outside 203.0.113.1, inside 198.51.100.1/25: hosts a (.2), b (.3)
#   r2:  router, outside 203.0.113.2, inside 198.51.100.129/25: host c (.130)
# Every namespace and interface is deleted on every exit path (trap).
set -u

here=$(cd "$(dirname "$0")" && pwd)
natprobe=${1:-}

skip() { echo "SKIP: $*"; exit 77; }

[ -n "$natprobe" ] && [ -x "$natprobe" ] || { echo "usage: $0 PATH/TO/natprobe" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, iptables, sysctl)"
for t in ip iptables conntrack python3 sysctl; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not installed (see .ci/debian-packages)"
done

p="skyn$$"                  # namespace prefix, unique per run
ns=(wan r1 r2 a b c)
created=()

cleanup() {
    local n
    for n in "${created[@]}"; do ip netns del "$p$n" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "${p}probe" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "${p}probe"
for n in "${ns[@]}"; do
    ip netns add "$p$n" || { echo "cannot create namespace $p$n" >&2; exit 1; }
    created+=("$n")
    ip -n "$p$n" link set lo up
done

x() { ip netns exec "$p$1" "${@:2}"; }

# A veth between namespaces $1 and $2, named $3 on both sides.
veth() { ip link add "$3" netns "$p$1" type veth peer name "$3" netns "$p$2"; }

set -e
# wan: a bridge joining X/Y and both routers' outside interfaces.
x wan ip link add br0 type bridge
x wan ip link set br0 up
x wan ip addr add 203.0.113.10/24 dev br0
x wan ip addr add 203.0.113.20/24 dev br0
for r in r1 r2; do
    veth wan "$r" "w$r"
    x wan ip link set "w$r" master br0 up
done
x r1 ip link set wr1 name out
x r2 ip link set wr2 name out
x r1 ip addr add 203.0.113.1/24 dev out
x r2 ip addr add 203.0.113.2/24 dev out
# Inside host addresses are public TEST-NET ones so that the firewall kinds
# (no NAT) are reachable; the NAT kinds are only ever probed at the router.
x wan ip route add 198.51.100.0/25 via 203.0.113.1
x wan ip route add 198.51.100.128/25 via 203.0.113.2

# r1's LAN: a bridge with a and b; r2's: c.
x r1 ip link add lan type bridge
x r1 ip addr add 198.51.100.1/25 dev lan
x r2 ip link add lan type bridge
x r2 ip addr add 198.51.100.129/25 dev lan
inside() { # host router address gateway
    veth "$2" "$1" "h$1"
    x "$2" ip link set "h$1" master lan up
    x "$1" ip link set "h$1" name e
    x "$1" ip addr add "$3" dev e
    x "$1" ip link set e up
    x "$1" ip route add default via "$4"
}
inside a r1 198.51.100.2/25 198.51.100.1
inside b r1 198.51.100.3/25 198.51.100.1
inside c r2 198.51.100.130/25 198.51.100.129
for r in r1 r2; do
    x "$r" ip link set out up
    x "$r" ip link set lan up
    x "$r" sysctl -qw net.ipv4.ip_forward=1
done
# The routers reach each other's inside (the firewall kinds are routed).
x r1 ip route add 198.51.100.128/25 via 203.0.113.2
x r2 ip route add 198.51.100.0/25 via 203.0.113.1
set +e

model=$(mktemp)
child=
trap 'rm -f "$model"; [ -n "$child" ] && kill "$child" 2>/dev/null; cleanup' EXIT
"$natprobe" "$here/probes.txt" >"$model" || { echo "natprobe failed" >&2; exit 1; }
# In the background so that a signal interrupts `wait` and the trap runs at
# once (bash defers traps while a foreground command runs).
python3 "$here/nsprobe.py" "$p" "$here/probes.txt" "$model" &
child=$!
wait "$child"
rc=$?
child=
exit $rc
