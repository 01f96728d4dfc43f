"""The coefficients' prior pooled over shops (``models.pooling``)."""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch
from legacy import as_saved_by

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models.linear import posterior_precision
from pyro_causalmmm.models.pooling import pooled_prior, posterior_mean
from pyro_causalmmm.simulate.funnel import simulate_funnel_weekly


@pytest.fixture(autouse=True)
def _clear():
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


def _regressions(shops, T, P, spread, seed, noise=1.0):
    """Per-shop regressions ``y_b = X_b beta_b + e`` with ``beta_b ~ N(m, spread^2)``."""
    gen = torch.Generator().manual_seed(seed)
    m = torch.linspace(-0.4, 0.6, P, dtype=torch.float64)
    beta = m + spread * torch.randn(shops, 1, P, generator=gen, dtype=torch.float64)
    X = torch.randn(shops, 1, T, P, generator=gen, dtype=torch.float64)
    y = (X @ beta[..., None]).squeeze(-1) + noise * torch.randn(shops, 1, T, generator=gen)
    gtg = X.transpose(-1, -2) @ X
    gtr = (X.transpose(-1, -2) @ y[..., None]).squeeze(-1)
    return m, beta, gtg, gtr


def _unpooled(gtg, gtr, sigma, s):
    A = posterior_precision(gtg, sigma, s)
    chol = torch.linalg.cholesky(A)
    var = torch.diagonal(torch.cholesky_inverse(chol), dim1=-2, dim2=-1)
    return posterior_mean(chol, gtr, sigma), var


def test_pooled_prior_recovers_the_population_mean_and_spread():
    m, _, gtg, gtr = _regressions(400, 40, 3, spread=0.3, seed=0)
    sigma = torch.ones(400, 1, dtype=torch.float64)
    beta, var = _unpooled(gtg, gtr, sigma, 10.0)
    mean, prec = pooled_prior(beta, var, torch.ones_like(beta, dtype=torch.bool), 10.0)
    assert torch.allclose(mean[0], m, atol=0.05)
    assert torch.allclose(prec[0].rsqrt(), torch.full((3,), 0.3, dtype=torch.float64), atol=0.05)


def test_pooled_prior_bounds_and_inactive_columns():
    torch.manual_seed(0)
    beta = 0.01 * torch.randn(30, 2, 4)  # estimates far tighter than their noise
    var = torch.full_like(beta, 0.04)
    active = torch.ones_like(beta, dtype=torch.bool)
    active[:, 1, 3] = False  # a column no shop has
    active[4:, 1, 2] = False  # a column only 4 shops have (< min_shops = 5)
    mean, prec = pooled_prior(beta, var, active, prior_scale=0.5, floor=0.1)
    # tau^2 floored at 0.1 * the noise: never a point mass
    assert torch.allclose(prec[0], torch.full((4,), 1 / 0.004), rtol=1e-5)
    # the default floor: a shop's own estimate keeps at least half the weight
    assert torch.allclose(pooled_prior(beta, var, active, 0.5)[1][0], torch.tensor(25.0))
    # the columns with too few shops keep N(0, s^2)
    assert mean[1, 2:].abs().max() == 0 and torch.allclose(prec[1, 2:], torch.tensor(4.0))
    # never wider than N(0, s^2)
    wide = pooled_prior(10 * torch.randn(30, 2, 4), var, active, prior_scale=0.5)[1]
    assert torch.all(wide >= 4.0 - 1e-6)


def test_pooling_brings_each_shops_coefficients_closer_to_the_truth():
    """Shops with short series and similar effects: the pooled posterior mean has a
    smaller error than each shop's own (seeded recovery on small data)."""
    _, truth, gtg, gtr = _regressions(40, 25, 3, spread=0.1, seed=1, noise=1.5)
    sigma = torch.full((40, 1), 1.5, dtype=torch.float64)
    own, var = _unpooled(gtg, gtr, sigma, 0.5)
    mean, prec = pooled_prior(own, var, torch.ones_like(own, dtype=torch.bool), 0.5)
    A = posterior_precision(gtg, sigma, 0.5, prec)
    pooled = posterior_mean(torch.linalg.cholesky(A), gtr, sigma, mean, prec)
    err_own = (own - truth).pow(2).mean()
    err_pooled = (pooled - truth).pow(2).mean()
    assert err_pooled < 0.5 * err_own


def test_zero_mean_prior_is_the_unpooled_posterior():
    _, _, gtg, gtr = _regressions(5, 20, 3, spread=0.2, seed=2)
    sigma = torch.full((5, 1), 0.7, dtype=torch.float64)
    A0 = posterior_precision(gtg, sigma, 0.5)
    prec = torch.full((1, 3), 4.0, dtype=torch.float64)
    A1 = posterior_precision(gtg, sigma, 0.5, prec)
    assert torch.allclose(A0, A1)
    chol = torch.linalg.cholesky(A0)
    want = torch.cholesky_solve(gtr[..., None], chol).squeeze(-1) / 0.49
    assert torch.allclose(posterior_mean(chol, gtr, sigma), want)
    assert torch.allclose(posterior_mean(chol, gtr, sigma, torch.zeros(1, 3), prec), want)


def _weekly():
    sim = simulate_funnel_weekly(n_shops=8, length=60, seed=3)
    return MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))


