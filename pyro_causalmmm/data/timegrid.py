"""Shop ids and time labels: parsing ISO / ``YYYYMMDD`` dates and integer steps, the
inferred frequency, each shop's regular grid and the optional fill of its gaps.
"""


from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.columns import (
    _DAY_MONTH_DATE,
    _INTEGER_TEXT,
    _MAX_GRID,
    _MAX_INT_TIME,
    _YEARS,
    Freq,
    _cell,
    _fmt_time,
    _shop,
    describe_freq,
)
from pyro_causalmmm.errors import DataValidationError

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


