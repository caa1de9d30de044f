#!/usr/bin/env python3
"""Kernel side of the NAT validation suite (run.sh builds the namespaces).

Runs every probe of probes.txt against real netfilter NATs and firewalls in
the namespaces PREFIX{wan,r1,r2,a,b,c}, with the same notation and the same
step timing as the model's natprobe tool (tests/natprobe.h), then prints the
kernel and model results side by side. Exit 0 when they agree everywhere
(or the difference is listed as "known"), 1 otherwise.

Usage: nsprobe.py PREFIX PROBES_FILE MODEL_RESULTS_FILE
"""
import ctypes
import os
import select
import socket
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
STEP = 0.05  # seconds per probe step, as natprobe's default
PUNCH = 0.6  # seconds of punching, as natprobe's default

INSIDE = ["A", "B", "C"]
OUTSIDE = ["X1", "X2", "Y1", "Y2"]
HOST_NS = {"A": "a", "B": "b", "C": "c"}
HOST_ADDR = {"A": "198.51.100.2", "B": "198.51.100.3", "C": "198.51.100.130"}
ROUTER_OF = {"A": "r1", "B": "r1", "C": "r2"}
ROUTER_ADDR = {"r1": "203.0.113.1", "r2": "203.0.113.2"}
OUT_EP = {"X1": ("203.0.113.10", 3478), "X2": ("203.0.113.10", 3479),
          "Y1": ("203.0.113.20", 3478), "Y2": ("203.0.113.20", 3479)}
PORT_IN = 5000

libc = ctypes.CDLL(None, use_errno=True)


