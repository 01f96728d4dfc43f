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
reruns the decoder over the window; 100 shops x 10 channels x 120 days at 30 draws take a
few minutes on one core (``DecisionConfig.draws`` trades precision for time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.interventions import counterfactual, graph_draws, prepare_world
from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.posterior.stats import hdi

DRAWS = 20
HDI_PROB = 0.9
MARGINAL_STEP = 0.01
RESPONSE_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)

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
class DecisionConfig:
    """Settings shared by contributions, response curves and the budget optimizer.

    draws: hard posterior graph draws (every answer's HDI is over them).
    seed: seeds the graph draws (same seed, same answers).
    hdi_prob: mass of the reported highest-density intervals.
    marginal_step: h, the relative spend increase behind marginal ROAS.
    rows: (scenario x draw x shop) rows simulated at once; bounds memory and keeps the
        arrays cache-sized (results do not depend on it).
    """

    draws: int = DRAWS
    seed: int = 0
    hdi_prob: float = HDI_PROB
    marginal_step: float = MARGINAL_STEP
    rows: int = 512

    def __post_init__(self) -> None:
        def is_int(v) -> bool:
            return not isinstance(v, bool) and isinstance(v, int | np.integer)

        if not is_int(self.draws) or self.draws < 2:
            raise ConfigError(f"draws={self.draws!r} is out of range; it must be an integer >= 2")
        if not is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} is out of range; it must be an integer >= 0")
        if not 0 < self.hdi_prob < 1:
            raise ConfigError(f"hdi_prob={self.hdi_prob!r} is out of range; it must be in (0, 1)")
        if not 0 < self.marginal_step <= 0.5:
            raise ConfigError(
                f"marginal_step={self.marginal_step!r} is out of range; it must be in (0, 0.5]"
            )
        if not is_int(self.rows) or self.rows < 1:
            raise ConfigError(f"rows={self.rows!r} is out of range; it must be an integer >= 1")


# ----------------------------------------------------------------------------- inputs


def spend_channels(data: MarketingMixData) -> list[int]:
    """Node indices of the spend channels (the decision levers), in node order."""
    if not data.spend_names:
        raise ConfigError(
            "the data has no spend channels: name them with --spend COL ... (or spend=[...] "
            "in MarketingMixData.from_frame); contributions and budgets are about spend"
        )
    return [data.node_names.index(c) for c in data.channel_names if c in data.spend_names]


