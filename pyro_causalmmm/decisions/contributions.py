"""Channel contributions, ROAS and response curves, answered through the learned graph.

Every number is a what-if on the observed window, computed with
:func:`pyro_causalmmm.decisions.interventions.counterfactual` over hard posterior graph draws (so
each has a distribution over draws, summarised by its mean and 90% HDI). For shop ``b``,
spend channel ``c`` and the window's steps ``t in W_b``, in the user's units:

* **contribution** (total effect)
  ``sum_{t in W} [GMV_t - GMV_t(do(c = 0 on W))]``: every other node with learned parents
  responds (funnels such as brand -> page views -> GMV are included);
* **direct**: the same with every other node held at its observed values, so only the
  edge ``c -> GMV`` carries the change; **indirect** = contribution - direct (per draw);
* **ROAS** = contribution / spend, spend = ``sum_{t in W} spend_c,t``;
* **marginal ROAS** = ``sum_{t in W} [GMV_t(do(c = (1 + h) spend_c on W)) - GMV_t] /
  (h * spend)`` with ``h = 0.01``: what the next unit of spend buys;
* **response curve**: ``sum_{t in W} [GMV_t(do(c = k * spend_c on W)) - GMV_t]`` for
  multipliers ``k`` on a grid (``k = 1`` is 0 exactly, ``k = 0`` is minus the contribution);
* :func:`intervene`: every node's path under any new spend path of one channel.

GMV is summed over the window only: effects that carry over past the window's end are
not counted. The channels are the data's spend channels (``MarketingMixData.spend_names``:
``--spend``, or the names containing "spend"/"cost"). Cost: every (scenario, draw, shop)
reruns the decoder over the window for the nodes that descend from the channel in that
draw (the others keep their factual states); 100 shops x 10 channels x 120 days at 20
draws take about a minute and a half on one core (``DecisionConfig.draws`` trades
precision for time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.scenarios import (
    RESPONSE_GRID,
    DecisionConfig,
    intervene,
    limits,
    parse_window,
    scenario_gains,
    spend_channels,
    window_mask,
)
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.posterior.stats import hdi

__all__ = [
    "DecisionConfig",
    "Contributions",
    "ResponseCurves",
    "contributions",
    "response_curves",
    "intervene",
    "parse_window",
    "window_mask",
    "spend_channels",
    "limits",
    "scenario_gains",
    "spearman",
    "compare_with_truth",
]


@dataclass(frozen=True)
class Contributions:
    """What :func:`contributions` returns.

    table: one row per (shop, spend channel): ``shop, channel, spend, contribution,
        contribution_hdi_low, contribution_hdi_high, direct, indirect, roas, mroas,
        p_effect`` (spend in the data's spend units, GMV amounts in the target's units (in
        revenue when the data has a revenue per target unit,
        ``MarketingMixData.revenue_per_unit``), summed over the window; the HDI has mass
        ``config.hdi_prob``; ``p_effect`` the share of posterior draws in which the channel
        moves the target at all, i.e. whose graph has a path from it to the target: a
        mean away from 0 with an HDI of [0, 0] is a channel with an effect in fewer than
        ``1 - hdi_prob`` of the draws).
    draws: ``xarray.Dataset`` with ``total``, ``direct``, ``indirect``, ``marginal`` (GMV
        per extra unit of spend) ``(draw, shop, channel)`` and ``spend`` ``(shop, channel)``.
    window: ``(shop, time)`` bool, the steps the answers are about.
    """

    table: pd.DataFrame
    draws: xr.Dataset
    window: np.ndarray
    config: DecisionConfig


@dataclass(frozen=True)
class ResponseCurves:
    """What :func:`response_curves` returns.

    table: one row per (shop, channel, multiplier): ``shop, channel, multiplier, spend,
        gmv_change, gmv_change_hdi_low, gmv_change_hdi_high`` (spend over the window at that
        multiplier; GMV change against the observed window).
    draws: ``xarray.DataArray`` ``gmv_change`` ``(draw, shop, channel, multiplier)``, with
        the coordinate ``spend`` ``(shop, channel, multiplier)``.
    """

    table: pd.DataFrame
    draws: xr.DataArray
    window: np.ndarray
    config: DecisionConfig


def _prepare(mmm, data: MarketingMixData, window, config):
    mmm._check_fitted()
    mmm._check_columns(data)
    config = config or DecisionConfig()
    channels = spend_channels(data)
    win = window_mask(data, window)
    spend = (data.values[..., channels] * win[..., None]).sum(1)  # (shop, channel)
    return config, channels, win, spend


def contributions(
    mmm, data: MarketingMixData, window=None, config: DecisionConfig | None = None
) -> Contributions:
    """Contribution (total, direct, indirect), ROAS and marginal ROAS of every spend channel
    in every shop over ``window`` (see the module docstring for the definitions and
    :func:`window_mask` for ``window``)."""
    config, channels, win, spend = _prepare(mmm, data, window, config)
    C = len(channels)
    h = config.marginal_step
    gains, unstable = scenario_gains(
        mmm,
        data,
        channel=channels * 3,
        factor=[0.0] * C + [0.0] * C + [1.0 + h] * C,
        direct=[False] * C + [True] * C + [False] * C,
        window=win,
        config=config,
    )  # (S, shop, 3C)
    # 0 - gain, not -gain: a channel that changes nothing reads 0.0, not -0.0, in the CSV
    total, direct = 0.0 - gains[..., :C], 0.0 - gains[..., C : 2 * C]
    with np.errstate(divide="ignore", invalid="ignore"):
        marginal = np.where(spend > 0, gains[..., 2 * C :] / (h * spend), np.nan)
        roas = np.where(spend > 0, total.mean(0) / spend, np.nan)
    names = [data.node_names[c] for c in channels]
    shops = [str(s) for s in data.shop_ids]
    low, high = hdi(total, config.hdi_prob)
    table = pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(shops, dtype=object), C),
            "channel": np.tile(np.asarray(names, dtype=object), data.n_shops),
            "spend": spend.reshape(-1),
            "contribution": total.mean(0).reshape(-1),
            "contribution_hdi_low": low.reshape(-1),
            "contribution_hdi_high": high.reshape(-1),
            "direct": direct.mean(0).reshape(-1),
            "indirect": (total - direct).mean(0).reshape(-1),
            "roas": roas.reshape(-1),
            "mroas": marginal.mean(0).reshape(-1),
            # a draw without a path from the channel to the target changes nothing exactly
            "p_effect": (total != 0).mean(0).reshape(-1),
        }
    )
    dims = ("draw", "shop", "channel")
    coords = {"draw": np.arange(config.draws), "shop": shops, "channel": names}
    ds = xr.Dataset(
        {
            "total": (dims, total),
            "direct": (dims, direct),
            "indirect": (dims, total - direct),
            "marginal": (dims, marginal),
            "spend": (("shop", "channel"), spend),
        },
        coords=coords,
        attrs={"target": data.target_name, "hdi_prob": config.hdi_prob, "unstable": unstable},
    )
    return Contributions(table=table, draws=ds, window=win, config=config)


def _check_grid(grid) -> np.ndarray:
    g = np.asarray(list(grid), dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or not np.isfinite(g).all() or (g < 0).any():
        raise ConfigError(f"grid must be one or more finite multipliers >= 0, got {list(grid)}")
    if len(np.unique(g)) != g.size:
        raise ConfigError(f"grid has repeated multipliers: {list(grid)}")
    return np.sort(g)


def response_curves(
    mmm,
    data: MarketingMixData,
    grid: Sequence[float] = RESPONSE_GRID,
    window=None,
    config: DecisionConfig | None = None,
) -> ResponseCurves:
    """GMV change over ``window`` when each spend channel's spend is scaled by each
    multiplier of ``grid`` (the others respond), per shop, with HDIs over graph draws."""
    config, channels, win, spend = _prepare(mmm, data, window, config)
    grid = _check_grid(grid)
    C, G = len(channels), grid.size
    run = grid != 1.0  # k = 1 changes nothing: exactly 0
    ch = np.repeat(channels, run.sum())
    fac = np.tile(grid[run], C)
    change = np.zeros((config.draws, data.n_shops, C, G))
    unstable = 0
    if ch.size:
        gains, unstable = scenario_gains(mmm, data, ch, fac, [False] * ch.size, win, config)
        change[..., run] = gains.reshape(config.draws, data.n_shops, C, int(run.sum()))
    names = [data.node_names[c] for c in channels]
    shops = [str(s) for s in data.shop_ids]
    spend_k = spend[..., None] * grid  # (shop, channel, multiplier)
    da = xr.DataArray(
        change,
        dims=("draw", "shop", "channel", "multiplier"),
        coords={
            "draw": np.arange(config.draws),
            "shop": shops,
            "channel": names,
            "multiplier": grid,
            "spend": (("shop", "channel", "multiplier"), spend_k),
        },
        name="gmv_change",
        attrs={"target": data.target_name, "hdi_prob": config.hdi_prob, "unstable": unstable},
    )
    low, high = hdi(change, config.hdi_prob)
    table = pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(shops, dtype=object), C * G),
            "channel": np.tile(np.repeat(np.asarray(names, dtype=object), G), data.n_shops),
            "multiplier": np.tile(grid, data.n_shops * C),
            "spend": spend_k.reshape(-1),
            "gmv_change": change.mean(0).reshape(-1),
            "gmv_change_hdi_low": low.reshape(-1),
            "gmv_change_hdi_high": high.reshape(-1),
        }
    )
    return ResponseCurves(table=table, draws=da, window=win, config=config)


# ----------------------------------------------------------------------------- checks


def spearman(a, b) -> float:
    """Spearman rank correlation of two 1-D arrays (ties get their mean rank); NaN when
    either is constant."""
    ra = pd.Series(np.asarray(a, dtype=np.float64)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, dtype=np.float64)).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def compare_with_truth(estimated: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Agreement of :func:`contributions`' table with a true one (e.g.
    :func:`pyro_causalmmm.simulate.true_contributions`), matched on (shop, channel).

    Returns ``spearman_total`` (pooled over shops and channels), ``spearman_total_per_shop``
    (mean over shops of the rank correlation across channels), ``spearman_direct``,
    ``total_error``, ``direct_error``, ``indirect_error`` (sum of absolute errors over sum
    of absolute true totals: 0 is perfect, 1 is an error the size of the effects),
    ``indirect_unmediated`` and ``indirect_mediated`` (mean absolute estimated indirect
    effect over pairs without / with a true path through another channel, when ``truth``
    has a ``mediated`` column), ``pairs``, and the effect-size measures of the
    marketing issue: ``hdi_coverage`` (share of pairs whose true total lies inside the
    contribution HDI, when ``estimated`` has it), ``median_abs_log_ratio`` (median
    ``|log(est / true)|`` over pairs whose true total is positive, an estimate <= 0
    counting as a miss of unbounded size) and ``sign_errors`` (pairs
    with a positive true total estimated < 0).
    """
    est = estimated.assign(shop=estimated["shop"].astype(str))
    tru = truth.assign(shop=truth["shop"].astype(str))
    m = est.merge(tru, on=["shop", "channel"], suffixes=("", "_true"))
    scale = np.abs(m["total"]).sum()
    per_shop = [spearman(g["contribution"], g["total"]) for _, g in m.groupby("shop", sort=False)]
    out = {
        "pairs": len(m),
        "spearman_total": spearman(m["contribution"], m["total"]),
        "spearman_total_per_shop": float(np.nanmean(per_shop)),
        "spearman_direct": spearman(m["direct"], m["direct_true"]),
        "total_error": float(np.abs(m["contribution"] - m["total"]).sum() / scale),
        "direct_error": float(np.abs(m["direct"] - m["direct_true"]).sum() / scale),
        "indirect_error": float(np.abs(m["indirect"] - m["indirect_true"]).sum() / scale),
        "sign_errors": int(((m["total"] > 0) & (m["contribution"] < 0)).sum()),
    }
    if {"contribution_hdi_low", "contribution_hdi_high"} <= set(m.columns):
        inside = (m["total"] >= m["contribution_hdi_low"]) & (
            m["total"] <= m["contribution_hdi_high"]
        )
        out["hdi_coverage"] = float(inside.mean())
    real = m[m["total"] > 0]
    with np.errstate(divide="ignore", invalid="ignore"):  # an estimate <= 0: a miss
        log_err = np.where(
            real["contribution"] > 0, np.abs(np.log(real["contribution"] / real["total"])), np.inf
        )
    out["median_abs_log_ratio"] = float(np.median(log_err)) if len(real) else float("nan")
    if "mediated" in m:
        med = m["mediated"].astype(bool)
        out["indirect_unmediated"] = float(np.abs(m.loc[~med, "indirect"]).mean())
        out["indirect_mediated"] = float(np.abs(m.loc[med, "indirect"]).mean())
        out["true_indirect_mediated"] = float(np.abs(m.loc[med, "indirect_true"]).mean())
    return out
