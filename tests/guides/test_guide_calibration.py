"""The calibrated edge evidence: lag-test z-scores, normal scores, the empirical-Bayes
two-group fit and its monotone curve (``guides.calibration``, ``guides.features``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyro_causalmmm.guides import calibration
from pyro_causalmmm.guides.evidence import edge_evidence_stats
from pyro_causalmmm.guides.features import (
    _gated_statistics,
    _lag_moments,
    normal_scores,
    standardize_series,
)


def test_z_of_null_wald_statistics_is_standard_normal():
    """Wald statistics drawn from their null (chi-square with 1..L dof, nested like the
    lag tests) give z ~ N(0, 1): ACAT is valid under the dependence between them."""
    g = torch.Generator().manual_seed(0)
    e = torch.randn(200_000, 6, generator=g, dtype=torch.float64) ** 2
    wald = e.cumsum(-1)  # W_l = sum of the first l squared scores: nested tests
    z = calibration.lag_test_z(wald)
    # ACAT is exact in the upper tail (where edges are called); the centre is close
    for level, alpha in ((1.645, 0.05), (2.326, 0.01), (3.09, 0.001)):
        assert abs(float((z > level).double().mean()) - alpha) < 0.15 * alpha + 2e-4
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1) < 0.1
    # two groups of nested tests (raw values and normal scores) with lags=6
    z2 = calibration.lag_test_z(torch.cat([wald, wald.flip(0)], dim=-1), lags=6)
    assert abs(float((z2 > 1.645).double().mean()) - 0.05) < 0.01


def test_z_grows_with_evidence_and_stays_finite():
    w = torch.tensor([[0.0] * 6, [1.0] * 6, [25.0] * 6, [1e5] * 6], dtype=torch.float64)
    z = calibration.lag_test_z(w)
    assert torch.isfinite(z).all()
    assert (z.diff() > 0).all()
    assert float(z[-1]) > 30


def test_gated_statistics_wald_matches_bf_blocks():
    """The last Wald statistic (all L lags) is the one inside the full Bayes factor, and
    the first is the single-lag test, recomputed here from its own regression."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 80, 4, generator=g, dtype=torch.float64)
    x[:, 1:, 2] += 0.8 * x[:, :-1, 0]  # 0 -> 2 at lag 1
    mask = torch.ones(3, 80, dtype=torch.bool)
    gate = torch.ones(3, 4, 4, dtype=torch.float64)
    lags = 3
    bf, wald = _gated_statistics(*_lag_moments(x, mask, lags), gate, lags, 0.5)
    assert wald.shape == (3, 4, 4, lags)
    assert (wald[..., 1:] >= wald[..., :-1] - 1e-9).all()  # nested tests grow with l
    assert (wald[:, 0, 2, 0] > 30).all()  # the true edge is found at lag 1
    assert (torch.diagonal(wald, dim1=1, dim2=2) == 0).all()


def test_normal_scores_are_rank_invariant_with_tied_zeros():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 50, 3, generator=g, dtype=torch.float64)
    x[:, :20, 1] = 0.0  # a spend that is off for 20 days: ties
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, 40:] = False
    s = normal_scores(x, mask)
    t = normal_scores(torch.exp(3 * x) + 5, mask)  # any increasing transform
    assert torch.allclose(s, t)
    assert (s[1, 40:] == 0).all()
    tied = s[0, :20, 1]
    assert torch.allclose(tied, tied[0].expand(20))  # ties share their mean rank
    const = torch.ones(1, 30, 1, dtype=torch.float64)
    assert (normal_scores(const, torch.ones(1, 30, dtype=torch.bool)) == 0).all()


def _mixture(rate=0.1, n=20_000, seed=0, null_sd=1.0):
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < rate
    z = np.where(truth, rng.normal(6.0, 2.5, n), rng.normal(0.2, null_sd, n))
    return z, truth


def test_two_group_fit_recovers_rate_and_calibrates():
    z, truth = _mixture(rate=0.1, null_sd=1.3)  # a null wider than the theoretical one
    groups = np.arange(z.size) % 4
    params = calibration.fit_two_group(z, groups, 4)
    assert abs(params["global_rate"] - 0.1) < 0.015
    assert abs(params["sd0"] - 1.3) < 0.1
    curve = torch.tensor(calibration.log_odds_curve(params))
    zt = torch.tensor(z).view(-1, 2, 2)  # (shop, cause, effect) layout for apply_curve
    p = torch.sigmoid(calibration.apply_curve(zt, curve[:2])).numpy().reshape(-1)
    # reliability: every populated bin within 0.05 of the diagonal, ECE <= 0.02
    bins = np.minimum((p * 10).astype(int), 9)
    total = 0.0
    for b in range(10):
        sel = bins == b
        if sel.sum() > 200:
            assert abs(p[sel].mean() - truth[sel].mean()) < 0.05, b
        total += sel.mean() * abs(p[sel].mean() - truth[sel].mean()) if sel.any() else 0
    assert total < 0.02


