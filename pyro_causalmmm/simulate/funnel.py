"""Daily marketing funnel, and its weekly aggregation with seasonal budgets.

Nodes, target last: ``tv_spend, social_spend, search_spend, display_spend,
page_views, search_clicks, gmv``. Adjacency ``A[n, i, j] = 1`` means node ``i`` causes
node ``j`` in shop ``n``; arrays are ``(shop, time, node)``; every value is >= 0.

Daily recipe (:func:`simulate_funnel_daily`, defaults ``N = 60`` shops, ``T = 182`` days):

1. **Graph per shop**, a random subset of the funnel edges, always a DAG in the funnel
   order (spends -> page_views -> search_clicks -> gmv): each spend -> ``page_views``
   with probability ``p_views``; ``page_views -> search_clicks`` and ``search_clicks ->
   gmv`` with ``p_funnel``; the skips (each spend -> ``search_clicks``, each spend ->
   ``gmv``, ``page_views -> gmv``) with ``p_skip``. A responding node left without a
   parent gets one (a random spend for ``page_views``, ``page_views`` for
   ``search_clicks``, ``search_clicks`` for ``gmv``). Spends have no parents.
2. **Demand.** A yearly seasonal demand ``D^t = 1 + season_amplitude * sin(2 pi (t +
   phase) / 365.25)`` (``phase ~ U(0, 365.25)`` per shop, ``t`` in days) and a weekly
   pattern ``W_j^t = 1 + a_j cos(2 pi (dow_t - p_j) / 7)`` per responding node
   (``a_j ~ U(0, weekly_amplitude)``, peak day ``p_j`` uniform).
3. **Spends follow planned budgets** (the budget follows demand: ``D`` is a confounder
   of spend and GMV, never an edge)::

       spend_i^t = flight_i^t L_i (D^t)^budget_follow eps_i^t

   with on/off flights (two-state Markov chain, mean on / off ``flight_on_mean`` /
   ``flight_off_mean`` days) and levels ``L_i ~ U(spend_low, spend_high)``.
4. **Responding nodes** (``page_views``, ``search_clicks``, ``gmv``), adstock + Hill on
   every edge, lagged >= 1 day::

       A_ij^t = decay_ij A_ij^{t-1} + x_i^{t-1},    H_ij^t = Hill(A_ij^t / K_ij, s_ij)
       x_j^t  = L_j ((1 - m_j) W_j^t D^t + sum_i c_ij H_ij^t) eps_j^t

   ``Hill(a, s) = a^s / (a^s + 1)``, ``decay ~ U(decay_low, decay_high)``, ``s ~
   U(shape_low, shape_high)``, ``K_ij = h_ij m_i / (1 - decay_ij)`` with ``m_i`` the
   cause's typical level (spend: ``L_i`` times the on-share; responding node: ``L_i``)
   and ``h ~ U(half_low, half_high)`` (half-saturation near the typical adstocked
   cause). The media share ``m_j`` is ``U(share_low, share_high)`` for ``page_views``
   and ``search_clicks`` and ``U(gmv_share_low, gmv_share_high)`` (moderate) for
   ``gmv``; ``c_ij = 2 m_j Dirichlet(1, ...)`` over the parents. Levels: ``views_level``,
   ``clicks_level``, ``gmv_level``. ``eps = exp(noise z - noise^2 / 2)`` (log-normal,
   mean 1) on every node.
5. The first ``burn_in`` days are dropped (the calendar starts at ``start_date``).

Weekly recipe (:func:`simulate_funnel_weekly`, defaults ``N = 40`` shops, ``T = 156``
weeks, ``season_amplitude = 0.3``): run the daily recipe for ``7 T`` days and SUM each
node over the 7 days of each week (weeks start on ``start_date``; frame times are the
week starts, 7 days apart). The true graph is the daily graph. With the same config
(``weekly=True``) and seed, the weekly values equal the 7-day sums of the daily run
with ``weekly=False, length=7 T``.

``Simulation.params`` holds ``decay``, ``half``, ``shape``, ``coef`` ``(shop, cause,
effect)``, ``level`` ``(shop, node)``, ``demand`` ``(shop, day)`` and ``flight``
``(shop, day, spend)`` over the kept days, and, over every simulated day (burn-in
included), the noise ``eps`` and the inputs ``mult``, ``base`` ``(shop, burn_in + day,
node)`` of :func:`~pyro_causalmmm.simulate.base.adstock_hill_network` (``x = mult (base +
response)``), from which :mod:`pyro_causalmmm.simulate.funnel_truth` replays do().
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError
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
    shop_labels,
)

NODE_NAMES = (
    "tv_spend",
    "social_spend",
    "search_spend",
    "display_spend",
    "page_views",
    "search_clicks",
    "gmv",
)
SPENDS = NODE_NAMES[:4]
_VIEWS, _CLICKS, _GMV = 4, 5, 6
_POS = (0.0, np.inf, True, True)
_UNIT = (0.0, 1.0, False, False)
_RANGES = {
    "p_views": _UNIT,
    "p_funnel": _UNIT,
    "p_skip": _UNIT,
    "season_amplitude": (0.0, 1.0, False, True),
    "budget_follow": (0.0, np.inf, False, True),
    "weekly_amplitude": (0.0, 1.0, False, True),
    "flight_on_mean": (1.0, np.inf, False, True),
    "flight_off_mean": (1.0, np.inf, False, True),
    "decay_low": (0.0, 1.0, False, True),
    "decay_high": (0.0, 1.0, False, True),
    "shape_low": _POS,
    "shape_high": _POS,
    "half_low": _POS,
    "half_high": _POS,
    "share_low": (0.0, 1.0, False, True),
    "share_high": (0.0, 1.0, False, True),
    "gmv_share_low": (0.0, 1.0, False, True),
    "gmv_share_high": (0.0, 1.0, False, True),
    "spend_low": _POS,
    "spend_high": _POS,
    "views_level": _POS,
    "clicks_level": _POS,
    "gmv_level": _POS,
    "noise": (0.0, np.inf, False, True),
}
_PAIRS = ("decay", "shape", "half", "share", "gmv_share", "spend")


@dataclass(frozen=True)
class FunnelConfig:
    """Settings of the funnel family (formulas in the module docstring).

    Attributes:
        n_shops: shops ``N`` (>= 1).
        length: kept steps ``T``: days, or weeks when ``weekly`` (>= 10).
        weekly: sum the daily run to weeks (``7 * length`` days are simulated).
        p_views, p_funnel, p_skip: edge probabilities of step 1, in ``[0, 1]``.
        season_amplitude: yearly demand amplitude, in ``[0, 1)`` (0: no season).
        budget_follow: exponent of demand in planned spend (>= 0; 0: budgets ignore it).
        weekly_amplitude: largest weekly-pattern amplitude, in ``[0, 1)``.
        flight_on_mean, flight_off_mean: mean on / off flight length in days (>= 1).
        decay_low, decay_high: adstock decay range in ``[0, 1)``.
        shape_low, shape_high: Hill shape range (> 0).
        half_low, half_high: half-saturation multiplier range (> 0).
        share_low, share_high: media share range of ``page_views`` and ``search_clicks``.
        gmv_share_low, gmv_share_high: media share range of ``gmv``.
        spend_low, spend_high: daily spend level range (> 0).
        views_level, clicks_level, gmv_level: daily levels of the responding nodes.
        noise: log-normal noise sigma on every node (>= 0).
        burn_in: dropped initial days (>= 0).
        seed: numpy seed (>= 0).
        start_date: first kept day (and first week start).
    """

    n_shops: int = 60
    length: int = 182
    weekly: bool = False
    p_views: float = 0.6
    p_funnel: float = 0.8
    p_skip: float = 0.2
    season_amplitude: float = 0.0
    budget_follow: float = 1.0
    weekly_amplitude: float = 0.3
    flight_on_mean: float = 21.0
    flight_off_mean: float = 10.0
    decay_low: float = 0.3
    decay_high: float = 0.8
    shape_low: float = 1.0
    shape_high: float = 2.5
    half_low: float = 0.7
    half_high: float = 1.3
    share_low: float = 0.3
    share_high: float = 0.6
    gmv_share_low: float = 0.2
    gmv_share_high: float = 0.4
    spend_low: float = 50.0
    spend_high: float = 500.0
    views_level: float = 5_000.0
    clicks_level: float = 800.0
    gmv_level: float = 20_000.0
    noise: float = 0.15
    burn_in: int = 60
    seed: int = 0
    start_date: str = "2024-01-01"

    def __post_init__(self) -> None:
        check_ints(self, {"n_shops": 1, "length": 10, "burn_in": 0, "seed": 0})
        if not isinstance(self.weekly, (bool, np.bool_)):
            raise ConfigError(f"weekly must be True or False, got {self.weekly!r}")
        for name, (low, high, low_open, high_open) in _RANGES.items():
            check_range(self, name, low, high, low_open, high_open)
        for stem in _PAIRS:
            check_pair(self, f"{stem}_low", f"{stem}_high")
        check_date(self)


def funnel_graphs(cfg: FunnelConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-shop funnel DAGs of step 1, int8 ``(shop, cause, effect)``."""
    n, s = cfg.n_shops, len(SPENDS)
    a = np.zeros((n, len(NODE_NAMES), len(NODE_NAMES)), dtype=np.int8)
    a[:, :s, _VIEWS] = rng.random((n, s)) < cfg.p_views
    a[:, _VIEWS, _CLICKS] = rng.random(n) < cfg.p_funnel
    a[:, _CLICKS, _GMV] = rng.random(n) < cfg.p_funnel
    a[:, :s, _CLICKS] = rng.random((n, s)) < cfg.p_skip
    a[:, :s, _GMV] = rng.random((n, s)) < cfg.p_skip
    a[:, _VIEWS, _GMV] = rng.random(n) < cfg.p_skip
    spare = rng.integers(s, size=n)
    for shop in range(n):
        if not a[shop, :, _VIEWS].any():
            a[shop, spare[shop], _VIEWS] = 1
        if not a[shop, :, _CLICKS].any():
            a[shop, _VIEWS, _CLICKS] = 1
        if not a[shop, :, _GMV].any():
            a[shop, _CLICKS, _GMV] = 1
    return a


