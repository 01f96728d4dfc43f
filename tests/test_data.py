"""Tests of pyro_causalmmm.data.MarketingMixData: parsing, padding and every data rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError, DataValidationError

MERIDIAN = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "datasets"
    / "meridian_geo_full_funnel_data.csv"
)


def make_frame(
    shops=("A", "B"), length=12, start="2022-01-01", freq="D", seed=0, lengths=None
) -> pd.DataFrame:
    """Long frame: shop, time (ISO strings), tv_spend, impressions, gmv, size (static), temp."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, shop in enumerate(shops):
        n = length if lengths is None else lengths[k]
        times = pd.date_range(start, periods=n, freq=freq)
        for t, stamp in enumerate(times):
            rows.append(
                {
                    "shop": shop,
                    "time": stamp.strftime("%Y-%m-%d"),
                    "tv_spend": float(rng.uniform(0, 100)),
                    "impressions": float(rng.normal(0, 5)),
                    "gmv": float(100 * (k + 1) + t + rng.uniform(0, 10)),
                    "size": float(10 * (k + 1)),
                    "temp": float(rng.normal(20, 3)),
                }
            )
    return pd.DataFrame(rows)


def load(df: pd.DataFrame, **kwargs) -> MarketingMixData:
    kwargs.setdefault("context", ["size", "temp"])
    kwargs.setdefault("min_length", 5)
    return MarketingMixData.from_frame(df, target="gmv", **kwargs)


# ----------------------------------------------------------------------------- happy paths


def test_shapes_node_order_and_user_units():
    df = make_frame()
    data = load(df)
    assert data.values.shape == (2, 12, 3)
    assert data.node_names == ["tv_spend", "impressions", "gmv"]
    assert data.channel_names == ["tv_spend", "impressions"]
    assert data.target_name == "gmv"
    assert data.target_index == 2 == data.n_nodes - 1
    assert data.context_names == ["size", "temp"]
    assert data.context.shape == (2, 12, 2)
    assert data.shop_ids == ["A", "B"]
    assert (data.n_shops, data.n_time) == (2, 12)
    np.testing.assert_array_equal(data.values[0, :, 2], df.loc[df.shop == "A", "gmv"])
    assert data.mask.all()
    assert data.freq == pd.Timedelta(days=1)
    assert data.spend_names == ["tv_spend"]


def test_shops_are_sorted_and_rows_sorted_by_time():
    df = make_frame(shops=("B", "A")).sample(frac=1.0, random_state=1)
    data = load(df)
    assert data.shop_ids == ["A", "B"]
    assert data.times[0].is_monotonic_increasing
    expected = df[df.shop == "A"].sort_values("time")["tv_spend"].to_numpy()
    np.testing.assert_array_equal(data.values[0, :, 0], expected)


def test_shops_of_different_lengths_are_left_aligned_and_zero_padded():
    df = make_frame(shops=("A", "B"), lengths=(12, 8), start="2022-01-01")
    df.loc[df.shop == "B", "time"] = pd.date_range("2022-03-01", periods=8).strftime("%Y-%m-%d")
    data = load(df)
    assert data.lengths.tolist() == [12, 8]
    assert data.mask[1].tolist() == [True] * 8 + [False] * 4
    assert np.all(data.values[1, 8:] == 0) and np.all(data.context[1, 8:] == 0)
    assert data.times[1][0] == pd.Timestamp("2022-03-01")
    assert np.all(data.scaled_values[1, 8:] == 0) and np.all(data.scaled_context[1, 8:] == 0)


def test_default_channels_are_numeric_columns_in_file_order():
    df = make_frame()
    df["region"] = "north"  # text: not a channel
    df["Unnamed: 0"] = np.arange(len(df))  # a saved index: not a channel
    df.insert(2, "search", np.abs(np.random.default_rng(0).normal(size=len(df))))
    data = load(df, context=["temp"])
    assert data.channel_names == ["search", "tv_spend", "impressions", "size"]


def test_explicit_channels_keep_the_users_order():
    data = load(make_frame(), channels=["impressions", "tv_spend"])
    assert data.node_names == ["impressions", "tv_spend", "gmv"]


