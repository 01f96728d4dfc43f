"""Consistency of a `MarketingMixData`'s arrays: shapes, the padding mask, names, time
labels and the scaling all agree. These are the constructor's checks (the data rules
themselves are checked on import, in :mod:`pyro_causalmmm.data.frame`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyro_causalmmm.data.columns import _shop
from pyro_causalmmm.errors import DataValidationError

if TYPE_CHECKING:
    from pyro_causalmmm.data.container import MarketingMixData


def check_consistency(data: MarketingMixData) -> None:
    """Raise `DataValidationError` unless the fields fit together (scaling excepted,
    which `check_scaling` checks once it is set)."""
    _arrays(data)
    _lengths(data)
    _names(data)
    _times(data)


def check_scaling(data: MarketingMixData) -> None:
    """Raise `DataValidationError` unless ``data.scaling`` is for these shops and nodes."""
    _scaling(data)


def _arrays(data: MarketingMixData) -> None:
    if data.values.ndim != 3:
        raise DataValidationError(f"values must be (shop, time, node), got {data.values.shape}")
    if data.mask.shape != data.values.shape[:2]:
        raise DataValidationError(
            f"mask {data.mask.shape} must be (shop, time) = {data.values.shape[:2]}"
        )
    if data.context.ndim != 3 or data.context.shape[:2] != data.values.shape[:2]:
        raise DataValidationError(
            f"context {data.context.shape} must be (shop, time, context) with "
            f"(shop, time) = {data.values.shape[:2]}"
        )
    if not (np.isfinite(data.values).all() and np.isfinite(data.context).all()):
        raise DataValidationError("values and context must be finite")
    if data.values.shape[0] == 0:
        raise DataValidationError("the data has no shops")

def _lengths(data: MarketingMixData) -> None:
    n_shops, n_time = data.mask.shape
    if data.lengths.shape != (n_shops,) or data.filled_steps.shape != (n_shops,):
        raise DataValidationError(f"lengths and filled_steps must be (shop,) = ({n_shops},)")
    expected = np.arange(n_time)[None, :] < data.lengths[:, None]
    if not np.array_equal(expected, data.mask):
        raise DataValidationError(
            "mask must be True on the first lengths[s] steps of each shop and False after"
        )
    if (data.lengths < 1).any():
        raise DataValidationError("every shop needs at least one time step")

def _names(data: MarketingMixData) -> None:
    if not data.channel_names:
        raise DataValidationError("fewer than 2 nodes: need at least one channel and a target")
    if len(data.node_names) != data.values.shape[2]:
        raise DataValidationError(
            f"{len(data.node_names)} node names for {data.values.shape[2]} nodes"
        )
    if len(set(data.node_names)) != len(data.node_names):
        raise DataValidationError(f"node names must be unique: {data.node_names}")
    if len(data.context_names) != data.context.shape[2]:
        raise DataValidationError(
            f"{len(data.context_names)} context names for {data.context.shape[2]} columns"
        )
    if len(data.shop_ids) != data.values.shape[0]:
        raise DataValidationError(
            f"{len(data.shop_ids)} shop ids for {data.values.shape[0]} shops"
        )
    if len(set(data.shop_ids)) != len(data.shop_ids):
        raise DataValidationError("shop ids must be unique")
    unknown = [s for s in data.spend_names if s not in data.channel_names]
    if unknown:
        raise DataValidationError(f"spend columns {unknown} are not channels")

def _times(data: MarketingMixData) -> None:
    if len(data.times) != len(data.shop_ids):
        raise DataValidationError(f"times must hold one index per shop ({len(data.shop_ids)})")
    for shop_id, labels, length in zip(data.shop_ids, data.times, data.lengths, strict=True):
        if len(labels) != length:
            raise DataValidationError(
                f"{_shop(shop_id)}: {len(labels)} time labels for {length} steps"
            )

def _scaling(data: MarketingMixData) -> None:
    scaling = data.scaling
    assert scaling is not None  # set in __post_init__; internal invariant
    if scaling.loc.shape != (len(data.shop_ids), data.values.shape[2]):
        raise DataValidationError(
            f"scaling is for {scaling.loc.shape} (shop, node), data is "
            f"{(len(data.shop_ids), data.values.shape[2])}"
        )
    if scaling.context_loc.shape != (data.context.shape[2],):
        raise DataValidationError(
            f"scaling has {scaling.n_context} context variables, data {data.context.shape[2]}"
        )

