"""Calendar positions of a panel's steps, for the model's baseline columns.

``day`` arrays are ``(shop, time)`` floats: days since 1970-01-01 for dated data (so
seasonal phases line up across shops and with future dates), the integer step itself
for integer time labels; 0 on padding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.data.container import MarketingMixData

_EPOCH = pd.Timestamp("1970-01-01")
_MONTH_DAYS = 365.25 / 12


def step_days(freq) -> float | None:
    """The time step in days, or None for integer time (no calendar)."""
    if isinstance(freq, int | np.integer):
        return None
    if isinstance(freq, pd.Timedelta):
        return freq.total_seconds() / 86400.0
    n = getattr(freq, "n", 1)
    name = type(freq).__name__
    if "Month" in name:
        return _MONTH_DAYS * n
    if "Quarter" in name:
        return 3 * _MONTH_DAYS * n
    if "Year" in name:
        return 12 * _MONTH_DAYS * n
    return pd.Timedelta(freq).total_seconds() / 86400.0


def _days(index: pd.Index) -> np.ndarray:
    if isinstance(index, pd.DatetimeIndex):
        tz_free = index.tz_localize(None) if index.tz is not None else index
        return ((tz_free - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)
    return np.asarray(index, dtype=np.float64)


def calendar_days(data: MarketingMixData) -> np.ndarray:
    """``(shop, time)`` calendar positions of every observed step (0 on padding)."""
    out = np.zeros(data.mask.shape, dtype=np.float64)
    for s, times in enumerate(data.times):  # one vectorized conversion per shop
        out[s, : len(times)] = _days(times)
    return out


def future_days(data: MarketingMixData, horizon: int) -> np.ndarray:
    """``(shop, horizon)`` calendar positions of the ``horizon`` steps after each shop's
    last observed step."""
    out = np.zeros((data.n_shops, int(horizon)), dtype=np.float64)
    if horizon <= 0:
        return out
    for s in range(data.n_shops):
        out[s] = _days(data.future_times(s, horizon))
    return out
