"""Column roles (``pyro_causalmmm.data.roles``): Robyn and Meridian naming conventions,
every column of a file gets one line, nothing is left out silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.data.roles import is_spend_name, proposed_role


@pytest.mark.parametrize(
    "name, role",
    [
        ("tv_S", "spend"),
        ("facebook_I", "impressions"),
        ("search_clicks_P", "paid-media metric, e.g. clicks"),
        ("competitor_sales_B", "control: a baseline variable"),
        ("Channel0_spend", "spend"),
        ("Channel3_impression", "impressions"),
        ("sentiment_score_control", "control"),
        ("population", "scale: the geo's population"),
        ("revenue_per_conversion", "scale: revenue per conversion"),
        ("brand_cost", "spend"),
        ("newsletter", None),
        ("_S", None),  # a bare suffix is not a name
    ],
)
def test_proposed_roles(name, role):
    got = proposed_role(name)
    assert (got[0] if got else None) == role
    assert is_spend_name(name) == (role == "spend")


def _robyn_like(n=40):
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "DATE": pd.date_range("2020-01-06", periods=n, freq="W-MON"),
            "revenue": 1000 + rng.gamma(3, 50, n),
            "tv_S": rng.gamma(2, 10, n),
            "facebook_I": rng.gamma(2, 1000, n),
            "competitor_sales_B": rng.normal(0, 1, n),
            "events": rng.choice(["na", "event1"], n),
            "newsletter": rng.gamma(1, 5, n),
        }
    )


def test_every_column_has_a_line_and_text_and_control_columns_become_controls():
    data = MarketingMixData.from_frame(_robyn_like(), time="DATE", target="revenue")
    roles = data.column_roles
    assert list(roles) == list(_robyn_like().columns)  # the file's columns, in order
    assert data.spend_names == ["tv_S"]
    assert roles["tv_S"].startswith("spend channel")
    assert "indicator" in roles["events"] and "events=event1" in roles["events"]
    assert roles["competitor_sales_B"].startswith("control") and "_B" in roles["competitor_sales_B"]
    assert "events" not in data.channel_names
    assert "competitor_sales_B" not in data.channel_names
    assert data.control_names == ["competitor_sales_B", "events=event1"]
    ind = data.context[0, :, data.context_names.index("events=event1")]
    assert set(np.unique(ind)) <= {0.0, 1.0}
    expect = (_robyn_like()["events"] == "event1").to_numpy(dtype=float)
    np.testing.assert_array_equal(ind, expect)
    summary = data.summary()
    assert all(f"    {c}: " in summary for c in roles)


def test_negative_robyn_spend_is_refused_like_any_spend():
    df = _robyn_like()
    df.loc[3, "tv_S"] = -1.0
    with pytest.raises(Exception, match="tv_S"):
        MarketingMixData.from_frame(df, time="DATE", target="revenue")


def test_columns_not_among_explicit_channels_say_so():
    data = MarketingMixData.from_frame(
        _robyn_like(), time="DATE", target="revenue", channels=["tv_S"]
    )
    assert data.column_roles["newsletter"].startswith("left out: not among --channels")
    assert data.control_names == []  # explicit channels: nothing becomes a control silently
    assert "--controls" in data.column_roles["competitor_sales_B"]
