"""Posterior InferenceData, forecasts and backtests on a small fitted model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.api import CausalMMM
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError, DataValidationError, ModelFileError
from pyro_causalmmm.inference.training import TrainConfig
from pyro_causalmmm.models import ModelConfig
from pyro_causalmmm.posterior import draws as posterior
from pyro_causalmmm.posterior import forecasting, summaries
from pyro_causalmmm.posterior import inference_data as idata_io
from pyro_causalmmm.simulate import simulate

HOLD = 7


@pytest.fixture(scope="module")
def fitted():
    sim = simulate(scenario="sim2", n_shops=16, n_channels=4, length=70, n_graphs=2, seed=3)
    frame = sim.frame
    # one shop shorter than the rest, so the union time grid and NaN cells are exercised
    frame = frame[
        ~((frame["shop"] == frame["shop"].iloc[0]) & (frame.groupby("shop").cumcount() >= 60))
    ]
    full = MarketingMixData.from_frame(frame, target="gmv", context=list(sim.context_names))
    train = full.drop_last(HOLD)
    mmm = CausalMMM(ModelConfig(hidden=16))
    mmm.fit(train, TrainConfig(epochs=6, batch_size=8, seed=0))
    return mmm, train, full


def test_inference_data_groups_dims_and_user_labels(fitted, tmp_path):
    mmm, train, _ = fitted
    idata = posterior.build(mmm, train, draws=30, seed=1)
    path = idata_io.save(idata, tmp_path / "posterior.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    back = az.from_netcdf(path)
    for group in ("posterior", "posterior_predictive", "observed_data", "constant_data"):
        assert group in back.groups()
    assert back.posterior["edge"].dims == ("chain", "draw", "shop", "cause", "effect")
    assert back.posterior["hill_shape"].dims == ("chain", "draw", "shop", "time")
    assert back.posterior_predictive["obs"].dims == ("chain", "draw", "shop", "time", "node")
    assert back.posterior["edge"].shape[:2] == (1, 30)
    assert list(back.posterior["shop"].values) == [str(s) for s in train.shop_ids]
    assert list(back.observed_data["node"].values) == train.node_names
    assert list(back.posterior["cause"].values) == train.node_names
    assert np.issubdtype(back.observed_data["time"].dtype, np.datetime64)
    assert pd.Timestamp(back.observed_data["time"].values[0]) == train.times[0][0]
    # observed data in user units; the short shop is NaN after its window
    s0 = str(train.shop_ids[0])
    obs = back.observed_data["obs"].sel(shop=s0, node="gmv").values
    assert np.isnan(obs[train.lengths[0] :]).all()
    np.testing.assert_allclose(obs[: train.lengths[0]], train.values[0, : train.lengths[0], -1])
    rep = back.posterior_predictive["obs"].sel(node="gmv").values
    assert np.isnan(rep[..., : mmm.config.max_lag]).all()  # no lag history: not scored
    assert np.isfinite(rep[0, :, 1, mmm.config.max_lag :]).all()
    edge = back.posterior["edge"].values
    assert (np.diagonal(edge, axis1=-2, axis2=-1) == 0).all()
    assert ((edge >= 0) & (edge <= 1)).all()
    assert idata_io.attr(back, "channel_names") == train.channel_names
    assert len(back["fit_log"]["train_loss"]) == 6


def test_same_seed_same_draws_and_draws_validated(fitted):
    mmm, train, _ = fitted
    a = posterior.sample(mmm, train, draws=5, seed=7)
    b = posterior.sample(mmm, train, draws=5, seed=7)
    np.testing.assert_array_equal(a["replicate"], b["replicate"])
    with pytest.raises(ConfigError, match="draws"):
        posterior.sample(mmm, train, draws=1)
    with pytest.raises(ConfigError, match="horizon"):
        posterior.sample(mmm, train, draws=5, horizon=-1)


def test_in_sample_coverage_is_calibrated(fitted):
    """Seeded recovery check: the one-step posterior predictive of GMV covers about
    50% / 90% of the observed values (sigma set by EM after SVI)."""
    mmm, train, _ = fitted
    cov = summaries.ppc_coverage(posterior.build(mmm, train, draws=100, seed=0))
    assert 0.40 <= cov[0.5] <= 0.60
    assert 0.84 <= cov[0.9] <= 0.95


def test_forecast_dates_shapes_and_future_context(fitted):
    mmm, train, _ = fitted
    idata, table = forecasting.forecast(mmm, train, horizon=5, draws=20)
    assert len(table) == train.n_shops * 5
    s0 = str(train.shop_ids[0])
    first = table[table["shop"] == s0]["time"].iloc[0]
    assert first == train.future_times(0, 5)[0]  # the short shop's own future dates
    assert np.isfinite(table.drop(columns=["shop", "time"]).to_numpy()).all()
    held = idata.predictions_constant_data["context_value"].sel(shop=s0).values
    held = held[np.isfinite(held).all(1)]
    np.testing.assert_allclose(held, np.repeat(train.context[0, train.lengths[0] - 1][None], 5, 0))
    given = np.full((train.n_shops, 5, train.n_context), 0.5)
    idata2, _ = forecasting.forecast(mmm, train, horizon=5, draws=20, future_context=given)
    vals = idata2.predictions_constant_data["context_value"].values
    assert np.nanmax(np.abs(vals - 0.5)) == 0
    with pytest.raises(ConfigError, match="future_context"):
        forecasting.forecast(mmm, train, horizon=5, draws=20, future_context=given[:, :2])


def test_backtest_scores_and_observed_column(fitted):
    mmm, _, full = fitted
    _, table, scores = forecasting.backtest(mmm, full, HOLD, draws=40)
    assert "observed" in table and table["observed"].notna().all()
    assert sorted(scores) == [1, 7]  # 30 > horizon is skipped
    for v in scores.values():
        assert v["mse_scaled"] > 0 and 0 <= v["coverage_50"] <= v["coverage_90"] <= 1
    # held-out 90% intervals cover most of the truth (a loose, seeded check)
    assert scores[7]["coverage_90"] >= 0.7
    lines = forecasting.format_scores(scores, honest=False)
    assert any("MAPE" in line for line in lines) and "holdout" in lines[-1]


def test_drop_last_refits_scaling_and_names_a_short_shop(fitted):
    _, train, full = fitted
    assert (full.drop_last(HOLD).lengths == full.lengths - HOLD).all()
    assert not np.allclose(train.scaling.loc, full.scaling.loc)
    with pytest.raises(DataValidationError, match="shop"):
        full.drop_last(int(full.lengths.min()) - 1)


def test_time_axis_union_for_misaligned_shops():
    times = [pd.date_range("2024-01-01", periods=3), pd.date_range("2024-01-03", periods=3)]
    axis = idata_io.TimeAxis.from_shop_times(times, 3)
    assert len(axis.labels) == 5
    placed = axis.place(np.arange(6.0).reshape(2, 3), 1)
    np.testing.assert_array_equal(placed[1], [np.nan, np.nan, 3, 4, 5])
    np.testing.assert_array_equal(placed[0, :3], [0, 1, 2])


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        idata_io.load(tmp_path / "posterior.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(ModelFileError, match="cannot read"):
        idata_io.load(bad)
