#!/usr/bin/python3
"""The engine-speed checks that need no other engine, measured in one run.

Interleaves mnet-bench runs in rounds (so machine noise hits every
configuration alike) and prints medians of the per-image wall time:
  - 2 threads against 1 at batch 8, per model and precision (target >= 1.8x);
  - the real MobileNetV2 quant file against the v2 builder network at int8,
    batch 1 / 1 thread and batch 8 / 2 threads (target: file <= builder);
  - peak resident memory of the quant file at batch 8 (target < 64 MiB).

  tools/speed_checks.py build/engine/mnet-bench [--rounds 5] [--iters 10]
"""
import argparse
import json
import os
import statistics
import subprocess

FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "models",
                    "mobilenet_v2_1.0_224_quant.tflite")


def bench(exe, model, precision, batch, threads, iters):
    out = subprocess.run([exe, "--model", model, "--precision", precision, "--batch", str(batch),
                          "--threads", str(threads), "--iters", str(iters), "--warmup", "2",
                          "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--file", default=os.path.normpath(FILE))
    a = ap.parse_args()

    configs = []  # (label, model, precision, batch, threads)
    for model in ("v1", "v2"):
        for prec in ("fp32", "int8"):
            for t in (1, 2):
                configs.append((f"{model} {prec} b8 t{t}", model, prec, 8, t))
    configs.append(("v2 int8 b1 t1", "v2", "int8", 1, 1))
    for b, t in ((1, 1), (8, 2)):
        configs.append((f"file int8 b{b} t{t}", a.file, "int8", b, t))
    times = {c[0]: [] for c in configs}
    rss = 0
    for _ in range(a.rounds):
        for label, model, prec, b, t in configs:
            r = bench(a.bench, model, prec, b, t, a.iters)
            times[label].append(r["median_ms_per_image"])
            if model == a.file and b == 8:
                rss = max(rss, r["peak_rss_kb"])
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"medians of {a.rounds} rounds x {a.iters} iterations, ms per image\n")
    print("| model | precision | batch 8, 1 thread | batch 8, 2 threads | speedup (>= 1.8) |")
    print("|---|---|---|---|---|")
    for model in ("v1", "v2"):
        for prec in ("fp32", "int8"):
            t1, t2 = med[f"{model} {prec} b8 t1"], med[f"{model} {prec} b8 t2"]
            print(f"| {model} | {prec} | {t1:.2f} | {t2:.2f} | {t1 / t2:.2f}x |")
    print("\n| int8 | v2 builder | v2 quant file | file / builder (<= 1) |")
    print("|---|---|---|---|")
    for b, t in ((1, 1), (8, 2)):
        builder, f = med[f"v2 int8 b{b} t{t}"], med[f"file int8 b{b} t{t}"]
        print(f"| batch {b}, {t} thread{'s' if t > 1 else ''} | {builder:.2f} | {f:.2f} | {f / builder:.2f} |")
    print(f"\npeak RSS, quant file at batch 8: {rss / 1024:.1f} MiB (< 64)")


if __name__ == "__main__":
    main()