def test_static_context_is_repeated_over_time():
    data = load(make_frame())
    assert np.all(data.context[0, :, 0] == 10.0) and np.all(data.context[1, :, 0] == 20.0)
    assert data.static_context == ["size"]


def test_scaled_values_round_trip_to_user_units():
    data = load(make_frame(lengths=(12, 9)))
    back = data.scaling.inverse(data.scaled_values)
    np.testing.assert_allclose(back[data.mask], data.values[data.mask], rtol=1e-10)
    target = data.scaled_values[..., -1][data.mask]
    assert target.min() == pytest.approx(0.1) and target.max() == pytest.approx(0.9)


def test_yyyymmdd_integer_dates():
    df = make_frame()
    df["time"] = pd.to_datetime(df["time"]).dt.strftime("%Y%m%d").astype(int)
    data = load(df)
    assert isinstance(data.times[0], pd.DatetimeIndex)
    assert data.times[0][0] == pd.Timestamp("2022-01-01")
    assert data.freq == pd.Timedelta(days=1)


def test_yyyymmdd_text_dates():
    df = make_frame()
    df["time"] = pd.to_datetime(df["time"]).dt.strftime("%Y%m%d")
    assert load(df).times[1][-1] == pd.Timestamp("2022-01-12")


def test_invalid_yyyymmdd_is_an_error():
    df = make_frame()
    df["time"] = pd.to_datetime(df["time"]).dt.strftime("%Y%m%d").astype(int)
    df.loc[3, "time"] = 20221332
    with pytest.raises(DataValidationError, match="20221332 in data row 4"):
        load(df)


def test_integer_steps_and_future_times():
    df = make_frame()
    df["time"] = df.groupby("shop").cumcount() * 2 + 1
    data = load(df)
    assert data.freq == 2
    assert data.times[0].tolist() == list(range(1, 24, 2))
    assert data.future_times(0, 3).tolist() == [25, 27, 29]


def test_weekly_frequency_and_future_dates():
    data = load(make_frame(freq="7D"))
    assert data.freq == pd.Timedelta(days=7)
    future = data.future_times(1, 2)
    assert list(future) == [
        data.times[1][-1] + pd.Timedelta(days=7),
        data.times[1][-1] + pd.Timedelta(days=14),
    ]
    assert len(data.future_times(0, 0)) == 0


def test_monthly_dates_on_month_starts():
    data = load(make_frame(freq="MS"))
    assert isinstance(data.freq, pd.offsets.MonthBegin)
    assert data.future_times(0, 1)[0] == pd.Timestamp("2023-01-01")


def test_datetime_column_is_accepted():
    df = make_frame()
    df["time"] = pd.to_datetime(df["time"])
    assert load(df).times[0][0] == pd.Timestamp("2022-01-01")


def test_frequency_is_the_most_common_step_across_shops():
    df = make_frame(freq="7D")
    df = df.drop(index=[3])  # one 14-day step in shop A
    with pytest.raises(DataValidationError, match="frequency 7 days"):
        load(df)


# ----------------------------------------------------------------------------- gaps and fill


def _weekly_with_gap() -> pd.DataFrame:
    df = make_frame(freq="7D", start="2022-01-01")
    return df[~((df.shop == "A") & (df.time == "2022-01-29"))].reset_index(drop=True)


def test_gap_is_an_error_naming_shop_and_first_missing_date():
    with pytest.raises(DataValidationError) as info:
        load(_weekly_with_gap())
    message = str(info.value)
    assert message.startswith(
        "shop 'A': time grid has a gap; first missing time 2022-01-29 (frequency 7 days"
    )
    assert "fill='ffill'" in message and "--fill ffill" in message


def test_fill_ffill_carries_the_last_row_forward():
    df = _weekly_with_gap()
    data = load(df, fill="ffill")
    assert data.lengths.tolist() == [12, 12]
    assert data.times[0][4] == pd.Timestamp("2022-01-29")
    np.testing.assert_array_equal(data.values[0, 4], data.values[0, 3])
    np.testing.assert_array_equal(data.context[0, 4], data.context[0, 3])
    assert data.filled_steps.tolist() == [1, 0]
    assert "filled gaps: 1 steps" in data.summary()


