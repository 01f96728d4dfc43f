"""Decisions over an ensemble of fits (``pyro_causalmmm.decisions.ensemble``)."""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch

from pyro_causalmmm import MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.decisions import contributions as co
from pyro_causalmmm.decisions.ensemble import (
    MEMBER_SEED_STEP,
    fit_ensemble,
    member_configs,
    members,
)
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import simulate


@pytest.fixture(scope="module")
def setup():
    pyro.clear_param_store()
    sim = simulate("sim2", n_shops=5, n_channels=3, length=40, n_graphs=2, seed=4)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    models = fit_ensemble(data, 2, ModelConfig(hidden=8), TrainConfig(epochs=1, batch_size=5))
    pyro.clear_param_store()
    return models, data


def test_member_configs_split_the_draws_and_seed_each_member():
    cfgs = member_configs(co.DecisionConfig(draws=10, seed=3), 3)
    assert [c.draws for c in cfgs] == [4, 3, 3]
    assert [c.seed for c in cfgs] == [3, 3 + MEMBER_SEED_STEP, 3 + 2 * MEMBER_SEED_STEP]
    with pytest.raises(ConfigError, match="draws=2 is fewer than the ensemble's 3 members"):
        member_configs(co.DecisionConfig(draws=2), 3)
    with pytest.raises(ConfigError, match="empty"):
        members([])
    assert members("x") == ["x"] and members(("a", "b")) == ["a", "b"]


def test_fit_ensemble_checks_its_size():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="n_members"):
            fit_ensemble(None, bad)


def test_members_share_the_edges_and_differ_in_their_decoders(setup):
    (a, b), data = setup
    np.testing.assert_allclose(a.edge_probability_array(data), b.edge_probability_array(data))
    wa = dict(a.model.decoder.named_parameters())
    wb = dict(b.model.decoder.named_parameters())
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_an_ensemble_of_one_is_the_single_model(setup):
    (a, _), data = setup
    cfg = co.DecisionConfig(draws=4, seed=0)
    one, single = co.contributions([a], data, config=cfg), co.contributions(a, data, config=cfg)
    np.testing.assert_array_equal(one.draws["total"].values, single.draws["total"].values)


def test_ensemble_draws_are_the_members_draws_pooled(setup):
    (a, b), data = setup
    cfg = co.DecisionConfig(draws=5, seed=1)
    both = co.contributions([a, b], data, config=cfg)
    first, second = member_configs(cfg, 2)
    want = np.concatenate(
        [
            co.contributions(a, data, config=first).draws["total"].values,
            co.contributions(b, data, config=second).draws["total"].values,
        ]
    )
    np.testing.assert_allclose(both.draws["total"].values, want)
    assert both.draws["total"].shape[0] == 5
    np.testing.assert_allclose(both.table["contribution"].to_numpy(), want.mean(0).reshape(-1))
    curves = co.response_curves([a, b], data, grid=(0.5, 1.0), config=cfg)
    assert curves.draws.shape[0] == 5
    assert np.all(curves.draws.sel(multiplier=1.0).values == 0)
