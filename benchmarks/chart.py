#!/usr/bin/env python3
"""Turns the benchmarks' JSON results into ratio tables and an SVG bar chart. Standard library only.

    python3 chart.py [RESULTS_DIR] [--svg FILE] [--markdown FILE]

RESULTS_DIR (default: results/ beside this script) holds JMH JSON files (run.sh: -rf json -rff
results/NAME.json) and HeapPerWaiter JSON objects (heap-IMPL.json, heap1m-IMPL.json). Files named
NAME-rN.json are round N of the group NAME: the implementations of a group are compared round by
round (each round ran them one after the other, close in time), and a ratio is the median over rounds
of the per-round ratio of medians. Prints the tables as Markdown; --svg writes the chart of ratios
(default RESULTS_DIR/chart.svg), --markdown also writes the tables to a file.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape

# What the issue asks, as ratios of eventfd to the alternative measured in the same run.
#   kind "time": ratio = time(num) / time(den), lower is better.
#   kind "throughput": ratio = time(den) / time(num), i.e. throughput(num) / throughput(den).
#   kind "heap": ratio = bytes per waiter(num) / bytes per waiter(den).
# target: (op, value) or None for rows shown for context.
COMPARISONS = [
    dict(id="1a", short="uncontended: EventFdSemaphore / raw FFM eventfd", label="uncontended acquire+release: EventFdSemaphore / raw FFM eventfd pair",
         group="uncontended", bench="UncontendedBenchmark.acquireRelease", num="eventfd", den="rawEventfd",
         kind="time", target=("<=", 1.15)),
    dict(id="1b", short="uncontended: EventFdSemaphore / FileChannel.lock", label="uncontended acquire+release: EventFdSemaphore / FileChannel.lock+release",
         group="uncontended", bench="UncontendedBenchmark.acquireRelease", num="eventfd", den="fileLock",
         kind="time", target=("<=", 0.5)),
    dict(id="1c", short="uncontended: EventFdSemaphore / j.u.c.", label="uncontended acquire+release: EventFdSemaphore / j.u.c. Semaphore",
         group="uncontended", bench="UncontendedBenchmark.acquireRelease", num="eventfd", den="juc",
         kind="time", target=None),
    dict(id="1d", short="uncontended: POSIX sem (FFM) / j.u.c.", label="uncontended: POSIX sem_wait+sem_post (FFM) / j.u.c. Semaphore",
         group="uncontended", bench="UncontendedBenchmark.acquireRelease", num="posixSem", den="juc",
         kind="time", target=None),
    dict(id="2a", short="hand-off, virtual<->virtual: eventfd / j.u.c.", label="hand-off round trip, virtual<->virtual: EventFdSemaphore / j.u.c.",
         group="handoff", bench="HandOffBenchmark.virtualVirtual", num="eventfd", den="juc",
         kind="time", target=("<=", 5.0)),
    dict(id="2b", short="hand-off, platform<->virtual: eventfd / j.u.c.", label="hand-off round trip, platform<->virtual: EventFdSemaphore / j.u.c.",
         group="handoff", bench="HandOffBenchmark.platformVirtual", num="eventfd", den="juc",
         kind="time", target=None),
    dict(id="3a", short="2 JVMs: named EventFdSemaphore / file lock", label="hand-off across two JVMs: named EventFdSemaphore / FileChannel.lock ring",
         group="crossprocess", bench="CrossProcessHandOffBenchmark.roundTrip", num="eventfd",
         den="fileLock", kind="time", target=None),
    dict(id="3b", short="2 JVMs: named EventFdSemaphore / POSIX sem", label="hand-off across two JVMs: named EventFdSemaphore / POSIX named sem",
         group="crossprocess", bench="CrossProcessHandOffBenchmark.roundTrip", num="eventfd",
         den="posixNamedSem", kind="time", target=None),
    dict(id="3c", short="2 JVMs: POSIX named sem / file lock", label="hand-off across two JVMs: POSIX named sem / FileChannel.lock ring",
         group="crossprocess", bench="CrossProcessHandOffBenchmark.roundTrip", num="posixNamedSem",
         den="fileLock", kind="time", target=None),
    dict(id="4", short="throughput, 10k vthreads, 4 permits (higher=better)", label="throughput, 10k virtual threads on 4 permits: EventFdSemaphore / j.u.c.",
         group="throughput", bench="ContendedThroughputBenchmark.cycleAll", num="eventfd", den="juc",
         kind="throughput", target=(">=", 0.9)),
    dict(id="5a", short="heap per blocked vthread, 100k: eventfd / j.u.c.", label="heap per blocked virtual thread (100k): EventFdSemaphore / j.u.c.",
         group="heap", num="eventfd", den="juc", kind="heap", target=("<=", 1.5)),
    dict(id="5b", short="heap per blocked vthread, 1M: eventfd / j.u.c.", label="heap per blocked virtual thread (1M): EventFdSemaphore / j.u.c.",
         group="heap1m", num="eventfd", den="juc", kind="heap", target=("<=", 1.5)),
    dict(id="5c", short="release 100k blocked vthreads (time)", label="release 100k blocked virtual threads: EventFdSemaphore / j.u.c. (time)",
         group="releaseall", bench="ReleaseAllBenchmark.releaseAll", num="eventfd", den="juc",
         kind="time", target=None),
    dict(id="5d", short="release 1M blocked vthreads (time)", label="release 1M blocked virtual threads: EventFdSemaphore / j.u.c. (time)",
         group="releaseall1m", bench="ReleaseAllBenchmark.releaseAll", num="eventfd", den="juc",
         kind="time", target=None),
    dict(id="6", short="latch: countDown releases 10k (time)", label="latch, one countDown releases 10k waiters: EventFdLatch / CountDownLatch (time)",
         group="latch", bench="LatchReleaseBenchmark.countDownReleasesAll", num="eventfd", den="juc",
         kind="time", target=None),
]


def short(benchmark):
    """dev.eventfd.sync.bench.UncontendedBenchmark.acquireRelease -> UncontendedBenchmark.acquireRelease"""
    return ".".join(benchmark.split(".")[-2:])


def quantile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def load(results_dir):
    """Returns (jmh, heap): jmh[group][round] = list of JMH result objects; heap[group][impl] = object."""
    jmh, heap = {}, {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        name = os.path.basename(path)[:-5]
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"warning: skipping {path}: {e}", file=sys.stderr)
            continue
        if isinstance(data, list):
            m = re.fullmatch(r"(.+)-r(\d+)", name)
            group, rnd = (m.group(1), int(m.group(2))) if m else (name, 1)
            jmh.setdefault(group, {})[rnd] = data
        elif isinstance(data, dict) and "bytesPerWaiterMedian" in data:
            group = name.rsplit("-", 1)[0]
            heap.setdefault(group, {})[data["impl"]] = data
    return jmh, heap


def raw(result):
    return [x for fork in result["primaryMetric"].get("rawData", []) for x in fork]


def other_params(result):
    return tuple(sorted((k, v) for k, v in result.get("params", {}).items() if k != "impl"))


def rows(jmh):
    """One row per (group, benchmark, params, impl) pooled over rounds."""
    table = {}
    for group, rounds in jmh.items():
        for rnd, results in sorted(rounds.items()):
            for r in results:
                key = (group, short(r["benchmark"]), other_params(r), r.get("params", {}).get("impl", "-"))
                row = table.setdefault(key, dict(values=[], rounds=[], unit=r["primaryMetric"]["scoreUnit"],
                                                 mode=r["mode"]))
                row["values"].extend(raw(r))
                pm = r["primaryMetric"]
                row["rounds"].append((pm["score"], pm.get("scoreError", float("nan")), statistics.median(raw(r))))
    return table


def ratio_of(cmp, jmh, heap):
    """Returns (ratio, per-round ratios, note) or None when the data is missing."""
    if cmp["kind"] == "heap":
        g = heap.get(cmp["group"], {})
        if cmp["num"] not in g or cmp["den"] not in g:
            return None
        n, d = g[cmp["num"]]["bytesPerWaiterMedian"], g[cmp["den"]]["bytesPerWaiterMedian"]
        return n / d, [n / d], f"{n:.0f} B vs {d:.0f} B per waiter"
    per_round, notes = [], []
    for rnd, results in sorted(jmh.get(cmp["group"], {}).items()):
        by_impl = {}
        for r in results:
            if short(r["benchmark"]) == cmp["bench"]:
                by_impl[r.get("params", {}).get("impl")] = r
        if cmp["num"] in by_impl and cmp["den"] in by_impl:
            n, d = statistics.median(raw(by_impl[cmp["num"]])), statistics.median(raw(by_impl[cmp["den"]]))
            per_round.append(d / n if cmp["kind"] == "throughput" else n / d)
            notes.append((n, d, by_impl[cmp["num"]]["primaryMetric"]["scoreUnit"]))
    if not per_round:
        return None
    n = statistics.median(x[0] for x in notes)
    d = statistics.median(x[1] for x in notes)
    return statistics.median(per_round), per_round, f"{fmt(n)} vs {fmt(d)} {notes[0][2]}"


def verdict(value, target):
    if target is None:
        return None
    op, t = target
    return value <= t if op == "<=" else value >= t


def fmt(x):
    try:
        x = float(x)                     # JMH writes "NaN" (a string) for the error of one iteration
    except (TypeError, ValueError):
        return "n/a"
    if x != x:
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def markdown(jmh, heap):
    out = ["### Ratios (same run; median over rounds of the per-round ratio of medians)", "",
           "| # | comparison | ratio | per round | target | met? | medians |",
           "|---|---|---:|---|---|---|---|"]
    ratios = []
    for cmp in COMPARISONS:
        got = ratio_of(cmp, jmh, heap)
        if got is None:
            continue
        value, per_round, note = got
        ok = verdict(value, cmp["target"])
        ratios.append((cmp, value, ok))
        target = f"{cmp['target'][0].replace('<=', '≤').replace('>=', '≥')} {cmp['target'][1]}" if cmp["target"] else "—"
        met = "—" if ok is None else ("**met**" if ok else "**missed**")
        out.append(f"| {cmp['id']} | {cmp['label']} | {fmt(value)}× | {', '.join(fmt(x) for x in per_round)} "
                   f"| {target} | {met} | {note} |")
    out += ["", "### All measurements", "",
            "| group | benchmark | params | impl | median | IQR (p25–p75) | n | JMH score ± 99.9% CI, per round |",
            "|---|---|---|---|---:|---|---:|---|"]
    for (group, bench, params, impl), row in sorted(rows(jmh).items()):
        v = row["values"]
        p = " ".join(f"{k}={val}" for k, val in params) or "—"
        per = "; ".join(f"{fmt(s)} ± {fmt(e)}" for s, e, _ in row["rounds"])
        out.append(f"| {group} | {bench} | {p} | {impl} | {fmt(statistics.median(v))} {row['unit']} "
                   f"| {fmt(quantile(v, .25))}–{fmt(quantile(v, .75))} | {len(v)} | {per} |")
    if heap:
        out += ["", "### Heap per blocked waiter (HeapPerWaiter, used heap after full GC, SerialGC)", "",
                "| waiters | impl | bytes/waiter (median) | repetitions | all repetitions | release-all ms (median) |",
                "|---:|---|---:|---:|---|---:|"]
        for group in sorted(heap):
            for impl, h in sorted(heap[group].items()):
                out.append(f"| {h['waiters']:,} | {impl} | {h['bytesPerWaiterMedian']:.0f} | {h['repetitions']} "
                           f"| {h['bytesPerWaiter']} | {h['releaseAllMillisMedian']:.1f} |")
    return "\n".join(out) + "\n", ratios


def svg(ratios, title):
    """Horizontal bars of ratios on a log scale, with each target marked."""
    width, left, right, top, row_h = 1000, 370, 30, 84, 34
    height = top + row_h * len(ratios) + 70
    values = [v for _, v, _ in ratios] + [c["target"][1] for c, _, _ in ratios if c["target"]] + [1.0]
    lo = 10 ** math.floor(math.log10(max(min(values), 1e-6)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    plot_w = width - left - right

    def x(v):
        return left + plot_w * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>',
         f'<text x="{width / 2}" y="46" text-anchor="middle" fill="#555">ratio eventfd-sync / alternative measured '
         f'in the same run, log scale; lower is better except throughput (4)</text>',
         f'<text x="{width / 2}" y="64" text-anchor="middle" fill="#555">green: target met, red: target missed, '
         f'grey: no target (context); black tick: the target</text>']
    decade = lo
    while decade <= hi * 1.0001:
        gx = x(decade)
        s.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{top + row_h * len(ratios)}" '
                 f'stroke="{"#444" if abs(decade - 1) < 1e-9 else "#ddd"}" stroke-width="1"/>')
        s.append(f'<text x="{gx:.1f}" y="{top + row_h * len(ratios) + 16}" text-anchor="middle" '
                 f'fill="#555">{fmt(decade)}×</text>')
        decade *= 10
    for i, (cmp, value, ok) in enumerate(ratios):
        y = top + i * row_h
        color = "#9e9e9e" if ok is None else ("#2e7d32" if ok else "#c62828")
        x0, x1 = x(lo), x(value)
        s.append(f'<text x="{left - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
                 f'{escape(cmp["id"] + "  " + cmp.get("short", cmp["label"])[:60])}</text>')
        s.append(f'<rect x="{x0:.1f}" y="{y + 6}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 12}" fill="{color}"/>')
        label = fmt(value) + "×"
        text_x = x1
        if cmp["target"]:
            op, t = cmp["target"]
            tx = x(t)
            s.append(f'<line x1="{tx:.1f}" y1="{y + 2}" x2="{tx:.1f}" y2="{y + row_h - 2}" stroke="black" '
                     f'stroke-width="2.5"/>')
            label += f"  (target {op.replace('<=', '≤').replace('>=', '≥')} {t})"
            text_x = max(x1, tx)
        if text_x + 8 + 7 * len(label) > width - right:   # no room right of the bar: write inside it
            s.append(f'<text x="{x1 - 6:.1f}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" fill="white" '
                     f'font-weight="bold">{escape(label)}</text>')
        else:
            s.append(f'<text x="{text_x + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">{escape(label)}</text>')
    s.append(f'<text x="{left}" y="{height - 18}" fill="#555">eventfd-sync benchmarks (JMH); see README.md '
             f'for settings and raw medians</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", default=os.path.join(here, "results"))
    ap.add_argument("--svg", help="where to write the chart (default RESULTS/chart.svg)")
    ap.add_argument("--markdown", help="also write the tables to this file")
    ap.add_argument("--title", default="eventfd-sync vs alternatives (ratios)")
    args = ap.parse_args()
    jmh, heap = load(args.results)
    if not jmh and not heap:
        sys.exit(f"no results in {args.results}")
    text, ratios = markdown(jmh, heap)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if ratios:
        with open(args.svg or os.path.join(args.results, "chart.svg"), "w") as f:
            f.write(svg(ratios, args.title))


if __name__ == "__main__":
    main()
