"""Budget settings and plans: `BudgetConfig` (total budget, per-channel bounds, horizon),
the `BudgetPlan` the optimizer returns, today's spend per shop and channel, and the
projection of a plan onto the budget and its bounds.

Shapes: spend ``(shop, channel)`` per step; multipliers ``(shop, channel)``.
"""


from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.scenarios import DRAWS
from pyro_causalmmm.decisions.worlds import check_decision_options
from pyro_causalmmm.errors import ConfigError

DEFAULT_BOUNDS = (0.5, 1.5)


# ----------------------------------------------------------------------------- projection


def project_budget(
    y: torch.Tensor,
    weight: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    budget: torch.Tensor,
    iterations: int = 100,
) -> torch.Tensor:
    """Euclidean projection of ``y`` onto ``{x : sum_n w_n x_n = budget, low <= x <= high}``
    for each group (row): all arguments ``(group, n)`` except ``budget`` ``(group,)``;
    ``w >= 0``.

    The KKT conditions give ``x(lambda) = clip(y - lambda w, low, high)``; ``sum w x`` falls
    monotonically in ``lambda``, so ``lambda`` is found by bisection (float64). Entries with
    ``w = 0`` are clipped to their bounds and do not count. The result satisfies the bounds
    exactly and the budget up to float rounding. The set must be non-empty
    (``sum w low <= budget <= sum w high``, checked).
    """
    y, w, lo, hi = (t.to(torch.float64) for t in (y, weight, low, high))
    budget = budget.to(torch.float64)
    if bool(((w * lo).sum(-1) > budget * (1 + 1e-12) + 1e-12).any()) or bool(
        ((w * hi).sum(-1) < budget * (1 - 1e-12) - 1e-12).any()
    ):
        raise ConfigError("the budget cannot be met within the bounds")
    pos = w > 0
    inf = torch.full_like(y, math.inf)
    lam_lo = torch.where(pos, (y - hi) / w, inf).amin(-1) - 1.0  # every x at its high
    lam_hi = torch.where(pos, (y - lo) / w, -inf).amax(-1) + 1.0  # every x at its low
    lam_lo = torch.where(torch.isfinite(lam_lo), lam_lo, torch.zeros_like(lam_lo))
    lam_hi = torch.where(torch.isfinite(lam_hi), lam_hi, torch.zeros_like(lam_hi))
    for _ in range(iterations):
        mid = 0.5 * (lam_lo + lam_hi)
        over = (w * torch.clamp(y - mid[:, None] * w, lo, hi)).sum(-1) > budget
        lam_lo = torch.where(over, mid, lam_lo)
        lam_hi = torch.where(over, lam_hi, mid)
    x = torch.clamp(y - (0.5 * (lam_lo + lam_hi))[:, None] * w, lo, hi)
    # spread the rounding residual over the entries strictly inside their bounds
    free = pos & (x > lo) & (x < hi)
    resid = budget - (w * x).sum(-1)
    share = torch.where(free, w, torch.zeros_like(w))
    norm = (share * w).sum(-1, keepdim=True)
    x = torch.where(norm > 0, x + resid[:, None] * share / norm.clamp_min(1e-300), x)
    return torch.clamp(x, lo, hi)


# ----------------------------------------------------------------------------- config


def _finite_float(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name}={value!r} must be finite")
    return out


