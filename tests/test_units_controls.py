"""Controls (additive baseline columns, text as indicators) and target units (revenue per
conversion) in the data import, the fit and the decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.errors import DataValidationError


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 10.0, n)
    conv = 100 + 2.0 * spend + rng.normal(0, 5, n)
    return pd.DataFrame(
        {
            "week": pd.date_range("2021-01-04", periods=n, freq="W-MON"),
            "tv_spend": spend,
            "conversions": conv,
            "price_control": rng.normal(10, 1, n),
            "holiday": rng.choice(["none", "xmas", "easter"], n, p=[0.8, 0.1, 0.1]),
            "revenue_per_conversion": np.full(n, 3.0),
        }
    )


def test_meridian_style_columns_get_their_roles():
    data = MarketingMixData.from_frame(_frame(), time="week", target="conversions")
    assert data.channel_names == ["tv_spend"]
    assert data.control_names == ["price_control", "holiday=easter", "holiday=xmas"]
    np.testing.assert_allclose(data.unit_values[data.mask], 3.0)
    assert data.value_unit == "revenue"
    assert "revenue_per_conversion" in data.column_roles


def test_revenue_per_unit_number_and_errors():
    df = _frame().drop(columns="revenue_per_conversion")
    data = MarketingMixData.from_frame(df, time="week", target="conversions", revenue_per_unit=2.5)
    np.testing.assert_allclose(data.unit_values[data.mask], 2.5)
    plain = MarketingMixData.from_frame(df, time="week", target="conversions")
    assert plain.revenue_per_unit is None and plain.value_unit == "conversions"
    bad = _frame()
    bad.loc[5, "revenue_per_conversion"] = 0.0
    with pytest.raises(DataValidationError, match="row 6"):
        MarketingMixData.from_frame(bad, time="week", target="conversions")
    with pytest.raises(DataValidationError, match="no_such"):
        MarketingMixData.from_frame(
            df, time="week", target="conversions", revenue_per_unit="no_such"
        )
    with pytest.raises(DataValidationError, match="> 0"):
        MarketingMixData.from_frame(df, time="week", target="conversions", revenue_per_unit=-1)


def test_control_errors_name_the_column():
    df = _frame()
    with pytest.raises(DataValidationError, match="nope"):
        MarketingMixData.from_frame(df, time="week", target="conversions", controls=["nope"])
    df["note"] = [f"free text {i}" for i in range(len(df))]
    with pytest.raises(DataValidationError, match="'note'"):
        MarketingMixData.from_frame(df, time="week", target="conversions")
    none = MarketingMixData.from_frame(
        df.drop(columns="note"), time="week", target="conversions", controls=[]
    )
    assert none.control_names == [] and "price_control" in none.channel_names


def test_contributions_scale_with_the_revenue_per_unit():
    """Same model, same draws: the contributions in revenue are the target-unit ones times
    the (constant) revenue per unit, and ROAS with them."""
    from pyro_causalmmm.decisions.contributions import DecisionConfig, contributions

    df = _frame(60)
    data_rev = MarketingMixData.from_frame(df, time="week", target="conversions")
    data_units = MarketingMixData.from_frame(
        df.drop(columns="revenue_per_conversion"), time="week", target="conversions"
    )
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data_units, TrainConfig(epochs=2, seed=0))
    cfg = DecisionConfig(draws=8, seed=0)
    a = contributions(mmm, data_units, config=cfg).table
    b = contributions(mmm, data_rev, config=cfg).table
    np.testing.assert_allclose(b["contribution"], 3.0 * a["contribution"], rtol=1e-6)
    np.testing.assert_allclose(b["roas"], 3.0 * a["roas"], rtol=1e-6)
    assert mmm.config.controls == ("price_control", "holiday=easter", "holiday=xmas")
