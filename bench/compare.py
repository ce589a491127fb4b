#!/usr/bin/env python3
"""Summarises bench/compare.sh's rounds: medians, ratios, table, plot.

Overview
========
Input: a directory of per-round CSV files in mtbench's --csv shape
(runtime,threads,workload,value,unit,n,baseline,target_max,result), one
file per runtime per round, named r<ROUND>_<RUNTIME>.csv. Each value in a
file is already the median of that round's repetitions; this script takes,
for every runtime and workload, the median over the rounds, and its ratio
to mtpool's median for the same workload.

Output, in --out (bench/results/):
  results.csv  workload,unit,runtime,median,ratio_to_mtpool,rounds,values
               (values: every round's figure, ';'-separated, run order);
  table.md     one row per workload, one column per runtime, "median
               (ratio)" cells, N/A with the runtime's reason as a note;
and, in --work, plot.gp: the gnuplot script (with its data files) that
draws --out's plot.png and plot.svg, one panel per workload, one bar per
runtime, a log y axis where the largest bar is over 20 times the smallest.
Standard library only; gnuplot is run by compare.sh.
"""
import argparse
import csv
import glob
import math
import os
import re
import statistics

ORDER = ["seq", "floor", "mtpool", "openmp", "tbb", "glib", "uv", "python"]
COLORS = {"seq": 0x999999, "floor": 0x444444, "pthreads": 0x666666,
          "mtpool": 0xd62728,
          "openmp": 0x1f77b4, "tbb": 0x2ca02c, "glib": 0x9467bd,
          "uv": 0xff7f0e, "python": 0x8c564b}
# Rows whose ratio to mtpool means nothing: the machine, or a baseline that
# does not involve the runtime.
NO_RATIO = re.compile(r"^machine:|raw pthreads")
# Panels of the plot, in order: (workload regex, title).
PANELS = [
    (r"^detached spawn\+quiesce$", "detached spawn+quiesce"),
    (r"^for \S+ items$", "for 10M items"),
    (r"^map 64 items$", "map 64 items"),
    (r"^fib\(\d+\) all workers$", "fib all workers"),
    (r"^fib\(\d+\) 1 worker: overhead$", "fib 1 worker: overhead/spawn"),
    (r"^fib\(\d+\) all workers: overhead$",
     "fib all workers: overhead/spawn"),
    (r"^unbalanced for: time/ideal$", "unbalanced for: time/ideal"),
    (r"^wake latency, median$", "wake latency, median"),
    (r"^wake latency, p99$", "wake latency, p99"),
    (r"^idle CPU, all parked$", "idle CPU, all parked"),
    (r"^idle CPU, 1 s right after map$", "idle CPU, 1 s right after map"),
    (r"^oversub \d+w: fib\(\d+\) ratio$", "oversubscribed: fib ratio"),
    (r"^oversub \d+w: for \S+ ratio$", "oversubscribed: for ratio"),
]


def read_rounds(d):
    """{(runtime, workload): row dict with 'values' list}, workload order."""
    data, order = {}, []
    files = glob.glob(os.path.join(d, "r*_*.csv"))
    files.sort(key=lambda f: int(re.search(r"r(\d+)_", f).group(1)))
    for f in files:
        with open(f, newline="") as fh:
            for r in csv.DictReader(fh):
                key = (r["runtime"], r["workload"])
                if r["runtime"] == "mtpool" and r["workload"] not in order:
                    order.append(r["workload"])
                e = data.setdefault(key, {"unit": r["unit"], "values": [],
                                          "why": set(), "runs": 0})
                e["runs"] += 1
                if r["value"]:
                    e["values"].append(float(r["value"]))
                elif r["result"] == "N/A" and r["baseline"]:
                    e["why"].add(r["baseline"])
                elif r["result"] in ("ERROR", "WRONG"):
                    e["why"].add(r["result"])
    for (_, w) in data:
        if w not in order:
            order.append(w)
    return data, order


def fmt(v):
    if v is None or math.isnan(v):
        return "N/A"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def summarise(data, order, runtimes):
    """[(workload, unit, {runtime: (median, ratio, entry)})]."""
    rows = []
    for w in order:
        cells, unit = {}, None
        base = data.get(("mtpool", w))
        mt = statistics.median(base["values"]) if base and base["values"] \
            else None
        for rt in runtimes:
            e = data.get((rt, w))
            if not e:
                continue
            unit = unit or e["unit"]
            med = statistics.median(e["values"]) if e["values"] else None
            ratio = None
            if med is not None and mt and not NO_RATIO.search(w):
                ratio = med / mt
            cells[rt] = (med, ratio, e)
        rows.append((w, unit, cells))
    return rows


def write_csv(rows, runtimes, path):
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["workload", "unit", "runtime", "median",
                      "ratio_to_mtpool", "rounds", "values", "na_reason"])
        for w, unit, cells in rows:
            for rt in runtimes:
                if rt not in cells:
                    continue
                med, ratio, e = cells[rt]
                out.writerow([w, unit, rt,
                              "" if med is None else "%.6g" % med,
                              "" if ratio is None else "%.4g" % ratio,
                              len(e["values"]),
                              ";".join("%.6g" % v for v in e["values"]),
                              "; ".join(sorted(e["why"]))])


