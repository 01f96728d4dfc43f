"""Tests of the edge and forecast metrics, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyro_causalmmm.errors import DataValidationError
from pyro_causalmmm.evaluation.metrics import auroc, edge_metrics, mape, mse, off_diagonal


def test_auroc_perfect():
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0


def test_auroc_inverted():
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0


def test_auroc_hand_example():
    # Pairs (pos, neg): (0.35 vs 0.1, 0.4): 1 of 2; (0.8 vs 0.1, 0.4): 2 of 2 -> 3/4.
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75


def test_auroc_ties_count_half():
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), np.array([0, 1, 0, 1])) == 0.5
    # pos {0.5, 0.9}, neg {0.5, 0.1}: pairs 0.5~0.5 -> .5, 0.5>0.1 -> 1, 0.9 wins both -> 3.5/4.
    assert auroc(np.array([0.5, 0.9, 0.5, 0.1]), np.array([1, 1, 0, 0])) == 0.875


def test_auroc_single_class_is_nan():
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([1, 1])))
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([0, 0])))


def test_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = rng.random(200) < 0.3
    pos, neg = s[y][:, None], s[~y][None, :]
    expected = ((pos > neg) + 0.5 * (pos == neg)).mean()
    assert auroc(s, y) == pytest.approx(expected)


def test_auroc_rejects_bad_input():
    with pytest.raises(DataValidationError):
        auroc(np.zeros(3), np.zeros(4))
    with pytest.raises(DataValidationError):
        auroc(np.array([np.nan, 1.0]), np.array([0, 1]))


def test_off_diagonal():
    a = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(off_diagonal(a), [1, 2, 3, 5, 6, 7])


def test_edge_metrics_ignores_diagonal():
    truth = np.array([[[0, 1], [0, 0]]])
    scores = np.array([[[-5.0, 0.9], [0.2, 9.0]]])  # diagonal would ruin it if counted
    m = edge_metrics(scores, truth)
    assert m["auroc_pooled"] == 1.0
    assert m["auroc_per_shop_mean"] == 1.0
    assert m["acc"] == 1.0
    assert m["n_shops"] == 1 and m["n_shops_scored"] == 1


def test_edge_metrics_pooled_vs_per_shop_hand_example():
    truth = np.zeros((3, 3, 3), dtype=int)
    truth[0, 0, 1] = 1
    truth[1, 1, 2] = 1
    # shop 2 has no edge: skipped in the per-shop mean, counted in pooled.
    scores = np.zeros((3, 3, 3))
    scores[0] = [[0, 0.6, 0.1], [0.1, 0, 0.1], [0.1, 0.1, 0]]  # shop AUROC 1
    scores[1] = [[0, 0.9, 0.9], [0.9, 0, 0.4], [0.9, 0.9, 0]]  # shop AUROC 0
    scores[2] = 0.3
    m = edge_metrics(scores, truth)
    assert m["auroc_per_shop_mean"] == 0.5
    assert m["n_shops"] == 3 and m["n_shops_scored"] == 2
    # Pooled: positives 0.6, 0.4; negatives: shop0 5x0.1, shop1 5x0.9, shop2 6x0.3 (16).
    # 0.6 beats 0.1 (5) and 0.3 (6) -> 11; 0.4 beats 0.1 (5) and 0.3 (6) -> 11.
    assert m["auroc_pooled"] == pytest.approx(22 / 32)
    # acc at >= 0.5: shop0 all right (6), shop1 0.9 negatives wrong (5) + 0.4 miss -> 0,
    # shop2 all right (6): 12 / 18.
    assert m["acc"] == pytest.approx(12 / 18)


def test_edge_metrics_single_class_everywhere():
    m = edge_metrics(np.random.default_rng(0).random((2, 3, 3)), np.zeros((2, 3, 3)))
    assert math.isnan(m["auroc_pooled"]) and math.isnan(m["auroc_per_shop_mean"])
    assert m["n_shops_scored"] == 0


def test_edge_metrics_accepts_one_shop_2d():
    m = edge_metrics(np.array([[0, 0.8], [0.1, 0]]), np.array([[0, 1], [0, 0]]))
    assert m["auroc_pooled"] == 1.0 and m["n_shops"] == 1


def test_edge_metrics_shape_mismatch():
    with pytest.raises(DataValidationError, match="shape"):
        edge_metrics(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))


def test_mse_and_mask():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    obs = np.array([[1.0, 0.0], [3.0, 0.0]])
    assert mse(pred, obs) == pytest.approx((4 + 16) / 4)
    assert mse(pred, obs, mask=np.array([[True, False], [True, False]])) == 0.0
    assert math.isnan(mse(pred, obs, mask=np.zeros((2, 2), dtype=bool)))


def test_mse_leading_axes_mask():
    pred = np.ones((2, 3, 4))
    obs = np.zeros((2, 3, 4))
    obs[1] = 1.0
    assert mse(pred, obs, mask=np.array([[False] * 3, [True] * 3])) == 0.0
    with pytest.raises(DataValidationError, match="mask"):
        mse(pred, obs, mask=np.ones((3, 2), dtype=bool))


def test_mape_skips_zero_obs():
    pred = np.array([110.0, 90.0, 5.0])
    obs = np.array([100.0, 100.0, 0.0])
    assert mape(pred, obs) == pytest.approx(10.0)
    assert math.isnan(mape(np.ones(2), np.zeros(2)))


def test_forecast_metrics_shape_mismatch():
    with pytest.raises(DataValidationError, match="shapes differ"):
        mse(np.zeros(3), np.zeros(4))
