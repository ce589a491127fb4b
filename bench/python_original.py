#!/usr/bin/env python3
"""The Python original's two mechanisms, timed on mtbench's workloads.

Overview
========
Popoto's `popoto.utils.multithreading` (docs/from-popoto.md) offers:
  start_new_thread       each call runs the function in a new daemon
                         threading.Thread;
  run_all_multithreaded  multiprocessing.dummy.Pool(...).map(fn, params),
                         a thread pool created for every call.
This script times those two mechanisms on the workloads of bench/mtbench.c
that they can express, on scaled-down sizes (a thread per task and a pool
per map are thousands of times slower than mtpool), and prints per-item
figures as CSV rows in mtbench's --csv shape, so bench/compare.sh can put
them in the same table. Each figure is the median of --reps repetitions.

Usage
=====
    python3 bench/python_original.py [--threads N] [--reps N] [--oversub N]

Rows it cannot fill print N/A with the reason (fib: one daemon thread per
call would create 3.5 million threads; the Python original has no nested
fork-join). Standard library only.
"""
import argparse
import os
import statistics
import sys
import threading
import time
from multiprocessing.dummy import Pool

# Scaled sizes: per-item figures stay comparable with mtbench's full sizes.
DETACHED = 2000          # mtbench: 1,000,000
FILL = 100000            # mtbench: 10,000,000 ("for 10M items")
SMALL_CALLS = 200        # mtbench: 20,000 maps of 64
SMALL_N = 64
UNBAL_N = 10000          # same as mtbench
WAKE_SAMPLES = 50        # mtbench: 200
IDLE_S = 1.0             # same as mtbench

HEAVY_NS, LIGHT_NS = 200000, 500


def start_new_thread(fn):
    """Popoto's decorator: every call runs fn in a new daemon thread."""
    def wrapper(*args, **kwargs):
        t = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
        t.start()
        return t
    return wrapper


def run_all_multithreaded(fn, params, threads):
    """Popoto's map: a multiprocessing.dummy (thread) Pool per call."""
    pool = Pool(threads)
    try:
        return pool.map(fn, params)
    finally:
        pool.close()
        pool.join()


def median_of(reps, once):
    return statistics.median(once() for _ in range(reps))


def detached_once():
    """ns per task: DETACHED daemon threads, then wait for all (quiesce)."""
    @start_new_thread
    def empty():
        pass
    t0 = time.perf_counter_ns()
    started = [empty() for _ in range(DETACHED)]
    for t in started:
        t.join()
    return (time.perf_counter_ns() - t0) / DETACHED


def fill_body(i):
    return i * 2 + 1


def fill_once(threads, n=FILL):
    t0 = time.perf_counter_ns()
    out = run_all_multithreaded(fill_body, range(n), threads)
    dt = time.perf_counter_ns() - t0
    assert out[n - 1] == (n - 1) * 2 + 1
    return dt / n


def small_once(threads):
    """us per call of a 64-item map."""
    params = list(range(1, SMALL_N + 1))
    t0 = time.perf_counter_ns()
    for _ in range(SMALL_CALLS):
        out = run_all_multithreaded(fill_body, params, threads)
    dt = time.perf_counter_ns() - t0
    assert out == [p * 2 + 1 for p in params]
    return dt / 1e3 / SMALL_CALLS


def spin_ns(ns):
    end = time.monotonic_ns() + ns
    while time.monotonic_ns() < end:
        pass


def unbal_item(i):
    spin_ns(HEAVY_NS if i % 100 == 0 else LIGHT_NS)


def unbal_once(threads):
    """ms for the unbalanced map."""
    t0 = time.perf_counter_ns()
    run_all_multithreaded(unbal_item, range(UNBAL_N), threads)
    return (time.perf_counter_ns() - t0) / 1e6


def seq_unbal_once():
    t0 = time.perf_counter_ns()
    for i in range(UNBAL_N):
        unbal_item(i)
    return (time.perf_counter_ns() - t0) / 1e6


def wake_samples():
    """us from start_new_thread's call to the new thread running."""
    out = []
    for _ in range(WAKE_SAMPLES):
        time.sleep(0.002)
        stamp = []

        @start_new_thread
        def probe():
            stamp.append(time.perf_counter_ns())
        t0 = time.perf_counter_ns()
        probe().join()
        out.append((stamp[0] - t0) / 1e3)
    return sorted(out)


def idle_once(threads):
    """Process CPU ms per second right after a map (no pool survives it)."""
    run_all_multithreaded(fill_body, range(1000), threads)
    c0 = time.process_time()
    time.sleep(IDLE_S)
    return (time.process_time() - c0) * 1e3 / IDLE_S


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--oversub", type=int, default=8)
    a = ap.parse_args()
    if a.threads < 1 or a.reps < 1 or a.oversub < 1:
        ap.error("--threads, --reps and --oversub must be >= 1")

    w = a.threads
    print("runtime,threads,workload,value,unit,n,baseline,target_max,result")

    def row(workload, value, unit, n, baseline="", target=""):
        v = "" if value is None else "%.6g" % value
        res = "N/A" if value is None else "-"
        print('python,%d,"%s",%s,%s,%d,"%s",%s,%s'
              % (w, workload, v, unit, n, baseline, target, res))
        sys.stdout.flush()

    py = "Python %d.%d" % sys.version_info[:2]
    nofib = "no nested fork-join: a thread per call"
    row("detached spawn+quiesce", median_of(a.reps, detached_once),
        "ns/task", a.reps, "daemon Thread per call, %d tasks" % DETACHED, 50)
    fill = median_of(a.reps, lambda: fill_once(w))
    row("for 10M items", fill, "ns/item", a.reps,
        "Pool(%d).map per call, %dk items" % (w, FILL // 1000))
    row("map 64 items", median_of(a.reps, lambda: small_once(w)), "us/call",
        a.reps, "Pool(%d).map per call, %d calls" % (w, SMALL_CALLS), 0.5)
    row("fib(32) all workers", None, "ms", a.reps, nofib)
    par = median_of(a.reps, lambda: unbal_once(w))
    seq = median_of(a.reps, seq_unbal_once)
    ideal = (UNBAL_N // 100 * HEAVY_NS + (UNBAL_N - UNBAL_N // 100)
             * LIGHT_NS) / 1e6 / w
    row("unbalanced for: time/ideal", par / ideal, "x", a.reps,
        "ideal %.2f ms, par %.2f; %s GIL" % (ideal, par, py), 1.03)
    row("unbalanced for: time/(seq/W)", par / (seq / w), "x", a.reps,
        "seq %.2f ms" % seq)
    s = wake_samples()
    row("wake latency, median", statistics.median(s), "us", len(s),
        "new daemon Thread per call", 4)
    row("wake latency, p99", s[max(0, -(-99 * len(s) // 100) - 1)], "us",
        len(s), "", 20)
    row("idle CPU, all parked", None, "ms/s", a.reps,
        "no pool outlives a call")
    row("idle CPU, 1 s right after map", median_of(a.reps,
        lambda: idle_once(w)), "ms/s", a.reps, "pool closed after map")
    row("fib(32) 1 worker: overhead", None, "ns/spawn", a.reps, nofib)
    row("oversub %dw: fib(32) ratio" % a.oversub, None, "x", a.reps, nofib)
    over = median_of(a.reps, lambda: fill_once(a.oversub))
    row("oversub %dw: for 10M ratio" % a.oversub, over / fill, "x", a.reps,
        "Pool(%d) vs Pool(%d)" % (a.oversub, w), 1.5)


if __name__ == "__main__":
    main()
