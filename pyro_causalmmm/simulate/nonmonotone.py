"""Non-monotone coupling: lagged even (V- or U-shaped) effects that a linear VAR cannot see.

Nodes are ``d`` channels ``x_1 .. x_d`` and the target ``target`` (target last);
adjacency ``A[n, i, j] = 1`` means node ``i`` causes node ``j``; arrays are ``(shop, time,
node)``. In the spirit of the non-monotone benchmarks of CUTS (Cheng et al., 2023), but
with the coupling chosen so that its even part dominates completely.

Recipe (defaults: ``N = 60`` shops, ``d = 6``, ``T = 200``):

1. **Graph per shop**: a random DAG over the channels plus the target (random channel
   order, target last, forward pairs with probability ``edge_prob``, at least one parent
   of the target; :func:`~pyro_causalmmm.simulate.base.random_dags`). Each edge gets
   one lag ``k_ij ~ U{1 .. max_lag}`` and a weight ``w_ij = +-U(weight_low, weight_high)``.
2. **Sources** are stationary Gaussian AR(1), unit variance, ``phi ~ U(source_ar_low,
   source_ar_high)`` per shop and node.
3. **Children** (nodes with parents)::

       x_j^t = a_j x_j^{t-1} + sum_{i in pa(j)} w_ij f(x_i^{t-k_ij} / s_i) + e_j^t,
       e ~ N(0, noise_std^2),  a_j ~ U(0, child_ar)

   where ``s_i`` is the nominal std of node ``i`` (1 for sources; for a child
   ``sqrt((sum_i w_ij^2 + noise_std^2) / (1 - a_j^2))``, the std if its inputs were
   independent), so ``f`` acts on standardized parents. The coupling (``coupling``)::

       "fold":      f(z) = sqrt(3) (2 erf(|z| / sqrt(2)) - 1) + linear_part * z
       "quadratic": f(z) = (z^2 exp(-z^2 / 20) - mu) / sigma   + linear_part * z

   Both even parts are bounded and have mean 0 and variance 1 when ``z ~ N(0, 1)``
   (``mu = (10/11)^(3/2)``, ``sigma^2 = 3 (10/12)^(5/2) - mu^2``; the quadratic one is
   CUTS' ``5 x^2 exp(-x^2 / 20)`` up to scale). The default ``"fold"`` maps a standard
   normal to a uniform on ``[-sqrt(3), sqrt(3)]``: its output is again symmetric, so
   for every parent whose law is symmetric (sources exactly, children nearly) the
   covariance of child and lagged parent is 0 at every lag, and a linear VAR F-test
   scores edges at about chance. ``"quadratic"`` makes children skewed (chi-square
   like), which leaks some linear signal into their own children. ``linear_part``
   (default 0) adds a monotone part.
4. The first ``burn_in`` steps are dropped. ``latent`` holds ``x``.
5. **Target >= 0.** The observed target is ``x - min_t x + 1`` per shop (a constant per
   shop, Granger structure unchanged); channels stay signed.

``Simulation.edge_weight`` is ``w``; ``params`` holds ``lag`` (``k``, 0 off the edges)
and ``scale`` (``s``, ``(shop, node)``).
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
    random_dags,
    shop_labels,
)

COUPLINGS = ("fold", "quadratic")
_MU = (10.0 / 11.0) ** 1.5
_SIGMA = float(np.sqrt(3.0 * (10.0 / 12.0) ** 2.5 - _MU**2))


@dataclass(frozen=True)
class NonMonotoneConfig:
    """Settings of the non-monotone family (formulas in the module docstring).

    Attributes:
        n_shops: shops ``N`` (>= 1).
        n_channels: channels ``d`` (>= 1).
        length: kept steps ``T`` (>= ``2 * max_lag + 2``).
        coupling: ``"fold"`` or ``"quadratic"`` (the even part of ``f``).
        linear_part: coefficient of the linear part of ``f`` (finite).
        edge_prob: probability of each forward edge, in ``(0, 1]``.
        max_lag: largest edge lag (>= 1).
        weight_low, weight_high: ``|w| ~ U(low, high)``, ``0 < low <= high``.
        source_ar_low, source_ar_high: source AR(1) coefficient range in ``[0, 1)``.
        child_ar: largest child self-AR coefficient, in ``[0, 1)``.
        noise_std: std of the children's noise (> 0).
        burn_in: dropped initial steps (>= ``max_lag``).
        seed: numpy seed (>= 0).
        start_date: first date of the daily calendar.
    """

    n_shops: int = 60
    n_channels: int = 6
    length: int = 200
    coupling: str = "fold"
    linear_part: float = 0.0
    edge_prob: float = 0.35
    max_lag: int = 3
    weight_low: float = 0.5
    weight_high: float = 1.0
    source_ar_low: float = 0.3
    source_ar_high: float = 0.7
    child_ar: float = 0.3
    noise_std: float = 0.5
    burn_in: int = 50
    seed: int = 0
    start_date: str = "2024-01-01"

    def __post_init__(self) -> None:
        check_ints(
            self,
            {"n_shops": 1, "n_channels": 1, "max_lag": 1, "length": 1, "burn_in": 0, "seed": 0},
        )
        if self.coupling not in COUPLINGS:
            raise ConfigError(f"coupling must be one of {COUPLINGS}, got {self.coupling!r}")
        if self.length < 2 * self.max_lag + 2:
            raise ConfigError(
                f"length must be >= 2 * max_lag + 2 = {2 * self.max_lag + 2}, got {self.length}"
            )
        if self.burn_in < self.max_lag:
            raise ConfigError(f"burn_in must be >= max_lag = {self.max_lag}, got {self.burn_in}")
        check_range(self, "linear_part", -np.inf, np.inf, low_open=True, high_open=True)
        check_range(self, "edge_prob", 0.0, 1.0, low_open=True)
        check_range(self, "weight_low", 0.0, np.inf, low_open=True, high_open=True)
        check_range(self, "weight_high", 0.0, np.inf, low_open=True, high_open=True)
        check_pair(self, "weight_low", "weight_high")
        check_range(self, "source_ar_low", 0.0, 1.0, high_open=True)
        check_range(self, "source_ar_high", 0.0, 1.0, high_open=True)
        check_pair(self, "source_ar_low", "source_ar_high")
        check_range(self, "child_ar", 0.0, 1.0, high_open=True)
        check_range(self, "noise_std", 0.0, np.inf, low_open=True, high_open=True)
        check_date(self)


def erf(x: np.ndarray) -> np.ndarray:
    """Error function (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def coupling_function(
    z: np.ndarray, coupling: str = "fold", linear_part: float = 0.0
) -> np.ndarray:
    """The coupling ``f`` of step 3 (even part standardized for ``z ~ N(0, 1)``)."""
    if coupling == "fold":
        even = np.sqrt(3.0) * (2.0 * erf(np.abs(z) / np.sqrt(2.0)) - 1.0)
    elif coupling == "quadratic":
        even = (z**2 * np.exp(-(z**2) / 20.0) - _MU) / _SIGMA
    else:
        raise ConfigError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
    return even + linear_part * z


def simulate_nonmonotone(config: NonMonotoneConfig | None = None, **settings) -> Simulation:
    """Draw a non-monotone-coupling panel (recipe in the module docstring).

    Pass a :class:`NonMonotoneConfig` or its fields as keywords (not both).

    Raises:
        ConfigError: a setting is out of range or unknown.
    """
    cfg = make_config(NonMonotoneConfig, config, settings)
    rng = np.random.default_rng(cfg.seed)
    n, d, kmax = cfg.n_shops, cfg.n_channels, cfg.max_lag
    n_nodes = d + 1
    adjacency = random_dags(n, d, cfg.edge_prob, rng)
    mask = adjacency.astype(bool)
    size = adjacency.shape
    sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
    weight = np.where(mask, sign * rng.uniform(cfg.weight_low, cfg.weight_high, size), 0.0)
    lag = np.where(mask, rng.integers(1, kmax + 1, size), 0)
    is_source = ~mask.any(axis=1)  # (shop, node)
    phi = rng.uniform(cfg.source_ar_low, cfg.source_ar_high, (n, n_nodes))
    a = np.where(is_source, 0.0, rng.uniform(0.0, cfg.child_ar, (n, n_nodes)))
    nominal = (weight**2).sum(axis=1) + cfg.noise_std**2
    scale = np.where(is_source, 1.0, np.sqrt(nominal / (1.0 - a**2)))
    # coef[n, k-1, i, j]: weight of f(x_i^{t-k}) in x_j^t
    coef = np.stack([np.where(lag == k, weight, 0.0) for k in range(1, kmax + 1)], axis=1)

    total = cfg.burn_in + cfg.length
    x = np.zeros((n, total, n_nodes))
    fx = np.zeros((n, total, n_nodes))  # f(x / s), kept for the lagged inputs
    x[:, 0] = np.where(is_source, rng.normal(0.0, 1.0, (n, n_nodes)), 0.0)
    v = rng.normal(0.0, 1.0, (n, total, n_nodes)) * np.sqrt(1.0 - phi**2)[:, None]
    e = rng.normal(0.0, cfg.noise_std, (n, total, n_nodes))
    fx[:, 0] = coupling_function(x[:, 0] / scale, cfg.coupling, cfg.linear_part)
    for t in range(1, total):
        lags = min(kmax, t)
        window = fx[:, t - lags : t][:, ::-1]  # (shop, lag, node), lag 1 first
        child = a * x[:, t - 1] + np.einsum("nli,nlij->nj", window, coef[:, :lags]) + e[:, t]
        x[:, t] = np.where(is_source, phi * x[:, t - 1] + v[:, t], child)
        fx[:, t] = coupling_function(x[:, t] / scale, cfg.coupling, cfg.linear_part)

    latent = x[:, cfg.burn_in :].copy()
    observed = latent.copy()
    target = observed[:, :, -1]
    observed[:, :, -1] = target - target.min(axis=1, keepdims=True) + 1.0
    node_names = tuple(f"x_{i + 1}" for i in range(d)) + ("target",)
    shop_ids = shop_labels(n)
    dates = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")
    return Simulation(
        frame=long_frame(observed, node_names, shop_ids, dates),
        adjacency=adjacency.astype(np.int8),
        node_names=node_names,
        shop_ids=shop_ids,
        context_names=(),
        graph_index=np.arange(n),
        latent=latent,
        context=np.zeros((n, 0)),
        edge_weight=weight,
        config=cfg,
        process=x,
        params={"lag": lag, "scale": scale},
    )
