"""Column roles and cell checks of the importer: which columns are channels, target,
context and spend; numeric conversion with messages that name the column, shop and row;
finite, magnitude and sign checks.
"""


from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.roles import is_spend_name
from pyro_causalmmm.errors import DataValidationError

FILL_METHODS = ("ffill", "zero", "interpolate")
"""Allowed values of ``fill``."""

SPEND_PATTERN = re.compile(r"spend|cost", re.IGNORECASE)
DEFAULT_SHOP = "shop"  # the shop column taken when none is named
ONE_SHOP = "all"  # id of the one shop of a frame without a shop column
ONE_SHOP_COLUMN = "\x00shop"  # the column that holds it (no user column is named so)
"""Channel names matching this are spend columns (checked >= 0) unless ``spend`` is given;
so are Robyn's ``*_S`` and Meridian's ``*_spend`` (see ``data.roles.is_spend_name``)."""

Freq = pd.Timedelta | pd.offsets.BaseOffset | int
"""Time step: a `pd.Timedelta` (daily, weekly, ...), a calendar-month offset, or an int step."""

_MAX_GRID = 10_000_000
_MAX_ABS = 1e100  # larger values overflow the squares in the scaling (float64 max ~1.8e308)
_MAX_INT_TIME = 10**18  # integer steps: differences stay inside int64
_MIN_TARGET_SPREAD = 1e-9  # relative: a smaller target range is float rounding, not signal
_YEARS = (1900, 2100)  # dates outside are typos (and would overflow ns differences)
_INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_FORMATTED_NUMBER = re.compile(r"^\s*[+-]?[\d.]*\d[\d.]*(,[\d.]*\d[\d.]*)+\s*$")
_DAY_MONTH_DATE = re.compile(r"^\s*\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")
_SHOW = 6  # names listed in messages and summaries before "..."


# ----------------------------------------------------------------------------- formatting


def _fmt_time(value: Any) -> str:
    """A time label as users wrote it: ``2022-01-29`` for midnight dates, else ISO or int."""
    if isinstance(value, pd.Timestamp):
        if value == value.normalize():
            return value.strftime("%Y-%m-%d")
        return value.isoformat()
    if isinstance(value, np.integer | int):
        return str(int(value))
    return str(value)


def describe_freq(freq: Freq, label: bool = True) -> str:
    """Human description of a frequency, e.g. ``7 days (weekly)`` (``7 days`` without label)."""
    if isinstance(freq, pd.Timedelta):
        if freq % pd.Timedelta(days=1) == pd.Timedelta(0):
            days = freq.days
            suffix = {1: " (daily)", 7: " (weekly)"}.get(days, "") if label else ""
            return f"{days} day{'s' if days != 1 else ''}{suffix}"
        if freq % pd.Timedelta(hours=1) == pd.Timedelta(0):
            hours = int(freq / pd.Timedelta(hours=1))
            suffix = " (hourly)" if hours == 1 and label else ""
            return f"{hours} hour{'s' if hours != 1 else ''}{suffix}"
        return str(freq)
    if isinstance(freq, pd.offsets.MonthBegin):
        return "1 month (month starts)"
    if isinstance(freq, pd.offsets.MonthEnd):
        return "1 month (month ends)"
    if isinstance(freq, pd.offsets.BaseOffset):
        return freq.freqstr
    return f"{int(freq)} step{'s' if int(freq) != 1 else ''}"


