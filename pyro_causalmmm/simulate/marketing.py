"""Marketing recipe: flighted, bursty spend with adstock, Hill saturation and reactive budgets.

Nodes are ``d`` spend channels ``spend_1 .. spend_d`` and the target ``gmv`` (target
last); adjacency ``A[n, i, j] = 1`` means node ``i`` causes node ``j`` in shop ``n``.
Arrays are ``(shop, time, node)``; every value is a non-negative daily amount.

Recipe (defaults: ``N = 60`` shops, ``d = 5``, ``T = 150`` days):

1. **Graph per shop.** A random DAG over the channels plus ``gmv`` (random channel
   order, target last, each forward pair an edge with probability ``edge_prob``, at
   least one parent of ``gmv``; :func:`~pyro_causalmmm.simulate.base.random_dags`). An
   edge between two channels is reactive budgeting: spend on ``i`` (e.g. brand) raises
   later spend on ``j`` (e.g. search).
2. **Flights and bursts.** Each spend channel is on or off in flights: a two-state
   Markov chain whose on and off periods have geometric lengths with means
   ``flight_on_mean`` and ``flight_off_mean`` days (``flight_j^t`` in {0, 1}). On
   any day a burst happens with probability ``burst_prob`` and multiplies that day's
   spend by ``1 + burst_scale * P``, ``P ~ Pareto(burst_tail)`` (classical Pareto on
   ``[1, inf)``, heavy-tailed).
3. **Adstock and Hill on every edge** (lag >= 1)::

       A_ij^t = decay_ij A_ij^{t-1} + x_i^{t-1},            decay_ij ~ U(decay_low, decay_high)
       H_ij^t = (A_ij^t / K_ij)^s_ij / ((A_ij^t / K_ij)^s_ij + 1),  s_ij ~ U(shape_low, shape_high)

   The half-saturation ``K_ij = h_ij * m_i / (1 - decay_ij)`` sits near the typical
   adstocked spend: ``m_i`` is the typical level of the cause (``level_i`` times its
   expected on-share ``on / (on + off)`` for spend, the base level for ``gmv``) and
   ``h_ij ~ U(half_low, half_high)``.
4. **Levels and responses.** Every node ``j`` has a level ``L_j`` (spend:
   ``U(spend_low, spend_high)`` per day; ``gmv``: ``gmv_level``) and, if it has
   parents, a media share ``m_j ~ U(share_low, share_high)`` split over its parents by
   ``c_ij = 2 m_j * Dirichlet(1, ..., 1)`` (so at the typical level, where ``H = 1/2``,
   the media part is ``m_j``)::

       spend_j^t = flight_j^t burst_j^t L_j (1 - m_j + sum_i c_ij H_ij^t) eps_j^t
       gmv^t     =                      L_y (1 - m_y + sum_i c_iy H_iy^t) eps_y^t

   ``m_j = 0`` for channels without parents (pure flighted, bursty spend). Noise is
   multiplicative log-normal with mean 1: ``eps = exp(sigma z - sigma^2 / 2)``,
   ``z ~ N(0, 1)``, ``sigma = spend_noise`` for spend and ``gmv_noise`` for ``gmv``.
5. The first ``burn_in`` days are dropped. ``latent`` equals the observed values.

``Simulation.params`` holds ``decay``, ``half`` (``K``), ``shape``, ``coef`` (``c``), all
``(shop, cause, effect)`` and 0 off the edges, ``level`` ``(shop, node)``, ``flight``
(bool) and ``burst`` ``(shop, time, channel)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pyro_causalmmm.simulate.base import (
    Simulation,
    adstock_hill_network,
    check_date,
    check_ints,
    check_pair,
    check_range,
    flights,
    long_frame,
    make_config,
    random_dags,
    shop_labels,
)

_POSITIVE = (0.0, np.inf, True, True)
_RANGES = {
    "edge_prob": (0.0, 1.0, True, False),
    "flight_on_mean": (1.0, np.inf, False, True),
    "flight_off_mean": (1.0, np.inf, False, True),
    "burst_prob": (0.0, 1.0, False, False),
    "burst_scale": (0.0, np.inf, False, True),
    "burst_tail": _POSITIVE,
    "decay_low": (0.0, 1.0, False, True),
    "decay_high": (0.0, 1.0, False, True),
    "shape_low": _POSITIVE,
    "shape_high": _POSITIVE,
    "half_low": _POSITIVE,
    "half_high": _POSITIVE,
    "share_low": (0.0, 1.0, False, True),
    "share_high": (0.0, 1.0, False, True),
    "spend_low": _POSITIVE,
    "spend_high": _POSITIVE,
    "gmv_level": _POSITIVE,
    "spend_noise": (0.0, np.inf, False, True),
    "gmv_noise": (0.0, np.inf, False, True),
}
_PAIRS = ("decay", "shape", "half", "share", "spend")


@dataclass(frozen=True)
class MarketingConfig:
    """Settings of the marketing family (formulas in the module docstring).

    Attributes:
        n_shops: shops ``N`` (>= 1).
        n_channels: spend channels ``d`` (>= 1).
        length: kept days ``T`` (>= 10).
        edge_prob: probability of each forward edge, in ``(0, 1]``.
        flight_on_mean, flight_off_mean: mean on / off period in days (>= 1).
        burst_prob: daily burst probability in ``[0, 1]``.
        burst_scale: burst size ``b`` in ``1 + b * Pareto`` (>= 0).
        burst_tail: Pareto tail index (> 0; smaller is heavier).
        decay_low, decay_high: adstock decay range in ``[0, 1)``.
        shape_low, shape_high: Hill shape range (> 0).
        half_low, half_high: half-saturation multiplier ``h`` range (> 0).
        share_low, share_high: media share ``m`` range of responding nodes, in ``[0, 1)``.
        spend_low, spend_high: daily spend level range (> 0).
        gmv_level: GMV level ``L_y`` (> 0).
        spend_noise, gmv_noise: log-normal noise sigma of spend and GMV (>= 0).
        burn_in: dropped initial days (>= 0).
        seed: numpy seed (>= 0).
        start_date: first date of the daily calendar.
    """

    n_shops: int = 60
    n_channels: int = 5
    length: int = 150
    edge_prob: float = 0.35
    flight_on_mean: float = 20.0
    flight_off_mean: float = 8.0
    burst_prob: float = 0.03
    burst_scale: float = 1.0
    burst_tail: float = 2.0
    decay_low: float = 0.3
    decay_high: float = 0.8
    shape_low: float = 1.0
    shape_high: float = 2.5
    half_low: float = 0.7
    half_high: float = 1.3
    share_low: float = 0.3
    share_high: float = 0.6
    spend_low: float = 50.0
    spend_high: float = 500.0
    gmv_level: float = 10_000.0
    spend_noise: float = 0.25
    gmv_noise: float = 0.1
    burn_in: int = 60
    seed: int = 0
    start_date: str = "2024-01-01"

    def __post_init__(self) -> None:
        check_ints(self, {"n_shops": 1, "n_channels": 1, "length": 10, "burn_in": 0, "seed": 0})
        for name, (low, high, low_open, high_open) in _RANGES.items():
            check_range(self, name, low, high, low_open, high_open)
        for stem in _PAIRS:
            check_pair(self, f"{stem}_low", f"{stem}_high")
        check_date(self)


def edge_parameters(
    adjacency: np.ndarray,
    typical: np.ndarray,
    share: np.ndarray,
    cfg: MarketingConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Adstock, Hill and share parameters on the edges of ``adjacency`` (steps 3-4).

    ``typical`` is ``(shop, node)``, the cause's typical level ``m_i``; ``share`` is
    ``(shop, node)``, the media share ``m_j`` of each effect. Returns ``decay``,
    ``half``, ``shape``, ``coef`` ``(shop, cause, effect)``, 0 off the edges (``half`` 1
    there, to keep divisions finite).
    """
    mask = adjacency.astype(bool)
    size = adjacency.shape
    decay = rng.uniform(cfg.decay_low, cfg.decay_high, size)
    half = rng.uniform(cfg.half_low, cfg.half_high, size) * typical[:, :, None] / (1 - decay)
    shape = rng.uniform(cfg.shape_low, cfg.shape_high, size)
    split = rng.gamma(1.0, 1.0, size) * mask
    split = split / np.maximum(split.sum(axis=1, keepdims=True), 1e-300)
    coef = 2.0 * share[:, None, :] * split
    return {
        "decay": np.where(mask, decay, 0.0),
        "half": np.where(mask, half, 1.0),
        "shape": np.where(mask, shape, 0.0),
        "coef": coef,
    }