def test_fit_sets_the_pooled_prior_and_a_saved_model_keeps_it(tmp_path):
    data = _weekly()
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8, seed=0))
    s = mmm.config.linear_prior_scale
    assert mmm.config.effect_pooling == "shops"
    prec = mmm.model.coef_prec
    assert torch.all(prec >= s**-2 - 1e-4) and bool((prec > s**-2 + 1e-3).any())
    assert bool((mmm.model.coef_mean != 0).any())
    mmm.save(tmp_path / "m")
    back = CausalMMM.load(tmp_path / "m")
    assert torch.equal(back.model.coef_prec, prec)
    np.testing.assert_allclose(back.predict_one_step(data), mmm.predict_one_step(data))
    # "none" keeps N(0, s^2): the one-step predictions differ from the pooled ones
    flat = CausalMMM(ModelConfig(hidden=8, effect_pooling="none"))
    flat.fit(data, TrainConfig(epochs=1, batch_size=8, seed=0))
    assert torch.all(flat.model.coef_mean == 0)
    assert not np.allclose(flat.predict_one_step(data), mmm.predict_one_step(data))


def test_a_model_saved_by_0_6_loads_unpooled(tmp_path):
    """0.6 had no pooled prior: no ``coef_mean``/``coef_prec`` in its weights and no
    ``effect_pooling`` in its config; it loads as "none" and predicts as it did."""
    data = _weekly()
    mmm = CausalMMM(ModelConfig(hidden=8, effect_pooling="none"))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8, seed=0))
    mmm.save(tmp_path / "m")
    as_saved_by(tmp_path / "m", "0.6.0", ["effect_pooling"], ["model.coef_mean", "model.coef_prec"])
    back = CausalMMM.load(tmp_path / "m")
    assert back.config.effect_pooling == "none"
    np.testing.assert_allclose(back.predict_one_step(data), mmm.predict_one_step(data))


def test_effect_pooling_is_checked():
    with pytest.raises(ConfigError, match="effect_pooling"):
        ModelConfig(effect_pooling="geo")


def _gains(signs, shops, seed):
    """``(shop, cause, effect)`` gains ``sign * U(0.1, 1)`` for ``signs`` ``(cause, effect)``
    (+1, -1, or 0 for a random sign per shop)."""
    gen = torch.Generator().manual_seed(seed)
    signs = torch.as_tensor(signs, dtype=torch.float64)
    size = (shops, *signs.shape)
    mag = 0.1 + 0.9 * torch.rand(size, generator=gen, dtype=torch.float64)
    coin = torch.where(torch.rand(size, generator=gen) < 0.5, -1.0, 1.0).double()
    return mag * torch.where(signs == 0, coin, signs)


def test_media_pairs_tell_media_from_random_signs():
    from pyro_causalmmm.models.pooling import media_pairs

    every = torch.ones(60, 3, 2, dtype=torch.bool)
    # random signs in every shop (Simulation 2): no pair is media-like
    assert not media_pairs(_gains(torch.zeros(3, 2), 60, 0), every).any()
    # media: every pair, though 10% of the shops' estimates are negative (noise)
    media = _gains(torch.ones(3, 2), 60, 1)
    flip = torch.rand(media.shape, generator=torch.Generator().manual_seed(2)) < 0.1
    assert media_pairs(torch.where(flip, -media, media), every).all()
    # a pair negative in its 60 shops stays free inside a media panel; its neighbours do not
    signs = torch.ones(3, 2)
    signs[1, 0] = -1
    pairs = media_pairs(_gains(signs, 60, 3), every)
    assert not pairs[1, 0] and pairs.sum() == 5
    # a pair seen in one shop borrows the panel's share (here 0.85-0.9), even if negative,
    # and so does a pair seen in no shop; with random signs neither is media-like
    few = every.clone()
    few[1:, 1, 1] = False
    few[:, 2, 1] = False
    gains = _gains(torch.ones(3, 2), 60, 4)
    gains[0, 1, 1] = -1.0
    pairs = media_pairs(gains, few)
    assert pairs[1, 1] and pairs[2, 1]
    assert not media_pairs(_gains(torch.zeros(3, 2), 60, 5), few).any()


def test_fit_records_media_pairs_of_spends_into_other_nodes(tmp_path):
    """The fit's media pairs are (spend, responder) pairs only, a saved model keeps them,
    and a model saved before 0.9 (without them) loads with none, so its default decisions
    ("auto") are those of "free"."""
    from pyro_causalmmm.decisions.contributions import DecisionConfig, contributions

    sim = simulate_funnel_weekly(n_shops=8, length=60, seed=3)
    data = MarketingMixData.from_frame(
        sim.frame, target="gmv", channels=list(sim.node_names[:-1]), spend=list(sim.spend_names)
    )
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8, seed=0))
    pairs = mmm.model.media_pairs
    spend = torch.tensor([n in data.spend_names for n in data.node_names])
    assert pairs.dtype == torch.bool and pairs.any()
    assert not (pairs & ~(spend[:, None] & ~spend[None, :])).any()
    mmm.save(tmp_path / "m")
    assert torch.equal(CausalMMM.load(tmp_path / "m").model.media_pairs, pairs)
    as_saved_by(tmp_path / "m", "0.8.1", [], ["model.media_pairs"])
    old = CausalMMM.load(tmp_path / "m")
    assert not old.model.media_pairs.any()

    def table(model, mode):
        cfg = DecisionConfig(draws=4, seed=0, spend_effects=mode)
        return contributions(model, data, config=cfg).table["contribution"].to_numpy()

    np.testing.assert_array_equal(table(old, "auto"), table(old, "free"))
    # with every pair media-like, "auto" is "positive"
    old.model.media_pairs.copy_(spend[:, None] & ~spend[None, :])
    np.testing.assert_array_equal(table(old, "auto"), table(old, "positive"))
    assert not np.array_equal(table(old, "auto"), table(old, "free"))
