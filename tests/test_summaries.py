"""Edge, pooled, coverage and forecast tables from an InferenceData."""

from __future__ import annotations

import numpy as np
import pytest
from fake_idata import fake_inference_data

from pyro_causalmmm.posterior import summaries


def test_decide_thresholds_are_inclusive_and_validated():
    labels = summaries.decide(np.array([0.8, 0.79, 0.2, 0.21, 1.0, 0.0]))
    assert list(labels) == ["present", "uncertain", "absent", "uncertain", "present", "absent"]
    with pytest.raises(ValueError, match="absent < present"):
        summaries.decide(np.array([0.5]), present=0.3, absent=0.4)


def test_edge_table_columns_counts_and_hdi():
    idata = fake_inference_data(n_shops=3, n_channels=3)
    table = summaries.edge_table(idata)
    assert list(table.columns[:4]) == ["shop", "cause", "effect", "p_edge"]
    assert len(table) == 3 * 4 * 3  # shops x off-diagonal edges
    assert (table["cause"] != table["effect"]).all()
    # relaxed edge weights are bimodal, so the mean may sit outside the HDI
    assert (table["weight_hdi_low"] <= table["weight_hdi_high"]).all()
    assert table[["weight_mean", "weight_hdi_low", "weight_hdi_high"]].stack().between(0, 1).all()
    p = idata["edges"]["edge_probability"].values
    row = table.iloc[5]
    s = list(idata["edges"]["shop"].values).index(row["shop"])
    nodes = list(idata["edges"]["cause"].values)
    assert row["p_edge"] == p[s, nodes.index(row["cause"]), nodes.index(row["effect"])]
    present = table[table["decision"] == "present"].groupby(["cause", "effect"]).size()
    for (c, e), n in present.items():
        assert (table[(table.cause == c) & (table.effect == e)]["shops_present"] == n).all()


def test_pooled_edges_sum_to_shops_and_sort():
    table = summaries.edge_table(fake_inference_data(n_shops=4))
    pooled = summaries.pooled_edges(table)
    assert (pooled[["present", "uncertain", "absent"]].sum(axis=1) == 4).all()
    assert pooled["mean_p_edge"].is_monotonic_decreasing


def test_forecast_table_columns_and_rows():
    idata = fake_inference_data(n_shops=3, horizon=7)
    table = summaries.forecast_table(idata)
    assert list(table.columns) == [
        "shop",
        "time",
        "target_mean",
        "hdi_50_low",
        "hdi_50_high",
        "hdi_90_low",
        "hdi_90_high",
    ]
    assert len(table) == 3 * 7
    assert (table["hdi_90_low"] <= table["hdi_50_low"]).all()
    assert (table["hdi_50_high"] <= table["hdi_90_high"]).all()
    with pytest.raises(ValueError, match="no forecast"):
        summaries.forecast_table(fake_inference_data(with_predictions=False))


def test_ppc_coverage_reports_both_levels():
    cov = summaries.ppc_coverage(fake_inference_data())
    assert set(cov) == {0.5, 0.9}
    assert 0 <= cov[0.5] <= cov[0.9] <= 1
