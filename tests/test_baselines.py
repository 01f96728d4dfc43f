"""Tests of the ridge-VAR Granger baseline."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.evaluation.baselines import BASELINES, ridge_var_granger
from pyro_causalmmm.evaluation.metrics import edge_metrics
from pyro_causalmmm.simulate import simulate


def _linear_var(n_shops: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three-node chain 0 -> 1 -> 2 with lag-1 links, plus the adjacency."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_shops, length, 3))
    e = rng.normal(size=(n_shops, length, 3))
    for t in range(1, length):
        x[:, t, 0] = 0.5 * x[:, t - 1, 0] + e[:, t, 0]
        x[:, t, 1] = 0.8 * x[:, t - 1, 0] + 0.3 * e[:, t, 1]
        x[:, t, 2] = -0.8 * x[:, t - 1, 1] + 0.3 * e[:, t, 2]
    adj = np.zeros((n_shops, 3, 3), dtype=np.int8)
    adj[:, 0, 1] = adj[:, 1, 2] = 1
    return x, adj


def test_shape_and_zero_diagonal():
    x, _ = _linear_var(4, 50)
    s = ridge_var_granger(x, lags=2)
    assert s.shape == (4, 3, 3)
    assert np.all(np.diagonal(s, axis1=1, axis2=2) == 0)
    assert np.all(s >= 0)


def test_recovers_linear_chain():
    x, adj = _linear_var(10, 200)
    m = edge_metrics(ridge_var_granger(x, lags=3), adj)
    assert m["auroc_pooled"] == 1.0


def test_invariant_to_positive_affine_maps():
    x, _ = _linear_var(3, 80)
    scale = np.array([10.0, 0.1, 3.0])
    np.testing.assert_allclose(
        ridge_var_granger(x), ridge_var_granger(x * scale + 100.0), rtol=1e-6, atol=1e-9
    )


def test_shops_are_independent():
    x, _ = _linear_var(5, 60)
    np.testing.assert_allclose(ridge_var_granger(x)[2:3], ridge_var_granger(x[2:3]))


def test_mask_drops_rows():
    x, _ = _linear_var(2, 100)
    mask = np.ones((2, 100), dtype=bool)
    mask[:, 60:] = False
    corrupted = x.copy()
    corrupted[:, 60:] = 1e6
    np.testing.assert_allclose(
        ridge_var_granger(corrupted, mask=mask), ridge_var_granger(x[:, :60]), rtol=1e-8
    )
    nan_data = x.copy()
    nan_data[:, 60:] = np.nan
    np.testing.assert_allclose(ridge_var_granger(nan_data), ridge_var_granger(x[:, :60]))


def test_fully_masked_shop_scores_zero():
    x, _ = _linear_var(2, 30)
    mask = np.ones((2, 30), dtype=bool)
    mask[0] = False
    s = ridge_var_granger(x, mask=mask)
    assert np.all(s[0] == 0) and np.all(np.isfinite(s))


def test_constant_series_is_finite():
    x, _ = _linear_var(2, 40)
    x[:, :, 2] = 5.0
    assert np.all(np.isfinite(ridge_var_granger(x, alpha=0.0)))


def test_bad_arguments():
    x, _ = _linear_var(1, 20)
    with pytest.raises(ConfigError, match="lags"):
        ridge_var_granger(x, lags=0)
    with pytest.raises(ConfigError, match="lags"):
        ridge_var_granger(x, lags=20)
    with pytest.raises(ConfigError, match="alpha"):
        ridge_var_granger(x, alpha=-1.0)
    with pytest.raises(DataValidationError, match="shop, time, node"):
        ridge_var_granger(x[0])
    with pytest.raises(DataValidationError, match="mask"):
        ridge_var_granger(x, mask=np.ones((1, 19), dtype=bool))


def test_registry():
    assert BASELINES["ridge_var_granger"] is ridge_var_granger


@pytest.mark.parametrize("mechanisms", ["per_shop", "shared"])
def test_ridge_auroc_on_simulated_data(mechanisms):
    sim = simulate("sim1", n_shops=20, n_channels=5, length=120, mechanisms=mechanisms, seed=0)
    start = time.perf_counter()
    scores = ridge_var_granger(sim.values, lags=3)
    elapsed = time.perf_counter() - start
    m = edge_metrics(scores, sim.adjacency)
    print(
        f"\nridge_var_granger sim1 d=5 T=120 N=20 {mechanisms}: "
        f"pooled AUROC {m['auroc_pooled']:.3f}, per-shop {m['auroc_per_shop_mean']:.3f} "
        f"({elapsed * 1e3:.1f} ms)"
    )
    assert m["auroc_pooled"] > 0.8
    assert m["auroc_per_shop_mean"] > 0.8


# --- PCMCI (ParCorr) baseline: optional dependency tigramite ---------------------


def _one_edge_var(n_shops: int = 3, length: int = 150, seed: int = 1) -> np.ndarray:
    """Three nodes, one lagged edge 0 -> 2 (lag 2); node 1 is independent noise."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n_shops, length, 3))
    x = np.zeros((n_shops, length, 3))
    for t in range(length):
        x[:, t, 0] = 0.4 * x[:, t - 1, 0] + e[:, t, 0] if t else e[:, t, 0]
        x[:, t, 1] = 0.4 * x[:, t - 1, 1] + e[:, t, 1] if t else e[:, t, 1]
        x[:, t, 2] = (0.7 * x[:, t - 2, 0] if t >= 2 else 0.0) + 0.5 * e[:, t, 2]
    return x


