"""Budget optimizer: exact projection, constraints always met, lift and its split."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.decisions.optimizer import (
    BudgetConfig,
    current_spend,
    optimize_budget,
    project_budget,
)
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import simulate

FAST = dict(horizon=5, draws=3, opt_draws=2, iterations=3)


@pytest.fixture(scope="module")
def sim():
    return simulate("sim2", n_shops=4, n_channels=3, length=40, n_graphs=2, seed=5)


@pytest.fixture(scope="module")
def data(sim):
    return MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))


@pytest.fixture(scope="module")
def mmm(data):
    model = CausalMMM(ModelConfig(hidden=8))
    model.fit(data, TrainConfig(epochs=1, batch_size=4, seed=0))
    return model


# ----------------------------------------------------------------------------- projection


@st.composite
def projection_problem(draw):
    n = draw(st.integers(1, 7))
    groups = draw(st.integers(1, 3))
    floats = st.floats(-5, 5, allow_nan=False)
    y = np.array(draw(st.lists(floats, min_size=n * groups, max_size=n * groups)))
    w = np.array(
        draw(
            st.lists(
                st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=n * groups, max_size=n * groups
            )
        )
    )
    lo = np.array(draw(st.lists(st.floats(0, 2), min_size=n * groups, max_size=n * groups)))
    width = np.array(draw(st.lists(st.floats(0, 2), min_size=n * groups, max_size=n * groups)))
    t = np.array(draw(st.lists(st.floats(0, 1), min_size=groups, max_size=groups)))
    shape = (groups, n)
    y, w, lo, width = (a.reshape(shape) for a in (y, w, lo, width))
    hi = lo + width
    budget = (w * lo).sum(1) + t * (w * width).sum(1)
    return [torch.tensor(a) for a in (y, w, lo, hi, budget)]


@settings(max_examples=150, deadline=None)
@given(projection_problem())
def test_projection_meets_budget_and_bounds_and_is_the_projection(problem):
    y, w, lo, hi, budget = problem
    x = project_budget(y, w, lo, hi, budget)
    assert (x >= lo).all() and (x <= hi).all()
    scale = 1.0 + budget.abs() + (w * hi).sum(1)
    assert ((w * x).sum(1) - budget).abs().max() <= 1e-9 * scale.max()
    # variational inequality of the projection: (y - x) . (z - x) <= 0 for a feasible z
    frac = torch.where(
        (w * (hi - lo)).sum(1) > 0,
        (budget - (w * lo).sum(1)) / (w * (hi - lo)).sum(1).clamp_min(1e-300),
        torch.zeros_like(budget),
    )
    z = lo + frac[:, None] * (hi - lo)
    z = torch.where(w > 0, z, x)  # entries outside the budget are free: compare like for like
    assert (((y - x) * (z - x)).sum(1) <= 1e-7).all()


def test_projection_refuses_an_empty_set():
    one = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ConfigError):
        project_budget(one, one, one, 2 * one, torch.tensor([10.0]))


# ----------------------------------------------------------------------------- plans


def _check(plan, data, budget, low, high):
    t = plan.table
    assert np.isclose(t["planned_total"].sum(), budget, rtol=1e-9)
    assert (t["planned_spend"] >= t["low"] - 1e-12).all()
    assert (t["planned_spend"] <= t["high"] + 1e-12).all()
    np.testing.assert_allclose(t["low"], np.tile(low, data.n_shops) * t["current_spend"])
    np.testing.assert_allclose(t["high"], np.tile(high, data.n_shops) * t["current_spend"])


def test_current_spend_is_the_mean_of_the_last_steps(data):
    cur = current_spend(data, [0, 1, 2], 7)
    np.testing.assert_allclose(cur, data.values[:, -7:, :3].mean(1))


def test_pooled_plan_keeps_budget_and_bounds(mmm, data):
    cfg = BudgetConfig(budget=1.0, relative=True, bounds={"spend_2": (0.9, 1.1)}, **FAST)
    plan = optimize_budget(mmm, data, cfg)
    current = plan.summary["current_total"]
    _check(plan, data, current, [0.5, 0.9, 0.5], [1.5, 1.1, 1.5])
    assert plan.summary["objective_gain"] >= 0
    assert plan.summary["lift_hdi_low"] <= plan.summary["lift"] <= plan.summary["lift_hdi_high"]
    assert list(plan.shops.columns) == [
        "shop",
        "budget",
        "current_gmv",
        "planned_gmv",
        "lift",
        "lift_hdi_low",
        "lift_hdi_high",
        "direct",
        "indirect",
    ]
    np.testing.assert_allclose(plan.shops["lift"].sum(), plan.summary["lift"])
    # every channel is a plan channel here, so no node carries an indirect effect
    assert plan.summary["indirect"] == 0 and (plan.shops["indirect"] == 0).all()
    assert plan.draws["lift"].dims == ("draw", "shop")


def test_per_shop_plan_keeps_each_shops_share(mmm, data):
    cfg = BudgetConfig(budget=1.2, relative=True, per_shop=True, **FAST)
    plan = optimize_budget(mmm, data, cfg)
    totals = plan.table.groupby("shop", sort=False)[["current_total", "planned_total"]].sum()
    np.testing.assert_allclose(totals["planned_total"], 1.2 * totals["current_total"], rtol=1e-9)


def test_no_iterations_keeps_the_starting_plan(mmm, data):
    plan = optimize_budget(
        mmm, data, BudgetConfig(budget=1.0, relative=True, **{**FAST, "iterations": 0})
    )
    np.testing.assert_allclose(plan.table["multiplier"], 1.0)
    np.testing.assert_allclose(plan.summary["lift"], 0.0, atol=1e-6)


@settings(max_examples=5, deadline=None)
@given(
    bounds=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.5)), min_size=3, max_size=3),
    t=st.floats(0.0, 1.0),
    per_shop=st.booleans(),
)
def test_random_bounds_never_break_budget_or_bounds(mmm, data, bounds, t, per_shop):
    low = np.array([b[0] for b in bounds])
    high = low + np.array([b[1] for b in bounds])
    cur = current_spend(data, [0, 1, 2], FAST["horizon"])
    lo_b, hi_b = FAST["horizon"] * cur @ low, FAST["horizon"] * cur @ high
    if per_shop:  # each shop gets ratio * its current total: feasible for every shop
        share = FAST["horizon"] * cur.sum(1)
        ratio = np.max(lo_b / share) + t * max(np.min(hi_b / share) - np.max(lo_b / share), 0)
        if np.max(lo_b / share) > np.min(hi_b / share):
            return
        budget = ratio * share.sum()
    else:
        budget = lo_b.sum() + t * (hi_b.sum() - lo_b.sum())
    names = {f"spend_{k + 1}": (low[k], high[k]) for k in range(3)}
    plan = optimize_budget(
        mmm, data, BudgetConfig(budget=budget, bounds=names, per_shop=per_shop, **FAST)
    )
    _check(plan, data, budget, low, high)


def test_mediators_carry_the_indirect_part(mmm, sim):
    data = MarketingMixData.from_frame(
        sim.frame, target="gmv", context=list(sim.context_names), spend=["spend_1", "spend_2"]
    )
    plan = optimize_budget(mmm, data, BudgetConfig(budget=1.0, relative=True, **FAST))
    assert set(plan.table["channel"]) == {"spend_1", "spend_2"}
    s = plan.summary
    np.testing.assert_allclose(s["direct"] + s["indirect"], s["lift"])
    np.testing.assert_allclose(plan.shops["direct"] + plan.shops["indirect"], plan.shops["lift"])


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"budget": -1}, "budget"),
        ({"budget": float("nan")}, "budget"),
        ({"budget": 1, "horizon": 0}, "horizon"),
        ({"budget": 1, "draws": 1}, "draws"),
        ({"budget": 1, "bounds": {"spend_1": (2, 1)}}, "low <= high"),
        ({"budget": 1, "bounds": {"spend_1": 3}}, "pair"),
        ({"budget": 1, "step": 0}, "step"),
    ],
)
def test_config_validation(kw, message):
    with pytest.raises(ConfigError, match=message):
        BudgetConfig(**kw)


def test_unknown_channel_and_infeasible_budget(mmm, data):
    with pytest.raises(ConfigError, match="not a spend channel"):
        optimize_budget(mmm, data, BudgetConfig(budget=1, bounds={"tv": (0, 1)}, **FAST))
    with pytest.raises(ConfigError, match="cannot be spent within the bounds"):
        optimize_budget(mmm, data, BudgetConfig(budget=3.0, relative=True, **FAST))
    with pytest.raises(ConfigError, match="shop"):
        optimize_budget(mmm, data, BudgetConfig(budget=0.1, relative=True, per_shop=True, **FAST))


def test_plan_plot_and_report_sections(mmm, data, tmp_path):
    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from pyro_causalmmm.report import plotting_decisions as pdx
    from pyro_causalmmm.report import write_report

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_idata import fake_inference_data

    plan = optimize_budget(mmm, data, BudgetConfig(budget=1.0, relative=True, **FAST))
    assert isinstance(pdx.plot_plan(plan.table), Figure)
    assert isinstance(pdx.plot_plan(plan.table, shop="shop_001"), Figure)
    contrib = SimpleNamespace(
        table=pd.DataFrame(
            {
                "shop": ["a", "a"],
                "channel": ["x <b>", "y"],
                "spend": [10.0, 0.0],
                "contribution": [5.0, -1.0],
                "direct": [4.0, -1.0],
                "indirect": [1.0, 0.0],
            }
        ),
        draws=None,
    )
    sections = pdx.decision_sections(contributions=contrib, plan=plan, shop="shop_000")
    assert [h for h, _ in sections] == ["Channel contributions", "Budget plan"]
    body = "".join(b for _, b in sections)
    assert body.count("data:image/png;base64,") == 3  # shop_000 is in the plan only
    assert "x &lt;b&gt;" in body and "x <b>" not in body  # user labels escaped
    path = write_report(fake_inference_data(), tmp_path / "r.html", extra_sections=sections)
    assert "Budget plan" in path.read_text()
