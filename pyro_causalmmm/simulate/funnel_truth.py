"""do()-ground truth of the funnel family (:mod:`pyro_causalmmm.simulate.funnel`): the
panel under spend interventions, and each spend channel's true contribution per shop,
split into the direct part (the edge spend -> gmv alone) and the part mediated by
``page_views`` / ``search_clicks``.

The daily network is replayed from the draw's stored inputs (``params["mult"]``,
``params["base"]``: the log-normal noise ``eps`` stays as drawn) with the intervened
spends scaled on the intervened days, so an intervention that changes nothing returns
the panel bit for bit. A spend node is ``x = mult`` (its ``base`` is 1 and it has no
parents), so setting it to ``k`` times its value on a day is ``mult -> k mult``.

Weekly draws: a step is a week; an intervention on a week acts on its 7 days, and the
values are summed to weeks exactly as the simulator does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate.base import Simulation, adstock_hill_network, hill
from pyro_causalmmm.simulate.funnel import _GMV, NODE_NAMES, SPENDS, FunnelConfig
from pyro_causalmmm.simulate.truth import _window_mask, mediated_paths

__all__ = ["funnel_counterfactual", "true_funnel_contributions"]

_KEYS = ("mult", "base", "coef", "decay", "half", "shape")


def _check_sim(sim: Simulation) -> None:
    if not isinstance(sim.config, FunnelConfig):
        raise ConfigError("funnel truth needs a Simulation drawn by simulate_funnel*()")
    missing = [k for k in _KEYS if k not in sim.params]
    if missing:
        raise ConfigError(
            f"this Simulation lacks params {missing}; draw it again with simulate_funnel*()"
        )


def _steps_to_days(sim: Simulation, steps: np.ndarray) -> np.ndarray:
    """``(..., shop, step)`` -> ``(..., shop, burn_in + day)``: a week covers its 7 days;
    burn-in days are never set."""
    cfg = sim.config
    days = np.repeat(steps, 7, axis=-1) if cfg.weekly else steps
    pad = np.zeros((*days.shape[:-1], cfg.burn_in), dtype=days.dtype)
    return np.concatenate([pad, days], axis=-1)


def _to_steps(sim: Simulation, x: np.ndarray) -> np.ndarray:
    """Daily values ``(K, shop, burn_in + day, node)`` -> the frame's steps (the
    simulator's own cut and weekly sum, so a replay is bit-identical)."""
    cfg = sim.config
    x = x[:, :, cfg.burn_in :]
    if cfg.weekly:
        k, n, _, d = x.shape
        x = x.reshape(k * n, cfg.length, 7, d).sum(axis=2).reshape(k, n, cfg.length, d)
    return x


