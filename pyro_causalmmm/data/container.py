"""`MarketingMixData`: the one validated container for marketing-mix input data.

Input is long: one row per (shop, time), one column per node (channels and the
target) and per context variable. `MarketingMixData.from_frame` /
`MarketingMixData.from_csv` check everything a model needs and turn it into
padded arrays:

- ``values``  ``(shop, time, node)`` float64 in the user's units, zero-padded;
- ``mask``    ``(shop, time)`` bool, True on observed steps;
- ``context`` ``(shop, time, context)`` float64, zero-padded.

Rules (each violation is a `DataValidationError` naming column, shop or row and the fix):

- Shops are sorted by id (``sorted(ids)``; ids of mixed types are sorted by ``str``).
  Within a shop, rows are sorted by time. Shops of different lengths are
  left-aligned: step 0 is each shop's own first time, padding is at the end.
- Node order is the channels in the user's order, then the target (last). With
  ``channels=None`` the channels are every numeric column other than the shop,
  time, target and context columns, in file order (columns named ``Unnamed: ...``
  and entirely empty columns are skipped; a text column whose values are mostly
  numbers counts as numeric, so a stray typo is reported instead of silently
  dropping the column).
- Time: ISO date strings, integer ``YYYYMMDD`` dates (every value 8 digits in
  19000101..21001231) or plain integer steps. Dates must lie in the years
  1900..2100 (an earlier or later date is taken for a typo) and use one time zone
  (or none); integer steps must lie within +-1e18. Day/month dates such as
  ``01/02/2024`` are ambiguous and rejected: export ISO dates (2024-01-31). The
  frequency is the most common positive step over all shops (ties: the smaller);
  monthly dates on month starts or month ends use a calendar-month frequency. Each
  shop must lie on a regular grid of that frequency: a step that is not a multiple
  is an error; a missing step is an error unless ``fill`` is given.
- ``fill``: ``"ffill"`` carries the last row forward; ``"zero"`` sets missing
  node values (spend, target) to 0 and carries context forward; ``"interpolate"``
  fills linearly in time. Missing *values* (NaN cells) are never filled: they are errors.
- Node and context values must be plain finite numbers with ``|value| <= 1e100`` (larger
  ones would overflow the scaling); numbers written with thousands separators or a
  decimal comma (``1,234``, ``2,5``) are errors that say so.
- Spend cannot be negative. Spend columns are ``spend`` if given, else the
  channels whose name contains "spend" or "cost" (case-insensitive). Other
  channels (impressions, page views, search volume, controls) may be signed.
- The target cannot be negative and must vary within each shop, by more than 1e-9 of
  its size (its scaling is min-max per shop; see `pyro_causalmmm.data.scaling`).
- Context columns may be static per shop or vary in time; both are ordinary
  numeric columns, repeated over time in ``context``.
"""

from __future__ import annotations

import csv
import functools
import re
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.scaling import TARGET_HIGH, TARGET_LOW, Scaling, fit_scaling
from pyro_causalmmm.errors import ConfigError, DataValidationError

FILL_METHODS = ("ffill", "zero", "interpolate")
"""Allowed values of ``fill``."""

SPEND_PATTERN = re.compile(r"spend|cost", re.IGNORECASE)
"""Channel names matching this are spend columns (checked >= 0) unless ``spend`` is given."""

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
) -> tuple[list[str], list[str], list[str]]:
    """Check the named columns exist and do not overlap; return (channels, context, spend)."""
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
        reserved = {shop, time, target, *context_names}
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
        spend_names = [c for c in channel_names if SPEND_PATTERN.search(c)]
    else:
        for name in spend_names:
            if name not in channel_names:
                raise DataValidationError(
                    f"spend column {name!r} is not a channel (channels: "
                    f"{_fmt_names(channel_names, 20)}); spend=... must name channels"
                )
    return channel_names, context_names, spend_names


# ----------------------------------------------------------------------------- parsing


def _parse_shops(series: pd.Series, column: str) -> tuple[np.ndarray, list[Any]]:
    """Shop codes ``(row,)`` into the sorted list of shop ids."""
    missing = series.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in series.tolist()], dtype=bool
    )
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + 1
        raise DataValidationError(
            f"shop column {column!r} is empty in data row {row}; every row needs a shop id"
        )
    raw = series.tolist()
    try:
        unique = list(dict.fromkeys(raw))
    except TypeError:  # unhashable cells (lists, dicts) in an object column
        i = next(k for k, v in enumerate(raw) if not isinstance(v, Hashable))
        raise DataValidationError(
            f"shop column {column!r} holds {type(raw[i]).__name__} {raw[i]!r} in data row "
            f"{i + 1}; shop ids must be text or numbers"
        ) from None
    try:
        shop_ids = sorted(unique)
    except TypeError:
        shop_ids = sorted(unique, key=str)
    index = {sid: i for i, sid in enumerate(shop_ids)}
    codes = np.fromiter((index[v] for v in raw), dtype=np.int64, count=len(raw))
    return codes, shop_ids


