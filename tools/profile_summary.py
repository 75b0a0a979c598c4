#!/usr/bin/python3
"""Per-layer-type profile of mnet-bench, as a fraction of the compute limit.

Runs `mnet-bench --profile --json` a few times, keeps each step's smallest
average (the machine may be shared), groups the steps by kind (1x1 conv,
full 3x3 conv, depthwise, the rest) and prints a markdown table: MACs per
image, ms per image, achieved GMAC/s and the fraction of the peak rate
(default: this machine's 176 GFLOP/s fp32 and 760 Gop/s int8 VNNI per core,
../shared/docs/DESIGN.md) times the thread count.

  tools/profile_summary.py build/engine/mnet-bench --model v2 --precision int8 \
      --batch 8 --threads 1 [--runs 3] [--iters 10] [--clock cpu]

--clock cpu times the steps with the profiling thread's CPU clock: steadier
on a shared host, since time taken by other tenants is left out.  It needs
one thread, or a batch of at least one image per thread (each thread then
runs whole images, and the first thread's steps are what is timed).
"""
import argparse
import json
import subprocess
import sys


def kind_of(step):
    k, shape = step["kind"], step["shape"]
    if k in ("block_f32", "(in block)"):  # a fused block's MACs are all on its first step
        return "fused block (expand, depthwise, project)"
    if k.startswith("depthwise"):
        return "depthwise " + next((w[1:] for w in shape.split() if w.startswith("k")), "")
    if k.startswith("conv"):
        return "conv 1x1 (GEMM)" if " k1x1 " in shape else "conv 3x3 full (stem)"
    return "other ops (" + k.split("_")[0] + ")"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--model", default="v2")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--peak-fp32", type=float, default=176e9, help="FLOP/s per core")
    ap.add_argument("--peak-int8", type=float, default=760e9, help="int8 op/s per core")
    a = ap.parse_args()
    if a.clock == "cpu" and a.threads > 1 and a.batch < a.threads:
        ap.error("--clock cpu times one thread's steps: use --threads 1 or --batch >= --threads")
    best, meta = None, None
    for _ in range(a.runs):
        out = subprocess.run([a.bench, "--model", a.model, "--precision", a.precision,
                              "--batch", str(a.batch), "--threads", str(a.threads),
                              "--iters", str(a.iters), "--warmup", "2", "--json", "--profile" + ("=cpu" if a.clock == "cpu" else "")],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        meta = r if meta is None or r["median_ms"] < meta["median_ms"] else meta
        steps = r["profile"]
        if best is None:
            best = steps
        else:
            for b, s in zip(best, steps):
                b["ms"] = min(b["ms"], s["ms"])
    integer = meta.get("numerics", a.precision) in ("int8", "uint8")
    peak = (a.peak_int8 if integer else a.peak_fp32) * a.threads
    groups = {}
    for s in best:
        g = groups.setdefault(kind_of(s), {"macs": 0.0, "ms": 0.0, "n": 0})
        g["macs"] += s["macs_per_image"]
        g["ms"] += s["ms"] / a.batch
        g["n"] += 1
    total_ms = sum(g["ms"] for g in groups.values())
    total_macs = sum(g["macs"] for g in groups.values())
    print(f"{a.model} {a.precision} batch {a.batch} threads {a.threads}, kernels {meta['kernels']}: "
          f"median {meta['median_ms_per_image']:.3f} ms/image, CPU {meta['cpu_ms'] / a.batch:.3f} ms/image; "
          f"per-step minimum of {a.runs} runs x {a.iters} iterations")
    print("\n| layer type | steps | MMAC/image | ms/image | share | GMAC/s | of compute limit |")
    print("|---|---|---|---|---|---|---|")
    for name, g in sorted(groups.items(), key=lambda kv: -kv[1]["ms"]):
        rate = g["macs"] / (g["ms"] * 1e-3) / 1e9 if g["ms"] > 0 else 0
        frac = (2 * g["macs"] / peak) / (g["ms"] * 1e-3) if g["ms"] > 0 and g["macs"] > 0 else 0
        print(f"| {name} | {g['n']} | {g['macs'] / 1e6:.1f} | {g['ms']:.3f} | "
              f"{100 * g['ms'] / total_ms:.0f}% | {rate:.1f} | "
              f"{'%.0f%%' % (100 * frac) if g['macs'] > 0 else '-'} |")
    limit_ms = 2 * total_macs / peak * 1e3
    print(f"| total | {len(best)} | {total_macs / 1e6:.1f} | {total_ms:.3f} | 100% | "
          f"{total_macs / (total_ms * 1e-3) / 1e9:.1f} | {100 * limit_ms / total_ms:.0f}% |")
    print(f"\ncompute limit at {peak / 1e9:.0f} G-ops/s: {limit_ms:.3f} ms/image")


if __name__ == "__main__":
    sys.exit(main())
