"""The import pipeline from a long frame to the fields of `MarketingMixData`.

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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.columns import (
    _MIN_TARGET_SPREAD,
    _SHOW,
    FILL_METHODS,
    ONE_SHOP_COLUMN,
    _check_finite,
    _check_magnitude,
    _check_non_negative,
    _fmt_time,
    _numeric_column,
    _select_columns,
    _shop,
)
from pyro_causalmmm.data.controls import prepare_controls
from pyro_causalmmm.data.roles import column_roles
from pyro_causalmmm.data.timegrid import (
    _infer_freq,
    _parse_shops,
    _parse_times,
    _regularize_shop,
    _time_keys,
)
from pyro_causalmmm.data.units import check_revenue_unit, revenue_unit_column
from pyro_causalmmm.errors import ConfigError, DataValidationError


def frame_fields(
    df: pd.DataFrame,
    shop: str,
    time: str,
    target: str,
    channels: Sequence[str] | None,
    context: Sequence[str] | None,
    spend: Sequence[str] | None,
    fill: str | None,
    min_length: int,
    controls: Sequence[str] | None = None,
    revenue_per_unit: str | float | None = None,
) -> dict[str, Any]:
    """The validated, padded fields of `MarketingMixData` built from a long frame: the
    whole import pipeline of `MarketingMixData.from_frame` (column roles, shop and time
    parsing, the regular grid and its fill, numeric checks, left-aligned padding).

    Returns the constructor's keyword arguments: ``values`` ``(shop, time, node)``,
    ``mask`` ``(shop, time)``, ``context`` ``(shop, time, context)``, names, ``times``,
    ``freq``, ``lengths`` ``(shop,)``, ``spend_names``, ``filled_steps`` ``(shop,)``.
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

    file_columns = [str(c) for c in df.columns if c != ONE_SHOP_COLUMN]
    reserved = {shop, time, target, *(str(c) for c in (context or []))}
    df, control_names, control_notes, excluded = prepare_controls(df, reserved, channels, controls)
    context_all = [*(context or []), *control_names]
    rpu_col, df = revenue_unit_column(df, target, revenue_per_unit, excluded)
    channel_names, context_names, spend_names = _select_columns(
        df, shop, time, target, channels, context_all or None, spend, exclude=set(excluded)
    )
    if rpu_col is not None:  # carried through the grid with the context, split off below
        context_names = [*context_names, rpu_col]
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
        role = "revenue per unit" if name == rpu_col else "context"
        ctx[:, j] = _numeric_column(df[name], name, role, row_shops)
    if rpu_col is not None:
        check_revenue_unit(rpu_col, ctx[:, -1], row_shops)
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
    rpu = None
    if rpu_col is not None:
        rpu, context_arr = context_arr[..., -1] * mask, context_arr[..., :-1]
        context_names = context_names[:-1]
        if isinstance(revenue_per_unit, int | float) and not isinstance(revenue_per_unit, bool):
            rpu = np.where(mask, float(revenue_per_unit), 0.0)
    return dict(
        revenue_per_unit=rpu,
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
        control_names=control_names,
        filled_steps=np.array(filled, dtype=np.int64),
        column_roles=column_roles(
            file_columns,
            None if shop == ONE_SHOP_COLUMN else shop,
            time,
            target,
            channel_names,
            context_names,
            spend_names,
            inferred=channels is None,
            notes=control_notes,
        ),
    )
