"""Forecast and backtest jobs on a fitted model, and the files they write.

* :func:`forecast` — posterior-predictive forecasts ``horizon`` steps past each shop's
  last step: an ``InferenceData`` with a ``predictions`` group and the table
  ``shop,time,target_mean,hdi_50_low,hdi_50_high,hdi_90_low,hdi_90_high``.
* :func:`backtest` — hold out each shop's last ``horizon`` steps, condition on the rest
  (graph from the encoder, linear coefficients and scaling from the shortened history),
  forecast them, and score: MSE (on the model's per-shop [0.1, 0.9] target scale, so
  shops of different size weigh the same), MAPE (user units) and 50%/90% interval
  coverage over the first 1, 7 and 30 steps.

A backtest is honest only when the model was also trained without those steps
(``causalmmm fit --holdout M``); :func:`backtest` reports whether it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.evaluation.metrics import mape, mse
from pyro_causalmmm.posterior import draws as posterior
from pyro_causalmmm.posterior import summaries
from pyro_causalmmm.posterior.plan import read_plan
from pyro_causalmmm.posterior.stats import coverage

BACKTEST_STEPS = (1, 7, 30)


def forecast(
    mmm,
    data: MarketingMixData,
    horizon: int,
    draws: int = posterior.DRAWS,
    seed: int = 0,
    future_context: np.ndarray | None = None,
    plan=None,
    **build_kw,
):
    """``(idata, table)``: the posterior with forecasts, and :func:`summaries.forecast_table`.

    ``plan``: planned future spend, a CSV path or frame (:mod:`pyro_causalmmm.posterior.plan`;
    its shop and time columns are ``build_kw.pop("plan_shop", "shop")`` and
    ``"plan_time"``) or an array ``(shop, horizon, node)`` with NaN where not planned.
    Channels not planned are forecast by the model, as without a plan."""
    shop_col, time_col = build_kw.pop("plan_shop", "shop"), build_kw.pop("plan_time", "time")
    values = None
    if plan is not None:
        values = (
            np.asarray(plan, dtype=np.float64)
            if isinstance(plan, np.ndarray)
            else read_plan(plan, data, horizon, shop=shop_col, time=time_col)
        )
    idata = posterior.build(
        mmm,
        data,
        draws=draws,
        seed=seed,
        horizon=horizon,
        future_context=future_context,
        future_values=values,
        **build_kw,
    )
    return idata, summaries.forecast_table(idata)


def backtest(
    mmm,
    data: MarketingMixData,
    horizon: int,
    draws: int = posterior.DRAWS,
    seed: int = 0,
    steps=BACKTEST_STEPS,
):
    """``(idata, table, scores)`` for the last ``horizon`` steps of every shop.

    ``table`` is the forecast table plus ``observed``; ``scores`` maps each ``k`` in
    ``steps`` (at most ``horizon``) to ``{"mse_scaled", "mape", "coverage_50",
    "coverage_90", "cells"}`` over each shop's first ``k`` forecast steps.
    """
    history = data.drop_last(horizon)
    idata, table = forecast(mmm, history, horizon, draws=draws, seed=seed)
    target = data.target_index
    # the held-out truth: shop s's steps lengths[s]-horizon .. lengths[s]-1
    idx = history.lengths[:, None] + np.arange(horizon)[None]  # (shop, horizon)
    truth = np.take_along_axis(data.values[..., target], idx, axis=1)  # user units
    da = idata.predictions["obs"].sel(node=data.target_name)
    draws_arr = da.values.reshape(-1, *da.shape[2:])  # (S, shop, union time)
    pos = posterior_positions(history, horizon, da["time"].values)
    fc = np.take_along_axis(draws_arr, pos[None], axis=2)  # (S, shop, horizon)
    loc = history.scaling.loc[:, target, None]
    scale = history.scaling.scale[:, target, None]
    fc_scaled, truth_scaled = (fc - loc) / scale, (truth - loc) / scale
    scores = {}
    for k in steps:
        if k > horizon:
            continue
        mean_k = fc_scaled[:, :, :k].mean(0)
        scores[int(k)] = {
            "mse_scaled": mse(mean_k, truth_scaled[:, :k]),
            "mape": mape(fc[:, :, :k].mean(0), truth[:, :k]),
            "coverage_50": coverage(truth[:, :k], fc[:, :, :k], 0.5),
            "coverage_90": coverage(truth[:, :k], fc[:, :, :k], 0.9),
            "cells": int(truth[:, :k].size),
        }
    observed = pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(data.shop_ids, dtype=object), horizon),
            "time": np.concatenate([history.future_times(s, horizon) for s in range(data.n_shops)]),
            "observed": truth.reshape(-1),
        }
    )
    observed["shop"] = observed["shop"].astype(str)
    table = table.assign(shop=table["shop"].astype(str)).merge(
        observed, on=["shop", "time"], how="left"
    )
    return idata, table, scores


def posterior_positions(history: MarketingMixData, horizon: int, labels) -> np.ndarray:
    """``(shop, horizon)`` indices of each shop's future steps on the union grid."""
    index = pd.Index(labels)
    return np.stack(
        [index.get_indexer(history.future_times(s, horizon)) for s in range(history.n_shops)]
    )


def format_scores(scores: dict, honest: bool) -> list[str]:
    """Lines for people: one per horizon."""
    lines = [
        f"backtest, first {k} step{'s' if k > 1 else ''}: MSE {v['mse_scaled']:.4f} (target "
        f"scaled to [0.1, 0.9] per shop), MAPE {v['mape']:.1f}%, 50%/90% interval "
        f"coverage {100 * v['coverage_50']:.0f}%/{100 * v['coverage_90']:.0f}%"
        for k, v in scores.items()
    ]
    if not honest:
        lines.append(
            "note: the model was trained on these steps (fit.json holdout < horizon); "
            "refit with `causalmmm fit --holdout M` for an honest backtest"
        )
    return lines
