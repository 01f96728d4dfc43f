"""Forecasts under a spend plan (``pyro_causalmmm.posterior.plan``, ``forecast --plan``):
the plan is read and checked against the data (one test per bad input), planned nodes
take their planned values in every draw, their effects reach the target, and an empty
plan changes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sim_csv import write_sim_csv

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.cli.main import main
from pyro_causalmmm.errors import DataValidationError
from pyro_causalmmm.posterior import forecasting
from pyro_causalmmm.posterior.plan import read_plan

HORIZON = 5


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    csv = write_sim_csv(root, 6, 3, 50, seed=4)
    data = MarketingMixData.from_csv(csv, context=["ctx_1", "ctx_2"])
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=2, batch_size=6, seed=0))
    return csv, data, mmm


def _plan(data, shops=(0, 1), channel="spend_1", value=500.0, steps=HORIZON):
    rows = []
    for s in shops:
        for t in data.future_times(s, HORIZON)[:steps]:
            rows.append({"shop": data.shop_ids[s], "time": t.date().isoformat(), channel: value})
    return pd.DataFrame(rows)


def test_read_plan_places_values_and_leaves_the_rest_unplanned(fitted):
    _, data, _ = fitted
    plan = _plan(data, shops=(1,), steps=3)
    out = read_plan(plan, data, HORIZON)
    k = data.node_names.index("spend_1")
    assert out.shape == (data.n_shops, HORIZON, data.n_nodes)
    assert (out[1, :3, k] == 500).all()
    assert np.isnan(out[1, 3:, k]).all() and np.isnan(out[0]).all()
    assert np.isnan(np.delete(out, k, axis=2)).all()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p.rename(columns={"spend_1": "radio"}), "not channels of the data"),
        (lambda p: p.rename(columns={"spend_1": "gmv"}), "the target"),
        (lambda p: p.assign(shop="shop_999"), "not in the data"),
        (lambda p: p.assign(time="2099-01-01"), "forecast window"),
        (lambda p: pd.concat([p, p.iloc[:1]]), "appears twice"),
        (lambda p: p.assign(spend_1=-1.0), "negative"),
        (lambda p: p.assign(spend_1="lots"), "not a finite number"),
        (lambda p: p.drop(columns="time"), "no time column"),
        (lambda p: p.assign(time="yesterday"), "ISO dates"),
    ],
)
def test_bad_plans_are_clear_errors(fitted, edit, message):
    _, data, _ = fitted
    with pytest.raises(DataValidationError, match=message):
        read_plan(edit(_plan(data)), data, HORIZON)


def test_planned_nodes_take_their_values_in_every_draw(fitted):
    _, data, mmm = fitted
    plan = _plan(data, value=400.0)
    idata, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3, plan=plan)
    fc = idata.predictions["obs"]
    spend = fc.sel(node="spend_1").values  # (chain, draw, shop, horizon)
    assert np.allclose(spend[..., :2, :], 400.0, rtol=1e-5)
    free = fc.sel(node="spend_1").values[..., 2:, :]
    assert not np.allclose(free, 400.0)  # shops without a plan are forecast by the model


def test_empty_plan_changes_nothing_and_a_plan_reaches_the_target(fitted):
    _, data, mmm = fitted
    base, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3)
    empty = _plan(data).assign(spend_1=np.nan)
    same, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3, plan=empty)
    assert np.array_equal(base.predictions["obs"].values, same.predictions["obs"].values)
    # a plan on every channel of every shop moves the target's forecast
    rows = [
        {
            "shop": data.shop_ids[s],
            "time": t.date().isoformat(),
            **{c: 5 * float(data.values[s].max()) for c in data.channel_names},
        }
        for s in range(data.n_shops)
        for t in data.future_times(s, HORIZON)
    ]
    moved, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3, plan=pd.DataFrame(rows))
    gmv = moved.predictions["obs"].sel(node="gmv").values
    assert not np.allclose(gmv, base.predictions["obs"].sel(node="gmv").values)


def test_cli_forecast_with_a_plan(fitted, tmp_path, capsys):
    csv, data, mmm = fitted
    run = tmp_path / "run"
    mmm.save(run / "model")
    plan = tmp_path / "plan.csv"
    _plan(data).to_csv(plan, index=False)
    out = tmp_path / "fc.csv"
    args = [
        "forecast",
        str(run),
        str(csv),
        "--context",
        "ctx_1",
        "ctx_2",
        "--horizon",
        str(HORIZON),
        "--draws",
        "5",
        "--out",
        str(out),
        "--plan",
        str(plan),
    ]
    assert main(args) == 0
    assert len(pd.read_csv(out)) == data.n_shops * HORIZON
    # a bad plan: one error line, exit 2, nothing written
    bad = tmp_path / "bad.csv"
    _plan(data).assign(spend_1=-3).to_csv(bad, index=False)
    out2 = tmp_path / "fc2.csv"
    capsys.readouterr()
    code = main([*args[:-4], "--out", str(out2), "--plan", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "negative" in err
    assert not out2.exists()
    capsys.readouterr()
    assert main([*args, "--backtest"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_the_optimizer_plan_is_a_plan_held_over_the_window(fitted):
    _, data, _ = fitted
    budget = pd.DataFrame(
        {
            "shop": [data.shop_ids[0]] * 2,
            "channel": ["spend_1", "spend_2"],
            "current_spend": [10.0, 20.0],
            "planned_spend": [12.0, 18.0],
        }
    )
    out = read_plan(budget, data, HORIZON)
    assert (out[0, :, data.node_names.index("spend_1")] == 12).all()
    assert (out[0, :, data.node_names.index("spend_2")] == 18).all()
    assert np.isnan(out[1:]).all()


def test_a_weekly_plan_reaches_the_target_within_its_first_week():
    """Weekly data (the within-week funnel): a plan that changes every spend in the first
    forecast week only moves page views, clicks and GMV in that same week, through the
    same-period chain (the forecast's first step has no lagged effect of the plan yet),
    and the planned spends hold their values."""
    from pyro_causalmmm.simulate.funnel import simulate_funnel_weekly

    sim = simulate_funnel_weekly(n_shops=3, length=60, seed=2)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", spend=list(sim.spend_names))
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=2, batch_size=3, seed=0))
    assert mmm.config.same_period == "funnel" and mmm.model.layout.depth == 3
    base, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3)
    rows = [
        {"shop": data.shop_ids[s], "time": data.future_times(s, HORIZON)[0].date().isoformat(),
         **{c: 3 * float(data.values[s, :, k].max()) for k, c in enumerate(data.channel_names)
            if c in sim.spend_names}}
        for s in range(data.n_shops)
    ]
    moved, _ = forecasting.forecast(mmm, data, HORIZON, draws=8, seed=3, plan=pd.DataFrame(rows))
    a, b = base.predictions["obs"], moved.predictions["obs"]
    first = {n: (b.sel(node=n).values[..., 0] - a.sel(node=n).values[..., 0]) for n in
             ("page_views", "search_clicks", "gmv")}
    moved_most = {k: float(np.abs(v).max()) for k, v in first.items()}
    assert all(m > 0 for m in moved_most.values()), moved_most
    spend = b.sel(node=sim.spend_names[0]).values[..., 0]
    assert np.allclose(spend, [r[sim.spend_names[0]] for r in rows], rtol=1e-5)
