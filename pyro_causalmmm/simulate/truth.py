"""do()-ground truth of the paper's family: counterfactual panels under interventions,
true contributions per (shop, channel) split into direct and mediated parts.

The generating process is replayed from its stored innovations with the intervened
channels held at their do() values, so a "no change" intervention reproduces the panel
exactly.
"""


from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate.base import Simulation, _softplus, hill
from pyro_causalmmm.simulate.paper import _GMV_SCALE_SIM1, _GMV_SCALE_SIM2, _SPEND_SCALE


def _channel_map(sim: Simulation) -> tuple[np.ndarray, int]:
    """Per (shop, channel) ``low = min_t latent``: ``spend = 10 (x - low + 1)``."""
    d = sim.config.n_channels
    return sim.latent[:, :, :d].min(axis=1), d


def _require_process(sim: Simulation) -> None:
    if sim.process is None or sim.innovations is None:
        raise ConfigError(
            "this Simulation has no process/innovations arrays; draw it with simulate()"
        )


def true_counterfactual(sim: Simulation, do_mask: np.ndarray, do_values: np.ndarray) -> np.ndarray:
    """Observed values ``(K, shop, time, node)`` under do(), in the frame's units.

    ``do_mask`` ``(K, shop, time, node)`` bool marks the set cells of ``K`` scenarios (kept
    steps; channels only), ``do_values`` (same shape) their values in observed units (spend).
    Children are recomputed from their parents' counterfactual lags with the factual
    innovations; a child whose parents' lags are unchanged keeps its value exactly, so a
    scenario that sets nothing, or sets the observed values, returns the data bit for bit.
    """
    _require_process(sim)
    do_mask = np.asarray(do_mask, dtype=bool)
    do_values = np.asarray(do_values, dtype=np.float64)
    n, t_len, n_nodes = sim.latent.shape
    if do_mask.ndim != 4 or do_mask.shape[1:] != (n, t_len, n_nodes):
        raise ConfigError(
            f"do_mask must be (scenario, shop, time, node) with (shop, time, node) = "
            f"{(n, t_len, n_nodes)}, got {do_mask.shape}"
        )
    do_values = np.broadcast_to(do_values, do_mask.shape)
    if do_mask[..., -1].any():
        raise ConfigError("the target cannot be intervened on; set channels only")
    low, d = _channel_map(sim)
    cfg = sim.config
    k, burn = cfg.lag, cfg.burn_in
    n_scen = do_mask.shape[0]
    process = np.broadcast_to(sim.process, (n_scen, *sim.process.shape))
    x = process.copy()
    set_latent = do_values[..., :d] / _SPEND_SCALE - 1.0 + low[None, :, None, :]
    same = do_values[..., :d] == sim.values[None, ..., :d]  # keep the exact factual value
    set_latent = np.where(same, process[:, :, burn:, :d], set_latent)
    mask = np.zeros_like(x, dtype=bool)
    mask[:, :, burn:, :d] = do_mask[..., :d]
    x[:, :, burn:, :d] = np.where(do_mask[..., :d], set_latent, x[:, :, burn:, :d])
    coef = (sim.edge_weight[:, None, :, :] * sim.lag_profile)[:, ::-1]  # (shop, K, i, j)
    parents = sim.adjacency.astype(bool)  # (shop, cause, effect)
    changed = np.zeros((n_scen, n, n_nodes), dtype=bool)  # a value differed at some step
    rows = np.flatnonzero((mask & (x != process)).any(axis=(0, 1, 3)))
    for t in range(int(rows[0]) if rows.size else x.shape[2], x.shape[2]):
        moved = (parents[None] & changed[..., None]).any(axis=-2)  # a parent's lag differs
        if moved.any():
            new = np.einsum("snmi,nmij->snj", np.tanh(x[:, :, t - k : t]), coef)
            old = np.einsum("snmi,nmij->snj", np.tanh(process[:, :, t - k : t]), coef)
            value = np.where(moved, process[:, :, t] + (new - old), process[:, :, t])
            x[:, :, t] = np.where(mask[:, :, t], x[:, :, t], value)
        changed |= x[:, :, t] != process[:, :, t]
    kept = x[:, :, burn:]
    out = np.empty_like(kept)
    out[..., :d] = _SPEND_SCALE * (kept[..., :d] - low[None, :, None, :] + 1.0)
    u = kept[..., d]
    if cfg.scenario == "sim2":
        y = hill(_softplus(u), sim.hill_shape[None, :, None], sim.hill_half[None, :, None])
        out[..., d] = _GMV_SCALE_SIM2 * y
    else:
        low_u = sim.latent[:, :, d].min(axis=1)
        out[..., d] = _GMV_SCALE_SIM1 * (u - low_u[None, :, None] + 1.0)
    return np.where(do_mask, do_values, out)  # set cells read exactly as set