def test_curve_is_monotone_even_for_a_wide_alternative():
    params = {
        "mu0": 0.0,
        "sd0": 1.0,
        "df0": np.inf,
        "weights": np.ones(1),
        "mus": np.array([1.0]),
        "sds": np.array([4.0]),
        "rate": np.array([0.3]),
    }
    curve = calibration.log_odds_curve(params)
    assert (np.diff(curve, axis=1) >= 0).all()
    # without the running minimum the wide alternative would rise again at very low z
    assert curve[0, 0] < curve[0, -1]


def test_apply_curve_interpolates_and_clamps():
    grid = calibration.z_grid()
    curve = torch.tensor(np.stack([grid, 2 * grid]))  # (effect = 2, grid)
    z = torch.tensor([[[0.013, -100.0], [50.0, 3.3]]], dtype=torch.float64)
    out = calibration.apply_curve(z, curve)
    assert torch.allclose(out[0, 0, 0], torch.tensor(0.013, dtype=torch.float64))
    assert float(out[0, 0, 1]) == pytest.approx(2 * grid[0])
    assert float(out[0, 1, 0]) == pytest.approx(grid[-1])
    assert float(out[0, 1, 1]) == pytest.approx(6.6)


@pytest.mark.parametrize(
    "z, groups",
    [
        (np.zeros(5), np.zeros(5, dtype=int)),  # too few edges
        (np.full(20, np.nan), np.zeros(20, dtype=int)),  # not finite
        (np.zeros(20), np.zeros(19, dtype=int)),  # length mismatch
    ],
)
def test_two_group_fit_rejects_bad_input(z, groups):
    with pytest.raises(ValueError):
        calibration.fit_two_group(z, groups, 1)


def test_evidence_stats_shapes_and_scale_invariance():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 60, 4, generator=g)
    x[:, 2:, 3] += 0.9 * x[:, :-2, 1]
    mask = torch.ones(2, 60, dtype=torch.bool)
    feats, bf, z = edge_evidence_stats(x, mask, 6, 0.5, 1, 0.0, ranks=True)
    assert feats.shape == (2, 4, 4, 8) and bf.shape == z.shape == (2, 4, 4)
    assert (torch.diagonal(z, dim1=1, dim2=2) == 0).all()
    assert (z[:, 1, 3] > 3).all()
    scaled = x * torch.tensor([3.0, 0.1, 7.0, 2.0]) + 4.0
    _, _, z2 = edge_evidence_stats(scaled, mask, 6, 0.5, 1, 0.0, ranks=True)
    assert torch.allclose(z, z2, atol=1e-3)
    assert torch.allclose(standardize_series(x, mask), standardize_series(scaled, mask), atol=1e-4)


def test_funnel_guide_tests_each_edge_on_its_effects_design():
    """Node 0 a spend, 1 a responder, 2 the target: y_t = 2 v_t + noise with v white noise
    (a within-period effect of node 1 on node 2, nothing lagged). With the funnel ranks the
    guide tests 1 -> 2 on lags 0..L-1 of node 1 and finds it; with spends-only ranks it
    cannot; the reverse edge 2 -> 1 is tested on lags only either way (stays null)."""
    from pyro_causalmmm.guides import AmortizedGraphGuide
    from pyro_causalmmm.models import ModelConfig

    torch.manual_seed(0)
    B, T = 8, 120
    s, v = torch.randn(B, T), torch.randn(B, T)
    y = 2 * v + 0.5 * torch.randn(B, T)
    x = torch.stack([s, v, y], dim=-1)
    mask = torch.ones(B, T, dtype=torch.bool)
    cfg = ModelConfig(hidden=8)
    funnel = AmortizedGraphGuide(cfg, 3, same_period=(0, 1), rank=(0, 1, 2))
    spends = AmortizedGraphGuide(cfg, 3, same_period=(0,))
    z_f, z_s = funnel.edge_evidence(x, mask), spends.edge_evidence(x, mask)
    assert z_f[:, 1, 2].min() > 5, z_f[:, 1, 2]
    assert z_s[:, 1, 2].max() < 3, z_s[:, 1, 2]
    assert z_f[:, 2, 1].abs().max() < 3.5, z_f[:, 2, 1]
    # edges into the spend (lagged design) and into node 1 (spend advanced) read the
    # same designs under both rank rules; only the target's design differs
    torch.testing.assert_close(z_f[..., :2], z_s[..., :2])


