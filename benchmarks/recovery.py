"""Structure recovery (paper Tables 3-6, Figure 4): every method on the same draws.

    python benchmarks/recovery.py --quick     # minutes; checks the pipeline
    python benchmarks/recovery.py --full      # the grid of benchmarks/grid.py

Each job (one method, or the group of vectorized baselines, on one simulated draw) runs
in a worker with one thread; rows are appended to ``benchmarks/parts/recovery.jsonl``
(``parts_quick`` with ``--quick``) as they finish, and a rerun skips jobs already there.
PCMCI rows are taken from ``benchmarks/pcmci_results.json`` where the draw is identical
(see grid.py). ``benchmarks/report.py`` turns the rows into tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import grid  # noqa: E402
from common import read_jsonl, run_jobs, simulated_draw  # noqa: E402


def _job(spec: dict) -> dict:
    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig
    from pyro_causalmmm.evaluation.baselines import BASELINES
    from pyro_causalmmm.evaluation.metrics import edge_metrics

    data, truth = simulated_draw(spec)
    results = []
    cpu0 = time.process_time()
    if spec["method"] == "fast_baselines":
        for name in grid.FAST_BASELINES:
            t0 = time.perf_counter()
            scores = BASELINES[name](data.values, mask=data.mask)
            results.append((name, scores, time.perf_counter() - t0, {}))
    elif spec["method"] in grid.SLOW_BASELINES:
        t0 = time.perf_counter()
        scores = BASELINES[spec["method"]](data.values, mask=data.mask)
        results.append((spec["method"], scores, time.perf_counter() - t0, {}))
    else:
        cfg = replace(ModelConfig(), **grid.CM_FLAGS[spec["method"]])
        mmm = CausalMMM(cfg)
        t0 = time.perf_counter()
        fit = mmm.fit(data, TrainConfig(seed=spec["seed"], epochs=spec["epochs"]))
        scores = mmm.edge_probability_array(data)
        extra = {"final_loss": fit.train_losses[-1], "epochs_run": fit.epochs_run}
        results.append((spec["method"], scores, time.perf_counter() - t0, extra))
    cpu = time.process_time() - cpu0  # of the whole job (all its methods)
    rows = [
        {"method": name, **edge_metrics(scores, truth), "seconds": secs, "job_cpu_seconds": cpu,
         **extra}
        for name, scores, secs, extra in results
    ]
    return {"spec": spec, "rows": rows}


def _label(row: dict) -> str:
    s = row["spec"]
    size = s["size"]
    parts = [
        f"{r['method']} AUROC {r['auroc_per_shop_mean']:.3f} ({r['seconds']:.0f} s)"
        for r in row["rows"]
    ]
    return (
        f"{s['scenario']} N={size['n_shops']} d={size['n_channels']} T={size['length']} "
        f"R={size['n_graphs']} seed {s['seed']}: " + "; ".join(parts)
    )


def flat_rows(out_jsonl) -> list[dict]:
    """One row per (method, draw): the spec's fields next to the metrics."""
    rows = []
    for rec in read_jsonl(out_jsonl):
        spec = {k: v for k, v in rec["spec"].items() if k != "method"}
        for r in rec["rows"]:
            rows.append({**spec, **r, "source": "recovery.py"})
    return rows


def pcmci_rows(path=HERE / "pcmci_results.json") -> list[dict]:
    """PCMCI rows of ``pcmci_results.json`` (identical draws: same simulator, seed, size)."""
    import json

    if not Path(path).exists():
        return []
    res = json.loads(Path(path).read_text())
    return [
        {**r, "epochs": None, "source": "pcmci_results.json"}
        for r in res["rows"] if r["method"] == "pcmci_parcorr"
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true", help="the full grid (default)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-jobs", type=int, default=None,
                    help="run only the first N jobs of the priority list")
    ap.add_argument("--seeds", nargs="+", type=int, default=None,
                    help="run only these seeds of the grid (same priority order)")
    ap.add_argument("--methods", nargs="+", default=None,
                    help="run only these job methods (fast_baselines, causalmmm, cm_full, ...)")
    args = ap.parse_args(argv)
    specs = grid.recovery_specs(quick=args.quick)
    if args.seeds is not None:
        specs = [s for s in specs if s["seed"] in args.seeds]
    if args.methods is not None:
        specs = [s for s in specs if s["method"] in args.methods]
    if args.max_jobs is not None:
        specs = specs[: args.max_jobs]
    parts = HERE / ("parts_quick" if args.quick else "parts")
    t0 = time.perf_counter()
    run_jobs(_job, specs, parts / "recovery.jsonl", args.workers, _label)
    print(f"recovery: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
