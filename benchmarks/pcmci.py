"""PCMCI (ParCorr, tigramite) next to ridge-VAR Granger on the main harness's draws.

    pip install 'pyro_causalmmm[bench]'
    python benchmarks/pcmci.py [--seeds 3] [--workers 2]

Runs both baselines on exactly the Simulation 2 draws ``benchmarks/run.py`` uses
(100 shops, 10 channels, 120 steps, 5 graphs; per_shop and shared mechanisms;
seeds 0..n-1), one (method, mechanisms, seed) job per worker process with one
BLAS/torch thread. Writes ``benchmarks/pcmci_results.json`` (machine, command,
every row) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# one thread per worker (set before numpy/torch load in the worker processes)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import SIZE, machine_info, simulated_draw  # noqa: E402

METHODS = ("ridge_var_granger", "pcmci_parcorr")


def _job(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from pyro_causalmmm.evaluation.baselines import BASELINES
    from pyro_causalmmm.evaluation.metrics import edge_metrics

    data, truth = simulated_draw(spec)
    t0 = time.perf_counter()
    scores = BASELINES[spec["method"]](data.values, mask=data.mask)
    seconds = time.perf_counter() - t0
    return {**spec, **edge_metrics(scores, truth), "seconds": seconds}


def _machine() -> dict:
    import tigramite

    version = getattr(tigramite, "__version__", None) or _dist_version("tigramite")
    return machine_info(tigramite=version)


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _table(rows: list[dict], methods: list[str], mechanisms: list[str]) -> list[str]:
    out = [
        "| method | mechanisms | per-shop-mean AUROC (mean ± sd over seeds) | pooled AUROC "
        "| seconds / run |",
        "|---|---|---|---|---|",
    ]
    for method in methods:
        for mech in mechanisms:
            got = [r for r in rows if r["method"] == method and r["mechanisms"] == mech]
            if not got:
                continue
            vals = np.array([r["auroc_per_shop_mean"] for r in got])
            pooled = np.array([r["auroc_pooled"] for r in got])
            secs = np.array([r["seconds"] for r in got])
            sd = f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""
            out.append(
                f"| {method} | {mech} | {vals.mean():.3f}{sd} | {pooled.mean():.3f} "
                f"| {secs.mean():.1f} |"
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..n-1 (default 3)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--mechanisms", nargs="+", default=["per_shop", "shared"])
    ap.add_argument("--out", default=str(HERE / "pcmci_results.json"))
    args = ap.parse_args(argv)
    seeds = list(range(args.seeds))
    specs = [
        {"method": meth, "scenario": "sim2", "mechanisms": mech, "seed": seed, "size": SIZE}
        for seed in seeds for mech in args.mechanisms for meth in args.methods
    ]
    # slow PCMCI jobs first so the cheap ridge jobs fill in the gaps
    specs.sort(key=lambda s: s["method"] != "pcmci_parcorr")
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(_job, specs):
            rows.append(row)
            print(
                f"{row['method']:18s} sim2 {row['mechanisms']:8s} seed {row['seed']} "
                f"AUROC {row['auroc_per_shop_mean']:.3f} ({row['seconds']:.1f} s)", flush=True
            )
    command = "python benchmarks/pcmci.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {
        "machine": _machine(), "command": command.strip(), "seeds": seeds, "size": SIZE,
        "scenario": "sim2", "workers": args.workers, "threads_per_worker": 1,
        "wall_seconds": time.perf_counter() - t0, "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    print(
        "\n".join(
            [
                "",
                f"Command: `{result['command']}`; seeds {seeds}; Simulation 2, size {SIZE}; "
                f"wall {result['wall_seconds']:.0f} s with {args.workers} workers x 1 thread.",
                "",
                *_table(rows, args.methods, args.mechanisms),
            ]
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
