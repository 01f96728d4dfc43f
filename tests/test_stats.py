"""Pure interval summaries against ArviZ and hand-made cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pyro_causalmmm.posterior.stats import coverage, hdi, interval_level, pit


def test_hdi_is_arvizs_window_one_draw_wider():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    rng = np.random.default_rng(0)
    draws = rng.gamma(2.0, size=(400, 3))
    low, high = hdi(draws, 0.9)  # ceil(0.9 * 401) = 361 gaps; ArviZ: floor(0.9 * 400) = 360
    ref = az.hdi(draws[None], hdi_prob=361.5 / 400)  # (3, 2) for a (chain, draw, 3) array
    np.testing.assert_allclose(np.stack([low, high], -1), np.asarray(ref), rtol=1e-12)


def test_hdi_is_narrowest_window_and_nan_safe():
    draws = np.array([[0.0, np.nan], [1.0, 1.0], [1.1, 2.0], [1.2, 3.0], [9.0, 4.0]])
    low, high = hdi(draws, 0.3)  # ceil(0.3 * 6) = 2 gaps: 3 points
    assert (low[0], high[0]) == (1.0, 1.2)
    assert np.isnan(low[1]) and np.isnan(high[1])
    low, high = hdi(draws[:, :1], 0.7)  # ceil(0.7 * 6) = 5 gaps > n - 1: every draw
    assert (low[0], high[0]) == (0.0, 9.0)
    with pytest.raises(ValueError):
        hdi(draws, 1.0)


@pytest.mark.parametrize("n", [20, 80, 200])
def test_hdi_holds_an_exchangeable_truth_at_its_level(n):
    # the truth and the n draws are i.i.d. (a calibrated posterior): the 90% interval
    # must hold the truth about 90% of the time; ArviZ's floor(prob * n) window held it
    # 83% at 20 draws and 87% at 80 (normal), which this test rejects
    rng = np.random.default_rng(n)
    for sample in (rng.standard_normal((n + 1, 20000)), rng.lognormal(0, 1, (n + 1, 20000))):
        low, high = hdi(sample[1:], 0.9)
        held = ((sample[0] >= low) & (sample[0] <= high)).mean()
        assert 0.875 <= held <= 0.925


def test_coverage_of_calibrated_draws_is_nominal():
    rng = np.random.default_rng(1)
    draws = rng.standard_normal((500, 4000))
    obs = rng.standard_normal(4000)
    assert coverage(obs, draws, 0.5) == pytest.approx(0.5, abs=0.03)
    assert coverage(obs, draws, 0.9) == pytest.approx(0.9, abs=0.02)
    assert coverage(obs * 5, draws, 0.9) < 0.3  # overconfident draws cover too little
    assert np.isnan(coverage(np.full(3, np.nan), draws[:, :3], 0.5))


def test_pit_is_uniform_when_calibrated_and_skips_nan():
    rng = np.random.default_rng(2)
    draws = rng.standard_normal((300, 2000))
    obs = rng.standard_normal(2000)
    obs[:10] = np.nan
    u = pit(obs, draws)
    assert u.shape == (1990,)
    counts = np.histogram(u, bins=5, range=(0, 1))[0] / len(u)
    assert np.abs(counts - 0.2).max() < 0.04


def test_interval_level_is_the_windows_share_of_n_plus_one_ranks():
    assert interval_level(20, 0.9) == pytest.approx(19 / 21)  # the range of 20 draws
    assert interval_level(18, 0.9) == pytest.approx(17 / 19)  # too few for 90%: < 0.9
    assert interval_level(19, 0.9) == pytest.approx(18 / 20)
    assert interval_level(80, 0.9) == pytest.approx(73 / 81)
    assert interval_level(1, 0.9) == 0.0
    # what it says is what hdi does: a fixed window of ceil(prob (n + 1)) gaps
    rng = np.random.default_rng(3)
    sample = rng.standard_normal((11, 40000))
    low, high = hdi(sample[1:], 0.9)  # 10 draws: the range, 9 / 11
    held = ((sample[0] >= low) & (sample[0] <= high)).mean()
    assert held == pytest.approx(interval_level(10, 0.9), abs=0.01)
