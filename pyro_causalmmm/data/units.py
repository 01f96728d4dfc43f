"""Target units: what one unit of the target is worth in revenue.

Contributions, ROAS and budget plans are about revenue. When the target is a count
(conversions, orders) the data can say what one unit is worth: ``revenue_per_unit``
(``--revenue-per-unit``) is a column of the file (per shop and time, as Meridian's
``revenue_per_conversion``) or a number. With ``revenue_per_unit=None`` a column named
``revenue_per_conversion`` is used when the file has one and the target is not that column
(Meridian's layout); otherwise the target is taken to be revenue already (GMV).

The decisions multiply each step's change of the target by that step's revenue per unit
before summing over the window (``decisions.scenarios``); past the data the last observed
value is held. ``MarketingMixData.revenue_per_unit`` is ``(shop, time)`` (0 on padding) or
None; :attr:`MarketingMixData.unit_values` is ones when None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.columns import ONE_SHOP_COLUMN, _fmt_names
from pyro_causalmmm.errors import DataValidationError


def user_columns(df: pd.DataFrame) -> str:
    """The file's column names for a message (not the internal one-shop column)."""
    return _fmt_names([str(c) for c in df.columns if c != ONE_SHOP_COLUMN], 20)

MERIDIAN_COLUMN = "revenue_per_conversion"
_CONSTANT = "__revenue_per_unit__"


def revenue_unit_column(
    df: pd.DataFrame, target: str, revenue_per_unit: str | float | None, excluded: list[str]
) -> tuple[str | None, pd.DataFrame]:
    """The column holding revenue per target unit (None: the target is revenue) and the
    frame (with a constant column added when ``revenue_per_unit`` is a number). The column
    is added to ``excluded`` so it is never inferred as a channel."""
    if revenue_per_unit is None:
        if MERIDIAN_COLUMN in df.columns and target != MERIDIAN_COLUMN:
            excluded.append(MERIDIAN_COLUMN)
            return MERIDIAN_COLUMN, df
        return None, df
    if isinstance(revenue_per_unit, bool):
        raise DataValidationError("revenue_per_unit must be a column name or a number > 0")
    if isinstance(revenue_per_unit, int | float | np.floating):
        value = float(revenue_per_unit)
        if not np.isfinite(value) or value <= 0:
            raise DataValidationError(
                f"revenue per unit must be a finite number > 0, got {revenue_per_unit!r}"
            )
        excluded.append(_CONSTANT)
        return _CONSTANT, df.assign(**{_CONSTANT: value})
    name = str(revenue_per_unit)
    try:  # a number given on the command line as text
        number = float(name)
    except ValueError:
        number = None
    if number is not None and name not in df.columns:
        return revenue_unit_column(df, target, number, excluded)
    if name not in df.columns:
        raise DataValidationError(
            f"unknown revenue-per-unit column {name!r}; the data has columns "
            f"{user_columns(df)}. Fix --revenue-per-unit (a column or a number)"
        )
    if name == target:
        raise DataValidationError(
            f"revenue-per-unit column {name!r} is the target; name the column of revenue "
            "per target unit"
        )
    excluded.append(name)
    return name, df


def check_revenue_unit(name: str, values: np.ndarray, shops: Any) -> None:
    """Revenue per unit must be finite and > 0 on every row (row numbers are 1-based)."""
    bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
    if bad.size:
        r = int(bad[0])
        label = "the given number" if name == _CONSTANT else f"column {name!r}"
        raise DataValidationError(
            f"revenue per unit ({label}) must be > 0, got {values[r]:g} in data row {r + 1} "
            f"(shop {shops[r]!r}); fix the value or leave --revenue-per-unit out"
        )
