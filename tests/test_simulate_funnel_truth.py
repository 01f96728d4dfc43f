"""do()-truth of the funnel family: replays are exact, effects are positive and zero
where the graph says so, weekly truth is the daily truth summed over each week's days."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pyro_causalmmm.decisions.contributions import compare_with_truth
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import (
    funnel_counterfactual,
    simulate,
    simulate_funnel,
    simulate_funnel_daily,
    simulate_funnel_weekly,
    true_funnel_contributions,
)
from pyro_causalmmm.simulate.base import adstock_hill_network
from pyro_causalmmm.simulate.funnel import SPENDS

COLUMNS = ["shop", "channel", "spend", "contribution", "total", "direct", "indirect",
           "roas", "mroas", "mediated"]


@pytest.fixture(scope="module")
def daily():
    return simulate_funnel_daily(n_shops=6, length=60, seed=3, burn_in=20)


@pytest.fixture(scope="module")
def weekly():
    return simulate_funnel_weekly(n_shops=4, length=12, seed=5, burn_in=14)


def test_stored_inputs_replay_the_panel(daily):
    p = daily.params
    x = adstock_hill_network(p["mult"], p["base"], p["coef"], p["decay"], p["half"], p["shape"])
    assert np.array_equal(x[:, daily.config.burn_in :], daily.values)
    assert p["eps"].shape == p["mult"].shape == (6, 80, 7)


@pytest.mark.parametrize("name", ["daily", "weekly"])
@pytest.mark.parametrize("direct", [False, True])
def test_no_op_intervention_reproduces_the_data(name, direct, request):
    sim = request.getfixturevalue(name)
    n, t, _ = sim.values.shape
    none = np.zeros((1, n, t, len(SPENDS)), dtype=bool)
    everything = np.ones((1, n, t, len(SPENDS)), dtype=bool)
    for mask, factor in ((none, 0.0), (everything, 1.0)):
        out = funnel_counterfactual(sim, mask, factor, direct=direct)
        assert np.array_equal(out[0], sim.values)


def test_seeded_and_bit_identical_outputs():
    a = simulate_funnel_daily(n_shops=3, length=20, seed=7)
    b = simulate_funnel_daily(n_shops=3, length=20, seed=7)
    assert a.frame.equals(b.frame)
    ta, tb = true_funnel_contributions(a), true_funnel_contributions(b)
    assert ta.equals(tb)
    c = true_funnel_contributions(simulate_funnel_daily(n_shops=3, length=20, seed=8))
    assert not np.allclose(ta["spend"], c["spend"])


@pytest.mark.parametrize("name", ["daily", "weekly"])
def test_contributions_table(name, request):
    sim = request.getfixturevalue(name)
    truth = true_funnel_contributions(sim)
    n, s = sim.values.shape[0], len(SPENDS)
    assert list(truth.columns) == COLUMNS and len(truth) == n * s
    assert (truth["contribution"] >= 0).all() and (truth["direct"] >= 0).all()
    assert (truth["total"] == truth["contribution"]).all()
    np.testing.assert_allclose(truth["indirect"], truth["total"] - truth["direct"])
    assert truth["total"].max() > 0
    adj = sim.adjacency[:, :s].astype(bool).reshape(n * s, -1)
    silent = ~adj.any(axis=1)  # no outgoing edge: exactly 0
    assert (truth.loc[silent, ["total", "direct", "indirect", "mroas"]] == 0).all().all()
    no_direct = ~sim.adjacency[:, :s, -1].astype(bool).reshape(-1)
    assert (truth.loc[no_direct, "direct"] == 0).all()
    unmediated = ~truth["mediated"].to_numpy()
    np.testing.assert_allclose(truth.loc[unmediated, "indirect"], 0.0, atol=1e-6)
    spend = (sim.values[..., :s]).sum(1).reshape(-1)
    np.testing.assert_allclose(truth["spend"], spend)


def test_direct_part_alone_when_the_only_edge_is_direct():
    sim = simulate_funnel_daily(n_shops=12, length=40, seed=11, burn_in=10, p_skip=0.5)
    truth = true_funnel_contributions(sim)
    s = len(SPENDS)
    adj = sim.adjacency[:, :s].astype(bool).reshape(12 * s, -1)
    only_direct = adj[:, -1] & (adj.sum(1) == 1)
    assert only_direct.any()
    np.testing.assert_allclose(truth.loc[only_direct, "indirect"], 0.0, atol=1e-6)
    assert (truth.loc[only_direct, "direct"] > 0).all()


def test_switching_off_lowers_gmv_every_day(daily):
    n, t, _ = daily.values.shape
    mask = np.ones((len(SPENDS), n, t, len(SPENDS)), dtype=bool)
    out = funnel_counterfactual(daily, mask, 0.0)
    assert (out[..., :4] == 0).all()
    assert (out[..., -1] <= daily.values[None, ..., -1]).all()


def test_window_counts_only_its_steps(daily):
    n, t, _ = daily.values.shape
    window = np.zeros((n, t), dtype=bool)
    window[:, 30:45] = True
    part = true_funnel_contributions(daily, window)
    full = true_funnel_contributions(daily)
    np.testing.assert_allclose(
        part["spend"], (daily.values[:, 30:45, :4]).sum(1).reshape(-1)
    )
    assert (part["total"] >= 0).all() and (part["total"] <= full["total"] + 1e-9).all()
    with pytest.raises(ConfigError, match="window"):
        true_funnel_contributions(daily, np.ones((n, t + 1), dtype=bool))


def test_weekly_truth_is_the_daily_truth_over_each_weeks_days(weekly):
    cfg = weekly.config
    twin = simulate_funnel(dataclasses.replace(cfg, weekly=False, length=7 * cfg.length))
    n, t = weekly.values.shape[:2]
    rng = np.random.default_rng(0)
    for window in (None, rng.random((n, t)) < 0.5):
        wk = true_funnel_contributions(weekly, window)
        day_window = None if window is None else np.repeat(window, 7, axis=1)
        dy = true_funnel_contributions(twin, day_window)
        for col in ("spend", "total", "direct", "indirect", "mroas"):
            np.testing.assert_allclose(wk[col], dy[col], rtol=1e-10, atol=1e-6)
        assert (wk["mediated"] == dy["mediated"]).all()


def test_joins_with_compare_with_truth(daily):
    truth = true_funnel_contributions(daily)
    est = truth[["shop", "channel", "spend", "contribution", "direct", "indirect"]].copy()
    scores = compare_with_truth(est, truth)
    assert scores["pairs"] == len(truth)
    assert scores["total_error"] == 0.0 and scores["spearman_total"] == pytest.approx(1.0)


def test_rejects_other_families_and_bad_masks(daily):
    with pytest.raises(ConfigError, match="simulate_funnel"):
        true_funnel_contributions(simulate(n_shops=2, length=30, seed=0))
    with pytest.raises(ConfigError, match="do_mask"):
        funnel_counterfactual(daily, np.zeros((1, 6, 60, 3), dtype=bool))
    with pytest.raises(ConfigError, match="factor"):
        funnel_counterfactual(daily, np.zeros((1, 6, 60, 4), dtype=bool), -1.0)
    bare = dataclasses.replace(daily, params={})
    with pytest.raises(ConfigError, match="lacks params"):
        true_funnel_contributions(bare)