def _integer_times(ints: np.ndarray, rows: np.ndarray, column: str) -> tuple[Any, str]:
    """Integer time values: YYYYMMDD dates if every value looks like one, else integer steps.

    ``ints`` is int64 within +-`_MAX_INT_TIME` (checked by the callers).
    """
    if ints.size and ints.min() >= 19000101 and ints.max() <= 21001231:
        parsed = pd.to_datetime(pd.Series(ints).astype(str), format="%Y%m%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"time column {column!r} looks like YYYYMMDD dates, but {int(ints[i])} in data "
                f"row {int(rows[i])} is not a valid date; fix it"
            )
        return pd.DatetimeIndex(parsed).as_unit("ns"), "date"
    return ints, "int"


def _int_time_range_error(column: str, value: Any, row: int) -> DataValidationError:
    return DataValidationError(
        f"time column {column!r} has the integer step {_cell(value)} in data row {row}, outside "
        f"+-{_MAX_INT_TIME:.0e}; check the time column for a wrong value (integer steps "
        "should count periods, e.g. 1, 2, 3)"
    )


def _checked_dates(parsed: Any, series: pd.Series, column: str) -> tuple[Any, str]:
    """Dates in the years `_YEARS`, as a nanosecond `pd.DatetimeIndex`."""
    dates = pd.DatetimeIndex(parsed)
    low, high = _YEARS
    years = np.asarray(dates.year)
    bad = (years < low) | (years > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"time column {column!r} has the date {_cell(series.iloc[i])} in data row {i + 1}, "
            f"outside the years {low}..{high}; fix the typo in that date"
        )
    return dates.as_unit("ns"), "date"


def _zone_error(series: pd.Series, column: str, exc: Exception) -> DataValidationError:
    """Error for times pandas cannot put on one axis (mixed time zones, naive and aware)."""
    first_zone, row = None, None
    for i, value in enumerate(series.tolist()):
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError, OverflowError):
            continue
        zone = None if pd.isna(stamp) or stamp.tzinfo is None else stamp.utcoffset()
        if i == 0:
            first_zone = zone
        elif zone != first_zone:
            row = i + 1
            break
    where = f"; first differing time {_cell(series.iloc[row - 1])} in data row {row}" if row else ""
    reason = " ".join(str(exc).split())[:200]
    return DataValidationError(
        f"time column {column!r} mixes time zones (or times with and without one){where} "
        f"({reason}); write every time in one time zone, or all without one"
    )


def _parse_times(series: pd.Series, column: str) -> tuple[Any, str]:
    """Parse the time column: ``(DatetimeIndex, "date")`` or ``(int64 array, "int")``."""
    rows = np.arange(1, len(series) + 1)
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + 1
        raise DataValidationError(
            f"time column {column!r} is empty in data row {row}; every row needs a time"
        )
    hint = "use ISO dates (2022-01-22), YYYYMMDD integers (20220122) or integer steps"
    if pd.api.types.is_datetime64_any_dtype(series):
        return _checked_dates(series, series, column)
    if pd.api.types.is_bool_dtype(series):
        raise DataValidationError(f"time column {column!r} holds booleans; {hint}")
    if pd.api.types.is_complex_dtype(series):
        raise DataValidationError(f"time column {column!r} holds complex numbers; {hint}")
    if pd.api.types.is_integer_dtype(series):
        values = series.to_numpy()
        big = np.abs(values.astype(np.float64)) > _MAX_INT_TIME
        if big.any():
            i = int(np.flatnonzero(big)[0])
            raise _int_time_range_error(column, series.iloc[i], i + 1)
        return _integer_times(values.astype(np.int64), rows, column)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"time column {column!r} cannot be parsed: first bad value {_cell(series.iloc[i])} "
                f"in data row {i + 1}; {hint}"
            )
        big = np.abs(values) > _MAX_INT_TIME
        if big.any():
            i = int(np.flatnonzero(big)[0])
            raise _int_time_range_error(column, series.iloc[i], i + 1)
        return _integer_times(values.astype(np.int64), rows, column)
    text = series.astype(str)
    if text.str.match(_INTEGER_TEXT).all():
        ints = [int(v) for v in text]
        big = [i for i, v in enumerate(ints) if abs(v) > _MAX_INT_TIME]
        if big:
            raise _int_time_range_error(column, series.iloc[big[0]], big[0] + 1)
        return _integer_times(np.array(ints, dtype=np.int64), rows, column)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
    except (TypeError, ValueError, OverflowError) as exc:
        raise _zone_error(series, column, exc) from None
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise _zone_error(series, column, TypeError(f"parsed as {parsed.dtype}"))
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = series.iloc[i]
        if isinstance(value, str) and _DAY_MONTH_DATE.match(value):
            hint = (
                f"dates like {_cell(value)} are ambiguous (day/month or month/day?); export the "
                "dates as ISO YYYY-MM-DD (e.g. 2024-01-31)"
            )
        raise DataValidationError(
            f"time column {column!r} cannot be parsed: first bad value {_cell(value)} "
            f"in data row {i + 1}; {hint}"
        )
    return _checked_dates(parsed, series, column)


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


# ----------------------------------------------------------------------------- time grid


def _time_keys(times: Any, kind: str) -> np.ndarray:
    """Sortable int64 keys of parsed times (ns since epoch for dates)."""
    return np.asarray(times.asi8 if kind == "date" else times, dtype=np.int64)