def _time_label(text: str, data: MarketingMixData, what: str):
    """One time label of the data's kind (a date or an integer step) from ``text``."""
    text = str(text).strip()
    if isinstance(data.freq, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{what} {text!r} is not an integer time step") from None
    try:
        if text.isdigit() and len(text) == 8:
            return pd.Timestamp(pd.to_datetime(text, format="%Y%m%d"))
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(f"{what} {text!r} is not a date (use YYYY-MM-DD)") from None


def parse_window(text: str | None, data: MarketingMixData) -> tuple | None:
    """``"START:END"`` (both inclusive, either may be empty) as ``(start, end)`` labels of
    the data's time kind; None or ``""`` is the whole data."""
    if text is None or str(text).strip() in ("", ":"):
        return None
    parts = str(text).split(":")
    if len(parts) != 2:
        raise ConfigError(f"--window must be START:END (e.g. 2023-01-01:2023-03-31), got {text!r}")
    start = _time_label(parts[0], data, "--window start") if parts[0].strip() else None
    end = _time_label(parts[1], data, "--window end") if parts[1].strip() else None
    if start is not None and end is not None and end < start:
        raise ConfigError(f"--window {text!r}: the end comes before the start")
    return start, end


def window_mask(data: MarketingMixData, window=None) -> np.ndarray:
    """``(shop, time)`` bool: the observed steps inside ``window``.

    ``window`` is None (every observed step), ``(start, end)`` time labels (inclusive;
    None for an open end), or a ``(shop, time)`` bool array. Every shop must have at
    least one step inside (the error names the first that has none).
    """
    if window is None:
        out = np.asarray(data.mask, dtype=bool).copy()
    elif isinstance(window, np.ndarray) and window.dtype == bool:
        if window.shape != data.mask.shape:
            raise ConfigError(
                f"window must be (shop, time) = {data.mask.shape}, got {window.shape}"
            )
        out = window & data.mask
    else:
        start, end = window
        out = np.zeros(data.mask.shape, dtype=bool)
        for s, labels in enumerate(data.times):  # per shop: its own calendar (padding differs)
            keep = np.ones(len(labels), dtype=bool)
            if start is not None:
                keep &= np.asarray(labels >= start)
            if end is not None:
                keep &= np.asarray(labels <= end)
            out[s, : len(labels)] = keep
    empty = np.flatnonzero(~out.any(axis=1))
    if empty.size:
        s = int(empty[0])
        times = data.times[s]
        raise DataValidationError(
            f"shop {data.shop_ids[s]!r} has no step inside the window (its data run from "
            f"{times[0]} to {times[-1]}); choose a window that every shop overlaps"
        )
    return out


# ----------------------------------------------------------------------------- engine


def _model_values(data: MarketingMixData, sl: slice, user: np.ndarray, x: np.ndarray) -> np.ndarray:
    """User values ``(..., shop, time, node)`` of the shops ``sl`` in model units; cells
    equal to the data keep the model's own value ``x`` exactly (so "no change" is exact)."""
    loc, scale = data.scaling.loc[sl][:, None, :], data.scaling.scale[sl][:, None, :]
    return np.where(user == data.values[sl], x, (user - loc) / scale)


def scenario_gains(
    mmm,
    data: MarketingMixData,
    channel: Sequence[int],
    factor: Sequence[float],
    direct: Sequence[bool],
    window: np.ndarray,
    config: DecisionConfig,
) -> tuple[np.ndarray, int]:
    """GMV change over the window under each scenario, per draw: ``(S, shop, K)`` in the
    target's units, and the number of (draw, shop) pairs left explosive after the redraws
    (see :func:`pyro_causalmmm.decisions.interventions.prepare_world`; normally 0).

    Scenario ``k`` sets node ``channel[k]`` to ``factor[k]`` times its observed values on
    the ``window`` steps ``(shop, time)``; with ``direct[k]`` every other non-target node
    is held at its observed values (only GMV responds), else they respond. The change is
    ``sum_{t in W} (GMV'_t - GMV_t)``.
    """
    channel = np.asarray(channel, dtype=np.int64)
    factor = np.asarray(factor, dtype=np.float64)
    direct = np.asarray(direct, dtype=bool)
    n_scen = len(channel)
    values, mask, ctx = mmm.tensors(data)
    p_edge = mmm.edge_probability_array(data)
    S, B, D = config.draws, data.n_shops, data.n_nodes
    adj = graph_draws(p_edge, S, config.seed)
    model = mmm.model.eval()
    target = D - 1
    floor, ceiling = limits(data)
    keep = np.ones((n_scen, D), dtype=bool)  # responders of each scenario
    keep[np.arange(n_scen), channel] = False
    keep[direct, :target] = False
    keep = torch.from_numpy(np.unique(keep, axis=0))
    x_np = values.double().numpy()
    out = np.zeros((S, B, n_scen))
    unstable = 0
    chunks = _worlds(model, values, mask, ctx, adj, window, floor, ceiling, keep, p_edge, config)
    for sl, world in chunks:
        win = window[sl]
        unstable += world.unstable
        for is_direct in (False, True):
            idx = np.flatnonzero(direct == is_direct)
            if not idx.size:
                continue
            w = world.restrict([target]) if is_direct else world
            per = max(1, config.rows // (S * win.shape[0]) * (D if is_direct else 1))
            for k0 in range(0, idx.size, per):
                ks = idx[k0 : k0 + per]
                gain = _run(w, data, sl, x_np[sl], win, channel[ks], factor[ks], is_direct)
                out[:, sl, ks] = gain
    return out, unstable


def _redraw_seed(seed: int, attempt: int) -> int:
    """Seed of the ``attempt``-th redraw of unstable graph draws (see
    :func:`pyro_causalmmm.decisions.interventions.prepare_world`)."""
    return int(seed) * 7919 + 104729 * (attempt + 1)


def limits(data: MarketingMixData) -> tuple[torch.Tensor, torch.Tensor]:
    """``(floor, ceiling)`` ``(shop, node)`` in model units for responding nodes: spend
    channels and the target at or above the image of 0; the target also inside the model's
    S-curve range ``[0, 1]`` (the observed range widened by 12.5% of it at each end); no
    limit (``-inf`` / ``inf``) elsewhere. See :mod:`pyro_causalmmm.decisions.interventions`."""
    low = np.full((data.n_shops, data.n_nodes), -np.inf)
    high = np.full((data.n_shops, data.n_nodes), np.inf)
    idx = [data.node_names.index(c) for c in data.spend_names] + [data.target_index]
    low[:, idx] = (0.0 - data.scaling.loc[:, idx]) / data.scaling.scale[:, idx]
    low[:, -1] = np.maximum(low[:, -1], 0.0)
    high[:, -1] = 1.0
    return torch.from_numpy(low).to(torch.float32), torch.from_numpy(high).to(torch.float32)


@torch.no_grad()
def _run(world, data, sl, x_np, win, channel, factor, is_direct) -> np.ndarray:
    """``(S, b, k)`` GMV changes of one batch of scenarios on one chunk of shops."""
    K = len(channel)
    b, T, D = x_np.shape
    user = data.values[sl][None].repeat(K, axis=0)  # (K, b, T, D)
    do_mask = np.zeros(user.shape, dtype=bool)
    ks = np.arange(K)
    do_mask[ks, :, :, channel] = win[None]
    user[ks, :, :, channel] = np.where(win, factor[:, None, None] * user[ks, :, :, channel], 0.0)
    user = np.where(do_mask, user, data.values[sl][None])
    if is_direct:
        do_mask[..., : D - 1] = True  # every other node held at its observed values
    model_values = _model_values(data, sl, user, x_np)
    cf = counterfactual(
        world,
        torch.from_numpy(do_mask),
        torch.from_numpy(model_values).to(torch.float32)[:, None],
    )[..., -1]  # (K, S, b, T)
    diff = (cf.double() - world.x[..., -1].double()) * torch.from_numpy(win)
    scale = data.scaling.scale[sl][:, -1]
    return (diff.sum(-1).numpy() * scale).transpose(1, 2, 0)


def intervene(
    mmm,
    data: MarketingMixData,
    channel: str,
    values,
    window=None,
    config: DecisionConfig | None = None,
) -> xr.DataArray:
    """The observed steps under do(``channel`` = ``values`` on the window), per graph draw:
    ``(draw, shop, step, node)`` in the user's units (``step`` = position in each shop's
    series; NaN past a shop's end).

    ``values`` ``(shop, time)`` (or anything broadcasting to it, e.g. a number) in the
    channel's units replaces the channel on the ``window`` steps (see :func:`window_mask`);
    other nodes respond through each drawn graph with the observed residuals kept, so
    ``values`` equal to the data give the data back exactly, in every draw.
    """
    mmm._check_fitted()
    mmm._check_columns(data)
    config = config or DecisionConfig()
    if channel not in data.channel_names:
        raise ConfigError(f"unknown channel {channel!r}; channels are {data.channel_names}")
    c = data.node_names.index(channel)
    win = window_mask(data, window)
    new = np.broadcast_to(np.asarray(values, dtype=np.float64), win.shape)
    if not np.isfinite(new[win]).all():
        raise ConfigError(f"values for {channel!r} must be finite")
    x, mask, ctx = mmm.tensors(data)
    p_edge = mmm.edge_probability_array(data)
    S, B, T, D = config.draws, data.n_shops, data.n_time, data.n_nodes
    adj = graph_draws(p_edge, S, config.seed)
    keep = torch.ones(1, D, dtype=torch.bool)
    keep[0, c] = False
    user = np.array(data.values)
    user[..., c] = np.where(win, new, user[..., c])
    out = np.empty((S, B, T, D))
    model = mmm.model.eval()
    floor, ceiling = limits(data)
    for sl, world in _worlds(model, x, mask, ctx, adj, win, floor, ceiling, keep, p_edge, config):
        do_mask = np.zeros((1, *user[sl].shape), dtype=bool)
        do_mask[0, ..., c] = win[sl]
        x_np = x[sl].double().numpy()
        target = _model_values(data, sl, user[sl][None], x_np)
        with torch.no_grad():
            cf = (
                counterfactual(
                    world, torch.from_numpy(do_mask), torch.from_numpy(target).float()[:, None]
                )[0]
                .double()
                .numpy()
            )  # (S, b, T, D)
        scaling = data.scaling.subset(range(sl.start, sl.stop))
        same = cf == x_np[None]
        out[:, sl] = np.where(same, data.values[sl][None], scaling.inverse(cf))
        out[:, sl, :, c] = np.where(win[sl], new[sl], out[:, sl, :, c])  # set cells: as set
    out = np.where(data.mask[None, ..., None], out, np.nan)
    return xr.DataArray(
        out,
        dims=("draw", "shop", "step", "node"),
        coords={
            "draw": np.arange(S),
            "shop": [str(s) for s in data.shop_ids],
            "step": np.arange(T),
            "node": list(data.node_names),
        },
        name="counterfactual",
        attrs={"channel": channel, "hdi_prob": config.hdi_prob},
    )


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Contributions:
    """What :func:`contributions` returns.

    table: one row per (shop, spend channel): ``shop, channel, spend, contribution,
        contribution_hdi_low, contribution_hdi_high, direct, indirect, roas, mroas`` (spend
        in the data's spend units, GMV amounts in the target's units, summed over the
        window; the HDI has mass ``config.hdi_prob``).
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
    total, direct = -gains[..., :C], -gains[..., C : 2 * C]
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
    has a ``mediated`` column), and ``pairs``.
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
    }
    if "mediated" in m:
        med = m["mediated"].astype(bool)
        out["indirect_unmediated"] = float(np.abs(m.loc[~med, "indirect"]).mean())
        out["indirect_mediated"] = float(np.abs(m.loc[med, "indirect"]).mean())
        out["true_indirect_mediated"] = float(np.abs(m.loc[med, "indirect_true"]).mean())
    return out


def _worlds(model, x, mask, ctx, adj, window, floor, ceiling, keep, p_edge, config):
    """Yield ``(shop slice, World)`` for chunks of about ``config.rows`` shop-draws, each
    world prepared from its chunk's first window step; unstable graph draws are redrawn
    with seeds derived from ``config.seed``. ``adj`` ``(draw, shop, cause, effect)``,
    ``window`` ``(shop, time)`` bool."""
    S, B = adj.shape[0], x.shape[0]
    shop_chunk = max(1, config.rows // S)
    for lo in range(0, B, shop_chunk):
        sl = slice(lo, min(lo + shop_chunk, B))
        start = int(np.flatnonzero(window[sl].any(0))[0])

        def redraw(attempt: int, sl=sl) -> torch.Tensor:
            return graph_draws(p_edge, S, _redraw_seed(config.seed, attempt))[:, sl]

        yield (
            sl,
            prepare_world(
                model,
                x[sl],
                mask[sl],
                ctx[sl],
                adj[:, sl],
                start=start,
                floor=floor[sl],
                ceiling=ceiling[sl],
                keep=keep,
                redraw=redraw,
            ),
        )
