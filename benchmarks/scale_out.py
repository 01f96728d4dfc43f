"""Scale-out figures (issue 8): training throughput at 1 and 2 processes, batch edge
inference throughput, and the extrapolation to 100,000 shops.

    python benchmarks/scale_out.py [--shops 200] [--epochs 2] [--edge-shops 2000]

Writes ``benchmarks/scale_out.json`` and ``benchmarks/scale_out.md``. Every figure comes
from this one run on this machine (ratios are what to trust on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine_info  # noqa: E402

CLI = [sys.executable, "-m", "pyro_causalmmm.cli.main"]


def _run(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the largest child process, stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr[-2000:]}")
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return wall, peak, proc.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shops", type=int, default=200)
    ap.add_argument("--length", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--edge-shops", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=HERE / "scale_out.json")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="scale_out_"))
    data = work / "data.csv"
    _run(["simulate", "--scenario", "sim2", "--shops", str(args.shops), "--channels", "10",
          "--length", str(args.length), "--seed", "0", "--out", str(data),
          "--truth", str(work / "t.npz")])
    common = [str(data), "--context", "ctx_1", "ctx_2", "--epochs", str(args.epochs),
              "--batch-size", "16", "--quiet", "--draws", "0", "--checkpoint-every", "0"]
    train = {}
    for nproc in (1, 2):
        out = work / f"fit{nproc}"
        wall, peak, _ = _run(["fit", *common, "--out", str(out), "--nproc", str(nproc)])
        fit = json.loads((out / "fit.json").read_text())["fit"]
        steps = args.epochs * args.shops * args.length
        train[nproc] = {
            "train_seconds": fit["seconds"],
            "wall_seconds": wall,
            "shop_steps_per_s": steps / fit["seconds"],
            "peak_rss_mb_per_process": peak,
        }
    # batch inference on a larger synthetic set through the 1-process model
    big = work / "big.csv"
    _run(["simulate", "--scenario", "sim2", "--shops", str(args.edge_shops), "--channels", "10",
          "--length", str(args.length), "--seed", "1", "--out", str(big),
          "--truth", str(work / "tb.npz")])
    wall, peak, text = _run(["edges", str(work / "fit1"), str(big), "--context", "ctx_1",
                             "ctx_2", "--out", str(work / "edges.csv"), "--chunk-size", "1000"])
    match = re.search(r"in ([0-9.]+) s", text)
    encode_s = float(match.group(1)) if match else wall
    edges = {"shops": args.edge_shops, "encode_seconds": encode_s,
             "shops_per_s": args.edge_shops / encode_s, "wall_seconds": wall,
             "peak_rss_mb": peak}
    per_shop_epoch = train[1]["train_seconds"] / (args.epochs * args.shops)
    speedup = train[1]["train_seconds"] / train[2]["train_seconds"]
    extrapolation = {
        "shops": 100_000,
        "epoch_hours_1_process": per_shop_epoch * 100_000 / 3600,
        "epoch_hours_2_processes": per_shop_epoch * 100_000 / speedup / 3600,
        "note": "time per epoch = measured seconds per shop-epoch x 100,000 (linear in N: "
        "each step touches only its batch); memory per rank is the data (100,000 x 120 x 11 "
        "float32 = 0.5 GB) plus the measured per-process footprint, independent of N "
        "beyond the data",
        "data_gb_per_rank": 100_000 * args.length * 11 * 4 / 1e9,
    }
    result = {
        "command": " ".join([sys.executable, "benchmarks/scale_out.py", *(argv or sys.argv[1:])]),
        "machine": machine_info(),
        "size": {"shops": args.shops, "length": args.length, "channels": 10,
                 "epochs": args.epochs, "batch_size": 16},
        "training": {str(k): v for k, v in train.items()},
        "speedup_2_vs_1": speedup,
        "edges": edges,
        "extrapolation_100k": extrapolation,
    }
    args.out.write_text(json.dumps(result, indent=2))
    md = [
        "## Scale-out (issue 8)",
        "",
        f"Command: `{result['command']}`; Simulation 2, {args.shops} shops x 10 channels x "
        f"{args.length} steps, {args.epochs} epochs, global batch 16, 1 thread per process.",
        "",
        "| processes | train s | shop-steps/s | peak RSS per process (MB) |",
        "|---|---|---|---|",
        *(f"| {k} | {v['train_seconds']:.1f} | {v['shop_steps_per_s']:.0f} | "
          f"{v['peak_rss_mb_per_process']:.0f} |" for k, v in train.items()),
        "",
        f"2 processes vs 1: {speedup:.2f}x on the 2-core machine.",
        "",
        f"Batch edge inference (`causalmmm edges`, chunks of 1000): {args.edge_shops} shops in "
        f"{encode_s:.1f} s = **{edges['shops_per_s']:.0f} shops/s** (target >= 1,000), peak "
        f"RSS {peak:.0f} MB.",
        "",
        f"100,000 shops: one epoch ~ {extrapolation['epoch_hours_1_process']:.2f} h on one "
        f"process, ~ {extrapolation['epoch_hours_2_processes']:.2f} h on two; "
        f"{extrapolation['note']}.",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
