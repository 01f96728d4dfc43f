"""`MarketingMixData`: the one validated container for marketing-mix input data.

Input is long: one row per (shop, time), one column per node (channels and the
target) and per context variable. `MarketingMixData.from_frame` /
`MarketingMixData.from_csv` check everything a model needs (the rules are listed in
:mod:`pyro_causalmmm.data.frame`) and turn it into padded arrays:

- ``values``  ``(shop, time, node)`` float64 in the user's units, zero-padded;
- ``mask``    ``(shop, time)`` bool, True on observed steps;
- ``context`` ``(shop, time, context)`` float64, zero-padded.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pyro_causalmmm.data.columns import (
    DEFAULT_SHOP,
    ONE_SHOP,
    ONE_SHOP_COLUMN,
    Freq,
    _fmt_names,
    _shop,
)
from pyro_causalmmm.data.consistency import check_consistency, check_scaling
from pyro_causalmmm.data.frame import frame_fields
from pyro_causalmmm.data.reading import _read_csv
from pyro_causalmmm.data.scaling import Scaling, fit_scaling
from pyro_causalmmm.errors import ConfigError, DataValidationError

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
        revenue_per_unit: ``(shop, time)`` revenue of one target unit (0 on padding), or
            None when the target is revenue itself (:mod:`pyro_causalmmm.data.units`).
        control_names: context columns that are additive controls of every node (not
            S-curve context; :mod:`pyro_causalmmm.data.controls`), indicators expanded.
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
    control_names: list[str] = field(default_factory=list)
    revenue_per_unit: np.ndarray | None = None
    filled_steps: np.ndarray | None = None
    column_roles: dict[str, str] = field(default_factory=dict)
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
        setter("control_names", list(self.control_names))
        if self.revenue_per_unit is not None:
            setter("revenue_per_unit", _readonly(self.revenue_per_unit, np.float64))
        setter("times", [pd.Index(t) for t in self.times])
        setter("node_names", [*self.channel_names, self.target_name])
        check_consistency(self)
        if self.scaling is None:
            setter(
                "scaling",
                fit_scaling(self.values, self.mask, self.target_index, context=self.context),
            )
        check_scaling(self)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        shop: str | None = None,
        time: str = "time",
        target: str = "gmv",
        channels: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        spend: Sequence[str] | None = None,
        fill: str | None = None,
        min_length: int = 10,
        one_shop: str = ONE_SHOP,
        controls: Sequence[str] | None = None,
        revenue_per_unit: str | float | None = None,
    ) -> MarketingMixData:
        """Validate a long data frame (one row per (shop, time)) and pad it into arrays.

        Args:
            df: the data; row numbers in messages are 1-based positions in ``df``.
            shop, time, target: column names (``target`` defaults to ``gmv``, the
                simulator's name). ``shop=None`` (the default) takes the column ``shop``
                if there is one, and otherwise reads the whole file as ONE shop (a
                one-brand file such as Robyn's), whose id is ``one_shop``; a ``shop``
                that is named but missing is an error.
            channels: channel columns in node order; None means every numeric column
                other than shop/time/target/context, in file order.
            context: context columns (static per shop or time-varying).
            spend: the channels that are spend (checked >= 0); None means channels whose
                name contains "spend" or "cost" (case-insensitive); ``[]`` means none.
            fill: None (gaps are errors), "ffill", "zero" or "interpolate".
            min_length: the fewest steps a shop may have (>= 2).
            controls: additive control columns (text columns become 0/1 indicators);
                None: control-named and text columns when channels are inferred, none
                otherwise; ``[]``: none (:mod:`pyro_causalmmm.data.controls`).
            revenue_per_unit: revenue of one target unit, a column or a number; None:
                Meridian's ``revenue_per_conversion`` if present (:mod:`.units`).

        Raises:
            DataValidationError: the data breaks a rule of the module docstring.
            ConfigError: ``fill`` or ``min_length`` is not allowed.
        """
        if shop is None:
            shop = DEFAULT_SHOP
            if isinstance(df, pd.DataFrame) and DEFAULT_SHOP not in df.columns.astype(str):
                df = df.assign(**{ONE_SHOP_COLUMN: str(one_shop)})
                shop = ONE_SHOP_COLUMN
        return cls(
            **frame_fields(
                df,
                shop,
                time,
                target,
                channels,
                context,
                spend,
                fill,
                min_length,
                controls,
                revenue_per_unit,
            )
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        shop: str | None = None,
        time: str = "time",
        target: str = "gmv",
        channels: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        spend: Sequence[str] | None = None,
        fill: str | None = None,
        min_length: int = 10,
        controls: Sequence[str] | None = None,
        revenue_per_unit: str | float | None = None,
    ) -> MarketingMixData:
        """Read a CSV (UTF-8, with or without a BOM) and validate it as in `from_frame`.

        Shop ids are read as text, so ``007`` stays ``'007'``. Row numbers in messages are
        data rows (line number minus the header line). Export artifacts that lose nothing
        are accepted: a BOM, trailing empty rows (``,,,``), trailing empty columns and
        trailing separators on data rows. A file separated by ``;`` or tabs, and extra
        non-empty fields beyond the header, are errors that say so. A file without a
        shop column (and ``shop=None``) is one shop named after the file (its stem).
        """
        file = Path(path)
        if not file.is_file():
            what = "is a directory, not a file" if file.is_dir() else "not found"
            raise DataValidationError(f"data file '{file}' {what}; check the path")
        return cls.from_frame(
            _read_csv(file, DEFAULT_SHOP if shop is None else shop),
            shop=shop,
            one_shop=file.stem,
            time=time,
            target=target,
            channels=channels,
            context=context,
            spend=spend,
            fill=fill,
            min_length=min_length,
            controls=controls,
            revenue_per_unit=revenue_per_unit,
        )

    # ------------------------------------------------------------------ derived views

    @property
    def unit_values(self) -> np.ndarray:
        """``(shop, time)`` revenue per target unit (ones when the target is revenue)."""
        if self.revenue_per_unit is None:
            return self.mask.astype(np.float64)
        return np.asarray(self.revenue_per_unit)

    @property
    def value_unit(self) -> str:
        """What contributions are measured in: "revenue" or the target's name."""
        return "revenue" if self.revenue_per_unit is not None else self.target_name

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
            control_names=self.control_names,
            revenue_per_unit=(
                None if self.revenue_per_unit is None else self.revenue_per_unit[idx, :n_time]
            ),
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
            control_names=self.control_names,
            revenue_per_unit=(
                None
                if self.revenue_per_unit is None
                else np.where(mask, self.revenue_per_unit[:, :n_time], 0.0)
            ),
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
        from pyro_causalmmm.data.describe import summary_text

        return summary_text(self)
