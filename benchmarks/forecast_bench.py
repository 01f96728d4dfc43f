"""Forecasting (paper Table 7 style): GMV MSE at M = 1, 7, 30 on held-out final windows.

    python benchmarks/forecast_bench.py --quick
    python benchmarks/forecast_bench.py --full

Simulation 2 with T = 150 (grid.FORECAST): every method sees each shop's first 120
steps only and forecasts the last 30. MSE is over each shop's first M forecast steps of
the target, on the target scaled to [0.1, 0.9] per shop with the scaling of the training
window (so shops of different size weigh the same; the held-out truth may fall outside
[0.1, 0.9]). Methods:

* CausalMMM and its ablations: trained on the first 120 steps, then
  ``pyro_causalmmm.posterior.forecasting.backtest`` (posterior-predictive mean of 100 draws; also
  50%/90% interval coverage);
* linear VAR: a per-shop ridge VAR(3) with intercept (alpha = 1) on the scaled training
  window, every node rolled forward 30 steps (its own forecasts fed back);
* seasonal naive: the value 7 days earlier (for steps beyond 7, the last observed week
  repeated).

Rows go to ``benchmarks/parts/forecast.jsonl`` (resumable, as recovery.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import grid  # noqa: E402
from common import run_jobs, simulated_draw  # noqa: E402

STEPS = (1, 7, 30)


def ridge_var_forecast(z: np.ndarray, horizon: int, lags: int = 3, alpha: float = 1.0):
    """Roll a per-shop ridge VAR(``lags``) with intercept forward: ``z`` ``(shop, time,
    node)`` fully observed -> forecasts ``(shop, horizon, node)``."""
    n_shops, n_time, n_nodes = z.shape
    design = np.concatenate(
        [z[:, lags - lag : n_time - lag, :] for lag in range(1, lags + 1)]
        + [np.ones((n_shops, n_time - lags, 1))],
        axis=2,
    )
    target = z[:, lags:, :]
    p = design.shape[2]
    pen = alpha * np.eye(p)
    pen[-1, -1] = 0.0  # intercept not penalised
    gram = np.einsum("nrp,nrq->npq", design, design) + pen
    coef = np.linalg.solve(gram, np.einsum("nrp,nrj->npj", design, target))
    hist = list(np.moveaxis(z[:, -lags:, :], 1, 0))  # last `lags` steps, oldest first
    out = []
    for _ in range(horizon):
        row = np.concatenate([hist[-lag] for lag in range(1, lags + 1)]
                             + [np.ones((n_shops, 1))], axis=1)
        nxt = np.einsum("np,npj->nj", row, coef)
        out.append(nxt)
        hist.append(nxt)
    return np.stack(out, axis=1)


def seasonal_naive(y: np.ndarray, horizon: int, period: int = 7) -> np.ndarray:
    """``y`` ``(shop, time)`` -> ``(shop, horizon)``: step h repeats the last observed
    value at the same phase of the ``period``."""
    h = np.arange(horizon)
    return y[:, y.shape[1] - period + (h % period)]


def _mse_rows(fc_scaled: np.ndarray, truth_scaled: np.ndarray) -> dict:
    return {
        str(k): {"mse_scaled": float(np.mean((fc_scaled[:, :k] - truth_scaled[:, :k]) ** 2)),
                 "cells": int(truth_scaled[:, :k].size)}
        for k in STEPS
    }


def _job(spec: dict) -> dict:
    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig
    from pyro_causalmmm.posterior.forecasting import backtest

    data, _ = simulated_draw(spec)
    horizon = spec["horizon"]
    history = data.drop_last(horizon)
    t0 = time.perf_counter()
    if spec["method"] == "var_forecast":
        assert bool(history.mask.all()) and bool(data.mask.all())  # simulated: no gaps
        target = data.target_index
        loc = history.scaling.loc[:, target, None]
        scale = history.scaling.scale[:, target, None]
        truth = (data.values[:, -horizon:, target] - loc) / scale
        z = history.scaled_values
        var_fc = ridge_var_forecast(z, horizon)[:, :, target]
        naive = seasonal_naive(z[:, :, target], horizon)
        rows = [
            {"method": "ridge_var_forecast", "scores": _mse_rows(var_fc, truth),
             "seconds": time.perf_counter() - t0},
            {"method": "seasonal_naive", "scores": _mse_rows(naive, truth), "seconds": 0.0},
        ]
        return {"spec": spec, "rows": rows}
    cfg = replace(ModelConfig(), **grid.CM_FLAGS[spec["method"]])
    mmm = CausalMMM(cfg)
    mmm.fit(history, TrainConfig(seed=spec["seed"], epochs=spec["epochs"]))
    fit_s = time.perf_counter() - t0
    _, _, scores = backtest(mmm, data, horizon, seed=spec["seed"], steps=STEPS)
    return {
        "spec": spec,
        "rows": [{"method": spec["method"], "scores": {str(k): v for k, v in scores.items()},
                  "seconds": fit_s, "backtest_seconds": time.perf_counter() - t0 - fit_s}],
    }


def _label(row: dict) -> str:
    s = row["spec"]
    return f"seed {s['seed']}: " + "; ".join(
        f"{r['method']} MSE@1/7/30 " + "/".join(f"{r['scores'][str(k)]['mse_scaled']:.4f}"
                                                for k in STEPS)
        for r in row["rows"]
    )


def specs_for(quick: bool) -> list[dict]:
    size = grid.FORECAST_QUICK if quick else grid.FORECAST
    seeds = (0,) if quick else grid.SEEDS
    epochs = 3 if quick else grid.EPOCHS
    return [
        {"method": m, "scenario": "sim2", "mechanisms": grid.MECHANISMS, "seed": seed,
         "size": dict(size), "epochs": epochs, "horizon": grid.HORIZON}
        for seed in seeds for m in ("var_forecast", *grid.CM_METHODS)
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    parts = HERE / ("parts_quick" if args.quick else "parts")
    t0 = time.perf_counter()
    run_jobs(_job, specs_for(args.quick), parts / "forecast.jsonl", args.workers, _label)
    print(f"forecast: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
