"""Ranking and calibration metrics of edge probabilities (evaluation/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.evaluation.calibration import (
    auprc,
    base_rate_brier,
    brier,
    calibration_summary,
    decision_shares,
    ece,
    ranking_metrics,
    reliability,
)
from pyro_causalmmm.evaluation.metrics import edge_metrics


def _graphs(rng, shops=40, nodes=6, rate=0.3):
    y = (rng.random((shops, nodes, nodes)) < rate).astype(np.int8)
    y[:, np.arange(nodes), np.arange(nodes)] = 0
    return y


def test_calibrated_probabilities_have_ece_near_zero():
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(p.size) < p).astype(int)  # y ~ Bernoulli(p): calibrated by construction
    assert ece(p, y) < 0.01
    # the same outcomes with p squeezed toward 0.5 are miscalibrated
    squeezed = 0.5 + 0.2 * (p - 0.5)
    assert ece(squeezed, y) > 0.15


def test_probabilities_pushed_to_half_give_large_ece():
    rng = np.random.default_rng(1)
    y = _graphs(rng, rate=0.1)
    p = np.full(y.shape, 0.5)
    # every entry in one bin: ECE = |0.5 - base rate| (off-diagonal base rate)
    off = y[:, ~np.eye(6, dtype=bool)]
    assert ece(p, y) == pytest.approx(abs(0.5 - off.mean()))
    assert ece(p, y) > 0.3


def test_perfect_ranking_gives_auprc_one_and_random_about_base_rate():
    rng = np.random.default_rng(2)
    y = _graphs(rng)
    scores = y + 0.1 * rng.random(y.shape)  # every edge above every non-edge
    assert auprc(scores, y) == pytest.approx(1.0)
    m = ranking_metrics(scores, y)
    assert m["auprc_per_shop_mean"] == pytest.approx(1.0)
    assert m["auroc_per_shop_mean"] == pytest.approx(1.0)
    big = _graphs(rng, shops=400, rate=0.2)
    base = big[:, ~np.eye(6, dtype=bool)].mean()
    assert auprc(rng.random(big.shape), big) == pytest.approx(base, abs=0.03)


def test_auprc_hand_computed():
    # ranked: 1 (pos), 0.8 (neg), 0.6 (pos), 0.2 (neg)
    # thresholds: P = 1, R = 1/2; P = 1/2, R = 1/2; P = 2/3, R = 1; P = 1/2, R = 1
    # AP = 1/2 * 1 + 0 + 1/2 * 2/3 = 5/6
    assert auprc(np.array([1.0, 0.8, 0.6, 0.2]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # a tie between a positive and a negative enters as one threshold: P = 1/2 at R = 1
    assert auprc(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert np.isnan(auprc(np.array([0.1, 0.2]), np.array([0, 0])))


def test_auprc_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.random(500) < 0.3
    s = np.round(rng.random(500) + 0.5 * y, 2)  # with ties
    assert auprc(s, y) == pytest.approx(sk.average_precision_score(y, s))


def test_ranking_metrics_uses_off_diagonal_and_skips_one_class_shops():
    rng = np.random.default_rng(4)
    y = _graphs(rng, shops=10)
    y[3] = 0  # no edges: not in the per-shop mean
    s = rng.random(y.shape)
    s[:, np.arange(6), np.arange(6)] = 100.0  # diagonal ignored
    m = ranking_metrics(s, y)
    assert m["n_shops"] == 10 and m["n_shops_scored"] == 9
    ref = edge_metrics(s, y)
    assert m["auroc_per_shop_mean"] == pytest.approx(ref["auroc_per_shop_mean"])
    assert m["auroc_pooled"] == pytest.approx(ref["auroc_pooled"])
    keep = [i for i in range(10) if i != 3]
    per_shop = [auprc(s[i], y[i]) for i in keep]
    assert m["auprc_per_shop_mean"] == pytest.approx(np.mean(per_shop))


def test_reliability_and_ece_hand_computed():
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    y = np.array([0, 1, 0, 1, 1])
    table = reliability(p, y, bins=10)
    assert [r["count"] for r in table] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table[1]["mean_p"] == pytest.approx(0.15) and table[1]["frequency"] == 0.5
    assert np.isnan(table[2]["mean_p"]) and np.isnan(table[2]["frequency"])
    assert table[9]["mean_p"] == pytest.approx(0.975) and table[9]["frequency"] == 1.0
    # ECE = 1/5 * 0.05 + 2/5 * 0.35 + 2/5 * 0.025
    assert ece(p, y) == pytest.approx(0.01 + 0.14 + 0.01)
    # two bins: [0, 0.5) holds 0.05, 0.15, 0.15 (mean 0.35 ... freq 1/3)
    assert ece(p, y, bins=2) == pytest.approx(3 / 5 * abs(0.35 / 3 - 1 / 3) + 2 / 5 * 0.025)


def test_brier_and_base_rate_brier():
    p = np.array([0.9, 0.2, 0.6, 0.0])
    y = np.array([1, 0, 0, 0])
    assert brier(p, y) == pytest.approx((0.01 + 0.04 + 0.36 + 0.0) / 4)
    assert base_rate_brier(y) == pytest.approx(0.25 * 0.75)
    # the constant base-rate forecast scores exactly base_rate_brier
    rng = np.random.default_rng(5)
    g = _graphs(rng)
    pi = g[:, ~np.eye(6, dtype=bool)].mean()
    assert brier(np.full(g.shape, pi), g) == pytest.approx(base_rate_brier(g))


def test_decision_shares_hand_computed():
    p = np.array([0.95, 0.85, 0.8, 0.5, 0.2, 0.1, 0.05])
    y = np.array([1, 1, 0, 1, 0, 1, 0])
    d = decision_shares(p, y)
    assert d["n_present"] == 3 and d["n_present_real"] == 2
    assert d["present_real"] == pytest.approx(2 / 3)
    assert d["n_absent"] == 3 and d["n_absent_absent"] == 2
    assert d["absent_absent"] == pytest.approx(2 / 3)
    assert d["n_undecided"] == 1 and d["n"] == 7
    none = decision_shares(np.full(4, 0.5), np.array([0, 1, 0, 1]))
    assert np.isnan(none["present_real"]) and np.isnan(none["absent_absent"])


def test_graph_arrays_are_scored_off_diagonal():
    y = np.array([[[0, 1], [0, 0]]])
    p = np.array([[[0.0, 0.9], [0.3, 1.0]]])  # the diagonal 1.0 would be a false "present"
    assert brier(p, y) == pytest.approx((0.01 + 0.09) / 2)
    assert decision_shares(p, y)["n_present"] == 1
    s = calibration_summary(p, y)
    assert s["base_rate"] == 0.5 and s["decision"]["present_real"] == 1.0
    assert len(s["reliability"]) == 10


@pytest.mark.parametrize(
    "call",
    [
        lambda: ece(np.full((2, 3, 3), 0.5), np.zeros((2, 4, 4))),
        lambda: auprc(np.zeros(3), np.zeros(4)),
        lambda: brier(np.zeros((2, 3, 4)), np.zeros((2, 3, 4))),
        lambda: ece(np.array([0.5, 1.2]), np.array([0, 1])),
        lambda: brier(np.array([-0.1, 0.5]), np.array([0, 1])),
        lambda: decision_shares(np.array([0.5, np.nan]), np.array([0, 1])),
        lambda: auprc(np.array([0.5, 0.2]), np.array([0, 2])),
        lambda: ranking_metrics(np.zeros((3, 3)), np.zeros((2, 3, 3))),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(DataValidationError):
        call()


def test_bad_settings_raise():
    with pytest.raises(ConfigError):
        ece(np.array([0.5]), np.array([1]), bins=0)
    with pytest.raises(ConfigError):
        decision_shares(np.array([0.5]), np.array([1]), present=0.2, absent=0.8)
    assert issubclass(ConfigError, ValueError) and issubclass(DataValidationError, ValueError)
