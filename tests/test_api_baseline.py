"""The fitted model's baseline and same-period columns, resolved from the data's step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from legacy import as_saved_by

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.simulate.funnel import simulate_funnel_daily, simulate_funnel_weekly


def _data(weekly: bool):
    sim = (
        simulate_funnel_weekly(n_shops=3, length=60, seed=1)
        if weekly
        else simulate_funnel_daily(n_shops=3, length=90, seed=1)
    )
    return MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))


@pytest.fixture(scope="module")
def weekly_fit():
    data = _data(True)
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    return mmm, data


def test_weekly_data_gets_a_within_week_funnel_and_yearly_seasons(weekly_fit):
    """Weekly data resolve "auto" to "funnel": spends rank 0, the other nodes 1, 2, ...
    in the data's order (target last); every node but the target has a same-period
    column."""
    mmm, data = weekly_fit
    spends = [data.node_names.index(c) for c in data.spend_names]
    others = [i for i in range(data.n_nodes) if i not in spends]
    assert mmm.config.same_period == "funnel"
    assert spends and others[-1] == data.n_nodes - 1
    assert mmm.same_period_nodes == sorted(spends + others[:-1])
    assert [mmm.same_period_rank[i] for i in spends] == [0] * len(spends)
    assert [mmm.same_period_rank[i] for i in others] == list(range(1, len(others) + 1))
    assert mmm.model.layout.same == tuple(mmm.same_period_nodes)
    assert mmm.model.layout.ranks == tuple(mmm.same_period_rank)
    assert mmm.calendar is not None and mmm.calendar.periods == ((365.25, 2),)
    assert mmm.guide.same_period == tuple(mmm.same_period_nodes)


def test_same_period_on_keeps_spends_only():
    data = _data(True)
    mmm = CausalMMM(ModelConfig(hidden=8, same_period="on"))
    mmm.prepare(data)
    spends = [data.node_names.index(c) for c in data.spend_names]
    assert mmm.same_period_nodes == sorted(spends) and mmm.same_period_rank == []
    assert mmm.model.layout.depth == 1


def test_daily_data_keeps_lagged_edges_and_gets_weekly_seasons():
    data = _data(False)
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    assert mmm.config.same_period == "off" and mmm.same_period_nodes == []
    assert (7.0, 3) in mmm.calendar.periods


def test_save_load_keeps_the_baseline(weekly_fit, tmp_path):
    mmm, data = weekly_fit
    mmm.save(tmp_path / "m")
    back = CausalMMM.load(tmp_path / "m")
    assert back.calendar == mmm.calendar and back.same_period_nodes == mmm.same_period_nodes
    assert back.same_period_rank == mmm.same_period_rank and back.model.layout.depth > 1
    np.testing.assert_allclose(back.predict_one_step(data), mmm.predict_one_step(data))


def test_future_context_extends_the_calendar(weekly_fit):
    """Past the data: seasonality continues with the future dates, the trend is held at
    its last training value."""
    mmm, data = weekly_fit
    fut = mmm.future_context_tensor(data, np.zeros((data.n_shops, 4, data.n_context)))
    _, _, ctx = mmm.tensors(data)
    assert fut.shape == (data.n_shops, 4, ctx.shape[-1])
    last = int(data.lengths[0]) - 1
    assert torch.allclose(fut[0, :, -5], ctx[0, last, -5].expand(4))  # trend held (= 1)
    assert float(ctx[0, last, -5]) == pytest.approx(1.0)
    days = data.future_times(0, 4)
    day = ((days - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy()
    expect = np.cos(2 * np.pi * day / 365.25)  # the first yearly cosine
    np.testing.assert_allclose(fut[0, :, -4].numpy(), expect, atol=1e-5)


def test_unknown_control_is_named():
    data = _data(True)
    mmm = CausalMMM(ModelConfig(hidden=8, controls=("price",)))
    with pytest.raises(DataValidationError, match="price"):
        mmm.fit(data, TrainConfig(epochs=1, seed=0))


def test_controls_enter_the_baseline_not_the_s_curve():
    sim = simulate_funnel_weekly(n_shops=3, length=60, seed=1)
    frame = sim.frame.copy()
    frame["price"] = np.random.default_rng(0).normal(10, 1, len(frame))
    data = MarketingMixData.from_frame(frame, target="gmv", context=[*sim.context_names, "price"])
    mmm = CausalMMM(ModelConfig(hidden=8, controls=("price",)))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    assert mmm.model.n_context == data.n_context - 1
    assert mmm.model.n_exog == 1 + mmm.calendar.width


def test_a_weekly_model_saved_by_0_4_loads_with_spends_only_columns(tmp_path):
    """0.4 saved the resolved "on" and no ranks: it loads as it was fitted (spends-only
    same-period columns, one pass per step), with the same predictions."""
    import json

    data = _data(True)
    mmm = CausalMMM(ModelConfig(hidden=8, same_period="on"))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    mmm.save(tmp_path / "m")
    meta_path = next((tmp_path / "m").glob("*.json"))
    meta = json.loads(meta_path.read_text())
    meta.pop("same_period_rank")
    meta["version"] = "0.4.0"
    meta_path.write_text(json.dumps(meta))
    back = CausalMMM.load(tmp_path / "m")
    assert back.config.same_period == "on" and back.same_period_rank == []
    assert back.model.layout.depth == 1 and back.model.layout.same == mmm.model.layout.same
    np.testing.assert_allclose(back.predict_one_step(data), mmm.predict_one_step(data))


def test_a_model_saved_by_0_5_loads_with_one_edge_rate_per_effect(tmp_path):
    """0.5 had no per-pair edge rates: no ``edge_offset`` in its weights, no ``edge_rates``
    in its config. It loads as "effect" with zero offsets and the same edge probabilities."""
    data = _data(True)
    mmm = CausalMMM(ModelConfig(hidden=8, edge_rates="effect"))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    mmm.save(tmp_path / "m")
    as_saved_by(tmp_path / "m", "0.5.0", ["edge_rates"], ["guide.edge_offset"])
    back = CausalMMM.load(tmp_path / "m")
    assert back.config.edge_rates == "effect"
    assert torch.all(back.guide.edge_offset == 0)
    np.testing.assert_allclose(
        back.edge_probability_array(data), mmm.edge_probability_array(data), rtol=1e-6
    )
    assert ModelConfig().edge_rates == "edge"
    with pytest.raises(ConfigError, match="edge_rates"):
        ModelConfig(edge_rates="pair")