def _infer_freq(steps: np.ndarray, dates: pd.DatetimeIndex | None) -> Freq:
    """Most common positive step (ties: the smaller). ``steps`` are int64 (ns for dates)."""
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[int(np.argmax(counts))])
    if dates is None:
        return step
    freq = pd.Timedelta(step, unit="ns")
    if pd.Timedelta(days=28) <= freq <= pd.Timedelta(days=31):
        if bool((dates.day == 1).all()):
            return pd.offsets.MonthBegin(1)
        if bool(dates.is_month_end.all()):
            return pd.offsets.MonthEnd(1)
    return freq


def _grid_positions(times: Any, freq: Freq) -> tuple[np.ndarray, np.ndarray]:
    """Grid index of each sorted time of one shop, and whether it lies on the grid."""
    if isinstance(freq, pd.offsets.BaseOffset):
        months = np.asarray(times.year * 12 + times.month, dtype=np.int64)
        position = months - months[0]
        on_grid = np.array([freq.is_on_offset(t) for t in times], dtype=bool)
        return position, on_grid
    step = freq.value if isinstance(freq, pd.Timedelta) else int(freq)
    keys = np.asarray(times.asi8 if isinstance(times, pd.DatetimeIndex) else times, np.int64)
    offset = keys - keys[0]
    return offset // step, offset % step == 0


def _grid(start: Any, periods: int, freq: Freq) -> Any:
    """``periods`` regular time labels from ``start``."""
    if isinstance(freq, int):
        return start + freq * np.arange(periods, dtype=np.int64)
    return pd.date_range(start=start, periods=periods, freq=freq)


def _fill_missing(block: np.ndarray, present: np.ndarray, method: str) -> np.ndarray:
    """Fill rows of ``block`` ``(time, column)`` where ``present`` is False."""
    if method == "zero" or block.shape[1] == 0:
        return np.where(present[:, None], block, 0.0)
    have = np.flatnonzero(present)
    if method == "ffill":
        last = np.maximum.accumulate(np.where(present, np.arange(len(present)), 0))
        return block[last]
    grid = np.arange(len(present))
    return np.stack([np.interp(grid, have, block[have, j]) for j in range(block.shape[1])], 1)


def _regularize_shop(
    shop_id: Any,
    times: Any,
    nodes: np.ndarray,
    context: np.ndarray,
    freq: Freq,
    fill: str | None,
) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """Put one shop on its regular grid; return (times, nodes, context, filled steps)."""
    desc = describe_freq(freq, label=False)
    position, on_grid = _grid_positions(times, freq)
    if not on_grid.all():
        i = int(np.flatnonzero(~on_grid)[0])
        raise DataValidationError(
            f"{_shop(shop_id)}: time {_fmt_time(times[i])} is off the regular time grid "
            f"(frequency {desc}, first time {_fmt_time(times[0])}); steps within a shop must be "
            "multiples of the frequency - resample the data to one frequency"
        )
    periods = int(position[-1]) + 1
    if periods == len(position):
        return times, nodes, context, 0
    if periods > _MAX_GRID:
        raise DataValidationError(
            f"{_shop(shop_id)}: time span {_fmt_time(times[0])} to {_fmt_time(times[-1])} has "
            f"{periods} steps at frequency {desc}; check the time column for a wrong value"
        )
    grid = _grid(times[0], periods, freq)
    present = np.zeros(periods, dtype=bool)
    present[position] = True
    if fill is None:
        missing = int(np.flatnonzero(~present)[0])
        raise DataValidationError(
            f"{_shop(shop_id)}: time grid has a gap; first missing time "
            f"{_fmt_time(grid[missing])} (frequency {desc}). Pass fill='ffill' (or --fill ffill) "
            "to fill gaps by carrying the last value forward, fill='zero' or "
            "fill='interpolate', or add the missing rows"
        )
    full_nodes = np.zeros((periods, nodes.shape[1]))
    full_nodes[position] = nodes
    full_context = np.zeros((periods, context.shape[1]))
    full_context[position] = context
    context_method = "ffill" if fill == "zero" else fill
    return (
        grid,
        _fill_missing(full_nodes, present, fill),
        _fill_missing(full_context, present, context_method),
        periods - len(position),
    )


# ----------------------------------------------------------------------------- CSV files


def _check_extra_fields(file: Path, width: int) -> None:
    """Raise if a data row has non-empty fields beyond the header's ``width`` columns.

    pandas (with ``index_col=False``) drops such fields with a warning; empty ones are
    trailing separators (Excel writes them) and lose nothing.
    """
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            records = (fields for fields in csv.reader(handle) if fields)  # pandas skips blanks
            next(records, None)  # the header
            for row, fields in enumerate(records, start=1):
                extra = [f for f in fields[width:] if f.strip()]
                if extra:
                    raise DataValidationError(
                        f"data file '{file}': data row {row} has {len(fields)} fields but the "
                        f"header names {width} columns (extra values: {_fmt_names(extra, 3)}); "
                        "add the missing column names to the header or remove the extra values"
                    )
    except csv.Error as exc:
        raise DataValidationError(
            f"data file '{file}' has rows with more fields than the header ({exc}); "
            "fix the header or the rows"
        ) from None


