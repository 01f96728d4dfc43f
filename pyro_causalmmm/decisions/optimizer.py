"""Budget optimizer: the spend plan that maximises expected GMV over a future horizon.

Problem (user units). For shops ``b`` and spend channels ``c`` (the data's spend channels),
a plan is a spend level per step ``x_bc`` held for the ``M`` steps after each shop's data:

    maximise   E_z [ sum_b sum_{t=1..M} GMV_bt(do(spend = x)) ]
    subject to M * sum_{b,c} x_bc = budget                     (pooled, the default)
               or M * sum_c x_bc = budget_b for every shop b  (``per_shop``)
               low_c * cur_bc <= x_bc <= high_c * cur_bc

* **Current spend** ``cur_bc``: the shop's mean spend on ``c`` over its last ``M`` observed
  steps (all of them when it has fewer). Bounds are multipliers of it; the default is
  ``[0.5, 1.5]``: the model is trusted near the spend it has seen. A channel a shop did
  not use lately (``cur = 0``) stays at 0.
* **Per shop**: the budget is split over shops in proportion to their current spend and each
  shop re-allocates its own share; pooled, money may also move between shops.
* **Future paths**: planned channels are set to the plan at every step (do()); every other
  node (mediators such as page views, and GMV) follows the model's mean path from the
  shop's last state: ``x'_t = f(x'_<t)`` with no noise, context held at its last observed
  value. GMV is the model's mean GMV; "expected" is the mean over graph draws.
* **Lift** = GMV under the plan minus GMV under the current plan (every channel at ``cur``),
  per graph draw (HDI over draws). **Direct** lift holds the non-planned nodes at their
  paths under the current plan (only the edges into GMV carry the change); **indirect** =
  lift - direct: the part that travels through mediators.

Algorithm: projected gradient ascent on the multipliers ``m = x / cur``; gradients flow
through the decoder rollouts by torch autograd; the projection onto
``{sum w m = budget, low <= m <= high}`` (``w = M cur``) is exact: ``m = clip(y - lambda w,
low, high)`` with ``lambda`` found by bisection (:func:`project_budget`). The objective
uses the first ``opt_draws`` graph draws (common random numbers, so it is smooth). Steps
are adaptive: an improving step is kept and the next one doubled, a failing one undone and
the step quartered, so only improving plans are kept (the model's response to spend is
close to linear, and long steps reach the corner solutions quickly). The final plan is
evaluated on all ``draws``. Every plan meets the budget (to rounding) and every bound
exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.contributions import DRAWS, _redraw_seed, limits, spend_channels
from pyro_causalmmm.decisions.interventions import graph_draws, prepare_world, rollout_future
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.posterior.stats import hdi

DEFAULT_BOUNDS = (0.5, 1.5)

__all__ = [
    "BudgetConfig",
    "BudgetPlan",
    "optimize_budget",
    "project_budget",
    "current_spend",
]


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
    seed, hdi_prob: as in :class:`pyro_causalmmm.decisions.contributions.DecisionConfig`.
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
    hdi_prob: float = 0.9

    def __post_init__(self) -> None:
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


class _Problem:
    """The shops' future under a plan, for graph draws; objective and gradient in
    multipliers ``m`` ``(shop, channel)``."""

    def __init__(self, mmm, data, channels, cur, config):
        self.data = data
        self.channels = channels
        self.cur = torch.from_numpy(cur)
        model = mmm.model.eval()
        values, mask, ctx = mmm.tensors(data)
        D, M = data.n_nodes, config.horizon
        self.M = M
        planned = np.zeros(D, dtype=bool)
        planned[channels] = True
        self.nodes = np.flatnonzero(~planned)
        keep = torch.zeros(2, D, dtype=torch.bool)
        keep[0, self.nodes] = True
        keep[1, D - 1] = True
        p_edge = mmm.edge_probability_array(data)
        adj = graph_draws(p_edge, config.draws, config.seed)

        def redraw(attempt: int) -> torch.Tensor:
            return graph_draws(p_edge, config.draws, _redraw_seed(config.seed, attempt))

        self.world = prepare_world(
            model,
            values,
            mask,
            ctx,
            adj,
            nodes=self.nodes,
            start=data.n_time,
            floor=limits(data)[0],
            ceiling=limits(data)[1],
            keep=keep,
            redraw=redraw,
        )
        last = data.context[np.arange(data.n_shops), data.lengths - 1]
        fut = (last - mmm.context_loc) / mmm.context_scale
        fut = torch.tensor(np.repeat(fut[:, None, :], M, axis=1), dtype=torch.float32)
        with torch.no_grad():
            self.a, self.g = model.saturation(fut)  # (B, M)
        self.loc = torch.tensor(data.scaling.loc[:, channels])
        self.scale = torch.tensor(data.scaling.scale[:, channels])
        self.gmv_scale = torch.tensor(data.scaling.scale[:, -1])
        self.gmv_loc = torch.tensor(data.scaling.loc[:, -1])
        mask_pin = torch.zeros(1, data.n_shops, M, D, dtype=torch.bool)
        mask_pin[..., channels] = True
        self.pin_mask = mask_pin

    def _pins(self, m: torch.Tensor) -> torch.Tensor:
        """Plan multipliers ``(B, C)`` -> pinned values ``(1, 1, B, M, D)`` (model units)."""
        spend = m * self.cur
        scaled = ((spend - self.loc) / self.scale).to(torch.float32)  # (B, C)
        B, D = scaled.shape[0], self.data.n_nodes
        full = torch.zeros(B, D, dtype=torch.float32)
        full = full.index_copy(-1, torch.as_tensor(self.channels), scaled)
        return full[:, None, :].expand(B, self.M, D)[None, None]

    def gmv(self, world, m: torch.Tensor) -> torch.Tensor:
        """Future GMV ``(S, B, M)`` in model units under multipliers ``m``."""
        path = rollout_future(world, self.pin_mask, self._pins(m), self.a, self.g)
        return path[0, ..., -1]

    def objective(self, m: torch.Tensor, n_draws: int) -> tuple[float, torch.Tensor]:
        """Expected GMV over the horizon summed over shops (user units, up to a constant)
        on the first ``n_draws`` draws, and its gradient in ``m``."""
        m = m.detach().clone().requires_grad_(True)
        world = self.world.first_draws(n_draws)
        with torch.enable_grad():
            y = self.gmv(world, m).double()  # (S, B, M)
            value = (y.sum(-1).mean(0) * self.gmv_scale).sum()
            (grad,) = torch.autograd.grad(value, m)
        return float(value.detach()), grad

    @torch.no_grad()
    def evaluate(self, m_plan: torch.Tensor) -> dict[str, torch.Tensor]:
        """GMV over the horizon per draw and shop (user units) under the current plan, the
        plan, and the plan with mediators held at their current-plan paths."""
        world = self.world
        ones = torch.ones_like(m_plan)
        base_path = rollout_future(world, self.pin_mask, self._pins(ones), self.a, self.g)[0]
        plan_path = rollout_future(world, self.pin_mask, self._pins(m_plan), self.a, self.g)[0]
        user = self.gmv_scale[:, None], self.gmv_loc[:, None]
        out = {
            "base": (base_path[..., -1].double() * user[0] + user[1]).sum(-1),
            "plan": (plan_path[..., -1].double() * user[0] + user[1]).sum(-1),
        }
        mediators = self.nodes[:-1]
        if len(mediators):
            hold = self.pin_mask.clone()
            hold[..., mediators] = True
            pins = torch.where(
                self.pin_mask[None], self._pins(m_plan), base_path[None]
            )  # (1, S, B, M, D): plan on channels, current-plan paths on mediators
            direct_world = world.restrict([self.data.n_nodes - 1])
            direct = rollout_future(direct_world, hold, pins, self.a, self.g)[0]
            out["direct"] = (direct[..., -1].double() * user[0] + user[1]).sum(-1)
        else:
            out["direct"] = out["plan"]
        return out


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


def optimize_budget(mmm, data: MarketingMixData, config: BudgetConfig) -> BudgetPlan:
    """The spend plan that maximises expected GMV over ``config.horizon`` steps under the
    budget and bounds (see the module docstring for the problem, the assumptions about the
    future and the algorithm)."""
    started = time.perf_counter()
    mmm._check_fitted()
    mmm._check_columns(data)
    channels = spend_channels(data)
    M = config.horizon
    cur = current_spend(data, channels, M)  # (B, C)
    low_c, high_c = _bounds(data, channels, config)
    current_total = float(M * cur.sum())
    budget = config.budget * current_total if config.relative else config.budget
    shop_current = M * cur.sum(1)
    if current_total > 0:
        per_shop_budget = budget * shop_current / current_total
    else:
        per_shop_budget = np.zeros_like(shop_current)
    _check_budget(config, cur, low_c[None], high_c[None], per_shop_budget, data)
    problem = _Problem(mmm, data, channels, cur, config)
    B, C = cur.shape
    w = torch.from_numpy(M * cur)  # weights of the multipliers in the budget
    lo = torch.from_numpy(np.broadcast_to(low_c, (B, C)).copy())
    hi = torch.from_numpy(np.broadcast_to(high_c, (B, C)).copy())
    if config.per_shop:
        groups = (w, lo, hi, torch.from_numpy(per_shop_budget))
    else:
        groups = (
            w.reshape(1, -1),
            lo.reshape(1, -1),
            hi.reshape(1, -1),
            torch.tensor([budget], dtype=torch.float64),
        )

    def project(m: torch.Tensor) -> torch.Tensor:
        y = m.reshape(groups[0].shape)
        return project_budget(y, *groups).reshape(B, C)

    n_opt = min(config.opt_draws, config.draws)
    start = budget / current_total if current_total else 1.0
    m = project(torch.full((B, C), start, dtype=torch.float64))
    width = float((hi - lo).max()) if B * C else 0.0
    value, grad = problem.objective(m, n_opt)
    start_value = value
    best_value, best_m = value, m
    eta = config.step * width
    for _ in range(config.iterations if width > 0 else 0):
        g = grad.double()
        scale = g.abs().amax(-1, keepdim=True) if config.per_shop else g.abs().max()
        direction = torch.where(scale > 0, g / torch.clamp(scale, min=1e-300), torch.zeros_like(g))
        trial = project(best_m + eta * direction)
        if torch.equal(trial, best_m):
            eta /= 4.0
            continue
        value, trial_grad = problem.objective(trial, n_opt)
        if value > best_value:  # accept and try a longer step next time
            best_value, best_m, grad = value, trial, trial_grad
            eta *= 2.0
        else:  # reject: shorter step from the same point
            eta /= 4.0
        if eta < 1e-4 * width:
            break
    plan_m = best_m
    ev = problem.evaluate(plan_m.to(torch.float32))
    lift = (ev["plan"] - ev["base"]).numpy()  # (S, B)
    direct = (ev["direct"] - ev["base"]).numpy()
    return _result(
        data,
        channels,
        cur,
        low_c,
        high_c,
        plan_m.numpy(),
        ev,
        lift,
        direct,
        config,
        {
            "budget": float(budget),
            "current_total": current_total,
            "objective_gain": float(best_value - start_value),
            "seconds": time.perf_counter() - started,
            "unstable": int(problem.world.unstable),
        },
    )


def _hdi_around_mean(draws: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """HDI of ``draws`` ``(draw, ...)`` widened to hold the mean: the float mean of equal
    draws can exceed every draw by one ulp, and a reported mean outside its own interval
    reads as a bug."""
    low, high = hdi(draws, prob)
    mean = draws.mean(0)
    return np.minimum(low, mean), np.maximum(high, mean)


def _result(data, channels, cur, low_c, high_c, m, ev, lift, direct, config, extra):
    B, C = cur.shape
    M = config.horizon
    names = [data.node_names[c] for c in channels]
    shops = [str(s) for s in data.shop_ids]
    planned = m * cur
    table = pd.DataFrame(
        {
            "shop": np.repeat(np.asarray(shops, dtype=object), C),
            "channel": np.tile(np.asarray(names, dtype=object), B),
            "current_spend": cur.reshape(-1),
            "planned_spend": planned.reshape(-1),
            "multiplier": np.where(cur > 0, m, np.nan).reshape(-1),
            "low": (low_c[None] * cur).reshape(-1),
            "high": (high_c[None] * cur).reshape(-1),
            "current_total": (M * cur).reshape(-1),
            "planned_total": (M * planned).reshape(-1),
        }
    )
    low, high = _hdi_around_mean(lift, config.hdi_prob)
    shop_table = pd.DataFrame(
        {
            "shop": shops,
            "budget": M * planned.sum(1),
            "current_gmv": ev["base"].numpy().mean(0),
            "planned_gmv": ev["plan"].numpy().mean(0),
            "lift": lift.mean(0),
            "lift_hdi_low": low,
            "lift_hdi_high": high,
            "direct": direct.mean(0),
            "indirect": (lift - direct).mean(0),
        }
    )
    total = lift.sum(1)
    t_low, t_high = _hdi_around_mean(total[:, None], config.hdi_prob)
    total_direct = direct.sum(1).mean()
    summary = {
        **extra,
        "horizon": M,
        "per_shop": bool(config.per_shop),
        "lift": float(total.mean()),
        "lift_hdi_low": float(t_low[0]),
        "lift_hdi_high": float(t_high[0]),
        "direct": float(total_direct),
        "indirect": float(total.mean() - total_direct),
        "indirect_share": float((total.mean() - total_direct) / total.mean())
        if total.mean() != 0
        else 0.0,
        "current_gmv": float(ev["base"].numpy().mean(0).sum()),
        "planned_gmv": float(ev["plan"].numpy().mean(0).sum()),
        "iterations": int(config.iterations),
        "planned_total": float(M * planned.sum()),
    }
    ds = xr.Dataset(
        {"lift": (("draw", "shop"), lift), "direct": (("draw", "shop"), direct)},
        coords={"draw": np.arange(lift.shape[0]), "shop": shops},
        attrs={"target": data.target_name, "hdi_prob": config.hdi_prob, "horizon": M},
    )
    return BudgetPlan(table=table, shops=shop_table, summary=summary, draws=ds, config=config)