def test_fill_zero_sets_nodes_to_zero_and_carries_context():
    data = load(_weekly_with_gap(), fill="zero")
    assert np.all(data.values[0, 4] == 0.0)
    np.testing.assert_array_equal(data.context[0, 4], data.context[0, 3])


def test_fill_interpolate_is_linear():
    data = load(_weekly_with_gap(), fill="interpolate")
    np.testing.assert_allclose(data.values[0, 4], (data.values[0, 3] + data.values[0, 5]) / 2)


def test_fill_on_month_ends_without_context():
    df = make_frame(freq="ME")
    df = df[df.time != "2022-05-31"]
    data = load(df, fill="interpolate", context=None)
    assert isinstance(data.freq, pd.offsets.MonthEnd)
    assert data.times[0][4] == pd.Timestamp("2022-05-31")
    assert data.context.shape == (2, 12, 0)


def test_hourly_timestamps():
    df = make_frame(freq="h")
    df["time"] = (
        pd.date_range("2022-01-01", periods=12, freq="h").strftime("%Y-%m-%dT%H:%M").tolist() * 2
    )
    data = load(df)
    assert data.freq == pd.Timedelta(hours=1)
    assert "1 hour (hourly)" in data.summary()


def test_unknown_fill_is_rejected():
    with pytest.raises(ConfigError, match="fill"):
        load(make_frame(), fill="bfill")


def test_step_off_the_grid_is_an_error_naming_the_shop():
    df = make_frame(freq="7D")
    df.loc[(df.shop == "B") & (df.time == "2022-01-15"), "time"] = "2022-01-17"
    with pytest.raises(DataValidationError, match="shop 'B': time 2022-01-17 is off the regular"):
        load(df, fill="ffill")


# ----------------------------------------------------------------------------- errors


def test_empty_frame():
    with pytest.raises(DataValidationError, match="empty"):
        load(make_frame().iloc[0:0])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"shop": "store"}, "missing shop column 'store'"),
        ({"time": "date"}, "missing time column 'date'"),
        ({"channels": ["tv_spend", "radio"]}, "missing channel column 'radio'"),
    ],
)
def test_missing_column(kwargs, pattern):
    with pytest.raises(DataValidationError, match=pattern):
        load(make_frame(), **kwargs)


def test_missing_target_column():
    with pytest.raises(DataValidationError, match="missing target column 'sales'.*--target"):
        MarketingMixData.from_frame(make_frame(), target="sales")


def test_unknown_context_column():
    with pytest.raises(DataValidationError, match="unknown context column 'weather'"):
        load(make_frame(), context=["weather"])


def test_non_numeric_value_names_column_and_row():
    df = make_frame()
    df["tv_spend"] = df["tv_spend"].astype(object)
    df.loc[6, "tv_spend"] = "1,234"
    with pytest.raises(
        DataValidationError, match=r"'tv_spend' has a non-numeric value '1,234' in data row 7"
    ):
        load(df)


def test_non_numeric_context_value():
    df = make_frame()
    df["temp"] = df["temp"].astype(object)
    df.loc[2, "temp"] = "warm"
    with pytest.raises(DataValidationError, match="context column 'temp'.*data row 3"):
        load(df)


def test_nan_names_column_shop_and_row():
    df = make_frame()
    df.loc[14, "impressions"] = np.nan
    with pytest.raises(
        DataValidationError, match=r"'impressions' has a missing value .* shop 'B', data row 15"
    ):
        load(df)


def test_inf_is_an_error():
    df = make_frame()
    df.loc[1, "temp"] = np.inf
    with pytest.raises(
        DataValidationError, match="'temp' has an infinite value in shop 'A', data row 2"
    ):
        load(df)


def test_negative_spend_is_an_error():
    df = make_frame()
    df.loc[5, "tv_spend"] = -3.0
    with pytest.raises(
        DataValidationError, match="spend column 'tv_spend' is negative.*data row 6"
    ):
        load(df)


