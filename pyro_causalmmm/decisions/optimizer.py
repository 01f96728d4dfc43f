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

import time

import numpy as np
import pandas as pd
import torch
import xarray as xr

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.budget import (
    BudgetConfig,
    BudgetPlan,
    _bounds,
    _check_budget,
    current_spend,
    project_budget,
)
from pyro_causalmmm.decisions.chunks import (
    _redraw_seed,
    coefficient_noise_source,
    positive_pairs,
)
from pyro_causalmmm.decisions.interventions import graph_draws, prepare_world, rollout_future
from pyro_causalmmm.decisions.scenarios import limits, spend_channels
from pyro_causalmmm.posterior.stats import hdi

__all__ = [
    "BudgetConfig",
    "BudgetPlan",
    "optimize_budget",
    "project_budget",
    "current_spend",
]


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
            coef_noise=coefficient_noise_source(model, config, config.draws, data.n_shops),
            covariance=config.coefficient_covariance,
            positive=positive_pairs(model, data, config),
        )
        last = data.context[np.arange(data.n_shops), data.lengths - 1]
        fut = mmm.future_context_tensor(data, np.repeat(last[:, None, :], M, axis=1))
        self.exog = model.exog(fut)  # (B, M, K) calendar and controls, or None
        with torch.no_grad():
            self.a, self.g = model.curve_params(fut)  # (B, M)
        self.loc = torch.tensor(data.scaling.loc[:, channels])
        self.scale = torch.tensor(data.scaling.scale[:, channels])
        # revenue per target unit past the data: each shop's last observed value held
        unit = torch.tensor(data.unit_values[np.arange(data.n_shops), data.lengths - 1])
        self.gmv_scale = torch.tensor(data.scaling.scale[:, -1]) * unit
        self.gmv_loc = torch.tensor(data.scaling.loc[:, -1]) * unit
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
        path = rollout_future(world, self.pin_mask, self._pins(m), self.a, self.g, self.exog)
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
        base_path = rollout_future(
            world, self.pin_mask, self._pins(ones), self.a, self.g, self.exog
        )[0]
        plan_path = rollout_future(
            world, self.pin_mask, self._pins(m_plan), self.a, self.g, self.exog
        )[0]
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
            direct = rollout_future(direct_world, hold, pins, self.a, self.g, self.exog)[0]
            out["direct"] = (direct[..., -1].double() * user[0] + user[1]).sum(-1)
        else:
            out["direct"] = out["plan"]
        return out


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
