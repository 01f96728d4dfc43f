"""Scenario machinery shared by contributions, response curves and the optimizer: the
`DecisionConfig`, decision windows, spend channels and their plausible limits, and
`intervene`, which scales chosen channels over a window and returns the GMV gain per
(scenario, draw, shop) through the learned graph.

Shapes: windows ``(shop, time)`` bool; gains ``(scenario, draw, shop)`` in the target's units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.chunks import positive_pairs, world_chunks
from pyro_causalmmm.decisions.interventions import ancestors, counterfactual, graph_draws
from pyro_causalmmm.decisions.worlds import check_decision_options
from pyro_causalmmm.errors import ConfigError, DataValidationError

DRAWS = 20
HDI_PROB = 0.9
MARGINAL_STEP = 0.01
RESPONSE_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class DecisionConfig:
    """Settings shared by contributions, response curves and the budget optimizer.

    draws: hard posterior graph draws (every answer's HDI is over them).
    seed: seeds the graph draws (same seed, same answers).
    hdi_prob: mass of the reported highest-density intervals.
    marginal_step: h, the relative spend increase behind marginal ROAS.
    rows: (scenario x draw x shop) rows simulated at once; bounds memory and keeps the
        arrays cache-sized (results do not depend on it). Shops are chunked so that a
        call holds ``decisions.chunks.SCENARIOS`` scenarios (1024: 3 scenarios x 20
        draws x 17 shops; 0.8's 512 ran one scenario x 25 shops, 3-10% slower).
    coefficient_draws: each graph draw also draws the linear lag coefficients, so answers
        carry the effect sizes' uncertainty, not only the graph's (False: posterior means).
    coefficient_covariance: their covariance. "robust" (default since 0.6): the sandwich
        of :func:`pyro_causalmmm.models.linear.robust_root` (HAC scores of the residuals:
        lags only approximate adstock and saturation, so the residuals are autocorrelated;
        ``benchmarks/notes.md``); "model": ``A^{-1}``, independent errors (0.5).
    spend_effects: the sign of each spend's long-run direct gain on each node that is not
        a spend (the sum of its coefficients there). "auto" (default since 0.9): held >= 0
        (each draw projected there, ``models.linear.project_half_spaces``) on the pairs the
        fit found media-like, the pairs whose shops mostly estimate a positive gain with
        the panel's share as their prior (``models.pooling.media_pairs``): every pair of
        the funnels but one, none of Simulation 2 (random signs); "positive": on every pair (the
        media assumption of PyMC-Marketing, Meridian and Robyn; wrong where effects can
        be negative: Simulation 2's Spearman 0.90 -> 0.72); "free": either sign (the
        default before 0.9: 0.7 sign errors per seed at true ROAS > 0.5 on the daily
        funnel, none with "auto"; ``benchmarks/notes.md``, stop 27).
    """

    draws: int = DRAWS
    seed: int = 0
    hdi_prob: float = HDI_PROB
    marginal_step: float = MARGINAL_STEP
    rows: int = 1024
    coefficient_draws: bool = True
    coefficient_covariance: str = "robust"
    spend_effects: str = "auto"

    def __post_init__(self) -> None:
        check_decision_options(self)

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
    ``sum_{t in W} (GMV'_t - GMV_t) u_t`` with ``u_t`` the revenue per target unit
    (``MarketingMixData.unit_values``: 1 when the target is revenue).
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
    chunks = world_chunks(
        model, values, mask, ctx, adj, window, floor, ceiling, keep, p_edge, config,
        positive_pairs(model, data, config),
    )
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
    # only the target's ancestors can change its path: the other responders are not run
    relevant = ancestors(world.adj, D - 1)[..., world.nodes]  # (S, b, R)
    cf = counterfactual(
        world,
        torch.from_numpy(do_mask),
        torch.from_numpy(model_values).to(torch.float32)[:, None],
        relevant=relevant,
    )[..., -1]  # (K, S, b, T)
    # each step's change in revenue: target units times that step's revenue per unit
    weight = torch.from_numpy(win * data.unit_values[sl])
    diff = (cf.double() - world.x[..., -1].double()) * weight
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
    pos = positive_pairs(model, data, config)
    for sl, world in world_chunks(
        model, x, mask, ctx, adj, win, floor, ceiling, keep, p_edge, config, pos
    ):
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