def test_cost_columns_count_as_spend_case_insensitively():
    df = make_frame().rename(columns={"tv_spend": "TV_Cost"})
    df.loc[0, "TV_Cost"] = -1.0
    with pytest.raises(DataValidationError, match="'TV_Cost' is negative"):
        load(df)


def test_signed_non_spend_channels_are_accepted():
    df = make_frame()
    assert (df["impressions"] < 0).any()
    assert load(df).values.min() < 0


def test_explicit_spend_argument_overrides_the_name_rule():
    df = make_frame()
    df.loc[0, "tv_spend"] = -1.0
    assert load(df, spend=[]).spend_names == []
    with pytest.raises(DataValidationError, match="'impressions' is negative"):
        load(make_frame(), spend=["impressions"])
    with pytest.raises(DataValidationError, match="not a channel"):
        load(make_frame(), spend=["temp"])


def test_negative_target_is_an_error():
    df = make_frame()
    df.loc[13, "gmv"] = -5.0
    with pytest.raises(DataValidationError, match="target 'gmv' is negative.*shop 'B'"):
        load(df)


def test_duplicate_shop_time_rows_name_shop_and_time():
    df = make_frame()
    df = pd.concat([df, df.iloc[[15]]], ignore_index=True)
    with pytest.raises(
        DataValidationError, match=r"shop 'B' has 2 rows for time 2022-01-04 \(data rows 16, 25\)"
    ):
        load(df)


def test_constant_target_in_a_shop_names_the_shop():
    df = make_frame()
    df.loc[df.shop == "B", "gmv"] = 42.0
    with pytest.raises(DataValidationError, match="shop 'B': target 'gmv' is constant"):
        load(df)


def test_fewer_than_two_nodes():
    df = make_frame()[["shop", "time", "gmv"]]
    with pytest.raises(DataValidationError, match="fewer than 2 nodes"):
        MarketingMixData.from_frame(df, min_length=5)
    with pytest.raises(DataValidationError, match="fewer than 2 nodes"):
        load(make_frame(), channels=[])


def test_short_shop_names_shop_and_length():
    df = make_frame(lengths=(12, 4))
    with pytest.raises(DataValidationError, match="shop 'B' has only 4 time steps; at least 5"):
        load(df)


def test_target_listed_as_channel():
    with pytest.raises(DataValidationError, match="target 'gmv' is also listed as a channel"):
        load(make_frame(), channels=["tv_spend", "gmv"])


def test_unparseable_time_names_column_and_value():
    df = make_frame()
    df.loc[7, "time"] = "next tuesday"
    with pytest.raises(
        DataValidationError, match="time column 'time'.*'next tuesday' in data row 8"
    ):
        load(df)


def test_missing_time_and_shop_values():
    df = make_frame()
    df.loc[2, "time"] = None
    with pytest.raises(DataValidationError, match="time column 'time' is empty in data row 3"):
        load(df)
    df = make_frame()
    df.loc[4, "shop"] = None
    with pytest.raises(DataValidationError, match="shop column 'shop' is empty in data row 5"):
        load(df)


def test_min_length_must_be_at_least_2():
    with pytest.raises(ConfigError, match="min_length"):
        load(make_frame(), min_length=1)


def test_duplicate_header_is_an_error():
    df = make_frame()
    df.columns = [*df.columns[:-1], "size"]
    with pytest.raises(DataValidationError, match="'size' appears twice"):
        load(df, context=[])


# ----------------------------------------------------------------------------- container


def test_container_is_frozen_and_read_only():
    data = load(make_frame())
    with pytest.raises(AttributeError):
        data.values = np.zeros(1)  # type: ignore[misc]
    with pytest.raises(ValueError):
        data.values[0, 0, 0] = 1.0


def test_subset_keeps_scaling_rows_and_trims_time():
    data = load(make_frame(shops=("A", "B", "C"), lengths=(12, 7, 9)))
    sub = data.subset([2, 1])
    assert sub.shop_ids == ["C", "B"]
    assert sub.n_time == 9
    np.testing.assert_array_equal(sub.scaling.loc, data.scaling.loc[[2, 1]])
    np.testing.assert_array_equal(sub.scaled_values, data.scaled_values[[2, 1], :9])
    with pytest.raises(ConfigError):
        data.subset([3])
    with pytest.raises(ConfigError):
        data.subset([0, 0])