@dataclass(frozen=True)
class BudgetConfig:
    """Settings of :func:`optimize_budget`, validated on construction.

    budget: total spend over the horizon, summed over shops and spend channels, in the
        data's spend units; with ``relative`` a multiple of the current total instead
        (``1.0`` keeps the total and only re-allocates).
    horizon: M, the number of future steps planned.
    bounds: ``{channel: (low, high)}`` multipliers of current spend; other channels get
        ``default_bounds``. ``0 <= low <= high``.
    per_shop: each shop keeps its share of the budget (in proportion to its current spend).
    draws: graph draws the final plan is evaluated on (the HDIs).
    opt_draws: the first graph draws the objective averages over during the search.
    iterations: at most this many projected-gradient steps (each one gradient evaluation).
    step: first step, as a share of the widest multiplier range. A step that raises the
        objective is kept and the next one doubled; one that does not is undone and the
        step quartered (the search stops when it falls below 1e-4 of the range).
    seed, hdi_prob, coefficient_draws, coefficient_covariance, spend_effects: as in
        :class:`pyro_causalmmm.decisions.contributions.DecisionConfig`.
    """

    budget: float
    horizon: int = 30
    relative: bool = False
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    default_bounds: tuple[float, float] = DEFAULT_BOUNDS
    per_shop: bool = False
    draws: int = DRAWS
    opt_draws: int = 8
    iterations: int = 12
    step: float = 0.5
    seed: int = 0
    coefficient_draws: bool = True
    hdi_prob: float = 0.9
    coefficient_covariance: str = "robust"
    spend_effects: str = "auto"

    def __post_init__(self) -> None:
        check_decision_options(self)
        budget = _finite_float("budget", self.budget)
        if budget < 0:
            raise ConfigError(f"budget={self.budget!r} is out of range; it must be >= 0")
        object.__setattr__(self, "budget", budget)
        for name, minimum in (("horizon", 1), ("draws", 2), ("opt_draws", 1), ("iterations", 0)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or value < minimum
            ):
                raise ConfigError(
                    f"{name}={value!r} is out of range; it must be an integer >= {minimum}"
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ConfigError(f"seed={self.seed!r} must be an integer")
        if not 0 < self.hdi_prob < 1:
            raise ConfigError(f"hdi_prob={self.hdi_prob!r} is out of range; it must be in (0, 1)")
        if not 0 < _finite_float("step", self.step) <= 1:
            raise ConfigError(f"step={self.step!r} is out of range; it must be in (0, 1]")
        object.__setattr__(
            self, "default_bounds", self._pair("default_bounds", self.default_bounds)
        )
        bounds = {str(k): self._pair(f"bounds[{k!r}]", v) for k, v in dict(self.bounds).items()}
        object.__setattr__(self, "bounds", bounds)

    @staticmethod
    def _pair(name: str, value) -> tuple[float, float]:
        try:
            low, high = value
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={value!r} must be a pair (low, high)") from None
        low, high = _finite_float(f"{name} low", low), _finite_float(f"{name} high", high)
        if not 0 <= low <= high:
            raise ConfigError(f"{name}=({low}, {high}) must satisfy 0 <= low <= high")
        return low, high


# ----------------------------------------------------------------------------- result


@dataclass(frozen=True)
class BudgetPlan:
    """What :func:`optimize_budget` returns.

    table: one row per (shop, channel): ``shop, channel, current_spend, planned_spend``
        (per step), ``multiplier`` (planned / current), ``low, high`` (per-step bounds),
        ``current_total, planned_total`` (over the horizon).
    shops: one row per shop: ``shop, budget`` (its planned total), ``current_gmv,
        planned_gmv`` (expected GMV over the horizon), ``lift, lift_hdi_low,
        lift_hdi_high, direct, indirect``.
    summary: totals: ``budget, current_total, horizon, lift, lift_hdi_low, lift_hdi_high,
        direct, indirect, indirect_share, current_gmv, planned_gmv, objective_gain``
        (lift on the optimisation draws), ``iterations, seconds, unstable, per_shop``.
    draws: ``xarray.Dataset`` with ``lift`` and ``direct`` ``(draw, shop)``.
    """

    table: pd.DataFrame
    shops: pd.DataFrame
    summary: dict
    draws: xr.Dataset
    config: BudgetConfig


def current_spend(data: MarketingMixData, channels: list[int], horizon: int) -> np.ndarray:
    """``(shop, channel)`` mean spend per step over each shop's last ``horizon`` observed
    steps (all of them when it has fewer)."""
    t = np.arange(data.n_time)[None, :]
    last = (t >= data.lengths[:, None] - horizon) & data.mask
    vals = data.values[..., channels] * last[..., None]
    return vals.sum(1) / last.sum(1)[:, None]


def _bounds(data, channels, config) -> tuple[np.ndarray, np.ndarray]:
    names = [data.node_names[c] for c in channels]
    unknown = [k for k in config.bounds if k not in names and k != "*"]
    if unknown:
        raise ConfigError(f"--bounds: {unknown[0]!r} is not a spend channel; they are {names}")
    default = config.bounds.get("*", config.default_bounds)
    pairs = [config.bounds.get(n, default) for n in names]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _check_budget(config, cur, low, high, per_shop_budget, data) -> None:
    M = config.horizon
    if config.per_shop:
        lo_b, hi_b = M * (cur * low).sum(1), M * (cur * high).sum(1)
        bad = np.flatnonzero(
            (per_shop_budget < lo_b * (1 - 1e-9)) | (per_shop_budget > hi_b * (1 + 1e-9))
        )
        if bad.size:
            s = int(bad[0])
            raise ConfigError(
                f"--per-shop: shop {data.shop_ids[s]!r} would get a budget of "
                f"{per_shop_budget[s]:.6g}, outside what its bounds allow "
                f"[{lo_b[s]:.6g}, {hi_b[s]:.6g}]; widen --bounds or change --budget"
            )
    else:
        lo, hi = M * (cur * low).sum(), M * (cur * high).sum()
        total = per_shop_budget.sum()
        if not lo * (1 - 1e-9) <= total <= hi * (1 + 1e-9):
            raise ConfigError(
                f"--budget {total:.6g} cannot be spent within the bounds: over {M} steps they "
                f"allow {lo:.6g} to {hi:.6g}; widen --bounds or change --budget"
            )


