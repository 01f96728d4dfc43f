"""Lorenz-96: a chaotic ring of ``p`` variables, one trajectory and node order per shop.

The state ``x = (x_0 .. x_{p-1})`` follows (indices mod ``p``)::

    dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F

so the causes of ``x_i`` are ``x_{i-1}``, ``x_{i+1}`` and ``x_{i-2}`` (three parents and
three children per variable; the self-loop ``-x_i`` is not an edge).

Recipe (defaults: ``N = 60`` shops, ``p = 10``, ``F = 10``, ``T = 250``):

1. **Trajectories.** Each shop starts from its own random state ``x(0) = F + N(0, 1)``
   and is integrated with classical fourth-order Runge-Kutta (RK4) at step ``dt = 0.01``
   (vectorised over shops, no scipy), sampled every ``sample_every * dt = 0.1`` time
   units. The first ``burn_in = 1000`` samples are dropped, ``T`` are kept.
2. **Observation noise** ``N(0, obs_noise^2)`` (``obs_noise = 0.1``) is added to every
   sample; ``latent`` holds the noisy values in the shop's node order.
3. **Node permutation per shop.** Shop ``n`` draws a permutation ``pi_n`` of ``0..p-1``;
   its column ``c`` (named ``x_c``) holds the state variable ``x_{pi_n(c)}``, so the true
   adjacency differs per shop while the mechanism is shared::

       A[n, c, c'] = 1  iff  pi_n(c) in {pi_n(c') - 1, pi_n(c') + 1, pi_n(c') - 2} (mod p)

   ``params["permutation"]`` is ``pi`` ``(shop, node)``.
4. **Target.** The last column ``x_{p-1}`` is the target only nominally (it is just
   another ring variable). Because the package's data rules need a target >= 0, the
   observed target is shifted per shop: ``target = x - min_t x + 1`` (a constant per
   shop, so Granger structure is unchanged); the other columns are signed and left as
   they are. ``latent`` keeps the unshifted values.
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
    check_range,
    long_frame,
    make_config,
    shop_labels,
)


@dataclass(frozen=True)
class LorenzConfig:
    """Settings of the Lorenz-96 family (formulas in the module docstring).

    Attributes:
        n_shops: shops ``N`` (>= 1), each its own trajectory.
        n_nodes: ring size ``p`` (>= 4).
        forcing: ``F`` (finite, > 0; 10 is chaotic, 40 strongly chaotic).
        length: kept samples ``T`` (>= 10).
        dt: RK4 step (> 0, <= 0.05).
        sample_every: RK4 steps per sample (>= 1).
        burn_in: dropped initial samples (>= 0).
        obs_noise: std of the observation noise (>= 0).
        permute: draw a node permutation per shop (False keeps ``x_0 .. x_{p-1}``).
        seed: numpy seed (>= 0).
        start_date: first date of the daily calendar the samples are put on.
    """

    n_shops: int = 60
    n_nodes: int = 10
    forcing: float = 10.0
    length: int = 250
    dt: float = 0.01
    sample_every: int = 10
    burn_in: int = 1000
    obs_noise: float = 0.1
    permute: bool = True
    seed: int = 0
    start_date: str = "2024-01-01"

    def __post_init__(self) -> None:
        check_ints(
            self,
            {
                "n_shops": 1,
                "n_nodes": 4,
                "length": 10,
                "sample_every": 1,
                "burn_in": 0,
                "seed": 0,
            },
        )
        check_range(self, "forcing", 0.0, np.inf, low_open=True, high_open=True)
        check_range(self, "dt", 0.0, 0.05, low_open=True)
        check_range(self, "obs_noise", 0.0, np.inf, high_open=True)
        if not isinstance(self.permute, (bool, np.bool_)):
            raise ConfigError(f"permute must be True or False, got {self.permute!r}")
        check_date(self)


def lorenz96_graph(p: int) -> np.ndarray:
    """The ring's adjacency, int8 ``(cause, effect)``: ``x_{i-1}, x_{i+1}, x_{i-2} -> x_i``."""
    a = np.zeros((p, p), dtype=np.int8)
    i = np.arange(p)
    for shift in (-1, 1, -2):
        a[(i + shift) % p, i] = 1
    return a


def lorenz96_drift(x: np.ndarray, forcing: float) -> np.ndarray:
    """``dx/dt`` of Lorenz-96 on the last axis (any leading batch shape)."""
    return (np.roll(x, -1, axis=-1) - np.roll(x, 2, axis=-1)) * np.roll(x, 1, axis=-1) - x + forcing


def integrate_lorenz96(
    x0: np.ndarray, forcing: float, dt: float, n_samples: int, sample_every: int
) -> np.ndarray:
    """RK4 from ``x0`` ``(batch, p)``; samples ``(batch, n_samples, p)`` taken every
    ``sample_every`` steps (the first sample is after ``sample_every`` steps)."""
    x = np.array(x0, dtype=float)
    out = np.empty((x.shape[0], n_samples, x.shape[1]))
    for s in range(n_samples):
        for _ in range(sample_every):
            k1 = lorenz96_drift(x, forcing)
            k2 = lorenz96_drift(x + 0.5 * dt * k1, forcing)
            k3 = lorenz96_drift(x + 0.5 * dt * k2, forcing)
            k4 = lorenz96_drift(x + dt * k3, forcing)
            x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        out[:, s] = x
    if not np.all(np.isfinite(out)):
        raise ConfigError(f"Lorenz-96 integration diverged at dt = {dt}; use a smaller dt")
    return out


def simulate_lorenz96(config: LorenzConfig | None = None, **settings) -> Simulation:
    """Draw a Lorenz-96 panel (recipe in the module docstring).

    Pass a :class:`LorenzConfig` or its fields as keywords (not both).

    Returns:
        :class:`Simulation` with columns ``x_0 .. x_{p-1}`` (target last), the per-shop
        permuted ``adjacency`` and ``params["permutation"]``.

    Raises:
        ConfigError: a setting is out of range or unknown, or the integration diverged.
    """
    cfg = make_config(LorenzConfig, config, settings)
    rng = np.random.default_rng(cfg.seed)
    n, p = cfg.n_shops, cfg.n_nodes
    x0 = cfg.forcing + rng.normal(0.0, 1.0, (n, p))
    states = integrate_lorenz96(
        x0, cfg.forcing, cfg.dt, cfg.burn_in + cfg.length, cfg.sample_every
    )[:, cfg.burn_in :]
    if cfg.permute:
        perm = np.argsort(rng.random((n, p)), axis=1)
    else:
        perm = np.tile(np.arange(p), (n, 1))
    ring = lorenz96_graph(p)
    adjacency = ring[perm[:, :, None], perm[:, None, :]].astype(np.int8)
    latent = np.take_along_axis(states, perm[:, None, :], axis=2)
    latent = latent + rng.normal(0.0, cfg.obs_noise, latent.shape)

    observed = latent.copy()
    target = observed[:, :, -1]
    observed[:, :, -1] = target - target.min(axis=1, keepdims=True) + 1.0
    node_names = tuple(f"x_{c}" for c in range(p))
    shop_ids = shop_labels(n)
    dates = pd.date_range(cfg.start_date, periods=cfg.length, freq="D")
    return Simulation(
        frame=long_frame(observed, node_names, shop_ids, dates),
        adjacency=adjacency,
        node_names=node_names,
        shop_ids=shop_ids,
        context_names=(),
        graph_index=np.arange(n),
        latent=latent,
        context=np.zeros((n, 0)),
        config=cfg,
        params={"permutation": perm},
    )
