#!/usr/bin/env python3
"""Change-to-screen lag of a scale run (see scripts/scale-run.sh).

    scale-lag.py SANDBOX_LOG TUI_LOG FROM_MS TO_MS

Joins four logs: the sandbox's "churn write" lines (side, kind, resourceVersion, wall time),
the TUI's "published" lines (newest resourceVersion per side and kind in each snapshot), its
"rows for snapshot" lines (which snapshot each row computation used) and its "frame drawn"
lines. A write's lag is the time from the write to the first frame drawn from a snapshot that
contains it. Prints "median / p99 / max ms (n=…, not drawn=…)".
"""
import bisect
import datetime
import re
import statistics
import sys

FIELD = re.compile(r'(\w+)=("([^"]*)"|\S+)')


def fields(line):
    return {m.group(1): (m.group(3) if m.group(3) is not None else m.group(2)) for m in FIELD.finditer(line)}


def stamp_ms(line):
    ts = line.split()[0].rstrip('Z')
    t = datetime.datetime.fromisoformat(ts).replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() * 1000


def main():
    sandbox_log, tui_log, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    writes = []
    for line in open(sandbox_log, errors='replace'):
        if 'churn write' not in line:
            continue
        f = fields(line)
        at = int(f.get('at_ms', 0))
        if lo <= at <= hi:
            writes.append((at, f['side'], f['kind'], int(f['rv'])))
    publishes = []  # (snapshot version, {(side, kind): rv})
    rows = []  # (snapshot version, data version), in order
    frames = []  # (data version, time ms)
    for line in open(tui_log, errors='replace'):
        if 'published' in line and 'newest=' in line:
            f = fields(line)
            newest = {}
            for part in filter(None, f.get('newest', '').split(',')):
                key, rv = part.rsplit('=', 1)
                side, kind = key.split('/', 1)
                newest[(side, kind)] = int(rv)
            publishes.append((int(f['version']), newest))
        elif 'rows for snapshot' in line:
            f = fields(line)
            rows.append((int(f['snapshot_version']), int(f['data_version'])))
        elif 'frame drawn' in line:
            f = fields(line)
            frames.append((int(f['data_version']), stamp_ms(line)))
    lags = []
    missing = 0
    for at, side, kind, rv in writes:
        snap = next((v for v, n in publishes if n.get((side, kind), 0) >= rv), None)
        data = None if snap is None else next((d for s, d in rows if s >= snap), None)
        shown = None if data is None else next((t for d, t in frames if d >= data), None)
        if shown is None:
            missing += 1
        else:
            lags.append(shown - at)
    if not lags:
        print(f"n/a (writes={len(writes)}, none drawn)")
        return
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    print(f"{statistics.median(lags):.0f} / {p99:.0f} / {lags[-1]:.0f} ms (n={len(lags)}, not drawn={missing})")


if __name__ == '__main__':
    main()