def _fmt_names(names: Sequence[Any], limit: int = _SHOW) -> str:
    shown = ", ".join(repr(n) if not isinstance(n, str) else n for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown or "none"


def _shop(shop_id: Any) -> str:
    return f"shop {_cell(shop_id)}"


def _cell(value: Any) -> str:
    """``repr`` of a cell as users wrote it: ``3.5``, not ``np.float64(3.5)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


# ----------------------------------------------------------------------------- column selection


def _looks_numeric(series: pd.Series) -> bool:
    """True for numeric (non-bool) dtypes, and for text columns whose values are mostly numbers."""
    if pd.api.types.is_bool_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series):
        return bool(series.notna().any())
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return False
    present = series.dropna()
    if present.empty:
        return False
    text = present.astype(str)
    # "1,234" and "2,5" are numbers in a spreadsheet's format: count them, so the column
    # becomes a channel and the bad format is reported instead of the column vanishing
    numbers = ~np.isnan(_to_float(text)) | text.str.match(_FORMATTED_NUMBER).to_numpy(bool)
    return bool(numbers.mean() >= 0.5)


def _to_float(values: pd.Series) -> np.ndarray:
    """``(row,)`` float64 of a text/object column; NaN where a cell is not a number.

    Never raises: Python ints too large for a float become +-inf (reported as infinite
    later), complex numbers and other objects become NaN (reported as non-numeric).
    """
    try:
        parsed = pd.to_numeric(values, errors="coerce")
        if not pd.api.types.is_complex_dtype(parsed):
            return parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    except (OverflowError, TypeError, ValueError):
        pass
    out = np.full(len(values), np.nan)
    items = values.tolist()
    text = [i for i, v in enumerate(items) if isinstance(v, str)]
    if text:
        parsed = pd.to_numeric(pd.Series([items[i] for i in text], dtype=object), errors="coerce")
        out[text] = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    for i, v in enumerate(items):
        if isinstance(v, bool | np.bool_ | int | float | np.integer | np.floating):
            try:
                out[i] = float(v)
            except OverflowError:
                out[i] = np.inf if v > 0 else -np.inf
    return out


def _number_hint(value: Any) -> str:
    """Extra advice for a cell that is not a plain number."""
    if isinstance(value, str) and _FORMATTED_NUMBER.match(value):
        return (
            " (it looks like a number with a thousands separator or a decimal comma; export "
            "plain numbers with '.' as the decimal point, e.g. 1234.5)"
        )
    return ""


def _as_name_list(names: Any, what: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        return [names]
    if isinstance(names, dict) or not isinstance(names, Iterable):
        arg = {"channel": "channels"}.get(what, what)
        raise DataValidationError(
            f"{arg}= must be a list of column names, got {names!r}; pass e.g. {arg}=['a', 'b']"
        )
    out = list(names)
    for name in out:
        if not isinstance(name, str):
            raise DataValidationError(f"{what} names must be strings, got {name!r}")
    return out


def _require_column(df: pd.DataFrame, name: str, role: str, hint: str) -> None:
    if name not in df.columns:
        raise DataValidationError(
            f"missing {role} column {name!r}; the data has columns "
            f"{_fmt_names([str(c) for c in df.columns], 20)}. Pass {hint}"
        )


def _select_columns(
    df: pd.DataFrame,
    shop: str,
    time: str,
    target: str,
    channels: Sequence[str] | None,
    context: Sequence[str] | None,
    spend: Sequence[str] | None,
    exclude: set[str] = frozenset(),
) -> tuple[list[str], list[str], list[str]]:
    """Check the named columns exist and do not overlap; return (channels, context, spend).
    Columns in ``exclude`` (controls, scale columns) are never inferred as channels."""
    if shop == time:
        raise DataValidationError(f"shop and time columns are both {shop!r}; they must differ")
    _require_column(df, shop, "shop", "the shop id column as shop=... (--shop COL)")
    _require_column(df, time, "time", "the time column as time=... (--time COL)")
    _require_column(df, target, "target", "the target column as target=... (--target COL)")
    if target in (shop, time):
        raise DataValidationError(f"target {target!r} is also the shop or time column")

    context_names = _as_name_list(context, "context") or []
    for name in context_names:
        if name not in df.columns:
            raise DataValidationError(
                f"unknown context column {name!r}; the data has columns "
                f"{_fmt_names([str(c) for c in df.columns], 20)}. Fix context=... (--context)"
            )
        if name in (shop, time, target):
            raise DataValidationError(
                f"context column {name!r} is also the shop, time or target column; remove it"
            )
    if len(set(context_names)) != len(context_names):
        raise DataValidationError(f"context columns are listed twice: {context_names}")

    channel_names = _as_name_list(channels, "channel")
    if channel_names is None:
        reserved = {shop, time, target, *context_names, *exclude}
        channel_names = [
            str(c)
            for c in df.columns
            if c not in reserved and not str(c).startswith("Unnamed: ") and _looks_numeric(df[c])
        ]
    else:
        for name in channel_names:
            if name == target:
                raise DataValidationError(
                    f"target {target!r} is also listed as a channel; the target is always the "
                    "last node by itself - remove it from channels (--channels)"
                )
            if name in (shop, time):
                raise DataValidationError(
                    f"channel {name!r} is the shop or time column; remove it from channels"
                )
            if name in context_names:
                raise DataValidationError(
                    f"column {name!r} is listed both as a channel and as context; choose one"
                )
            if name not in df.columns:
                raise DataValidationError(
                    f"missing channel column {name!r}; the data has columns "
                    f"{_fmt_names([str(c) for c in df.columns], 20)}. Fix channels=... (--channels)"
                )
        if len(set(channel_names)) != len(channel_names):
            raise DataValidationError(f"channels are listed twice: {channel_names}")
    if not channel_names:
        raise DataValidationError(
            "fewer than 2 nodes: need at least one channel column besides the target "
            f"{target!r}; pass channels=[...] (--channels A B ...) or add numeric columns"
        )

    spend_names = _as_name_list(spend, "spend")
    if spend_names is None:
        spend_names = [c for c in channel_names if is_spend_name(c)]
    else:
        for name in spend_names:
            if name not in channel_names:
                raise DataValidationError(
                    f"spend column {name!r} is not a channel (channels: "
                    f"{_fmt_names(channel_names, 20)}); spend=... must name channels"
                )
    return channel_names, context_names, spend_names


def _numeric_column(series: pd.Series, column: str, role: str, shops: Any) -> np.ndarray:
    """``(row,)`` float64 values of one node/context column; non-numbers are errors."""
    fix = {
        "context": "fix the value, or leave the column out of context=[...] (--context)",
        "channel": "fix the value, or pick the channels with channels=[...] (--channels)",
    }.get(role, "fix the value")
    if pd.api.types.is_complex_dtype(series):
        raise DataValidationError(
            f"{role} column {column!r} holds complex numbers; it needs real numbers - {fix}"
        )
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    text = series.astype(object)
    blank = series.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in text], dtype=bool
    )
    parsed = _to_float(text.where(~blank, None))
    bad = np.isnan(parsed) & ~blank
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = series.iloc[i]
        raise DataValidationError(
            f"{role} column {column!r} has a non-numeric value {_cell(value)} in data row "
            f"{i + 1} ({_shop(shops[i])}){_number_hint(value)}; {fix}"
        )
    return parsed


def _check_finite(column: str, values: np.ndarray, shops: list[Any], times: Any) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "a missing value (NaN or empty cell)" if np.isnan(values[i]) else "an infinite value"
        raise DataValidationError(
            f"column {column!r} has {kind} in {_shop(shops[i])}, data row {i + 1} "
            f"(time {_fmt_time(times[i])}); fill it in or drop the row"
        )


def _check_magnitude(column: str, values: np.ndarray, shops: list[Any], times: Any) -> None:
    bad = np.abs(values) > _MAX_ABS
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"column {column!r} has the value {values[i]:g} in {_shop(shops[i])}, data row "
            f"{i + 1} (time {_fmt_time(times[i])}), beyond +-{_MAX_ABS:g}: too large to scale; "
            "check the value, or express the column in larger units (e.g. thousands)"
        )


def _check_non_negative(
    column: str, values: np.ndarray, shops: list[Any], times: Any, what: str
) -> None:
    bad = values < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"{_shop(shops[i])}, data row {i + 1} (time {_fmt_time(times[i])})"
        if what == "spend":
            raise DataValidationError(
                f"spend column {column!r} is negative ({values[i]:g}) in {where}; spend cannot "
                f"be negative. Fix the value, or if {column!r} is not spend, name the real "
                "spend columns with spend=[...] (--spend ...)"
            )
        raise DataValidationError(
            f"target {column!r} is negative ({values[i]:g}) in {where}; the target (sales, "
            "GMV, conversions) must be >= 0"
        )