def _simulate_days(cfg: FunnelConfig, n_days: int) -> dict[str, np.ndarray]:
    """The daily recipe (steps 1-5) for ``n_days`` kept days."""
    rng = np.random.default_rng(cfg.seed)
    n, s, d = cfg.n_shops, len(SPENDS), len(NODE_NAMES)
    total = cfg.burn_in + n_days
    adjacency = funnel_graphs(cfg, rng)
    mask = adjacency.astype(bool)

    day = np.arange(total) - cfg.burn_in  # 0 = start_date
    phase = rng.uniform(0.0, 365.25, (n, 1))
    demand = 1.0 + cfg.season_amplitude * np.sin(2 * np.pi * (day[None, :] + phase) / 365.25)
    dow = (pd.Timestamp(cfg.start_date).day_of_week + day) % 7
    amp = rng.uniform(0.0, cfg.weekly_amplitude, (n, 3))
    peak = rng.integers(7, size=(n, 3))
    weekly = 1.0 + amp[:, None] * np.cos(2 * np.pi * (dow[None, :, None] - peak[:, None]) / 7)

    level = np.concatenate(
        [
            rng.uniform(cfg.spend_low, cfg.spend_high, (n, s)),
            np.tile([cfg.views_level, cfg.clicks_level, cfg.gmv_level], (n, 1)),
        ],
        axis=1,
    )
    duty = cfg.flight_on_mean / (cfg.flight_on_mean + cfg.flight_off_mean)
    typical = level * np.array([duty] * s + [1.0] * 3)[None, :]
    share = np.zeros((n, d))
    share[:, _VIEWS:_GMV] = rng.uniform(cfg.share_low, cfg.share_high, (n, 2))
    share[:, _GMV] = rng.uniform(cfg.gmv_share_low, cfg.gmv_share_high, n)
    size = adjacency.shape
    decay = np.where(mask, rng.uniform(cfg.decay_low, cfg.decay_high, size), 0.0)
    half_mult = rng.uniform(cfg.half_low, cfg.half_high, size)
    half = np.where(mask, half_mult * typical[:, :, None] / (1.0 - decay), 1.0)
    shape = np.where(mask, rng.uniform(cfg.shape_low, cfg.shape_high, size), 0.0)
    split = rng.gamma(1.0, 1.0, size) * mask
    coef = 2.0 * share[:, None, :] * split / np.maximum(split.sum(axis=1, keepdims=True), 1e-300)

    flight = flights(n, total, s, cfg.flight_on_mean, cfg.flight_off_mean, rng)
    eps = np.exp(cfg.noise * rng.normal(0.0, 1.0, (n, total, d)) - 0.5 * cfg.noise**2)
    gate = np.concatenate([flight * demand[:, :, None] ** cfg.budget_follow, weekly], axis=2)
    mult = gate * level[:, None, :] * eps
    mult[:, :, s:] = level[:, None, s:] * eps[:, :, s:]
    base = np.ones((n, total, d))
    base[:, :, s:] = (1.0 - share[:, None, s:]) * weekly * demand[:, :, None]
    x = adstock_hill_network(mult, base, coef, decay, half, shape)
    keep = slice(cfg.burn_in, None)
    return {
        "values": x[:, keep],
        "adjacency": adjacency,
        "decay": decay,
        "half": half,
        "shape": shape,
        "coef": coef,
        "level": level,
        "demand": demand[:, keep],
        "flight": flight[:, keep],
        "eps": eps,
        "mult": mult,
        "base": base,
    }


