"""Tests of the cMLP neural Granger baseline (benchmarks/cmlp.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cmlp import (  # noqa: E402
    DEFAULTS,
    cmlp_granger,
    fit_cmlp,
    group_soft_threshold,
    hierarchical_prox,
)

from pyro_causalmmm.evaluation.calibration import ranking_metrics  # noqa: E402
from pyro_causalmmm.simulate.lorenz import simulate_lorenz96  # noqa: E402

# small and fast: 4 shops, 8 ring nodes, T = 150 (about 1 s per fit on one thread)
SMALL = dict(hidden=16, lam=0.05, lr=0.1, epochs=300)


@pytest.fixture(scope="module")
def lorenz():
    sim = simulate_lorenz96(n_shops=4, n_nodes=8, length=150, seed=0)
    return sim.latent, np.asarray(sim.adjacency)


def test_lorenz_auroc_well_above_chance(lorenz):
    x, truth = lorenz
    fit = fit_cmlp(x, seed=0, **SMALL)
    auroc = ranking_metrics(fit["scores"], truth)["auroc_per_shop_mean"]
    assert auroc > 0.85, auroc  # measured 0.97; chance 0.5
    # the same networks untrained (scores = the random initial group norms) are near
    # chance: the threshold above is one that ignoring the data would fail
    untrained = fit_cmlp(x, seed=0, **{**SMALL, "epochs": 0})["scores"]
    assert ranking_metrics(untrained, truth)["auroc_per_shop_mean"] < 0.7
    # and so is a random score
    rng = np.random.default_rng(0)
    assert ranking_metrics(rng.random(truth.shape), truth)["auroc_per_shop_mean"] < 0.7
    assert fit["loss"][-1] < 0.5 * fit["loss"][0]


def test_shape_diagonal_and_determinism(lorenz):
    x, _ = lorenz
    a = cmlp_granger(x[:2, :60, :5], lags=3, hidden=4, epochs=20, seed=3)
    b = cmlp_granger(x[:2, :60, :5], lags=3, hidden=4, epochs=20, seed=3)
    assert a.shape == (2, 5, 5)
    assert np.all(np.diag(a[0]) == 0) and np.all(np.diag(a[1]) == 0)
    assert np.all(np.isfinite(a)) and np.all(a >= 0)
    np.testing.assert_array_equal(a, b)
    c = cmlp_granger(x[:2, :60, :5], lags=3, hidden=4, epochs=20, seed=4)
    assert not np.array_equal(a, c)


def test_cause_major_orientation():
    """Chain 0 -> 1 -> 2 with nonlinear lag-1 links: A[i, j] scores i causing j."""
    rng = np.random.default_rng(0)
    n, t = 3, 200
    x = np.zeros((n, t, 3))
    e = rng.normal(size=(n, t, 3))
    for k in range(1, t):
        x[:, k, 0] = 0.5 * x[:, k - 1, 0] + e[:, k, 0]
        x[:, k, 1] = np.tanh(2 * x[:, k - 1, 0]) + 0.3 * e[:, k, 1]
        x[:, k, 2] = -np.abs(x[:, k - 1, 1]) + 0.3 * e[:, k, 2]
    s = cmlp_granger(x, lags=2, hidden=8, lam=0.05, epochs=300, lr=0.1)
    assert np.all(s[:, 0, 1] > s[:, 1, 0])
    assert np.all(s[:, 1, 2] > s[:, 2, 1])
    assert np.all(s[:, 1, 2] > s[:, 0, 2])


def test_group_soft_threshold_zeroes_a_group_exactly():
    w = torch.zeros(2, 3, 4)  # (hidden, cause, lag); groups over dims (0, 2)
    w[:, 0, :] = 0.1  # norm sqrt(8) * 0.1 = 0.28 < 1: exactly 0
    w[:, 1, :] = 1.0  # norm sqrt(8) = 2.83: shrunk by 1 in norm
    out = group_soft_threshold(w, 1.0, dims=(0, 2))
    assert torch.count_nonzero(out[:, 0, :]) == 0
    assert torch.count_nonzero(out[:, 2, :]) == 0
    norm = torch.linalg.vector_norm(out[:, 1, :])
    assert float(norm) == pytest.approx(np.sqrt(8) - 1.0, rel=1e-6)
    # direction kept
    np.testing.assert_allclose(out[:, 1, :].numpy(), out[0, 1, 0].item(), rtol=1e-6)


def test_hierarchical_prox_drops_distant_lags_first():
    w = torch.ones(1, 2, 3)  # (hidden, cause, lag 1..3)
    w[:, 0, 2] = 0.2  # lag 3 of cause 0 is weak: its own group is zeroed
    out = hierarchical_prox(w, 0.3)
    assert out[0, 0, 2] == 0
    assert torch.all(out[0, 0, :2] > 0)
    assert torch.all(out[0, 1] > 0)
    # a huge threshold removes whole series
    assert torch.count_nonzero(hierarchical_prox(w, 10.0)) == 0


def test_fit_applies_the_prox_and_masks(lorenz):
    x, _ = lorenz
    x = x[:3, :80, :5]
    big = fit_cmlp(x, lags=2, hidden=4, epochs=30, lam=5.0, lr=0.1)
    assert np.count_nonzero(big["W1"]) == 0  # every group pruned: exact zeros
    assert np.all(big["scores"] == 0) and big["active_share"] == 0.0
    mask = np.ones(x.shape[:2], bool)
    mask[1] = False  # a shop without an observed step
    s = cmlp_granger(x, lags=2, hidden=4, epochs=10, mask=mask)
    assert np.all(s[1] == 0) and np.any(s[0] > 0)
    h = cmlp_granger(x, lags=2, hidden=4, epochs=10, penalty="H")
    assert h.shape == (3, 5, 5)


def test_defaults_are_documented():
    import cmlp

    doc = " ".join(cmlp.__doc__.split())
    for k, v in DEFAULTS.items():
        assert f"{k}={v!r}".replace("'", '"') in doc, k


def test_robustness_reuses_cmlp_rows_of_another_version(tmp_path, monkeypatch):
    """--baselines-from V1,V2: baseline rows (cmlp among them) of either version count, a
    CausalMMM row only at the current version; the current version wins, then V1."""
    import json

    import robustness

    assert "cmlp" in robustness.METHODS and "cmlp" in robustness.BASELINE_METHODS
    src = "fam-src"
    rows = [("cur", "causalmmm", 1), ("old", "causalmmm", 2), ("old", "ridge_var", 3),
            ("new", "cmlp", 4), ("old", "cmlp", 5), ("cur", "var_f_bic", 6),
            ("old", "var_f_bic", 7), ("other", "varlingam", 8)]
    path = tmp_path / "robustness" / "fam.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps({"family": "fam", "seed": 0, "method": m,
                                        "code_version": v, "quick": False,
                                        "families_source": src, "x": x}) + "\n"
                            for v, m, x in rows))
    monkeypatch.setattr(robustness, "parts_dir", lambda quick: tmp_path / "robustness")
    monkeypatch.setattr(robustness, "BASELINES_FROM", ("new", "old"))
    got = {k[2]: r["x"] for k, r in robustness.load_rows(False, "cur", src).items()}
    assert got == {"causalmmm": 1, "ridge_var": 3, "cmlp": 4, "var_f_bic": 6}
