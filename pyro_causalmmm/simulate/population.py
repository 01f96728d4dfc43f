"""Shared population: many shops, a few graphs, one mechanism per graph, long carryover.

Nodes are ``d`` channels ``spend_1 .. spend_d`` and the target ``gmv`` (``D = d + 1``,
target last); adjacency ``A[n, i, j] = 1`` means node ``i`` causes node ``j`` in shop
``n`` (row = cause, column = effect). Every array is shaped ``(shop, time, node)``.

Recipe (defaults: ``N = 300`` shops, ``R = 3`` graphs, ``d = 6``, ``S = 5`` sources,
``T = 100``, lags ``K = 6``):

1. **Graphs.** ``R`` random DAGs: a random order of the channels per graph; the first
   ``S`` channels in the order are exogenous sources (no parents); each later channel
   (a mediator) takes each earlier channel as a parent with probability ``edge_prob``
   (at least one parent); the target ``gmv`` takes each channel with probability
   ``edge_prob`` (at least one parent). Each shop draws one graph uniformly
   (``graph_index``).
2. **One mechanism per graph.** On every edge of graph ``r``: a weight
   ``w_ij = +-U(weight_low, weight_high)`` (random sign) and a geometric lag profile
   truncated at ``K``::

       eta_ij[k] = rho_ij^(k-1) / sum_{m=1..K} rho_ij^(m-1),   rho_ij ~ U(decay_low, decay_high)

   drawn once per graph and shared by all shops that use it. With ``rho`` in
   ``[0.6, 0.8]`` lags 1..3 carry only 70-85 % of the weight, so a 3-lag test misses
   part of the signal.
3. **Sources** are stationary Gaussian AR(1) with unit variance and a per-shop
   coefficient ``phi ~ U(source_ar_low, source_ar_high)``.
4. **Children** (mediators and the target), linear with Gaussian noise::

       x_j^t = sum_{i in pa(j)} w_ij sum_{k=1..K} eta_ij[k] x_i^{t-k} + e_j^t,
       e ~ N(0, noise_std^2)

   Only lags ``1..K`` enter (no same-step parents). The first ``burn_in`` steps are
   dropped.
5. **Observed units.** Each ``(shop, node)`` series gets the positive affine map of
   the paper's family (Granger structure unchanged): ``spend = 10 (x - min_t x + 1)``,
   ``gmv = 100 (x - min_t x + 1)``; ``latent`` keeps ``x``.

``Simulation.edge_weight`` is ``w`` and ``lag_profile`` is ``eta`` (``(shop, lag, cause,
effect)``), both 0 off the edges; ``params["source_ar"]`` is ``phi`` ``(shop, node)``
(0 for non-sources).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate.base import (
    Simulation,
    check_date,
    check_ints,
    check_pair,
    check_range,
    long_frame,
    make_config,
    shop_labels,
)


@dataclass(frozen=True)
class PopulationConfig:
    """Settings of the shared-population family (formulas in the module docstring).

    Attributes:
        n_shops: shops ``N`` (>= 1).
        n_channels: channels ``d`` (>= 2).
        n_sources: exogenous source channels ``S``, ``1 <= S < d``.
        n_graphs: distinct graphs ``R`` (>= 1).
        length: kept steps ``T`` (>= ``2 * max_lag + 2``).
        max_lag: lag window ``K`` of the lag profiles (>= 1).
        edge_prob: probability of each allowed edge, in ``(0, 1]``.
        weight_low, weight_high: ``|w| ~ U(low, high)``, ``0 < low <= high``.
        decay_low, decay_high: geometric lag decay ``rho ~ U(low, high)`` in ``(0, 1]``.
        source_ar_low, source_ar_high: source AR(1) coefficient range in ``[0, 1)``.
        noise_std: std of the children's Gaussian noise (> 0).
        burn_in: dropped initial steps (>= ``max_lag``).
        seed: numpy seed (>= 0).
        start_date: first date of the daily calendar.
    """

    n_shops: int = 300
    n_channels: int = 6
    n_sources: int = 5
    n_graphs: int = 3
    length: int = 100
    max_lag: int = 6
    edge_prob: float = 0.5
    weight_low: float = 0.3
    weight_high: float = 0.8
    decay_low: float = 0.6
    decay_high: float = 0.8
    source_ar_low: float = 0.3
    source_ar_high: float = 0.7
    noise_std: float = 1.0
    burn_in: int = 50
    seed: int = 0
    start_date: str = "2024-01-01"

    def __post_init__(self) -> None:
        check_ints(
            self,
            {
                "n_shops": 1,
                "n_channels": 2,
                "n_sources": 1,
                "n_graphs": 1,
                "max_lag": 1,
                "length": 1,
                "burn_in": 0,
                "seed": 0,
            },
        )
        if self.n_sources >= self.n_channels:
            raise ConfigError(
                f"n_sources must be < n_channels = {self.n_channels}, got {self.n_sources}"
            )
        if self.length < 2 * self.max_lag + 2:
            raise ConfigError(
                f"length must be >= 2 * max_lag + 2 = {2 * self.max_lag + 2}, got {self.length}"
            )
        if self.burn_in < self.max_lag:
            raise ConfigError(f"burn_in must be >= max_lag = {self.max_lag}, got {self.burn_in}")
        check_range(self, "edge_prob", 0.0, 1.0, low_open=True)
        check_range(self, "weight_low", 0.0, np.inf, low_open=True, high_open=True)
        check_range(self, "weight_high", 0.0, np.inf, low_open=True, high_open=True)
        check_pair(self, "weight_low", "weight_high")
        check_range(self, "decay_low", 0.0, 1.0, low_open=True)
        check_range(self, "decay_high", 0.0, 1.0, low_open=True)
        check_pair(self, "decay_low", "decay_high")
        check_range(self, "source_ar_low", 0.0, 1.0, high_open=True)
        check_range(self, "source_ar_high", 0.0, 1.0, high_open=True)
        check_pair(self, "source_ar_low", "source_ar_high")
        check_range(self, "noise_std", 0.0, np.inf, low_open=True, high_open=True)
        check_date(self)


def population_graphs(cfg: PopulationConfig, rng: np.random.Generator) -> np.ndarray:
    """The ``R`` graphs of step 1, int8 ``(graph, cause, effect)``."""
    d, s = cfg.n_channels, cfg.n_sources
    graphs = np.zeros((cfg.n_graphs, d + 1, d + 1), dtype=np.int8)
    for r in range(cfg.n_graphs):
        order = rng.permutation(d)
        for pos in range(s, d):  # mediators: parents among earlier channels
            earlier = order[:pos]
            pick = rng.random(pos) < cfg.edge_prob
            if not pick.any():
                pick[rng.integers(pos)] = True
            graphs[r, earlier[pick], order[pos]] = 1
        pick = rng.random(d) < cfg.edge_prob  # target: parents among all channels
        if not pick.any():
            pick[rng.integers(d)] = True
        graphs[r, np.flatnonzero(pick), d] = 1
    return graphs


def simulate_population(config: PopulationConfig | None = None, **settings) -> Simulation:
    """Draw a shared-population panel (recipe in the module docstring).

    Pass a :class:`PopulationConfig` or its fields as keywords (not both).

    Returns:
        :class:`Simulation` with ``frame`` of ``n_shops * length`` rows, ``adjacency``
        ``(shop, cause, effect)``, ``edge_weight`` and ``lag_profile``.

    Raises:
        ConfigError: a setting is out of range or unknown.
    """
    cfg = make_config(PopulationConfig, config, settings)
    rng = np.random.default_rng(cfg.seed)
    n, d, k = cfg.n_shops, cfg.n_channels, cfg.max_lag
    n_nodes = d + 1

    graphs = population_graphs(cfg, rng)
    graph_index = rng.integers(cfg.n_graphs, size=n)
    adjacency = graphs[graph_index]
    mask = adjacency.astype(float)

    size = (cfg.n_graphs, n_nodes, n_nodes)
    sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
    w_graph = sign * rng.uniform(cfg.weight_low, cfg.weight_high, size)
    rho = rng.uniform(cfg.decay_low, cfg.decay_high, size)
    eta_graph = rho[:, None] ** np.arange(k)[None, :, None, None]  # (graph, lag, i, j)
    eta_graph = eta_graph / eta_graph.sum(axis=1, keepdims=True)
    edge_weight = w_graph[graph_index] * mask
    lag_profile = eta_graph[graph_index] * mask[:, None]
    coef = edge_weight[:, None] * lag_profile  # (shop, lag, i, j); index 0 is lag 1

    is_source = adjacency.sum(axis=1) == 0  # (shop, node)
    phi = np.where(is_source, rng.uniform(cfg.source_ar_low, cfg.source_ar_high, (n, n_nodes)), 0)
    total = cfg.burn_in + cfg.length
    x = np.zeros((n, total, n_nodes))
    x[:, 0] = np.where(is_source, rng.normal(0.0, 1.0, (n, n_nodes)), 0.0)
    v = rng.normal(0.0, 1.0, (n, total, n_nodes)) * np.sqrt(1.0 - phi**2)[:, None]
    e = rng.normal(0.0, cfg.noise_std, (n, total, n_nodes))
    for t in range(1, total):
        lags = min(k, t)
        window = x[:, t - lags : t][:, ::-1]  # (shop, lag, node), lag 1 first
        child = np.einsum("nli,nlij->nj", window, coef[:, :lags]) + e[:, t]
        x[:, t] = np.where(is_source, phi * x[:, t - 1] + v[:, t], child)

    latent = x[:, cfg.burn_in :].copy()
    observed = latent - latent.min(axis=1, keepdims=True) + 1.0
    observed[:, :, :d] *= 10.0
    observed[:, :, d] *= 100.0
    node_names = tuple(f"spend_{i + 1}" for i in range(d)) + ("gmv",)
    shop_ids = shop_labels(n)
    dates = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")
    return Simulation(
        frame=long_frame(observed, node_names, shop_ids, dates),
        adjacency=adjacency.astype(np.int8),
        node_names=node_names,
        shop_ids=shop_ids,
        context_names=(),
        graph_index=graph_index,
        latent=latent,
        context=np.zeros((n, 0)),
        edge_weight=edge_weight,
        lag_profile=lag_profile,
        config=cfg,
        process=x,
        spend_names=node_names[:d],
        params={"source_ar": phi},
    )
