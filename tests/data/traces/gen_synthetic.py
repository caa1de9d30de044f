#!/usr/bin/env python3
"""Writes the synthetic churn traces synthetic.{avail,csv,fta} (tests/data/traces/README.md).

The same sessions in the three formats: 250 nodes observed over 2,400 s;
each node starts online with probability 0.6, online times are exponential
with mean 600 s, offline times exponential with mean 900 s, times rounded
to 0.1 s; a session running at the end of the window ends at 2,400 s. The
FTA file is in epoch seconds from 1262304000 (2010-01-01 00:00 UTC), with
its unavailability (event_type 0) rows too. Deterministic: fixed seed.
Usage: python3 gen_synthetic.py  (writes into the current directory)
"""
import random

NODES, WINDOW, EPOCH = 250, 2400.0, 1262304000
rng = random.Random(7)


def sessions():
    out = []
    for _ in range(NODES):
        t, on, iv = 0.0, rng.random() < 0.6, []
        while t < WINDOW:
            d = round(rng.expovariate(1 / (600.0 if on else 900.0)), 1)
            end = min(t + max(d, 0.1), WINDOW)
            if on:
                iv.append((round(t, 1), round(end, 1)))
            t, on = end, not on
        out.append(iv)
    return out


def fmt(x):
    return ("%.1f" % x).rstrip("0").rstrip(".")


def main():
    nodes = sessions()
    names = ["n%03d" % i for i in range(NODES)]
    with open("synthetic.avail", "w") as f:
        f.write("# Synthetic availability trace (gen_synthetic.py): node t_up t_down ... in seconds\n")
        for name, iv in zip(names, nodes):
            f.write(" ".join([name] + [fmt(x) for a in iv for x in a]) + "\n")
    events = []
    for k, (name, iv) in enumerate(zip(names, nodes)):
        for a, b in iv:
            events.append((a, k, name, "up"))
            events.append((b, k, name, "down"))
    events.sort(key=lambda e: (e[0], e[1], e[3] == "up"))
    with open("synthetic.csv", "w") as f:
        f.write("# Synthetic CSV churn trace (gen_synthetic.py)\nnode,time,state\n")
        # a node's first event decides its number: keep n000 ... first by
        # listing, at time 0, every node once (a "down" changes nothing)
        for name in names:
            f.write("%s,0,down\n" % name)
        for t, _, name, st in events:
            f.write("%s,%s,%s\n" % (name, fmt(t), st))
    with open("synthetic.fta", "w") as f:
        f.write("# Synthetic FTA event_trace (gen_synthetic.py), epoch seconds\n")
        f.write("event_id\tcomponent_id\tnode_id\tplatform_id\tnode_name\tevent_type\t"
                "event_start_time\tevent_stop_time\tevent_end_reason\n")
        eid = 1
        for k, iv in enumerate(nodes):
            t = 0.0
            for a, b in iv + [(WINDOW, WINDOW)]:
                for typ, s, e in ((0, t, a), (1, a, b)):
                    if e > s:
                        f.write("%d\t%d\t%d\t1\tn%03d\t%d\t%s\t%s\t\n"
                                % (eid, k + 1, k + 1, k, typ, fmt(EPOCH + s), fmt(EPOCH + e)))
                        eid += 1
                t = b


if __name__ == "__main__":
    main()
