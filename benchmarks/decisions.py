"""Marketing decisions measured against the simulator's ground truth.

    python benchmarks/decisions.py [--seed 0] [--draws 20] [--threads 1]

On Simulation 2 at the paper's default size (100 shops, 10 channels, T = 120, R = 5,
per-shop mechanisms; the draw of ``benchmarks/run.py``), with the default fit
(``ModelConfig()``, ``TrainConfig()``):

* contributions of every (shop, channel) over the whole data against
  :func:`pyro_causalmmm.simulate.true_contributions` (the simulator re-run under the same
  do() with the same noise): Spearman rank correlation of the total effects (pooled over
  all pairs, and the mean over shops of the per-shop correlation across channels), and the
  errors of the total / direct / indirect parts (sum of absolute errors over the sum of
  absolute true totals), plus the mean absolute indirect effect where the true graph has /
  has no path through another channel;
* the same with ``DecisionConfig(coefficient_covariance="model")`` (the coefficient draws
  of 0.5) on the same fit, side by side with the default robust covariance;
* the budget optimizer's wall time for 100 shops x 10 channels x a 30-day horizon
  (pooled budget = current total, default bounds), with its expected lift.

Writes ``benchmarks/decisions_results.json`` (machine, command, settings, numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import SIZE, machine_info  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="simulation and fit seed (0)")
    parser.add_argument("--draws", type=int, default=20, help="graph draws (20, the CLI's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--out", default=str(HERE / "decisions_results.json"))
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
    from pyro_causalmmm.decisions.contributions import (
        DecisionConfig,
        compare_with_truth,
        contributions,
    )
    from pyro_causalmmm.decisions.optimizer import BudgetConfig, optimize_budget
    from pyro_causalmmm.simulate import simulate, true_contributions

    sim = simulate("sim2", mechanisms="per_shop", seed=args.seed, **SIZE)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    t0 = time.perf_counter()
    mmm = CausalMMM(ModelConfig())
    mmm.fit(data, TrainConfig(seed=args.seed))
    fit_seconds = time.perf_counter() - t0
    print(f"fit: {fit_seconds:.0f} s", flush=True)

    t0 = time.perf_counter()
    estimated = contributions(mmm, data, config=DecisionConfig(draws=args.draws, seed=args.seed))
    contrib_seconds = time.perf_counter() - t0
    truth = true_contributions(sim)
    scores = compare_with_truth(estimated.table, truth)
    print(f"contributions: {contrib_seconds:.0f} s; {scores}", flush=True)
    # the same fitted model with the coefficient draws of 0.5 (the model's covariance)
    t0 = time.perf_counter()
    plain = contributions(
        mmm, data,
        config=DecisionConfig(draws=args.draws, seed=args.seed, coefficient_covariance="model"),
    )
    plain_seconds = time.perf_counter() - t0
    plain_scores = compare_with_truth(plain.table, truth)
    print(f"contributions (model covariance): {plain_seconds:.0f} s; {plain_scores}", flush=True)

    config = BudgetConfig(budget=1.0, relative=True, horizon=30, draws=args.draws, seed=args.seed)
    t0 = time.perf_counter()
    plan = optimize_budget(mmm, data, config)
    opt_seconds = time.perf_counter() - t0
    summary = {k: v for k, v in plan.summary.items() if k != "seconds"}
    print(f"optimizer: {opt_seconds:.1f} s; {summary}", flush=True)

    result = {
        "machine": machine_info(),
        "command": "python benchmarks/decisions.py " + " ".join(argv or sys.argv[1:]),
        "size": SIZE,
        "scenario": "sim2",
        "mechanisms": "per_shop",
        "seed": args.seed,
        "draws": args.draws,
        "threads": args.threads,
        "fit_seconds": fit_seconds,
        "contributions": {
            **scores,
            "seconds": contrib_seconds,
            "unstable_draws": int(estimated.draws.attrs.get("unstable", 0)),
            "mean_abs_true_total": float(truth["total"].abs().mean()),
            "mean_abs_estimated_total": float(estimated.table["contribution"].abs().mean()),
        },
        "contributions_model_covariance": {**plain_scores, "seconds": plain_seconds},
        "optimizer": {
            "seconds": opt_seconds,
            "shops": data.n_shops,
            "channels": len(data.spend_names),
            "horizon": config.horizon,
            "iterations": config.iterations,
            "opt_draws": config.opt_draws,
            **summary,
        },
        "aims": {"spearman_total": ">= 0.8", "optimizer_seconds": "< 30 on 2 cores"},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