def test_guide_tests_edges_into_responders_on_the_advanced_design():
    """Nodes 0 and 1 spends, 2 a responder, 3 the target (the spends-only rule and the
    funnel rule): y_2 = 2 s_0 now (no lag), y_3 = 2 y_2 now. The guide's evidence for
    0 -> 2 is strong under both rules, 2 -> 3 only under the funnel rule, and the ranks
    are read per node (not per rank value)."""
    from pyro_causalmmm.guides import AmortizedGraphGuide
    from pyro_causalmmm.models import ModelConfig

    torch.manual_seed(1)
    B, T = 8, 120
    s0, s1 = torch.randn(B, T), torch.randn(B, T)
    y2 = 2 * s0 + 0.5 * torch.randn(B, T)
    y3 = 2 * y2 + 0.5 * torch.randn(B, T)
    x = torch.stack([s0, s1, y2, y3], dim=-1)
    mask = torch.ones(B, T, dtype=torch.bool)
    cfg = ModelConfig(hidden=8)
    on = AmortizedGraphGuide(cfg, 4, same_period=(0, 1))
    funnel = AmortizedGraphGuide(cfg, 4, same_period=(0, 1, 2), rank=(0, 0, 1, 2))
    z_on, z_f = on.edge_evidence(x, mask), funnel.edge_evidence(x, mask)
    assert z_on[:, 0, 2].min() > 5 and z_f[:, 0, 2].min() > 5
    assert z_f[:, 2, 3].min() > 5, z_f[:, 2, 3]
    assert z_on[:, 2, 3].max() < 3.5, z_on[:, 2, 3]
    assert z_on[:, 1, 2].abs().max() < 3.5 and z_f[:, 1, 2].abs().max() < 3.5


def test_pair_rates_follow_how_often_each_pair_is_an_edge():
    """Three (cause, effect) pairs in one effect group, present in 90%, 30% and 2% of the
    edges: per-pair rates recover each, the effect rate stays their mixture, and where the
    evidence is weak (z = 1.5) the pair that is usually present gets the higher odds."""
    rng = np.random.default_rng(3)
    n = 6000
    pair = np.repeat(np.arange(3), n)
    truth = rng.random(3 * n) < np.array([0.9, 0.3, 0.02])[pair]
    z = np.where(truth, rng.normal(3.0, 1.5, 3 * n), rng.normal(0.0, 1.0, 3 * n))
    group = np.zeros(3 * n, dtype=np.int64)
    params = calibration.fit_two_group(z, group, 1, components=1, edge=pair, n_edges=3)
    np.testing.assert_allclose(params["edge_rate"], [0.9, 0.3, 0.02], atol=0.04)
    assert abs(params["rate"][0] - truth.mean()) < 0.04
    plain = calibration.fit_two_group(z, group, 1, components=1)
    assert plain["edge_rate"] is None
    curve = calibration.log_odds_curve(params)[0]
    at = int(np.searchsorted(calibration.z_grid(), 1.5))
    offsets = np.log(params["edge_rate"] / (1 - params["edge_rate"])) - np.log(
        params["rate"][0] / (1 - params["rate"][0]))
    odds = curve[at] + offsets
    assert odds[0] > odds[1] > odds[2]
    # calibrated per pair: the mean probability of each pair's edges is its true rate
    p = 1 / (1 + np.exp(-(np.interp(z, calibration.z_grid(), curve) + offsets[pair])))
    for k in range(3):
        assert abs(p[pair == k].mean() - truth[pair == k].mean()) < 0.03


def test_guide_stores_pair_offsets_only_with_pair_rates():
    from pyro_causalmmm import ModelConfig
    from pyro_causalmmm.guides.amortized import AmortizedGraphGuide

    torch.manual_seed(0)
    x = torch.randn(12, 60, 4)
    x[:, 1:, 3] += 0.8 * x[:, :-1, 0]  # 0 -> 3 in every shop
    mask = torch.ones(12, 60, dtype=torch.bool)
    for mode in ("effect", "edge"):
        guide = AmortizedGraphGuide(ModelConfig(hidden=8, edge_rates=mode), 4)
        guide.calibrate(x, mask)
        off = guide.edge_offset
        assert off.shape == (4, 4) and torch.all(off.diagonal() == 0)
        if mode == "effect":
            assert torch.all(off == 0)
        else:
            assert off[0, 3] > 0 and off[1, 3] < 0  # a pair present everywhere / nowhere