def _gmv_direct(p: dict, x: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """GMV ``(K, shop, day)`` when only the edges spend -> gmv read the spend path ``alt``
    ``(K, shop, day, spend)`` and every other edge the factual daily values ``x``
    ``(shop, day, node)``: the arithmetic of ``adstock_hill_network``, so ``alt`` equal
    to the factual spend gives the factual GMV exactly."""
    k = alt.shape[0]
    n, total, d = x.shape
    s = len(SPENDS)

    def tile(a):
        return np.tile(a, (k,) + (1,) * (a.ndim - 1))

    coef, decay, half, shape = (tile(p[key]) for key in ("coef", "decay", "half", "shape"))
    mult, base = tile(p["mult"][..., _GMV]), tile(p["base"][..., _GMV])
    xk, alt = tile(x), alt.reshape(k * n, total, s)
    adstock = np.zeros((k * n, d, d))
    out = np.empty((k * n, total))
    for t in range(total):
        if t > 0:
            feed = np.repeat(xk[:, t - 1, :, None], d, axis=2)
            feed[:, :s, _GMV] = alt[:, t - 1]
            adstock = decay * adstock + feed
        response = (coef * hill(adstock / half, shape, 1.0)).sum(axis=1)
        out[:, t] = mult[:, t] * (base[:, t] + response[:, _GMV])
    return out.reshape(k, n, total)


def funnel_counterfactual(
    sim: Simulation, do_mask: np.ndarray, factor=0.0, direct: bool = False
) -> np.ndarray:
    """Values ``(K, shop, time, node)`` in the frame's units under ``K`` interventions.

    ``do_mask`` ``(K, shop, time, spend)`` bool (time: the frame's steps, weeks for a
    weekly draw) marks where each scenario sets spend channel ``c`` to ``factor`` times
    its factual value (``factor`` a number or ``(K,)``; 0 switches the channel off).
    With ``direct=False`` every responding node follows its true mechanism; with
    ``direct=True`` ``page_views`` and ``search_clicks`` are held at their factual values
    and only the edges spend -> gmv see the new spend (the returned mediators are then the
    factual ones). Set spend cells read as set. All noise is the factual draw's, so an
    empty mask (or ``factor = 1``) returns ``sim.values`` exactly.
    """
    _check_sim(sim)
    n, t_len, d = sim.latent.shape
    s = len(SPENDS)
    do_mask = np.asarray(do_mask, dtype=bool)
    if do_mask.ndim != 4 or do_mask.shape[1:] != (n, t_len, s):
        raise ConfigError(
            f"do_mask must be (scenario, shop, time, spend) with (shop, time, spend) = "
            f"{(n, t_len, s)}, got {do_mask.shape}"
        )
    k = do_mask.shape[0]
    factor = np.broadcast_to(np.asarray(factor, dtype=np.float64), (k,))
    if not np.isfinite(factor).all() or (factor < 0).any():
        raise ConfigError(f"factor must be finite and >= 0, got {factor.tolist()}")
    p = sim.params
    days = np.moveaxis(_steps_to_days(sim, np.moveaxis(do_mask, -1, -2)), -2, -1)
    total = days.shape[2]
    spend = np.broadcast_to(p["mult"][None, ..., :s], (k, n, total, s))
    new_spend = np.where(days, spend * factor[:, None, None, None], spend)
    if direct:
        x = adstock_hill_network(p["mult"], p["base"], p["coef"], p["decay"], p["half"],
                                 p["shape"])
        out = np.broadcast_to(x, (k, n, total, d)).copy()
        out[..., :s] = new_spend
        out[..., _GMV] = _gmv_direct(p, x, new_spend)
    else:
        mult = np.broadcast_to(p["mult"], (k, n, total, d)).copy()
        mult[..., :s] = new_spend

        def tile(a):
            return np.tile(a, (k,) + (1,) * (a.ndim - 1))

        out = adstock_hill_network(
            mult.reshape(k * n, total, d), tile(p["base"]), tile(p["coef"]),
            tile(p["decay"]), tile(p["half"]), tile(p["shape"]),
        ).reshape(k, n, total, d)
    return _to_steps(sim, out)


def true_funnel_contributions(
    sim: Simulation, window: np.ndarray | None = None, step: float = 0.01
) -> pd.DataFrame:
    """Each spend channel's true effect on GMV over the ``window`` steps ``(shop, time)``
    bool (default: every step; weeks for a weekly draw), the noise held at its draw.

    One row per (shop, spend channel), the conventions of
    :func:`pyro_causalmmm.simulate.true_contributions` and of the estimate's table
    (:func:`pyro_causalmmm.decisions.contributions.contributions`): ``spend`` (observed
    spend summed over the window), ``contribution`` = observed GMV minus GMV under
    do(channel = 0 on the window) summed over the window, ``total`` (the same number, the
    name ``compare_with_truth`` reads), ``direct`` the same with ``page_views`` and
    ``search_clicks`` held at their observed values (only the edge channel -> gmv
    switched), ``indirect = total - direct``, ``roas = total / spend``, ``mroas`` (GMV
    gained per extra unit of spend when the channel is raised by ``step``, relative, on
    the window) and ``mediated`` (the true graph has a path through a mediator). GMV
    carried past the window's end is not counted. Every effect in the funnel is positive,
    so ``total >= 0`` and ``direct >= 0``; a channel without outgoing edges has exactly 0.
    """
    _check_sim(sim)
    win = _window_mask(sim, window)
    observed = sim.values
    n, t_len, _ = observed.shape
    s = len(SPENDS)
    eye = np.eye(s, dtype=bool)
    mask = eye[:, None, None, :] & win[None, :, :, None]  # (channel, shop, time, spend)
    both = np.concatenate([mask, mask])
    gmv = funnel_counterfactual(sim, both, np.repeat([0.0, 1.0 + step], s))[..., _GMV]
    gmv_direct = funnel_counterfactual(sim, mask, 0.0, direct=True)[..., _GMV]
    gain = ((np.concatenate([gmv, gmv_direct]) - observed[None, ..., _GMV]) * win).sum(-1)
    spend = (observed[..., :s] * win[..., None]).sum(1)  # (shop, channel)
    total, marginal, direct = 0.0 - gain[:s].T, gain[s : 2 * s].T, 0.0 - gain[2 * s :].T
    with np.errstate(divide="ignore", invalid="ignore"):
        roas = np.where(spend > 0, total / spend, np.nan)
        mroas = np.where(spend > 0, marginal / (step * spend), np.nan)
    return pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(sim.shop_ids, dtype=object), s),
            "channel": np.tile(np.asarray(NODE_NAMES[:s], dtype=object), n),
            "spend": spend.reshape(-1),
            "contribution": total.reshape(-1),
            "total": total.reshape(-1),
            "direct": direct.reshape(-1),
            "indirect": (total - direct).reshape(-1),
            "roas": roas.reshape(-1),
            "mroas": mroas.reshape(-1),
            "mediated": mediated_paths(sim.adjacency)[:, :s].reshape(-1),
        }
    )
