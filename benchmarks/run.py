"""Variant comparison (issue 9): graph recovery of CausalMMM variants next to ridge-VAR.

    python benchmarks/run.py --quick     # 1 seed, minutes
    python benchmarks/run.py --full      # 3 seeds, both scenarios and mechanisms

Every (method, scenario, mechanisms, seed) job runs in its own worker process with one
torch thread (2 workers on the 2-core machine: one thread per process avoids the
OpenMP oversubscription that made 2-thread fits 40x slower when two ran at once).
Every method sees the same simulated draws. Writes ``benchmarks/results_variants.json``
and ``benchmarks/results_variants.md`` (machine, command, seeds, every figure); the main
benchmark tables (``results.md``) come from recovery.py, forecast_bench.py, speed.py and
report.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import SIZE, machine_info, simulated_draw  # noqa: E402

# Issue 9: directions measured against each other (all keep the same generative story)
VARIANTS = {
    "paper_decoder": dict(linear_lags=0, message_window=1, encoder_lag_features=False),
    "windowed_messages": dict(linear_lags=0, message_window=3, encoder_lag_features=False),
    "encoder_lag_features": dict(linear_lags=0, message_window=3, encoder_lag_features=True),
    "linear_term": dict(linear_lags=3, message_window=3, encoder_lag_features=False),
    "no_refinement": dict(evidence_refinements=0),  # Bayes factors against the full lag model
    "default": {},  # linear term + encoder lag features (refined Bayes-factor start)
}
# the variant comparison is on Simulation 2 (issue 9's setting); Simulation 1 runs the
# default and the baseline only, to keep `--full` near 20 minutes on 2 cores
SIM1_METHODS = ("ridge_var", "default")


def _job(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig
    from pyro_causalmmm.evaluation.baselines import ridge_var_granger
    from pyro_causalmmm.evaluation.metrics import edge_metrics

    data, truth = simulated_draw(spec)
    t0 = time.perf_counter()
    if spec["method"] == "ridge_var":
        scores = ridge_var_granger(data.values, mask=data.mask)
    else:
        cfg = replace(ModelConfig(), **VARIANTS[spec["method"]])
        mmm = CausalMMM(cfg)
        mmm.fit(data, TrainConfig(seed=spec["seed"], epochs=spec["epochs"]))
        scores = mmm.edge_probability_array(data)
    seconds = time.perf_counter() - t0
    return {**spec, **edge_metrics(scores, truth), "seconds": seconds}


def _table(rows: list[dict], methods: list[str], settings: list[tuple]) -> list[str]:
    head = "| method | " + " | ".join(f"{s} / {m}" for s, m in settings) + " | fit s |"
    out = [head, "|" + "---|" * (len(settings) + 2)]
    for method in methods:
        cells, secs = [], []
        for scenario, mech in settings:
            got = [
                r for r in rows
                if r["method"] == method and r["scenario"] == scenario and r["mechanisms"] == mech
            ]
            vals = np.array([r["auroc_per_shop_mean"] for r in got])
            pooled = np.array([r["auroc_pooled"] for r in got])
            acc = np.array([r["acc"] for r in got])
            secs += [r["seconds"] for r in got]
            if len(vals) == 0:
                cells.append("not run")
            else:
                sd = f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""
                cells.append(
                    f"{vals.mean():.3f}{sd} (pooled {pooled.mean():.3f}, ACC {acc.mean():.2f})"
                )
        out.append(f"| {method} | " + " | ".join(cells) + f" | {np.mean(secs):.1f} |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="1 seed, 50 shops")
    mode.add_argument("--full", action="store_true", help="3 seeds, 100 shops (default)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--scenarios", nargs="+", default=["sim2", "sim1"])
    ap.add_argument("--mechanisms", nargs="+", default=["per_shop", "shared"])
    ap.add_argument("--out", default=str(HERE / "results_variants"))
    ap.add_argument(
        "--keep", nargs="*", default=[], metavar="METHOD",
        help="methods whose rows are kept from the existing results.json instead of rerun "
        "(for variants a change does not touch); the report says which",
    )
    args = ap.parse_args(argv)
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    run_methods = args.methods or [m for m in ["ridge_var", *VARIANTS] if m not in args.keep]
    table_methods = [m for m in ["ridge_var", *VARIANTS] if m in run_methods or m in args.keep]
    size = {**SIZE, "n_shops": 50} if args.quick else SIZE
    settings = [(s, m) for s in args.scenarios for m in args.mechanisms]
    specs = [
        {"method": meth, "scenario": s, "mechanisms": m, "seed": seed, "size": size,
         "epochs": args.epochs}
        for seed in seeds for (s, m) in settings for meth in run_methods
        if s != "sim1" or meth in SIM1_METHODS
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = []
        for row in pool.map(_job, specs):
            rows.append(row)
            print(
                f"{row['method']:22s} {row['scenario']} {row['mechanisms']:8s} seed {row['seed']} "
                f"AUROC {row['auroc_per_shop_mean']:.3f} ({row['seconds']:.0f} s)", flush=True
            )
    out = Path(args.out)
    kept = []
    if args.keep:
        old = json.loads(out.with_suffix(".json").read_text())
        kept = [r for r in old["rows"] if r["method"] in args.keep]
        rows = kept + rows
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {
        "machine": machine_info(), "command": command, "seeds": seeds, "size": size,
        "epochs": args.epochs, "wall_seconds": time.perf_counter() - t0, "rows": rows,
    }
    result["kept_from_previous_run"] = sorted({r["method"] for r in kept})
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    md = [
        "# Benchmark results",
        "",
        f"Command: `{command}`  ",
        f"Machine: {result['machine']}  ",
        f"Seeds: {seeds}; simulation size {size}; {args.epochs} epochs; "
        f"wall {result['wall_seconds']:.0f} s with {args.workers} workers x 1 thread.",
        "",
        "## Graph recovery (per-shop-mean edge AUROC ± sd over seeds; pooled AUROC; ACC at "
        "p_edge 0.5)",
        "",
        *_table(rows, table_methods, settings),
        "",
        "Every figure is in `results.json` (one row per method, scenario, mechanisms, seed)."
        + (
            f" Rows of {', '.join(result['kept_from_previous_run'])} were kept from the previous"
            " run (`--keep`): the change being measured does not touch them."
            if kept else ""
        ),
    ]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
