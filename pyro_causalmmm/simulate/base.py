"""What every simulated family returns: the `Simulation` record (a long frame plus its
true graphs and the arrays behind it), the Hill curve, random DAGs and the small helpers
(long frame, shop ids, config checks) shared by the families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.errors import ConfigError


@dataclass(frozen=True)
class Simulation:
    """A simulated panel with its true graphs.

    Attributes:
        frame: long DataFrame, one row per (shop, time): ``shop`` (``"shop_000"``...),
            ``time`` (daily ``pd.Timestamp`` from ``config.start_date``), ``spend_1..spend_d``,
            ``gmv``, ``ctx_1``, ``ctx_2`` (context is constant within a shop).
        adjacency: int8 ``(shop, cause, effect)``; 1 means cause -> effect.
        node_names: ``spend_1..spend_d, gmv`` (target last).
        shop_ids: shop ids in frame order, ``(shop,)``.
        context_names: ``("ctx_1", "ctx_2")``.
        graph_index: int ``(shop,)``, which of the ``R`` graphs each shop uses.
        latent: float ``(shop, time, node)``, the values before the positive affine map.
        context: float ``(shop, context)``.
        edge_weight: float ``(shop, cause, effect)``, ``w`` on true edges, 0 elsewhere
            (None for families without one linear weight per edge).
        lag_profile: float ``(shop, lag, cause, effect)``, ``eta`` (index ``k-1`` is lag ``k``),
            0 off the true edges (None where it does not apply).
        hill_shape, hill_half: float ``(shop,)``, the sim2 S-curve parameters (also
            computed, but unused, for sim1; None for families without a target S-curve).
        config: the family's frozen configuration that produced this draw (for the
            paper's family a :class:`~pyro_causalmmm.simulate.paper.SimulationConfig`).
        process: float ``(shop, burn_in + time, node)``, the generating process over every
            step, burn-in included, before the S-curve and the affine map (the target
            column is ``u``). None on objects built by hand (the ground-truth functions
            need it).
        innovations: float ``(shop, burn_in + time, node)``, the noise ``e`` drawn for
            each step (children: ``process = mechanism + e`` exactly). None as above.
        spend_names: the node columns that are spend (non-negative); empty when the
            family has no spend columns.
        params: family-specific true parameters by name (arrays with a leading shop
            axis), e.g. Lorenz-96's node permutation or the marketing adstock decays;
            each family's docstring lists its keys.
    """

    frame: pd.DataFrame
    adjacency: np.ndarray
    node_names: tuple[str, ...]
    shop_ids: tuple[str, ...]
    context_names: tuple[str, ...]
    graph_index: np.ndarray
    latent: np.ndarray
    context: np.ndarray
    edge_weight: np.ndarray | None = None
    lag_profile: np.ndarray | None = None
    hill_shape: np.ndarray | None = None
    hill_half: np.ndarray | None = None
    config: Any = None
    process: np.ndarray | None = None
    innovations: np.ndarray | None = None
    spend_names: tuple[str, ...] = ()
    params: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def values(self) -> np.ndarray:
        """Observed node values, float ``(shop, time, node)`` (the frame's node columns)."""
        n, t, d = self.latent.shape
        return self.frame[list(self.node_names)].to_numpy(dtype=float).reshape(n, t, d)


def hill(u: np.ndarray, shape: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Hill S-curve ``u^shape / (u^shape + half)`` for ``u >= 0``, broadcasting shapes."""
    powered = np.power(u, shape)
    return powered / (powered + half)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def random_dags(
    n_graphs: int, n_channels: int, edge_prob: float, rng: np.random.Generator
) -> np.ndarray:
    """Random DAGs over ``d`` channels plus the target, int8 ``(graph, cause, effect)``.

    Channels get a random topological order, the target comes last; each forward
    pair is an edge with probability ``edge_prob``. A target with no parent gets
    one random channel parent. The first channel in the order is a source.
    """
    d = n_channels
    n_nodes = d + 1
    graphs = np.zeros((n_graphs, n_nodes, n_nodes), dtype=np.int8)
    forward = np.triu(np.ones((n_nodes, n_nodes), dtype=bool), k=1)
    for r in range(n_graphs):
        order = np.concatenate([rng.permutation(d), [d]])
        upper = (rng.random((n_nodes, n_nodes)) < edge_prob) & forward
        if not upper[:, -1].any():
            upper[rng.integers(d), -1] = True
        # position p -> node order[p]
        graphs[r][np.ix_(order, order)] = upper.astype(np.int8)
    return graphs


# ----------------------------------------------------------------------------- helpers


def shop_labels(n_shops: int) -> tuple[str, ...]:
    """Shop ids ``shop_000, shop_001, ...`` (zero-padded to at least 3 digits)."""
    width = max(3, len(str(n_shops - 1)))
    return tuple(f"shop_{i:0{width}d}" for i in range(n_shops))


def long_frame(
    values: np.ndarray,
    node_names: Sequence[str],
    shop_ids: Sequence[str],
    times: pd.DatetimeIndex,
    context: np.ndarray | None = None,
    context_names: Sequence[str] = (),
) -> pd.DataFrame:
    """Long frame ``shop, time, <nodes>, <context>`` from values ``(shop, time, node)``.

    ``context`` is ``(shop, context)`` (static, repeated over time) or None.
    """
    n, t, d = values.shape
    frame = pd.DataFrame(
        {
            "shop": np.repeat(np.array(shop_ids, dtype=object), t),
            "time": np.tile(pd.DatetimeIndex(times).to_numpy(), n),
        }
    )
    flat = values.reshape(n * t, d)
    for idx, name in enumerate(node_names):
        frame[name] = flat[:, idx]
    for idx, name in enumerate(context_names):
        assert context is not None
        frame[name] = np.repeat(context[:, idx], t)
    return frame


def check_ints(cfg: Any, minimum: dict[str, int]) -> None:
    """Raise `ConfigError` unless each named field is an int ``>= minimum[name]``."""
    for name, low in minimum.items():
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")


def check_range(
    cfg: Any, name: str, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> float:
    """Raise `ConfigError` unless field ``name`` is a finite number in the given interval."""
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = np.isfinite(value) and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(f"{name} must be finite and in {left}{low}, {high}{right}, got {value}")
    return value


def check_pair(cfg: Any, low_name: str, high_name: str) -> None:
    """Raise `ConfigError` unless ``low_name <= high_name`` (both already range-checked)."""
    if float(getattr(cfg, low_name)) > float(getattr(cfg, high_name)):
        raise ConfigError(
            f"{low_name} must be <= {high_name}, got {getattr(cfg, low_name)} > "
            f"{getattr(cfg, high_name)}"
        )


def check_date(cfg: Any, name: str = "start_date") -> None:
    """Raise `ConfigError` unless field ``name`` is an ISO date."""
    try:
        pd.Timestamp(getattr(cfg, name))
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{name} must be an ISO date 'YYYY-MM-DD', got {getattr(cfg, name)!r}"
        ) from exc


def ar1(
    n: int, total: int, d: int, phi: np.ndarray, std: float, rng: np.random.Generator
) -> np.ndarray:
    """Stationary AR(1) paths ``(n, total, d)``: ``s_t = phi s_{t-1} + v_t``, unit variance.

    ``phi`` broadcasts to ``(n, d)``; ``v_t ~ N(0, std^2 (1 - phi^2))`` scaled so the
    stationary std is ``std``; the start is drawn from the stationary law.
    """
    phi = np.broadcast_to(np.asarray(phi, dtype=float), (n, d))
    innov = rng.normal(0.0, 1.0, (n, total, d)) * std * np.sqrt(1.0 - phi**2)[:, None, :]
    out = np.empty((n, total, d))
    out[:, 0] = rng.normal(0.0, std, (n, d))
    for t in range(1, total):
        out[:, t] = phi * out[:, t - 1] + innov[:, t]
    return out


def flights(
    n: int, total: int, d: int, on_mean: float, off_mean: float, rng: np.random.Generator
) -> np.ndarray:
    """On/off flights, bool ``(n, total, d)``: a two-state Markov chain per series.

    An "on" period ends each step with probability ``1 / on_mean`` and an "off" one with
    ``1 / off_mean``, so period lengths are geometric with those means; the first state is
    drawn from the chain's stationary law (on with probability ``on / (on + off)``).
    """
    state = rng.random((n, d)) < on_mean / (on_mean + off_mean)
    u = rng.random((n, total, d))
    out = np.empty((n, total, d), dtype=bool)
    for t in range(total):
        out[:, t] = state
        state = np.where(state, u[:, t] >= 1.0 / on_mean, u[:, t] < 1.0 / off_mean)
    return out


def adstock_hill_network(
    mult: np.ndarray,
    base: np.ndarray,
    coef: np.ndarray,
    decay: np.ndarray,
    half: np.ndarray,
    shape: np.ndarray,
) -> np.ndarray:
    """Run a network of lagged adstock + Hill edges, float ``(n, total, node)``::

        A_{ij}^t = decay_ij A_{ij}^{t-1} + x_i^{t-1}                  (A^0 = 0)
        x_j^t    = mult_j^t (base_j^t + sum_i coef_ij Hill(A_ij^t / half_ij, shape_ij))

    with ``Hill(a, s) = a^s / (a^s + 1)`` (half-saturation at ``A = half``). ``mult`` and
    ``base`` are ``(n, total, node)``; ``coef``, ``decay``, ``half``, ``shape`` are
    ``(n, cause, effect)`` (``coef = 0`` off the edges, ``half > 0`` everywhere). Every
    effect is lagged (``A^t`` holds causes up to ``t - 1``), so nodes have no same-step
    parents.
    """
    n, total, d = mult.shape
    adstock = np.zeros((n, d, d))
    x = np.empty((n, total, d))
    for t in range(total):
        if t > 0:
            adstock = decay * adstock + x[:, t - 1, :, None]
        response = (coef * hill(adstock / half, shape, 1.0)).sum(axis=1)
        x[:, t] = mult[:, t] * (base[:, t] + response)
    return x


def make_config(cls: type, config: Any, settings: dict[str, Any]) -> Any:
    """``config`` itself (an instance of ``cls``), or ``cls(**settings)``.

    Raises:
        ConfigError: both or a wrong type are given, or a setting name is unknown.
    """
    if config is not None:
        if settings:
            raise ConfigError("pass either a config or keyword settings, not both")
        if not isinstance(config, cls):
            raise ConfigError(f"config must be a {cls.__name__}, got {type(config).__name__}")
        return config
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; allowed: {sorted(names)}")
    return cls(**settings)
