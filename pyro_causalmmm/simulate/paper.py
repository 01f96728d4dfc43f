"""Synthetic marketing data with known per-shop causal graphs (CausalMMM appendix A.2.1).

The generator follows Gong et al. (WSDM 2024), appendix A.2.1, and fills in the
choices the paper leaves open (each one is a field of :class:`SimulationConfig`).

Nodes are ``d`` channels ``spend_1 .. spend_d`` followed by the target ``gmv``
(``D = d + 1``, target last). Adjacency ``A[n, i, j] = 1`` means node ``i``
causes node ``j`` in shop ``n`` (row = cause, column = effect); the diagonal is 0.

Recipe, with ``K = lag`` and all arrays shaped ``(shop, time, node)``:

1. **Graphs.** ``R = n_graphs`` random DAGs over the ``D`` nodes: a random
   topological order of the channels, target last; every forward pair
   ``(i before j)`` is an edge with probability ``edge_prob``. If the target has
   no parent, one random channel is made its parent. The first channel in the
   order has no parents, so every graph has at least one source channel. Each
   shop draws one of the ``R`` graphs uniformly (``graph_index``, shape ``(shop,)``).
2. **Source channels** (no parents) follow a squashed NARMA process driven by an
   AR(1) input::

       s_t   = source_ar * s_{t-1} + v_t,                      v_t ~ N(0, source_std^2)
       raw_t = a x_{t-1} + b x_{t-1} sum_{k=1..K} x_{t-k} + c e_{t-K} e_{t-1} + e_t + s_t
       x_t   = bound * tanh(raw_t / bound),                    e_t ~ N(0, noise_std^2)

   with ``a, b, c ~ N(0, narma_std^2)`` per shop and variable (the paper's
   ``N(0, 0.1)``, read as a standard deviation), ``a`` clipped to ``|a| <= 0.9``
   and ``b`` to ``|b| <= 0.9 / (K * bound)``. The squash keeps every setting
   finite (checked up to ``T = 720``); the AR(1) driver gives the sources
   persistent variance of order ``source_std`` so that their effects on
   children are well above the ``noise_std`` noise (pure NARMA with
   ``e_t ~ N(0, 0.01)`` would be almost white noise of variance 0.01).
3. **Children** (channels with parents, and the target's latent ``u``)::

       x_{n,j}^t = sum_{i in pa(j)} w_{n,i,j} eta_{n,i,j}^T tanh(x_{n,i}^{t-K:t-1}) + e_t

   with ``w = U(weight_low, weight_high) * (random sign)`` and
   ``eta ~ Dirichlet(1, ..., 1)`` over the ``K`` lags (non-negative, sums to 1,
   ``eta[k-1]`` weighs lag ``k``). The paper writes ``w_{n,i} eta_{n,j}``; we index
   both by edge ``(i, j)``, which contains the paper's case. Children have no
   contemporaneous parents (lags ``1..K`` only), so a node's history is
   Granger-causal for exactly its children.
   ``mechanisms="per_shop"`` draws ``w`` and ``eta`` per shop (the paper's shop
   index ``n``); ``"shared"`` draws them once per graph, so shops with the same
   graph share the mechanism (as in the authors' released data). The NARMA
   parameters of sources are per shop and variable in both modes.
4. **Target.** ``u`` is the target node from step 3. Simulation 1 (``"sim1"``):
   ``y = u``. Simulation 2 (``"sim2"``): a Hill S-curve whose shape and
   inflexion are set by two static context variables per shop,
   ``ctx_1, ctx_2 ~ N(0, 1)``::

       u_pos = softplus(u),  shape = exp(0.3 ctx_1) + 0.5,  half = exp(0.3 ctx_2)
       y     = u_pos^shape / (u_pos^shape + half)

   Both context columns are in the frame for both scenarios (for ``sim1`` they
   carry no signal, which lets the same code path run on both).
5. **Burn-in.** The first ``burn_in`` steps are discarded; ``length`` steps remain.
6. **Observed units.** Marketing data is non-negative, so each ``(shop, node)``
   series is mapped by a positive affine map (which leaves the Granger
   structure unchanged): ``spend = 10 * (x - min_t x + 1)``; ``gmv = 100 * (y -
   min_t y + 1)`` for ``sim1``; ``gmv = 1000 * y`` for ``sim2`` (already in
   ``(0, 1)``, so a pure scale keeps the S-curve's saturation visible).
   ``Simulation.latent`` keeps the values before this map (for ``sim2`` the
   target column of ``latent`` is ``y``, the Hill output).
7. **Ground truth under do().** :func:`true_counterfactual` re-runs steps 3-6 with some
   channel cells set (in observed units) and the same innovations ``e``: each child is
   recomputed as ``x'_t = sum_i w eta^T tanh(x'_i^{t-K:t-1}) + e_t``; sources (no
   parents) keep their values unless set; the affine map of step 6 stays the one of the
   factual data. :func:`true_contributions` gives each channel's total, direct (other
   channels held at their observed values) and indirect (total - direct) effect on GMV.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate.base import Simulation, _softplus, hill, random_dags

SCENARIOS = ("sim1", "sim2")
MECHANISMS = ("per_shop", "shared")

_SPEND_SCALE = 10.0
_GMV_SCALE_SIM1 = 100.0
_GMV_SCALE_SIM2 = 1000.0


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of the appendix A.2.1 generator (see the module docstring for formulas).

    Attributes:
        scenario: ``"sim1"`` (``y = u``) or ``"sim2"`` (``y = Hill(softplus(u))`` set by context).
        n_shops: number of shops ``N`` (>= 1).
        n_channels: number of channels ``d`` (>= 1); nodes ``D = d + 1``.
        length: kept time steps ``T`` (>= ``2 * lag + 2``).
        n_graphs: number of distinct random DAGs ``R`` (>= 1).
        lag: lag window ``K`` of sources and mechanisms (>= 1).
        seed: seed of the numpy generator (>= 0); same seed, same data.
        mechanisms: ``"per_shop"`` (weights per shop) or ``"shared"`` (per graph).
        noise_std: std of the innovations ``e`` (> 0); the paper's variance 0.01 is 0.1.
        edge_prob: probability of each forward edge, in ``(0, 1]``.
        burn_in: discarded initial steps (>= ``lag``).
        weight_low, weight_high: ``|w| ~ U(weight_low, weight_high)``, ``0 < low <= high``.
        narma_std: std of the NARMA coefficients ``a, b, c`` (>= 0).
        source_ar: AR(1) coefficient of the source driver, in ``[0, 1)``.
        source_std: innovation std of the source driver (>= 0).
        source_bound: squash bound of source values (> 0).
        start_date: first date of the daily calendar (ISO ``YYYY-MM-DD``).
    """

    scenario: str = "sim2"
    n_shops: int = 100
    n_channels: int = 10
    length: int = 120
    n_graphs: int = 5
    lag: int = 3
    seed: int = 0
    mechanisms: str = "per_shop"
    noise_std: float = 0.1
    edge_prob: float = 0.3
    burn_in: int = 50
    weight_low: float = 0.5
    weight_high: float = 1.5
    narma_std: float = 0.1
    source_ar: float = 0.5
    source_std: float = 1.0
    source_bound: float = 5.0
    start_date: str = "2023-01-01"

    def __post_init__(self) -> None:
        self._validate_choices()
        self._validate_ints()
        self._validate_floats()
        try:
            pd.Timestamp(self.start_date)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"start_date must be an ISO date 'YYYY-MM-DD', got {self.start_date!r}"
            ) from exc

    def _validate_choices(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ConfigError(f"scenario must be one of {SCENARIOS}, got {self.scenario!r}")
        if self.mechanisms not in MECHANISMS:
            raise ConfigError(f"mechanisms must be one of {MECHANISMS}, got {self.mechanisms!r}")

    def _validate_ints(self) -> None:
        for name in ("n_shops", "n_channels", "length", "n_graphs", "lag", "seed", "burn_in"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        for name in ("n_shops", "n_channels", "n_graphs", "lag"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.length < 2 * self.lag + 2:
            raise ConfigError(
                f"length must be >= 2 * lag + 2 = {2 * self.lag + 2}, got {self.length}"
            )
        if self.burn_in < self.lag:
            raise ConfigError(f"burn_in must be >= lag = {self.lag}, got {self.burn_in}")

    def _validate_floats(self) -> None:
        def finite(name: str) -> float:
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ConfigError(f"{name} must be finite, got {value}")
            return value

        if not finite("noise_std") > 0:
            raise ConfigError(f"noise_std must be > 0, got {self.noise_std}")
        if not 0 < finite("edge_prob") <= 1:
            raise ConfigError(f"edge_prob must be in (0, 1], got {self.edge_prob}")
        low, high = finite("weight_low"), finite("weight_high")
        if not 0 < low <= high:
            raise ConfigError(
                "weight_low and weight_high must satisfy 0 < weight_low <= weight_high, "
                f"got {low}, {high}"
            )
        if finite("narma_std") < 0:
            raise ConfigError(f"narma_std must be >= 0, got {self.narma_std}")
        if not 0 <= finite("source_ar") < 1:
            raise ConfigError(f"source_ar must be in [0, 1), got {self.source_ar}")
        if finite("source_std") < 0:
            raise ConfigError(f"source_std must be >= 0, got {self.source_std}")
        if not finite("source_bound") > 0:
            raise ConfigError(f"source_bound must be > 0, got {self.source_bound}")


def _draw_mechanisms(
    cfg: SimulationConfig, n_units: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``w`` ``(unit, cause, effect)`` and ``eta`` ``(unit, lag, cause, effect)``."""
    n_nodes = cfg.n_channels + 1
    size = (n_units, n_nodes, n_nodes)
    magnitude = rng.uniform(cfg.weight_low, cfg.weight_high, size=size)
    sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
    eta = rng.dirichlet(np.ones(cfg.lag), size=size)  # (unit, cause, effect, lag)
    return magnitude * sign, np.moveaxis(eta, -1, 1)


def simulate(
    scenario: str | SimulationConfig = "sim2",
    n_shops: int = 100,
    n_channels: int = 10,
    length: int = 120,
    n_graphs: int = 5,
    lag: int = 3,
    seed: int = 0,
    mechanisms: str = "per_shop",
    noise_std: float = 0.1,
    edge_prob: float = 0.3,
    burn_in: int = 50,
    **extra: float | str,
) -> Simulation:
    """Draw a panel from the appendix A.2.1 generator (formulas in the module docstring).

    Pass either the keyword settings (``extra`` takes the remaining
    :class:`SimulationConfig` fields, e.g. ``weight_low``) or a ready
    :class:`SimulationConfig` as the first argument.

    Returns:
        :class:`Simulation` with ``frame`` of ``n_shops * length`` rows and the true
        ``adjacency`` ``(shop, cause, effect)``.

    Raises:
        ConfigError: a setting is out of range (the message names it).
    """
    if isinstance(scenario, SimulationConfig):
        cfg = scenario
    else:
        names = {f.name for f in dataclasses.fields(SimulationConfig)}
        unknown = sorted(set(extra) - names)
        if unknown:
            raise ConfigError(f"unknown simulation setting(s) {unknown}; allowed: {sorted(names)}")
        cfg = SimulationConfig(
            scenario=scenario,
            n_shops=n_shops,
            n_channels=n_channels,
            length=length,
            n_graphs=n_graphs,
            lag=lag,
            seed=seed,
            mechanisms=mechanisms,
            noise_std=noise_std,
            edge_prob=edge_prob,
            burn_in=burn_in,
            **extra,
        )
    return _simulate(cfg)


def _simulate(cfg: SimulationConfig) -> Simulation:
    rng = np.random.default_rng(cfg.seed)
    n, d, k = cfg.n_shops, cfg.n_channels, cfg.lag
    n_nodes = d + 1

    graphs = random_dags(cfg.n_graphs, d, cfg.edge_prob, rng)
    graph_index = rng.integers(cfg.n_graphs, size=n)
    adjacency = graphs[graph_index]  # (shop, cause, effect)

    if cfg.mechanisms == "shared":
        w_g, eta_g = _draw_mechanisms(cfg, cfg.n_graphs, rng)
        w, eta = w_g[graph_index], eta_g[graph_index]
    else:
        w, eta = _draw_mechanisms(cfg, n, rng)
    mask = adjacency.astype(float)
    edge_weight = w * mask
    lag_profile = eta * mask[:, None, :, :]
    # coef[n, m, i, j] multiplies tanh(x_i^{t-K+m}); m = 0 is the oldest lag K.
    coef = (edge_weight[:, None, :, :] * lag_profile)[:, ::-1]

    # Sources: channels without parents (the target always has one).
    is_source = adjacency.sum(axis=1) == 0  # (shop, node)
    a = np.clip(rng.normal(0.0, cfg.narma_std, (n, n_nodes)), -0.9, 0.9)
    b_max = 0.9 / (k * cfg.source_bound)
    b = np.clip(rng.normal(0.0, cfg.narma_std, (n, n_nodes)), -b_max, b_max)
    c = rng.normal(0.0, cfg.narma_std, (n, n_nodes))

    total = cfg.burn_in + cfg.length
    x = np.zeros((n, total, n_nodes))
    e = rng.normal(0.0, cfg.noise_std, (n, total, n_nodes))
    v = rng.normal(0.0, cfg.source_std, (n, total, n_nodes))
    drive = np.zeros((n, n_nodes))
    bound = cfg.source_bound
    for t in range(k, total):
        window = x[:, t - k : t, :]  # (shop, K, node), oldest first
        drive = cfg.source_ar * drive + v[:, t, :]
        prev = x[:, t - 1, :]
        raw = (
            a * prev
            + b * prev * window.sum(axis=1)
            + c * e[:, t - k, :] * e[:, t - 1, :]
            + e[:, t, :]
            + drive
        )
        source_value = bound * np.tanh(raw / bound)
        child_value = np.einsum("nmi,nmij->nj", np.tanh(window), coef) + e[:, t, :]
        x[:, t, :] = np.where(is_source, source_value, child_value)

    latent = x[:, cfg.burn_in :, :].copy()
    context = rng.normal(0.0, 1.0, (n, 2))
    hill_shape = np.exp(0.3 * context[:, 0]) + 0.5
    hill_half = np.exp(0.3 * context[:, 1])
    if cfg.scenario == "sim2":
        u_pos = _softplus(latent[:, :, -1])
        latent[:, :, -1] = hill(u_pos, hill_shape[:, None], hill_half[:, None])

    observed = np.empty_like(latent)
    lows = latent.min(axis=1, keepdims=True)
    observed[:, :, :d] = _SPEND_SCALE * (latent[:, :, :d] - lows[:, :, :d] + 1.0)
    if cfg.scenario == "sim2":
        observed[:, :, d] = _GMV_SCALE_SIM2 * latent[:, :, d]
    else:
        observed[:, :, d] = _GMV_SCALE_SIM1 * (latent[:, :, d] - lows[:, :, d] + 1.0)

    node_names = tuple(f"spend_{i + 1}" for i in range(d)) + ("gmv",)
    context_names = ("ctx_1", "ctx_2")
    width = max(3, len(str(n - 1)))
    shop_ids = tuple(f"shop_{i:0{width}d}" for i in range(n))
    dates = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")

    frame = pd.DataFrame(
        {
            "shop": np.repeat(np.array(shop_ids, dtype=object), cfg.length),
            "time": np.tile(dates.to_numpy(), n),
        }
    )
    flat = observed.reshape(n * cfg.length, n_nodes)
    for idx, name in enumerate(node_names):
        frame[name] = flat[:, idx]
    for idx, name in enumerate(context_names):
        frame[name] = np.repeat(context[:, idx], cfg.length)

    return Simulation(
        frame=frame,
        adjacency=adjacency.astype(np.int8),
        node_names=node_names,
        shop_ids=shop_ids,
        context_names=context_names,
        graph_index=graph_index,
        latent=latent,
        context=context,
        edge_weight=edge_weight,
        lag_profile=lag_profile,
        hill_shape=hill_shape,
        hill_half=hill_half,
        config=cfg,
        process=x,
        innovations=e,
    )


# ----------------------------------------------------------------------------- ground truth


