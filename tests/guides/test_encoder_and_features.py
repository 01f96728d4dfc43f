"""The amortized guide: encoder shapes and the per-edge lag statistics."""

from __future__ import annotations

import numpy as np
import torch
from pyro import poutine

from pyro_causalmmm.guides import (
    AmortizedGraphGuide,
    RelationalEncoder,
    edge_features,
    edge_log_evidence,
    lagged_correlations,
    standardize_series,
)
from pyro_causalmmm.models import ModelConfig


def _var_data(n_shops=4, T=200, seed=0):
    """x0 drives x1 at lag 1; x2 is independent noise. Node order 0, 1, 2."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_shops, T, 3, generator=g)
    for t in range(1, T):
        x[:, t, 1] += 0.9 * x[:, t - 1, 0]
    return x


def test_encoder_shapes_any_length():
    enc = RelationalEncoder(n_nodes=4, hidden=8, n_stats=3)
    for T in (15, 40):
        out = enc(torch.randn(2, T, 4), torch.ones(2, T, dtype=torch.bool), torch.randn(2, 4, 4, 3))
        assert out.shape == (2, 12)


def test_encoder_is_per_shop_independent_of_batch():
    torch.manual_seed(0)
    guide = AmortizedGraphGuide(ModelConfig(hidden=8), 3)
    x = _var_data()
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    with torch.no_grad():
        together = guide.edge_logits(x, mask)
        alone = guide.edge_logits(x[1:2], mask[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)


def test_lagged_correlations_match_numpy():
    x = _var_data(n_shops=1, T=100)
    mask = torch.ones(1, 100, dtype=torch.bool)
    corr = lagged_correlations(x, mask, 2)
    ref = np.corrcoef(x[0, :-1, 0].numpy(), x[0, 1:, 1].numpy())[0, 1]
    assert abs(corr[0, 0, 1, 0].item() - ref) < 1e-5
    ref2 = np.corrcoef(x[0, :-2, 2].numpy(), x[0, 2:, 0].numpy())[0, 1]
    assert abs(corr[0, 2, 0, 1].item() - ref2) < 1e-5


def test_standardize_series_uses_observed_steps_only():
    x = _var_data(n_shops=2, T=50).double() * 7 + 3
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, 40:] = False
    x[1, 40:] = 1e6  # padding must not enter the moments
    z = standardize_series(x, mask)
    assert torch.all(z[1, 40:] == 0)
    for shop, n in ((0, 50), (1, 40)):
        obs = z[shop, :n]
        assert torch.allclose(obs.mean(0), torch.zeros(3, dtype=obs.dtype), atol=1e-12)
        assert torch.allclose(obs.std(0, unbiased=False), torch.ones(3, dtype=obs.dtype))
    const = torch.full((1, 10, 2), 4.0)
    assert torch.all(standardize_series(const, torch.ones(1, 10, dtype=torch.bool)) == 0)


def test_edge_features_do_not_depend_on_each_series_units():
    # the target is min-max scaled (small spread) while channels are z-scored: the
    # guide's evidence must not care (a per-series positive affine map changes nothing)
    x = _var_data(n_shops=3, T=120).double()
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    scale = torch.tensor([[[0.05, 3.0, 1.0]], [[1.0, 0.2, 9.0]], [[2.0, 2.0, 0.01]]])
    shift = torch.tensor([[[0.5, -2.0, 0.0]], [[1.0, 0.0, 3.0]], [[0.0, 7.0, -1.0]]])
    feats, bf = edge_features(x, mask, 2, 0.5)
    feats2, bf2 = edge_features(x * scale + shift, mask, 2, 0.5)
    assert torch.allclose(feats, feats2, atol=1e-8)
    assert torch.allclose(bf, bf2, atol=1e-6)
    # while the raw Bayes factor on unscaled series does depend on the units
    assert not torch.allclose(edge_log_evidence(x, mask, 2, 0.5),
                              edge_log_evidence(x * scale + shift, mask, 2, 0.5), atol=1e-3)


def test_bayes_factor_favours_the_true_edge():
    x = _var_data()
    bf = edge_log_evidence(x, torch.ones(x.shape[:2], dtype=torch.bool), 2, 0.5)
    assert bf.shape == (4, 3, 3)
    assert torch.all(torch.diagonal(bf, dim1=-2, dim2=-1) == 0)
    assert torch.all(bf[:, 0, 1] > 20)  # strong evidence for 0 -> 1
    assert torch.all(bf[:, 2, 1] < 3)  # none for 2 -> 1
    assert torch.all(bf[:, 1, 0] < 3)  # nor for the reverse direction


def test_guide_samples_z_under_lambda_scale():
    cfg = ModelConfig(hidden=8, lam=7.0)
    x = _var_data()
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    tr = poutine.trace(AmortizedGraphGuide(cfg, 3)).get_trace(x, mask, torch.zeros(4, 200, 0))
    assert tr.nodes["z"]["value"].shape == (4, 6)
    assert tr.nodes["z"]["scale"] == 7.0
    z = tr.nodes["z"]["value"]
    assert ((z > 0) & (z < 1)).all()


def test_bayes_factor_equals_explicit_evidence_difference():
    """The moment-based factor equals two explicit collapsed evidences (full vs drop i),
    both with the noise scale the function uses (the full model's posterior-mean fit)."""
    from pyro_causalmmm.models.linear import collapsed_gaussian, gated_design, lag_design

    x = _var_data(n_shops=2, T=60).double()
    mask = torch.ones(2, 60, dtype=torch.bool)
    lags, s = 2, 0.5
    bf = edge_log_evidence(x, mask, lags, s, refinements=0)
    lagged = lag_design(x, lags)[:, lags:]
    resid = x[:, lags:].transpose(1, 2)
    rows = mask[:, lags:]
    full = torch.ones(2, 3, 3, dtype=x.dtype)
    sigma0 = resid.pow(2).mean(-1).sqrt()
    _, fit = collapsed_gaussian(resid, gated_design(lagged, full), rows, sigma0, s)
    sigma = (resid - fit).pow(2).mean(-1).sqrt()
    ev_full, _ = collapsed_gaussian(resid, gated_design(lagged, full), rows, sigma, s)
    drop = full.clone()
    drop[:, 0, 1] = 0.0  # remove 0 -> 1
    ev_drop, _ = collapsed_gaussian(resid, gated_design(lagged, drop), rows, sigma, s)
    assert torch.allclose(bf[:, 0, 1], (ev_full - ev_drop)[:, 1], rtol=1e-6, atol=1e-6)


def test_refined_bayes_factor_keeps_the_true_edge_and_drops_the_indirect_one():
    """Chain 0 -> 1 -> 2 (lag 1): the refined factor still ranks the direct edges first."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 300, 3, generator=g, dtype=torch.float64)
    for t in range(1, 300):
        x[:, t, 1] += 0.8 * x[:, t - 1, 0]
        x[:, t, 2] += 0.8 * x[:, t - 1, 1]
    mask = torch.ones(4, 300, dtype=torch.bool)
    bf = edge_log_evidence(x, mask, 2, 0.5, refinements=1)
    assert torch.isfinite(bf).all()
    assert torch.all(bf[:, 0, 1] > 20) and torch.all(bf[:, 1, 2] > 20)
    assert torch.all(bf[:, 0, 2] < 5)