def simulate_funnel(config: FunnelConfig | None = None, **settings) -> Simulation:
    """Draw a funnel panel, daily or weekly as ``config.weekly`` says (module docstring).

    Pass a :class:`FunnelConfig` or its fields as keywords (not both).

    Raises:
        ConfigError: a setting is out of range or unknown.
    """
    cfg = make_config(FunnelConfig, config, settings)
    n_days = 7 * cfg.length if cfg.weekly else cfg.length
    draw = _simulate_days(cfg, n_days)
    values = draw.pop("values")
    adjacency = draw.pop("adjacency")
    n = cfg.n_shops
    if cfg.weekly:
        values = values.reshape(n, cfg.length, 7, len(NODE_NAMES)).sum(axis=2)
        times = pd.date_range(cfg.start_date, periods=cfg.length, freq="7D")
    else:
        times = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")
    shop_ids = shop_labels(n)
    return Simulation(
        frame=long_frame(values, NODE_NAMES, shop_ids, times),
        adjacency=adjacency,
        node_names=NODE_NAMES,
        shop_ids=shop_ids,
        context_names=(),
        graph_index=np.arange(n),
        latent=values.copy(),
        context=np.zeros((n, 0)),
        config=cfg,
        spend_names=SPENDS,
        params=draw,
    )


def simulate_funnel_daily(
    config: FunnelConfig | None = None, n_shops: int = 60, length: int = 182, **settings
) -> Simulation:
    """The daily funnel (60 shops, 182 days by default); ``config`` overrides all."""
    if config is not None:
        return simulate_funnel(dataclasses.replace(config, weekly=False), **settings)
    return simulate_funnel(n_shops=n_shops, length=length, weekly=False, **settings)


def simulate_funnel_weekly(
    config: FunnelConfig | None = None,
    n_shops: int = 40,
    length: int = 156,
    season_amplitude: float = 0.3,
    **settings,
) -> Simulation:
    """The weekly funnel (40 shops, 156 weeks, seasonal budgets by default): the daily
    recipe summed to weeks; ``config`` overrides all."""
    if config is not None:
        return simulate_funnel(dataclasses.replace(config, weekly=True), **settings)
    return simulate_funnel(
        n_shops=n_shops,
        length=length,
        weekly=True,
        season_amplitude=season_amplitude,
        **settings,
    )
