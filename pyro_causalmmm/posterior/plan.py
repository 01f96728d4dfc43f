"""Planned future spend for forecasts: a plan file read and checked against the data.

A plan is a long table with one row per (shop, date): the shop and time columns of the
data file, then one column per planned channel, in the user's units::

    shop,time,tv_spend,search_spend
    shop_000,2024-05-01,1200,300
    shop_000,2024-05-02,1200,

Rules (each violation is a `DataValidationError` naming the shop, date, row or column):

- channel columns must be channels of the data (the target and context cannot be planned);
- shops must be shops of the data (a plan for one-shop data needs no shop column);
  dates must be among the ``horizon`` steps after that
  shop's last observed step (the forecast window), each (shop, date) at most once;
- values are finite numbers, and spend channels are >= 0;
- a channel missing from the plan, an empty cell, or a (shop, date) without a row is
  *not planned*: the model forecasts it as it forecasts every node (as today).

The plan written by ``causalmmm optimize`` (one row per shop and channel, with
``planned_spend`` per step and no time column) is accepted too: each channel's planned
spend is then held over the whole forecast window, as the optimizer assumed.

Planned values enter the forecast as do()-interventions: at each planned step the node
takes the planned value in every posterior draw, and its effects flow through the
learned graph to the nodes it causes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import DataValidationError


def _times_of(column: pd.Series, like: pd.Index, name: str) -> pd.Index:
    if isinstance(like, pd.DatetimeIndex):
        try:
            out = pd.DatetimeIndex(pd.to_datetime(column.astype(str), format="ISO8601"))
        except (ValueError, TypeError) as exc:
            raise DataValidationError(
                f"plan column '{name}' must hold ISO dates like the data (2024-05-01): {exc}"
            ) from None
        return out.tz_localize(None) if out.tz is not None else out
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
        raise DataValidationError(f"plan row {row}: '{name}' is not an integer time step")
    return pd.Index(values.astype("int64"))


def _from_budget_plan(
    plan: pd.DataFrame, data: MarketingMixData, horizon: int, shop: str, time: str
) -> pd.DataFrame:
    """The optimizer's long plan (shop, channel, planned_spend per step) as the wide
    per-date layout, each channel's spend held over the forecast window."""
    if shop not in plan.columns:
        raise DataValidationError(f"the budget plan has no shop column '{shop}'")
    wide = plan.pivot_table(index=shop, columns="channel", values="planned_spend", aggfunc="first")
    index = {str(s): k for k, s in enumerate(data.shop_ids)}
    rows = []
    for sid, spend in wide.iterrows():
        if str(sid) not in index:
            raise DataValidationError(f"plan shops ['{sid}'] are not in the data")
        for t in data.future_times(index[str(sid)], horizon):
            label = t.date().isoformat() if isinstance(t, pd.Timestamp) else int(t)
            rows.append({shop: str(sid), time: label, **spend.to_dict()})
    return pd.DataFrame(rows)


def read_plan(
    plan: str | Path | pd.DataFrame,
    data: MarketingMixData,
    horizon: int,
    shop: str = "shop",
    time: str = "time",
) -> np.ndarray:
    """Planned values ``(shop, horizon, node)`` in the user's units, NaN where unplanned.

    ``plan`` is a CSV path or a frame with the layout of the module docstring; ``shop``
    and ``time`` name its shop and time columns (those of the data file).
    """
    if not isinstance(plan, pd.DataFrame):
        path = Path(plan)
        if not path.is_file():
            raise DataValidationError(f"plan file '{path}' not found; check the path")
        plan = pd.read_csv(path, dtype={shop: str})
    if {"channel", "planned_spend"} <= set(plan.columns) and time not in plan.columns:
        plan = _from_budget_plan(plan, data, horizon, shop, time)
    if shop not in plan.columns and data.n_shops == 1:  # a one-brand plan
        plan = plan.assign(**{shop: str(data.shop_ids[0])})
    for role, col in (("shop", shop), ("time", time)):
        if col not in plan.columns:
            raise DataValidationError(
                f"the plan has no {role} column '{col}'; give it the data's {role} column"
            )
    channels = [c for c in plan.columns if c not in (shop, time)]
    unknown = [c for c in channels if c not in data.channel_names]
    if unknown:
        what = "the target" if data.target_name in unknown else "not channels of the data"
        raise DataValidationError(
            f"plan columns {unknown} are {what}; plan only channels "
            f"({', '.join(data.channel_names)})"
        )
    out = np.full((data.n_shops, horizon, data.n_nodes), np.nan)
    if not channels or plan.empty:
        return out
    index = {str(s): k for k, s in enumerate(data.shop_ids)}
    seen: set[tuple[int, int]] = set()
    shops = plan[shop].astype(str).to_numpy()
    missing = sorted(set(shops) - set(index))
    if missing:
        raise DataValidationError(f"plan shops {missing[:5]} are not in the data")
    for sid in dict.fromkeys(shops):
        s = index[sid]
        rows = np.flatnonzero(shops == sid)
        window = data.future_times(s, horizon)
        times = _times_of(plan[time].iloc[rows], window, time)
        pos = window.get_indexer(times)
        bad = np.flatnonzero(pos < 0)
        if bad.size:
            raise DataValidationError(
                f"plan row {rows[bad[0]] + 1}: shop {sid!r} date {times[bad[0]]} is not in its "
                f"forecast window {window[0]} .. {window[-1]} (--horizon {horizon})"
            )
        for r, p in zip(rows, pos, strict=True):
            if (s, int(p)) in seen:
                raise DataValidationError(
                    f"plan row {r + 1}: shop {sid!r} date {window[p]} appears twice"
                )
            seen.add((s, int(p)))
        for c in channels:
            values = pd.to_numeric(plan[c].iloc[rows], errors="coerce").to_numpy(np.float64)
            text = plan[c].iloc[rows].notna().to_numpy() & np.isnan(values)
            if text.any() or np.isinf(values).any():
                r = rows[int(np.flatnonzero(text | np.isinf(values))[0])] + 1
                raise DataValidationError(f"plan row {r}: '{c}' is not a finite number")
            if c in data.spend_names and (values < 0).any():
                r = rows[int(np.flatnonzero(values < 0)[0])] + 1
                raise DataValidationError(f"plan row {r}: spend '{c}' is negative")
            out[s, pos, data.node_names.index(c)] = values
    return out