def write_table(rows, runtimes, path, rounds):
    notes = []

    def note(text):
        if text not in notes:
            notes.append(text)
        return notes.index(text) + 1

    lines = ["| workload | unit | " + " | ".join(runtimes) + " |",
             "|---|---|" + "---:|" * len(runtimes)]
    for w, unit, cells in rows:
        out = []
        for rt in runtimes:
            if rt not in cells:
                out.append("")
                continue
            med, ratio, e = cells[rt]
            if med is None:
                why = "; ".join(sorted(e["why"]))
                out.append("N/A" + ("<sup>%d</sup>" % note(why)
                                    if why else ""))
            elif ratio is None or rt == "mtpool":
                out.append(fmt(med))
            else:
                out.append("%s (%s×)" % (fmt(med), fmt(ratio)))
        lines.append("| %s | %s | %s |" % (w, unit, " | ".join(out)))
    lines.append("")
    lines.append("Median over %d interleaved rounds (each round's figure is "
                 "itself a median of mtbench's repetitions); (r×) = the "
                 "runtime's median / mtpool's: above 1 means slower than "
                 "mtpool for every row except the speedup rows, where "
                 "higher is better." % rounds)
    lines.append("")
    for i, n in enumerate(notes, 1):
        lines.append("<sup>%d</sup> %s  " % (i, n))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def panel_bars(rows, regex, runtimes):
    """[(label, value or None)] for one panel; the for-10M panel gets the
    raw-pthreads baseline (pooled over every runtime's runs) as a bar."""
    bars = []
    for w, unit, cells in rows:
        if not re.search(regex, w):
            continue
        for rt in runtimes:
            if rt in cells:
                bars.append((rt, cells[rt][0], unit))
        if w.startswith("for ") and w.endswith(" items"):
            pooled = [v for ww, _, cc in rows if ww == w + ": raw pthreads"
                      for (_, _, e) in cc.values() for v in e["values"]]
            if pooled:
                bars.insert(1, ("pthreads", statistics.median(pooled), unit))
        return w, bars
    return None, []


def write_plot(rows, runtimes, work, out_dir):
    panels = []
    for i, (regex, title) in enumerate(PANELS):
        w, bars = panel_bars(rows, regex, runtimes)
        if not bars:
            continue
        dat = os.path.join(work, "panel%02d.dat" % i)
        with open(dat, "w") as fh:
            for label, v, _ in bars:
                fh.write('"%s" %s %d\n' % (label if v is not None
                                           else label + "\\nN/A",
                                           "NaN" if v is None else repr(v),
                                           COLORS.get(label, 0)))
        vals = [v for _, v, _ in bars if v is not None and v > 0]
        log = bool(vals) and max(vals) / min(vals) > 20
        panels.append((w, title, bars[0][2], dat, log, vals, len(bars)))
    cols = 3
    nrows = (len(panels) + cols - 1) // cols
    gp = ['set datafile missing "NaN"',
          "set style fill solid 0.85 border -1",
          "set boxwidth 0.7",
          "set grid ytics lc rgb '#dddddd'",
          "set key off",
          "set xtics nomirror font ',9'",
          "set ytics font ',9'"]
    body = ["set multiplot layout %d,%d title 'mtpool vs the usual "
            "alternatives (lower is better; medians of interleaved rounds)'"
            " font ',13'" % (nrows, cols)]
    for w, title, unit, dat, log, vals, nbars in panels:
        body.append("set title \"%s (%s)%s\" font ',11'"
                    % (title, unit, ", log" if log else ""))
        if log:
            body.append("set logscale y; set yrange [%g:%g]"
                        % (min(vals) / 3, max(vals) * 4))
        else:
            body.append("unset logscale y; set yrange [0:%g]"
                        % ((max(vals) if vals else 1) * 1.25))
        # An explicit x range: gnuplot drops trailing N/A rows otherwise.
        body.append("set xrange [-0.6:%g]" % (nbars - 0.4))
        body.append("plot '%s' using 0:2:3:xtic(1) with boxes lc rgb "
                    "variable, '' using 0:2:(sprintf('%%.3g', $2)) with "
                    "labels offset 0,0.6 font ',8'" % dat)
    body.append("unset multiplot")
    script = []
    for term, name, size in (("pngcairo", "plot.png", "1500,%d"
                              % (360 * nrows)),
                             ("svg", "plot.svg", "1500,%d" % (360 * nrows))):
        script += ["set terminal %s size %s noenhanced" % (term, size),
                   "set output '%s'" % os.path.join(out_dir, name)]
        script += gp + body + ["unset output"]
    path = os.path.join(work, "plot.gp")
    with open(path, "w") as fh:
        fh.write("\n".join(script) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    a = ap.parse_args()
    data, order = read_rounds(a.rounds_dir)
    present = {rt for rt, _ in data}
    runtimes = [rt for rt in ORDER if rt in present]
    rows = summarise(data, order, runtimes)
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.work, exist_ok=True)
    write_csv(rows, runtimes, os.path.join(a.out, "results.csv"))
    write_table(rows, runtimes, os.path.join(a.out, "table.md"), a.rounds)
    print(write_plot(rows, runtimes, a.work, a.out))


if __name__ == "__main__":
    main()