def test_pcmci_recovers_one_lagged_edge():
    pytest.importorskip("tigramite")
    from pyro_causalmmm.evaluation.baselines import pcmci_parcorr

    x = _one_edge_var()
    s = pcmci_parcorr(x, tau_max=3)
    assert s.shape == (3, 3, 3)
    assert np.all(np.diagonal(s, axis1=1, axis2=2) == 0)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    for shop in range(3):
        off = s[shop][~np.eye(3, dtype=bool)]
        assert s[shop, 0, 2] == off.max()
        assert s[shop, 0, 2] > 2 * np.sort(off)[-2]
    assert BASELINES["pcmci_parcorr"] is pcmci_parcorr


def test_pcmci_mask_and_bad_arguments():
    pytest.importorskip("tigramite")
    from pyro_causalmmm.evaluation.baselines import pcmci_parcorr

    x = _one_edge_var(n_shops=2, length=100)
    mask = np.ones((2, 100), dtype=bool)
    mask[:, 70:] = False
    mask[1] = False  # fully masked shop scores 0
    corrupted = x.copy()
    corrupted[:, 70:] = 1e6
    s = pcmci_parcorr(corrupted, mask=mask, tau_max=2, pc_alpha=0.2)
    np.testing.assert_allclose(s[0], pcmci_parcorr(x[:1, :70], tau_max=2, pc_alpha=0.2)[0])
    assert np.all(s[1] == 0)
    with pytest.raises(ConfigError, match="tau_max"):
        pcmci_parcorr(x, tau_max=0)
    with pytest.raises(ConfigError, match="pc_alpha"):
        pcmci_parcorr(x, pc_alpha=1.5)


def test_pcmci_without_tigramite_says_how_to_install(monkeypatch):
    import sys

    from pyro_causalmmm.evaluation.baselines import pcmci_parcorr

    monkeypatch.setitem(sys.modules, "tigramite", None)
    with pytest.raises(ConfigError, match=r"pyro_causalmmm\[bench\]"):
        pcmci_parcorr(_one_edge_var(n_shops=1, length=20))


# --- VAR F-test Granger (numpy; checked against statsmodels when installed) -------


def test_var_ftest_recovers_one_lagged_edge():
    from pyro_causalmmm.evaluation.baselines import var_ftest_granger

    x = _one_edge_var()
    for score in ("f", "1-p"):
        s = var_ftest_granger(x, lags=3, score=score)
        assert s.shape == (3, 3, 3)
        assert np.all(np.diagonal(s, axis1=1, axis2=2) == 0)
        assert np.all(np.isfinite(s)) and np.all(s >= 0)
        for shop in range(3):
            off = s[shop][~np.eye(3, dtype=bool)]
            assert s[shop, 0, 2] == off.max()
    f = var_ftest_granger(x, lags=3)
    assert np.all(f[:, 0, 2] > 20)  # an obvious edge: F far above the null's ~1
    assert BASELINES["var_ftest_granger"] is var_ftest_granger