def in_netns(name, fn):
    """Runs fn() with this thread in network namespace name; sockets made
    there stay in it."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
        return fn()
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(target)
        os.close(home)


def udp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.setblocking(False)
    return s


# iptables rules of each kind on a router (outside interface out, inside lan);
# {host}: the first inside host (static forward target), {wan}: own address.
RULES = {
    "linux_masquerade": ["-t nat -A POSTROUTING -o out -j MASQUERADE"],
    "linux_home_router": ["-t nat -A POSTROUTING -o out -j MASQUERADE",
                          "-A INPUT -i out -m conntrack --ctstate NEW,INVALID -j DROP",
                          "-A FORWARD -i out -m conntrack --ctstate NEW,INVALID -j DROP"],
    "linux_random_fully": ["-t nat -A POSTROUTING -o out -j MASQUERADE --random-fully"],
    "static_forward": ["-t nat -A PREROUTING -i out -j DNAT --to-destination {host}",
                       "-t nat -A POSTROUTING -o out -j SNAT --to-source {wan}"],
    "fw_stateful": ["-A FORWARD -i out -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP"],
    "fw_udp_blocked": ["-A FORWARD -p udp -j DROP",
                       "-A FORWARD -i out -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP"],
    "public": [],
}
NAT_KINDS = {"linux_masquerade", "linux_home_router", "linux_random_fully", "static_forward"}
# Routers the protocol's NAT detection finds keeping state for unsolicited
# packets (probe natdet_state); as natprobe.c, the punch order rests on it.
KEEPS_STATE = {"linux_masquerade"}


class Kernel:
    def __init__(self, prefix, timeouts):
        self.p = prefix
        self.timeouts = timeouts
        self.sk = {}
        for h in INSIDE:
            self.sk[h] = in_netns(prefix + HOST_NS[h], lambda: udp("0.0.0.0", PORT_IN))
        for o in OUTSIDE:
            self.sk[o] = in_netns(prefix + "wan", lambda o=o: udp(*OUT_EP[o]))
        self.by_fd = {s.fileno(): n for n, s in self.sk.items()}

    def sh(self, ns, script):
        subprocess.run(["ip", "netns", "exec", self.p + ns, "sh", "-ec", script], check=True,
                       stdout=subprocess.DEVNULL)

    def configure(self, kinds):
        """Router r1 gets kinds[0], r2 kinds[1]; all state from before goes.
        One shell per router: a probe costs two process starts, not twenty."""
        self.kinds = {"r1": kinds[0], "r2": kinds[1]}
        for r, first in (("r1", "A"), ("r2", "C")):
            lines = ["iptables -F", "iptables -t nat -F"]
            for rule in RULES[self.kinds[r]]:
                lines.append("iptables " + rule.format(host=HOST_ADDR[first], wan=ROUTER_ADDR[r]))
            lines.append("sysctl -qw net.netfilter.nf_conntrack_udp_timeout=%g "
                         "net.netfilter.nf_conntrack_udp_timeout_stream=%g" % self.timeouts)
            lines.append("conntrack -F 2>/dev/null || true")
            self.sh(r, "\n".join(lines))
        self.drain(0.02)

    def drain(self, wait):
        """Collects what arrives within wait seconds: list of (to, from_name, src)."""
        got = []
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            r, _, _ = select.select(list(self.sk.values()), [], [], max(left, 0))
            for s in r:
                while True:
                    try:
                        data, src = s.recvfrom(2048)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    got.append((self.by_fd[s.fileno()], data.decode(), src))
            if left <= 0:
                return got

    def send(self, frm, to):
        try:
            self.sk[frm].sendto(frm.encode(), to)
        except OSError:
            pass  # e.g. a firewall's reject reported back: the probe did not pass


class Run:
    """One probe sequence; the same rules as tests/natprobe.c."""

    def __init__(self, k):
        self.k = k
        self.obs = {}  # (observer or None, host) -> (addr, port)
        self.ports = []
        self.out = []
        self.punch_to = {}

    def note(self, got):
        for to, frm, src in got:
            if to in OUTSIDE and frm in INSIDE:
                self.obs[(to, frm)] = src
                self.obs[(None, frm)] = src
            if to in INSIDE:
                self.punch_to[to] = src
                self.heard.add(to)

    def believed(self, o, h):
        if (o, h) in self.obs:
            return self.obs[(o, h)]
        if (None, h) in self.obs:
            return self.obs[(None, h)]
        r = ROUTER_OF[h]
        if self.k.kinds[r] in NAT_KINDS:
            return (ROUTER_ADDR[r], PORT_IN)
        return (HOST_ADDR[h], PORT_IN)

    def port_token(self, port):
        if port == PORT_IN:
            return "="
        if port not in self.ports:
            self.ports.append(port)
        return "r%d" % (self.ports.index(port) + 1)

    def step(self, tok):
        self.heard = set()
        if tok.startswith("wait:"):
            self.note(self.k.drain(float(tok[5:])))
            return
        if tok == "punch":
            self.punch()
            return
        a, b = tok.split(">")
        if a in INSIDE:
            self.k.send(a, OUT_EP[b])
            got = self.k.drain(STEP)
            self.note(got)
            srcs = [src for to, frm, src in got if to == b and frm == a]
            self.out.append(self.port_token(srcs[-1][1]) if srcs else "-")
        else:
            self.k.send(a, self.believed(a, b))
            got = self.k.drain(STEP)
            self.note(got)
            who = "".join(h for h in INSIDE if any(to == h and frm == a for to, frm, _ in got))
            self.out.append(who or "-")

    def punch(self):
        self.punch_to = {"A": self.believed("X1", "C"), "C": self.believed("X1", "A")}
        heard = set()
        # The callee first, unless only the caller's router keeps state for
        # unsolicited packets: then the caller first and the callee holds.
        caller_first = (self.k.kinds["r1"] in KEEPS_STATE and
                        self.k.kinds["r2"] not in KEEPS_STATE)
        order = ("A", "C") if caller_first else ("C", "A")
        t = 0.0
        while t < PUNCH - 1e-9:
            for side in order:
                self.k.send(side, self.punch_to[side])
                self.heard = set()
                self.note(self.k.drain(0.05))
                heard |= self.heard
            t += 0.1
        self.heard = set()
        self.note(self.k.drain(STEP))
        heard |= self.heard
        self.out.append(("y" if "A" in heard else "n") + ("y" if "C" in heard else "n"))


def parse(path):
    kinds, timeouts, probes, known = [], (30, 120), [], {}
    for line in open(path):
        w = line.split("#", 1)[0].split()
        if not w:
            continue
        if w[0] == "kinds":
            kinds = w[1:]
        elif w[0] == "timeouts":
            timeouts = (float(w[1]), float(w[2]))
        elif w[0] == "known":
            known[(w[1], w[2], w[3])] = " ".join(w[4:])
        elif w[1] == "each":
            probes += [(w[0], k, "public", w[2:]) for k in kinds]
        elif w[1] == "pairs":
            probes += [(w[0], k1, k2, w[2:]) for k1 in kinds for k2 in kinds]
        else:
            probes.append((w[0], w[1], "public", w[2:]))
    return timeouts, probes, known


def main():
    prefix, probes_path, model_path = sys.argv[1:4]
    timeouts, probes, known = parse(probes_path)
    model = {}
    for line in open(model_path):
        w = line.split()
        model[(w[0], w[1], w[2])] = " ".join(w[3:])
    k = Kernel(prefix, timeouts)
    start = time.monotonic()
    rows, bad, known_n = [], 0, 0
    for name, k1, k2, steps in probes:
        k.configure((k1, k2))
        run = Run(k)
        for tok in steps:
            run.step(tok)
        kern = " ".join(run.out)
        mod = model.get((name, k1, k2), "(missing)")
        if kern == mod:
            verdict = "same"
        elif (name, k1, k2) in known:
            verdict = "known: " + known[(name, k1, k2)]
            known_n += 1
        else:
            verdict = "DIFFERENT"
            bad += 1
        rows.append((name, k1, k2 if k2 != "public" else "", kern, mod, verdict))
    head = ("probe", "router 1", "router 2", "kernel", "model", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    fmt = "  ".join("%%-%ds" % w for w in widths) + "  %s"
    print(fmt % head)
    for r in rows:
        print(fmt % r)
    print("%d probes, %d agree, %d known differences, %d different (%.0f s, kernel %s, "
          "UDP conntrack timeouts %g s / %g s)" % (
              len(rows), len(rows) - bad - known_n, known_n, bad, time.monotonic() - start,
              os.uname().release, timeouts[0], timeouts[1]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