def test_shop_index_lookup():
    data = load(make_frame())
    assert data.shop_index("B") == 1
    with pytest.raises(DataValidationError, match="unknown shop 'Z'"):
        data.shop_index("Z")


def test_summary_mentions_the_essentials():
    text = load(make_frame(lengths=(12, 9))).summary()
    assert "2 shops" in text and "9 to 12 time steps" in text and "1 day (daily)" in text
    assert "target: gmv" in text and "tv_spend" in text and "context (2)" in text
    assert "[0.1, 0.9]" in text


# ----------------------------------------------------------------------------- files


def test_from_csv_with_bom_header_and_text_shop_ids(tmp_path):
    df = make_frame(shops=("007", "010"))
    path = tmp_path / "data.csv"
    path.write_bytes(df.to_csv(index=False).encode("utf-8-sig"))
    data = MarketingMixData.from_csv(path, target="gmv", context=["size"], min_length=5)
    assert data.shop_ids == ["007", "010"]
    assert data.node_names == ["tv_spend", "impressions", "temp", "gmv"]


def test_from_csv_wrong_shop_column_names_it(tmp_path):
    path = tmp_path / "data.csv"
    make_frame().to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="missing shop column 'store'"):
        MarketingMixData.from_csv(path, shop="store")


def test_from_csv_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="not found"):
        MarketingMixData.from_csv(tmp_path / "nope.csv")


def test_from_csv_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        MarketingMixData.from_csv(path)


def test_meridian_file_validates():
    if not MERIDIAN.is_file():
        pytest.skip(f"real-format dataset not present at {MERIDIAN} (only in developer checkouts)")
    data = MarketingMixData.from_csv(MERIDIAN, shop="geo", target="conversions")
    assert data.values.shape == (20, 156, 7)  # 3 impressions, 3 spends, the target
    assert data.target_name == "conversions"
    assert data.control_names == ["BrandedGQV_control", "GenericGQV_control"]
    assert data.context[..., data.context_names.index("GenericGQV_control")].min() < 0
    assert data.revenue_per_unit is not None and (data.revenue_per_unit[data.mask] > 0).all()
    assert "population" not in data.channel_names
    assert data.spend_names == [
        "AwarenessVideo_spend",
        "PerformanceDisplay_spend",
        "PerformanceNative_spend",
    ]
    assert data.freq == pd.Timedelta(days=7)
    assert np.isfinite(data.scaled_values).all()


def _one_brand_frame(n=30):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "DATE": pd.date_range("2020-01-06", periods=n, freq="W-MON").strftime("%Y-%m-%d"),
            "tv_S": rng.gamma(2.0, 10.0, n),
            "revenue": 100 + rng.normal(0, 5, n).cumsum() + 50,
        }
    )


def test_a_file_without_shop_column_is_one_shop_named_after_it(tmp_path):
    path = tmp_path / "brand_weekly.csv"
    _one_brand_frame().to_csv(path, index=False)
    data = MarketingMixData.from_csv(path, time="DATE", target="revenue")
    assert data.shop_ids == ["brand_weekly"] and data.n_shops == 1
    assert data.channel_names == ["tv_S"]
    assert "brand_weekly" in data.summary()


def test_a_frame_without_shop_column_is_one_shop():
    data = MarketingMixData.from_frame(_one_brand_frame(), time="DATE", target="revenue")
    assert data.shop_ids == ["all"] and data.node_names == ["tv_S", "revenue"]
    named = MarketingMixData.from_frame(
        _one_brand_frame(), time="DATE", target="revenue", one_shop="brand_x"
    )
    assert named.shop_ids == ["brand_x"]


def test_a_named_shop_column_that_is_missing_is_still_an_error():
    with pytest.raises(DataValidationError, match="missing shop column 'geo'"):
        MarketingMixData.from_frame(_one_brand_frame(), shop="geo", time="DATE", target="revenue")