def test_var_ftest_recovers_linear_chain_and_is_affine_invariant():
    from pyro_causalmmm.evaluation.baselines import var_ftest_granger

    x, adj = _linear_var(10, 200)
    assert edge_metrics(var_ftest_granger(x), adj)["auroc_pooled"] == 1.0
    scale = np.array([10.0, 0.1, 3.0])
    np.testing.assert_allclose(
        var_ftest_granger(x), var_ftest_granger(x * scale + 100.0), rtol=1e-6, atol=1e-9
    )


def test_var_ftest_mask_short_shop_and_bad_arguments():
    from pyro_causalmmm.evaluation.baselines import var_ftest_granger

    x, _ = _linear_var(2, 100)
    mask = np.ones((2, 100), dtype=bool)
    mask[:, 60:] = False
    mask[1, 5:] = False  # too few rows for the 10 parameters: scores 0
    corrupted = x.copy()
    corrupted[:, 60:] = 1e6
    s = var_ftest_granger(corrupted, mask=mask)
    np.testing.assert_allclose(s[0], var_ftest_granger(x[:1, :60])[0], rtol=1e-8)
    assert np.all(s[1] == 0)
    with pytest.raises(ConfigError, match="lags"):
        var_ftest_granger(x, lags=0)
    with pytest.raises(ConfigError, match="score"):
        var_ftest_granger(x, score="p")


def test_var_ftest_matches_statsmodels():
    pytest.importorskip("statsmodels", reason="statsmodels is in the bench extra only")
    from statsmodels.tsa.api import VAR

    from pyro_causalmmm.evaluation.baselines import var_ftest_granger

    x = _one_edge_var(n_shops=1, length=120)
    s = var_ftest_granger(x, lags=3)[0]
    res = VAR(x[0]).fit(3, trend="c")
    for cause, effect in [(0, 2), (1, 2), (2, 0), (0, 1)]:
        stat = res.test_causality(effect, cause, kind="f").test_statistic
        np.testing.assert_allclose(s[cause, effect], stat, rtol=1e-8)


# --- VARLiNGAM baseline: optional dependency lingam -------------------------------


def test_varlingam_recovers_one_lagged_edge():
    pytest.importorskip("lingam", reason="lingam is in the bench extra only")
    from pyro_causalmmm.evaluation.baselines import varlingam

    x = _one_edge_var()
    s = varlingam(x, lags=3)
    assert s.shape == (3, 3, 3)
    assert np.all(np.diagonal(s, axis1=1, axis2=2) == 0)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    for shop in range(3):
        off = s[shop][~np.eye(3, dtype=bool)]
        assert s[shop, 0, 2] == off.max()
        assert s[shop, 0, 2] > 2 * np.sort(off)[-2]
    assert BASELINES["varlingam"] is varlingam


def test_varlingam_mask_uses_longest_observed_run():
    pytest.importorskip("lingam", reason="lingam is in the bench extra only")
    from pyro_causalmmm.evaluation.baselines import varlingam

    x = _one_edge_var(n_shops=2, length=120)
    mask = np.ones((2, 120), dtype=bool)
    mask[:, 100:] = False
    mask[1, 5:] = False  # too short: scores 0
    corrupted = x.copy()
    corrupted[:, 100:] = 1e6
    s = varlingam(corrupted, mask=mask)
    np.testing.assert_allclose(s[0], varlingam(x[:1, :100])[0])
    assert np.all(s[1] == 0)


def test_varlingam_without_lingam_says_how_to_install(monkeypatch):
    import sys

    from pyro_causalmmm.evaluation.baselines import varlingam

    monkeypatch.setitem(sys.modules, "lingam", None)
    with pytest.raises(ConfigError, match=r"pyro_causalmmm\[bench\]"):
        varlingam(_one_edge_var(n_shops=1, length=20))