def _window_mask(sim: Simulation, window: np.ndarray | None) -> np.ndarray:
    n, t_len, _ = sim.latent.shape
    if window is None:
        return np.ones((n, t_len), dtype=bool)
    window = np.asarray(window, dtype=bool)
    if window.shape != (n, t_len):
        raise ConfigError(f"window must be (shop, time) = {(n, t_len)}, got {window.shape}")
    return window


def true_intervention(
    sim: Simulation, channel: str, new_path: np.ndarray, window: np.ndarray | None = None
) -> np.ndarray:
    """Observed values ``(shop, time, node)`` with ``channel`` set to ``new_path``
    ``(shop, time)`` (spend units) on the ``window`` steps ``(shop, time)`` bool (default:
    every step); other channels respond through their true mechanisms."""
    names = list(sim.node_names)
    if channel not in names[:-1]:
        raise ConfigError(f"unknown channel {channel!r}; channels are {names[:-1]}")
    c = names.index(channel)
    win = _window_mask(sim, window)
    mask = np.zeros((1, *sim.latent.shape), dtype=bool)
    mask[0, :, :, c] = win
    values = np.zeros_like(mask, dtype=np.float64)
    values[0, :, :, c] = np.broadcast_to(np.asarray(new_path, dtype=np.float64), win.shape)
    return true_counterfactual(sim, mask, values)[0]


def mediated_paths(adjacency: np.ndarray) -> np.ndarray:
    """``(shop, channel)`` bool: the channel reaches the target (the last node) through at
    least one other channel in the graph ``(shop, cause, effect)``."""
    adj = np.asarray(adjacency, dtype=bool)
    n_nodes = adj.shape[-1]
    reach = adj.copy()
    for _ in range(n_nodes):  # transitive closure by repeated squaring steps
        reach = reach | np.einsum("nij,njk->nik", reach, adj).astype(bool)
    channels = np.arange(n_nodes - 1)
    via = adj[:, :, :-1] & reach[:, None, :-1, -1]  # c -> m and m reaches the target
    return via.any(axis=-1)[:, channels]


def true_contributions(
    sim: Simulation, window: np.ndarray | None = None, step: float = 0.01
) -> pd.DataFrame:
    """Each channel's true effect on GMV over the ``window`` steps ``(shop, time)`` bool.

    One row per (shop, channel): ``spend`` (observed spend summed over the window),
    ``total`` = observed GMV minus GMV under do(channel = 0 on the window), ``direct`` the
    same with every other channel held at its observed values, ``indirect = total -
    direct``, ``roas = total / spend``, ``mroas`` the GMV gained per extra unit of spend
    when the channel's spend is raised by ``step`` (relative) on the window, and
    ``mediated`` whether the true graph has a path through another channel. GMV is
    summed over the window steps only (effects carried past the window are not counted).
    """
    win = _window_mask(sim, window)
    observed = sim.values
    n, t_len, n_nodes = observed.shape
    d = n_nodes - 1
    eye = np.eye(d, dtype=bool)
    total_mask = np.zeros((d, n, t_len, n_nodes), dtype=bool)
    total_mask[..., :d] = eye[:, None, None, :] & win[None, :, :, None]
    direct_mask = np.zeros_like(total_mask)
    direct_mask[..., :d] = True
    zero = np.broadcast_to(observed, total_mask.shape).copy()
    zero[total_mask] = 0.0
    bumped = np.broadcast_to(observed, total_mask.shape).copy()
    bumped[total_mask] *= 1.0 + step
    masks = np.concatenate([total_mask, direct_mask, total_mask])
    values = np.concatenate([zero, zero, bumped])
    gmv = true_counterfactual(sim, masks, values)[..., d]  # (3d, shop, time)
    gain = ((gmv - observed[None, ..., d]) * win[None]).sum(-1)  # (3d, shop)
    spend = (observed[..., :d] * win[..., None]).sum(1)  # (shop, channel)
    total, direct = -gain[:d].T, -gain[d : 2 * d].T
    with np.errstate(divide="ignore", invalid="ignore"):
        roas = np.where(spend > 0, total / spend, np.nan)
        mroas = np.where(spend > 0, gain[2 * d :].T / (step * spend), np.nan)
    return pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(sim.shop_ids, dtype=object), d),
            "channel": np.tile(np.asarray(sim.node_names[:d], dtype=object), n),
            "spend": spend.reshape(-1),
            "total": total.reshape(-1),
            "direct": direct.reshape(-1),
            "indirect": (total - direct).reshape(-1),
            "roas": roas.reshape(-1),
            "mroas": mroas.reshape(-1),
            "mediated": mediated_paths(sim.adjacency).reshape(-1),
        }
    )