def _csv_header(file: Path) -> list[str]:
    """The first non-empty record of the file (the header), as the csv module splits it."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            return next((record for record in csv.reader(handle) if record), [])
    except csv.Error as exc:
        raise DataValidationError(f"data file '{file}' has an unreadable header: {exc}") from None


def _pandas_csv(file: Path, dtype: Any, width: int | None) -> tuple[pd.DataFrame, bool]:
    """``pd.read_csv`` and whether pandas found more fields than header names.

    ``index_col=False``: a trailing separator on data rows must not turn the first column
    (the shop) into the index. ``usecols``: read only the header's columns (the caller
    has checked the extra fields are empty). ``low_memory=False``: no mixed-type warning.
    """
    usecols = None if width is None else range(width)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = pd.read_csv(
            file,
            encoding="utf-8-sig",
            dtype=dtype,
            index_col=False,
            usecols=usecols,
            low_memory=False,
        )
    ragged = False
    for caught_warning in caught:
        if issubclass(caught_warning.category, pd.errors.ParserWarning):
            ragged = True
        else:
            warnings.warn(caught_warning.message, caught_warning.category, stacklevel=4)
    return df, ragged


def _read_csv(file: Path, shop: Any) -> pd.DataFrame:
    """The CSV as read by pandas, with harmless export artifacts removed (see `from_csv`)."""
    dtype = {shop: str} if isinstance(shop, str) else None
    try:
        header = _csv_header(file)
        if len(header) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
                if sep in header[0]:
                    raise DataValidationError(
                        f"data file '{file}' has a single column {header[0][:60]!r}: it looks "
                        f"separated by {name}, not commas. Save it as comma-separated CSV "
                        "with '.' as the decimal point (in Excel: 'CSV UTF-8 (Comma delimited)')"
                    )
        try:
            df, ragged = _pandas_csv(file, dtype, None)
        except pd.errors.ParserError as exc:
            if not header or "Expected" not in str(exc):  # not a row longer than the header
                raise
            df, ragged = None, True
        if ragged:  # rows longer than the header: fine if the extra fields are empty
            _check_extra_fields(file, len(header))
            df, _ = _pandas_csv(file, dtype, len(header))
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"data file '{file}' is empty") from exc
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"data file '{file}' is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8 CSV"
        ) from exc
    except (ValueError, OverflowError) as exc:  # pd.errors.ParserError and kin
        if isinstance(exc, DataValidationError):
            raise
        message = " ".join(str(exc).split())
        raise DataValidationError(f"data file '{file}' is not valid CSV: {message}") from exc
    empty = df.isna().all(axis=1).to_numpy()
    if empty.size and empty[-1]:  # trailing ",,,," lines from a spreadsheet export
        df = df.iloc[: int(empty.size - np.argmax(~empty[::-1]))] if not empty.all() else df[:0]
    return df


# ----------------------------------------------------------------------------- container


def _readonly(array: Any, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class MarketingMixData:
    """Validated, padded marketing-mix data for several shops.

    Build it with `from_frame` or `from_csv`; the constructor checks the arrays'
    consistency (shapes, masks, names) but not the data rules (see the module docstring).

    Attributes:
        values: ``(shop, time, node)`` float64 in the user's units; padded steps are 0.
        mask: ``(shop, time)`` bool, True on observed steps (a prefix of each row).
        context: ``(shop, time, context)`` float64 in the user's units; padded steps are 0.
        shop_ids: ``(shop,)`` the user's shop ids, sorted.
        channel_names: channel columns in the user's order.
        target_name: the target column (the last node).
        context_names: ``(context,)`` context columns.
        times: per shop, the time labels of its observed steps (`pd.DatetimeIndex` for
            dates, an integer `pd.Index` for integer steps), ``len(times[s]) == lengths[s]``.
        freq: the time step (`pd.Timedelta`, calendar-month offset, or int).
        lengths: ``(shop,)`` int number of observed steps per shop.
        scaling: the internal reversible scaling; None fits it with `fit_scaling`.
        spend_names: channels checked to be non-negative spend.
        filled_steps: ``(shop,)`` int number of steps added by ``fill`` (None: zeros).
        node_names: channels then the target (derived).
    """

    values: np.ndarray
    mask: np.ndarray
    context: np.ndarray
    shop_ids: list[Any]
    channel_names: list[str]
    target_name: str
    context_names: list[str]
    times: list[pd.Index]
    freq: Freq
    lengths: np.ndarray
    scaling: Scaling | None = None
    spend_names: list[str] = field(default_factory=list)
    filled_steps: np.ndarray | None = None
    node_names: list[str] = field(init=False)

    # ------------------------------------------------------------------ validation

    def __post_init__(self) -> None:
        setter = functools.partial(object.__setattr__, self)
        setter("values", _readonly(self.values, np.float64))
        setter("mask", _readonly(self.mask, bool))
        setter("context", _readonly(self.context, np.float64))
        setter("lengths", _readonly(self.lengths, np.int64))
        filled = np.zeros(len(self.lengths)) if self.filled_steps is None else self.filled_steps
        setter("filled_steps", _readonly(filled, np.int64))
        setter("shop_ids", list(self.shop_ids))
        setter("channel_names", list(self.channel_names))
        setter("context_names", list(self.context_names))
        setter("spend_names", list(self.spend_names))
        setter("times", [pd.Index(t) for t in self.times])
        setter("node_names", [*self.channel_names, self.target_name])
        self._validate_arrays()
        self._validate_lengths()
        self._validate_names()
        self._validate_times()
        if self.scaling is None:
            setter(
                "scaling",
                fit_scaling(self.values, self.mask, self.target_index, context=self.context),
            )
        self._validate_scaling()

    def _validate_arrays(self) -> None:
        if self.values.ndim != 3:
            raise DataValidationError(f"values must be (shop, time, node), got {self.values.shape}")
        if self.mask.shape != self.values.shape[:2]:
            raise DataValidationError(
                f"mask {self.mask.shape} must be (shop, time) = {self.values.shape[:2]}"
            )
        if self.context.ndim != 3 or self.context.shape[:2] != self.values.shape[:2]:
            raise DataValidationError(
                f"context {self.context.shape} must be (shop, time, context) with "
                f"(shop, time) = {self.values.shape[:2]}"
            )
        if not (np.isfinite(self.values).all() and np.isfinite(self.context).all()):
            raise DataValidationError("values and context must be finite")
        if self.values.shape[0] == 0:
            raise DataValidationError("the data has no shops")

    def _validate_lengths(self) -> None:
        n_shops, n_time = self.mask.shape
        if self.lengths.shape != (n_shops,) or self.filled_steps.shape != (n_shops,):
            raise DataValidationError(f"lengths and filled_steps must be (shop,) = ({n_shops},)")
        expected = np.arange(n_time)[None, :] < self.lengths[:, None]
        if not np.array_equal(expected, self.mask):
            raise DataValidationError(
                "mask must be True on the first lengths[s] steps of each shop and False after"
            )
        if (self.lengths < 1).any():
            raise DataValidationError("every shop needs at least one time step")

    def _validate_names(self) -> None:
        if not self.channel_names:
            raise DataValidationError("fewer than 2 nodes: need at least one channel and a target")
        if len(self.node_names) != self.values.shape[2]:
            raise DataValidationError(
                f"{len(self.node_names)} node names for {self.values.shape[2]} nodes"
            )
        if len(set(self.node_names)) != len(self.node_names):
            raise DataValidationError(f"node names must be unique: {self.node_names}")
        if len(self.context_names) != self.context.shape[2]:
            raise DataValidationError(
                f"{len(self.context_names)} context names for {self.context.shape[2]} columns"
            )
        if len(self.shop_ids) != self.values.shape[0]:
            raise DataValidationError(
                f"{len(self.shop_ids)} shop ids for {self.values.shape[0]} shops"
            )
        if len(set(self.shop_ids)) != len(self.shop_ids):
            raise DataValidationError("shop ids must be unique")
        unknown = [s for s in self.spend_names if s not in self.channel_names]
        if unknown:
            raise DataValidationError(f"spend columns {unknown} are not channels")

    def _validate_times(self) -> None:
        if len(self.times) != self.n_shops:
            raise DataValidationError(f"times must hold one index per shop ({self.n_shops})")
        for shop_id, labels, length in zip(self.shop_ids, self.times, self.lengths, strict=True):
            if len(labels) != length:
                raise DataValidationError(
                    f"{_shop(shop_id)}: {len(labels)} time labels for {length} steps"
                )

    def _validate_scaling(self) -> None:
        scaling = self.scaling
        assert scaling is not None  # set in __post_init__; internal invariant
        if scaling.loc.shape != (self.n_shops, self.n_nodes):
            raise DataValidationError(
                f"scaling is for {scaling.loc.shape} (shop, node), data is "
                f"{(self.n_shops, self.n_nodes)}"
            )
        if scaling.context_loc.shape != (self.context.shape[2],):
            raise DataValidationError(
                f"scaling has {scaling.n_context} context variables, data {self.context.shape[2]}"
            )

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        shop: str = "shop",
        time: str = "time",
        target: str = "gmv",
        channels: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        spend: Sequence[str] | None = None,
        fill: str | None = None,
        min_length: int = 10,
    ) -> MarketingMixData:
        """Validate a long data frame (one row per (shop, time)) and pad it into arrays.

        Args:
            df: the data; row numbers in messages are 1-based positions in ``df``.
            shop, time, target: column names (``target`` defaults to ``gmv``, the
                simulator's name).
            channels: channel columns in node order; None means every numeric column
                other than shop/time/target/context, in file order.
            context: context columns (static per shop or time-varying).
            spend: the channels that are spend (checked >= 0); None means channels whose
                name contains "spend" or "cost" (case-insensitive); ``[]`` means none.
            fill: None (gaps are errors), "ffill", "zero" or "interpolate".
            min_length: the fewest steps a shop may have (>= 2).

        Raises:
            DataValidationError: the data breaks a rule of the module docstring.
            ConfigError: ``fill`` or ``min_length`` is not allowed.
        """
        if fill is not None and (not isinstance(fill, str) or fill not in FILL_METHODS):
            raise ConfigError(f"fill must be one of {FILL_METHODS} or None, got {fill!r}")
        if isinstance(min_length, bool) or not isinstance(min_length, int | np.integer):
            raise ConfigError(f"min_length must be an integer >= 2, got {min_length!r}")
        if min_length < 2:
            raise ConfigError(f"min_length must be >= 2 (the target must vary), got {min_length}")
        if not isinstance(df, pd.DataFrame):
            raise DataValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if df.shape[1] == 0 or df.shape[0] == 0:
            raise DataValidationError("the data is empty: it has no rows; check the file")
        if isinstance(df.columns, pd.MultiIndex):
            raise DataValidationError(
                f"the data has a {df.columns.nlevels}-level header (MultiIndex columns); "
                "flatten it to one header row of column names"
            )
        for role, name in (("shop", shop), ("time", time), ("target", target)):
            if not isinstance(name, str):
                raise DataValidationError(
                    f"{role}= must be a column name (text), got {name!r}; column labels are "
                    f"compared as text, e.g. {role}='{name}'"
                )
        if not all(isinstance(c, str) for c in df.columns):  # e.g. integer labels 0, 1, 2
            df = df.set_axis([str(c) for c in df.columns], axis=1)
        if df.columns.has_duplicates:
            dup = df.columns[df.columns.duplicated()][0]
            raise DataValidationError(f"column {dup!r} appears twice in the header; rename one")

        channel_names, context_names, spend_names = _select_columns(
            df, shop, time, target, channels, context, spend
        )
        node_names = [*channel_names, target]
        codes, shop_ids = _parse_shops(df[shop], shop)
        row_shops = [shop_ids[c] for c in codes]
        parsed_times, kind = _parse_times(df[time], time)

        roles = ["channel"] * len(channel_names) + ["target"]
        nodes = np.column_stack(
            [
                _numeric_column(df[c], c, r, row_shops)
                for c, r in zip(node_names, roles, strict=True)
            ]
        )
        ctx = np.zeros((len(df), len(context_names)))
        for j, name in enumerate(context_names):
            ctx[:, j] = _numeric_column(df[name], name, "context", row_shops)
        for j, name in enumerate(node_names):
            _check_finite(name, nodes[:, j], row_shops, parsed_times)
        for j, name in enumerate(context_names):
            _check_finite(name, ctx[:, j], row_shops, parsed_times)
        for j, name in enumerate(node_names):
            _check_magnitude(name, nodes[:, j], row_shops, parsed_times)
        for j, name in enumerate(context_names):
            _check_magnitude(name, ctx[:, j], row_shops, parsed_times)
        for name in spend_names:
            j = node_names.index(name)
            _check_non_negative(name, nodes[:, j], row_shops, parsed_times, "spend")
        _check_non_negative(target, nodes[:, -1], row_shops, parsed_times, "target")

        keys = _time_keys(parsed_times, kind)
        order = np.lexsort((np.arange(len(keys)), keys, codes))
        sorted_codes, sorted_keys = codes[order], keys[order]
        same = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_keys[1:] == sorted_keys[:-1])
        if same.any():
            k = int(np.flatnonzero(same)[0])
            rows = order[(sorted_codes == sorted_codes[k]) & (sorted_keys == sorted_keys[k])] + 1
            row_list = ", ".join(str(int(r)) for r in rows)
            raise DataValidationError(
                f"duplicate rows: {_shop(shop_ids[sorted_codes[k]])} has {len(rows)} rows for "
                f"time {_fmt_time(parsed_times[order[k]])} (data rows {row_list}); "
                "keep one row per (shop, time)"
            )

        bounds = np.searchsorted(sorted_codes, np.arange(len(shop_ids) + 1))
        shop_rows = [order[bounds[s] : bounds[s + 1]] for s in range(len(shop_ids))]
        steps = np.concatenate([np.diff(keys[r]) for r in shop_rows])
        if steps.size == 0:
            raise DataValidationError(
                f"every shop has a single time step; at least {min_length} are needed "
                "(min_length / --min-length)"
            )
        all_dates = parsed_times if kind == "date" else None
        freq = _infer_freq(steps, all_dates)

        regular = []
        for s, rows in enumerate(shop_rows):
            labels = parsed_times[rows] if kind == "date" else keys[rows]
            regular.append(
                _regularize_shop(shop_ids[s], labels, nodes[rows], ctx[rows], freq, fill)
            )
        short = [s for s, (_, v, _, _) in enumerate(regular) if len(v) < min_length]
        if short:
            first, *others = short
            also = ", ".join(
                f"{_shop(shop_ids[s])} with {len(regular[s][1])}" for s in others[:_SHOW]
            )
            if len(others) > _SHOW:
                also += f", ... ({len(others)} more)"
            raise DataValidationError(
                f"{_shop(shop_ids[first])} has only {len(regular[first][1])} time steps"
                + (f" (also short: {also})" if others else "")
                + f"; at least {min_length} are needed (min_length / --min-length). "
                + ("Drop these shops" if others else "Drop the shop")
                + " or lower min_length"
            )

        shop_times, shop_nodes, shop_context, filled = [], [], [], []
        for s, (t, v, c, n_filled) in enumerate(regular):
            target_values = v[:, -1]
            spread, size = np.ptp(target_values), np.abs(target_values).max()
            if spread == 0:
                raise DataValidationError(
                    f"{_shop(shop_ids[s])}: target {target!r} is constant "
                    f"({target_values[0]:g} at every step), which breaks its per-shop "
                    "scaling; drop the shop or check the target column"
                )
            if spread <= _MIN_TARGET_SPREAD * size:
                raise DataValidationError(
                    f"{_shop(shop_ids[s])}: target {target!r} is constant up to rounding (it "
                    f"varies by {spread:g} around {size:g}), which breaks its per-shop "
                    "scaling; drop the shop or check the target column"
                )
            shop_times.append(
                pd.DatetimeIndex(t).rename(None) if kind == "date" else pd.Index(t, dtype="int64")
            )
            shop_nodes.append(v)
            shop_context.append(c)
            filled.append(n_filled)

        lengths = np.array([len(v) for v in shop_nodes], dtype=np.int64)
        n_time = int(lengths.max())
        values = np.zeros((len(shop_ids), n_time, len(node_names)))
        context_arr = np.zeros((len(shop_ids), n_time, len(context_names)))
        for s, length in enumerate(lengths):
            values[s, :length] = shop_nodes[s]
            context_arr[s, :length] = shop_context[s]
        mask = np.arange(n_time)[None, :] < lengths[:, None]
        return cls(
            values=values,
            mask=mask,
            context=context_arr,
            shop_ids=shop_ids,
            channel_names=channel_names,
            target_name=target,
            context_names=context_names,
            times=shop_times,
            freq=freq,
            lengths=lengths,
            spend_names=spend_names,
            filled_steps=np.array(filled, dtype=np.int64),
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        shop: str = "shop",
        time: str = "time",
        target: str = "gmv",
        channels: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        spend: Sequence[str] | None = None,
        fill: str | None = None,
        min_length: int = 10,
    ) -> MarketingMixData:
        """Read a CSV (UTF-8, with or without a BOM) and validate it as in `from_frame`.

        Shop ids are read as text, so ``007`` stays ``'007'``. Row numbers in messages are
        data rows (line number minus the header line). Export artifacts that lose nothing
        are accepted: a BOM, trailing empty rows (``,,,``), trailing empty columns and
        trailing separators on data rows. A file separated by ``;`` or tabs, and extra
        non-empty fields beyond the header, are errors that say so.
        """
        file = Path(path)
        if not file.is_file():
            what = "is a directory, not a file" if file.is_dir() else "not found"
            raise DataValidationError(f"data file '{file}' {what}; check the path")
        return cls.from_frame(
            _read_csv(file, shop),
            shop=shop,
            time=time,
            target=target,
            channels=channels,
            context=context,
            spend=spend,
            fill=fill,
            min_length=min_length,
        )

    # ------------------------------------------------------------------ derived views

    @property
    def n_shops(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_time(self) -> int:
        """Padded length: the longest shop's number of steps."""
        return int(self.values.shape[1])

    @property
    def n_nodes(self) -> int:
        return int(self.values.shape[2])

    @property
    def n_context(self) -> int:
        return int(self.context.shape[2])

    @property
    def target_index(self) -> int:
        """Index of the target node: always the last, ``n_nodes - 1``."""
        return self.n_nodes - 1

    @functools.cached_property
    def scaled_values(self) -> np.ndarray:
        """``(shop, time, node)`` in model units (`Scaling.transform`); padded steps are 0."""
        assert self.scaling is not None  # internal invariant, set in __post_init__
        out = np.where(self.mask[:, :, None], self.scaling.transform(self.values), 0.0)
        out.setflags(write=False)
        return out

    @functools.cached_property
    def scaled_context(self) -> np.ndarray:
        """``(shop, time, context)`` in model units (`Scaling.transform_context`); padding 0."""
        assert self.scaling is not None  # internal invariant, set in __post_init__
        out = np.where(self.mask[:, :, None], self.scaling.transform_context(self.context), 0.0)
        out.setflags(write=False)
        return out

    @property
    def static_context(self) -> list[str]:
        """Context columns that are constant within every shop."""
        out = []
        for j, name in enumerate(self.context_names):
            column = np.where(self.mask, self.context[:, :, j], np.nan)
            if np.all(np.nanmax(column, axis=1) == np.nanmin(column, axis=1)):
                out.append(name)
        return out

    def shop_index(self, shop_id: Any) -> int:
        """Position of ``shop_id`` in `shop_ids`."""
        try:
            return self.shop_ids.index(shop_id)
        except ValueError:
            raise DataValidationError(
                f"unknown shop {shop_id!r}; shops are {_fmt_names(self.shop_ids)}"
            ) from None

    def _check_shop_index(self, shop_index: Any) -> int:
        if isinstance(shop_index, bool) or not isinstance(shop_index, int | np.integer):
            raise ConfigError(f"shop index must be an integer, got {shop_index!r}")
        if not 0 <= shop_index < self.n_shops:
            raise ConfigError(f"shop index {shop_index} out of range 0..{self.n_shops - 1}")
        return int(shop_index)

    def subset(self, shop_indices: Sequence[int]) -> MarketingMixData:
        """The data of the shops at ``shop_indices`` (in that order), with their scaling rows.

        The time axis is trimmed to the longest selected shop. Scaling is not refitted, so
        model units stay the same as in the full data.
        """
        indices = [self._check_shop_index(i) for i in shop_indices]
        if not indices:
            raise ConfigError("subset needs at least one shop index")
        if len(set(indices)) != len(indices):
            raise ConfigError(f"subset has repeated shop indices: {indices}")
        idx = np.array(indices, dtype=np.int64)
        n_time = int(self.lengths[idx].max())
        assert self.scaling is not None  # internal invariant
        return MarketingMixData(
            values=self.values[idx, :n_time],
            mask=self.mask[idx, :n_time],
            context=self.context[idx, :n_time],
            shop_ids=[self.shop_ids[i] for i in indices],
            channel_names=self.channel_names,
            target_name=self.target_name,
            context_names=self.context_names,
            times=[self.times[i] for i in indices],
            freq=self.freq,
            lengths=self.lengths[idx],
            scaling=self.scaling.subset(idx),
            spend_names=self.spend_names,
            filled_steps=self.filled_steps[idx],
        )

    def drop_last(self, steps: int, min_length: int = 2) -> MarketingMixData:
        """The data without each shop's last ``steps`` observed steps (a backtest's
        training window). Scaling is refitted on what remains, so the held-out steps
        cannot leak into the model's units. A shop left with fewer than ``min_length``
        steps is an error naming it."""
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
            raise ConfigError(f"steps must be an integer >= 0, got {steps!r}")
        keep = self.lengths - int(steps)
        short = np.flatnonzero(keep < min_length)
        if short.size:
            s = int(short[0])
            raise DataValidationError(
                f"{_shop(self.shop_ids[s])} has {int(self.lengths[s])} steps: holding out "
                f"{steps} leaves fewer than {min_length}; use a shorter horizon or drop the shop"
            )
        n_time = int(keep.max())
        mask = np.arange(n_time)[None, :] < keep[:, None]
        return MarketingMixData(
            values=np.where(mask[..., None], self.values[:, :n_time], 0.0),
            mask=mask,
            context=np.where(mask[..., None], self.context[:, :n_time], 0.0),
            shop_ids=self.shop_ids,
            channel_names=self.channel_names,
            target_name=self.target_name,
            context_names=self.context_names,
            times=[t[: int(k)] for t, k in zip(self.times, keep, strict=True)],
            freq=self.freq,
            lengths=keep,
            scaling=None,
            spend_names=self.spend_names,
            filled_steps=self.filled_steps,
        )

    def future_times(self, shop_index: int, horizon: int) -> pd.Index:
        """The ``horizon`` time labels after the last step of shop ``shop_index``.

        Returns a `pd.DatetimeIndex` for dates, an integer `pd.Index` for integer steps.
        """
        s = self._check_shop_index(shop_index)
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 0:
            raise ConfigError(f"horizon must be an integer >= 0, got {horizon!r}")
        last = self.times[s][-1]
        if isinstance(self.freq, int):
            return pd.Index(int(last) + self.freq * np.arange(1, horizon + 1), dtype="int64")
        return pd.date_range(start=last + self.freq, periods=int(horizon), freq=self.freq)

    def summary(self) -> str:
        """A short multi-line description for people (the CLI's `validate` prints it)."""
        low, high = int(self.lengths.min()), int(self.lengths.max())
        length = f"{low} time steps each" if low == high else f"{low} to {high} time steps"
        starts = [t[0] for t in self.times]
        ends = [t[-1] for t in self.times]
        freq = describe_freq(self.freq)
        lines = [
            f"MarketingMixData: {self.n_shops} shop{'s' if self.n_shops != 1 else ''}, "
            f"{length}, frequency {freq}",
            f"  shops (sorted): {_fmt_names(self.shop_ids)}",
            f"  time: {_fmt_time(min(starts))} to {_fmt_time(max(ends))}"
            + ("" if low == high else "; shops left-aligned, shorter ones padded at the end"),
            f"  nodes ({self.n_nodes}): {len(self.channel_names)} channels, then the target",
            f"    channels: {_fmt_names(self.channel_names, 20)}",
            f"    spend (checked >= 0): {_fmt_names(self.spend_names, 20)}",
            f"    target: {self.target_name} (last node)",
            f"  context ({self.n_context}): {_fmt_names(self.context_names, 20)}"
            + (f"; static per shop: {_fmt_names(self.static_context)}" if self.n_context else ""),
        ]
        total_filled = int(self.filled_steps.sum())
        if total_filled:
            lines.append(
                f"  filled gaps: {total_filled} steps in {int((self.filled_steps > 0).sum())} shops"
            )
        lines.append(
            "  scaling (internal, reversible): channels z-scored per shop; target min-max per "
            f"shop to [{TARGET_LOW}, {TARGET_HIGH}] (inside the Hill curve's range (0, 1)); "
            "context z-scored over all shops"
        )
        return "\n".join(lines)
