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
    shops = plan[shop].astype(str).to_numpy()
    missing = sorted(set(shops) - set(index))
    if missing:
        raise DataValidationError(f"plan shops {missing[:5]} are not in the data")
    # values of every row and channel at once: (row, channel)
    values = plan[channels].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = (plan[channels].notna().to_numpy() & np.isnan(values)) | np.isinf(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataValidationError(f"plan row {r + 1}: '{channels[c]}' is not a finite number")
    spend = np.array([c in data.spend_names for c in channels])
    neg = (values < 0) & spend[None]
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise DataValidationError(f"plan row {r + 1}: spend '{channels[c]}' is negative")
    # each row's step in its shop's forecast window (the windows differ by shop)
    shop_of = np.array([index[sid] for sid in shops])
    step = np.empty(len(plan), dtype=np.int64)
    for sid in dict.fromkeys(shops):
        rows = np.flatnonzero(shops == sid)
        window = data.future_times(index[sid], horizon)
        times = _times_of(plan[time].iloc[rows], window, time)
        step[rows] = window.get_indexer(times)
        off = np.flatnonzero(step[rows] < 0)
        if off.size:
            raise DataValidationError(
                f"plan row {rows[off[0]] + 1}: shop {sid!r} date {times[off[0]]} is not in its "
                f"forecast window {window[0]} .. {window[-1]} (--horizon {horizon})"
            )
    key = shop_of * horizon + step
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = np.flatnonzero(key == key[first[counts > 1][0]])[1]
        raise DataValidationError(
            f"plan row {dup + 1}: shop {shops[dup]!r} date "
            f"{data.future_times(int(shop_of[dup]), horizon)[step[dup]]} appears twice"
        )
    nodes = np.array([data.node_names.index(c) for c in channels])
    out[shop_of[:, None], step[:, None], nodes[None]] = values
    return out