def lognormal(sigma: float, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Mean-one log-normal noise ``exp(sigma z - sigma^2 / 2)``."""
    return np.exp(sigma * rng.normal(0.0, 1.0, size) - 0.5 * sigma**2)


def simulate_marketing(config: MarketingConfig | None = None, **settings) -> Simulation:
    """Draw a marketing-recipe panel (recipe in the module docstring).

    Pass a :class:`MarketingConfig` or its fields as keywords (not both).

    Returns:
        :class:`Simulation` with ``frame`` of ``n_shops * length`` rows (``spend_1 ..
        spend_d, gmv``), ``adjacency`` ``(shop, cause, effect)`` and ``spend_names``.

    Raises:
        ConfigError: a setting is out of range or unknown.
    """
    cfg = make_config(MarketingConfig, config, settings)
    rng = np.random.default_rng(cfg.seed)
    n, d = cfg.n_shops, cfg.n_channels
    n_nodes = d + 1
    total = cfg.burn_in + cfg.length

    adjacency = random_dags(n, d, cfg.edge_prob, rng)
    has_parent = adjacency.sum(axis=1) > 0  # (shop, node)
    level = np.concatenate(
        [rng.uniform(cfg.spend_low, cfg.spend_high, (n, d)), np.full((n, 1), cfg.gmv_level)],
        axis=1,
    )
    duty = cfg.flight_on_mean / (cfg.flight_on_mean + cfg.flight_off_mean)
    typical = level * np.concatenate([np.full(d, duty), [1.0]])[None, :]
    share = np.where(has_parent, rng.uniform(cfg.share_low, cfg.share_high, (n, n_nodes)), 0.0)
    edges = edge_parameters(adjacency, typical, share, cfg, rng)

    flight = flights(n, total, d, cfg.flight_on_mean, cfg.flight_off_mean, rng)
    is_burst = rng.random((n, total, d)) < cfg.burst_prob
    burst = 1.0 + is_burst * cfg.burst_scale * (rng.pareto(cfg.burst_tail, (n, total, d)) + 1.0)
    noise = np.concatenate(
        [
            lognormal(cfg.spend_noise, (n, total, d), rng),
            lognormal(cfg.gmv_noise, (n, total, 1), rng),
        ],
        axis=2,
    )
    gate = np.concatenate([flight * burst, np.ones((n, total, 1))], axis=2)
    mult = gate * level[:, None, :] * noise
    base = np.broadcast_to((1.0 - share)[:, None, :], (n, total, n_nodes))
    x = adstock_hill_network(
        mult, base, edges["coef"], edges["decay"], edges["half"], edges["shape"]
    )

    observed = x[:, cfg.burn_in :].copy()
    node_names = tuple(f"spend_{i + 1}" for i in range(d)) + ("gmv",)
    shop_ids = shop_labels(n)
    dates = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")
    return Simulation(
        frame=long_frame(observed, node_names, shop_ids, dates),
        adjacency=adjacency.astype(np.int8),
        node_names=node_names,
        shop_ids=shop_ids,
        context_names=(),
        graph_index=np.arange(n),
        latent=observed.copy(),
        context=np.zeros((n, 0)),
        config=cfg,
        process=x,
        spend_names=node_names[:d],
        params={
            **edges,
            "level": level,
            "flight": flight[:, cfg.burn_in :],
            "burst": burst[:, cfg.burn_in :],
        },
    )
