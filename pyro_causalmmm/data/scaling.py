"""Reversible per-shop scaling between the user's units and the model's units.

The model works on standardized numbers; users see their own units. `Scaling`
holds the affine maps (one per shop and node, one per context variable) and
`fit_scaling` computes them from a padded data array:

- channels (every node but the target): z-score per (shop, node) over the
  observed steps, ``loc = mean``, ``scale = std``; a constant channel gets
  ``scale = 1`` so it maps to zeros (finite) instead of dividing by zero.
- target: min-max per shop into ``[0.1, 0.9]``: ``loc = min - 0.125 * (max - min)``,
  ``scale = 1.25 * (max - min)``. The model's target passes through the Hill
  S-curve ``u**a / (u**a + g)``, whose range is ``(0, 1)``; mapping the observed
  range to ``[0.1, 0.9]`` keeps every observation inside that range with a margin
  on both sides (so neither end needs ``u`` at 0 or infinity) and leaves room
  for forecasts somewhat outside the observed range.
- context: z-score pooled over all shops and observed steps (context variables
  describe differences between shops, so a per-shop z-score would erase them);
  a constant context variable gets ``scale = 1``.

Every map is ``scaled = (value - loc) / scale`` and ``value = scaled * scale + loc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyro_causalmmm.errors import DataValidationError, ModelFileError

#: Observed target range maps to [TARGET_LOW, TARGET_HIGH] inside the Hill curve's (0, 1).
TARGET_LOW = 0.1
TARGET_HIGH = 0.9
_TARGET_PAD = TARGET_LOW / (TARGET_HIGH - TARGET_LOW)  # 0.125
_TARGET_SPAN = 1.0 / (TARGET_HIGH - TARGET_LOW)  # 1.25


def _readonly(array: Any, ndim: int, name: str) -> np.ndarray:
    """A read-only float64 copy of ``array``, checked to have ``ndim`` dimensions."""
    out = np.array(array, dtype=np.float64, copy=True)
    if out.ndim != ndim:
        raise DataValidationError(f"Scaling.{name} must have {ndim} dimensions, got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise DataValidationError(f"Scaling.{name} has non-finite entries")
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Scaling:
    """Affine maps between user units and model units.

    Attributes:
        loc: ``(shop, node)`` offsets.
        scale: ``(shop, node)`` positive scales.
        context_loc: ``(context,)`` offsets, pooled over shops.
        context_scale: ``(context,)`` positive scales.
    """

    loc: np.ndarray
    scale: np.ndarray
    context_loc: np.ndarray
    context_scale: np.ndarray

    def __post_init__(self) -> None:
        for name, ndim in (("loc", 2), ("scale", 2), ("context_loc", 1), ("context_scale", 1)):
            object.__setattr__(self, name, _readonly(getattr(self, name), ndim, name))
        if self.loc.shape != self.scale.shape:
            raise DataValidationError(
                f"Scaling.loc {self.loc.shape} and Scaling.scale {self.scale.shape} differ in shape"
            )
        if self.context_loc.shape != self.context_scale.shape:
            raise DataValidationError(
                f"Scaling.context_loc {self.context_loc.shape} and Scaling.context_scale "
                f"{self.context_scale.shape} differ in shape"
            )
        if np.any(self.scale <= 0) or np.any(self.context_scale <= 0):
            raise DataValidationError("Scaling scales must be positive")

    @property
    def n_shops(self) -> int:
        return int(self.loc.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.loc.shape[1])

    @property
    def n_context(self) -> int:
        return int(self.context_loc.shape[0])

    def transform(self, values: Any) -> np.ndarray:
        """User units -> model units; ``values`` is ``(..., shop, time, node)``."""
        values = np.asarray(values, dtype=np.float64)
        return (values - self.loc[:, None, :]) / self.scale[:, None, :]

    def inverse(self, values: Any) -> np.ndarray:
        """Model units -> user units; ``values`` is ``(..., shop, time, node)``."""
        values = np.asarray(values, dtype=np.float64)
        return values * self.scale[:, None, :] + self.loc[:, None, :]

    def transform_node(self, values: Any, node: int) -> np.ndarray:
        """User units -> model units for one node; ``values`` is ``(..., shop, time)``."""
        values = np.asarray(values, dtype=np.float64)
        return (values - self.loc[:, node, None]) / self.scale[:, node, None]

    def inverse_node(self, values: Any, node: int) -> np.ndarray:
        """Model units -> user units for one node; ``values`` is ``(..., shop, time)``."""
        values = np.asarray(values, dtype=np.float64)
        return values * self.scale[:, node, None] + self.loc[:, node, None]

    def transform_context(self, values: Any) -> np.ndarray:
        """User units -> model units; ``values`` is ``(..., context)``."""
        values = np.asarray(values, dtype=np.float64)
        return (values - self.context_loc) / self.context_scale

    def inverse_context(self, values: Any) -> np.ndarray:
        """Model units -> user units; ``values`` is ``(..., context)``."""
        values = np.asarray(values, dtype=np.float64)
        return values * self.context_scale + self.context_loc

    def subset(self, shop_indices: Sequence[int]) -> Scaling:
        """The maps of the shops ``shop_indices`` (rows of ``loc``/``scale``), in that order."""
        idx = np.asarray(shop_indices, dtype=np.int64)
        return Scaling(self.loc[idx], self.scale[idx], self.context_loc, self.context_scale)

    def to_dict(self) -> dict[str, list]:
        """JSON-serializable nested lists (float64 round-trips exactly through JSON)."""
        return {
            "loc": self.loc.tolist(),
            "scale": self.scale.tolist(),
            "context_loc": self.context_loc.tolist(),
            "context_scale": self.context_scale.tolist(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Scaling:
        """Inverse of `to_dict`; a missing key is a `ModelFileError`."""
        missing = [k for k in ("loc", "scale", "context_loc", "context_scale") if k not in payload]
        if missing:
            raise ModelFileError(f"saved scaling is missing {missing}; re-save the model")
        n_shops = len(payload["loc"])
        loc = np.asarray(payload["loc"], dtype=np.float64).reshape(n_shops, -1)
        scale = np.asarray(payload["scale"], dtype=np.float64).reshape(n_shops, -1)
        return cls(
            loc=loc,
            scale=scale,
            context_loc=np.asarray(payload["context_loc"], dtype=np.float64).reshape(-1),
            context_scale=np.asarray(payload["context_scale"], dtype=np.float64).reshape(-1),
        )


def _positive_scale(std: np.ndarray) -> np.ndarray:
    """``std`` with zero or non-finite entries replaced by 1."""
    return np.where(np.isfinite(std) & (std > 0), std, 1.0)


def fit_scaling(
    values: Any,
    mask: Any,
    target_index: int,
    context: Any | None = None,
) -> Scaling:
    """Fit the maps described in the module docstring.

    Args:
        values: ``(shop, time, node)`` data in user units (padded steps ignored).
        mask: ``(shop, time)`` bool, True on observed steps.
        target_index: index of the target node (min-max scaled); all others are channels.
        context: optional ``(shop, time, context)`` data; None means no context variables.

    Returns:
        A `Scaling` with ``loc``/``scale`` ``(shop, node)`` and ``context_loc``/``context_scale``
        ``(context,)``.

    Raises:
        DataValidationError: a shop has no observed step, or its target is constant
            (min-max scaling needs ``max > min``).
    """
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if values.ndim != 3 or mask.shape != values.shape[:2]:
        raise DataValidationError(
            f"fit_scaling needs values (shop, time, node) and mask (shop, time); "
            f"got {values.shape} and {mask.shape}"
        )
    n_nodes = values.shape[2]
    if not -n_nodes <= target_index < n_nodes:
        raise DataValidationError(f"target_index {target_index} out of range for {n_nodes} nodes")
    target_index = target_index % n_nodes
    counts = mask.sum(axis=1)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise DataValidationError(f"shop index {int(empty[0])} has no observed time step")

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
        observed = np.where(mask[:, :, None], values, 0.0)
        mean = observed.sum(axis=1) / counts[:, None]
        squared = np.where(mask[:, :, None], (values - mean[:, None, :]) ** 2, 0.0)
        var = squared.sum(axis=1) / counts[:, None]
        high = np.where(mask[:, :, None], values, -np.inf).max(axis=1)
        low = np.where(mask[:, :, None], values, np.inf).min(axis=1)
        spread = high - low  # exactly 0 for a constant series, unlike a rounded std
    overflow = ~(np.isfinite(mean) & np.isfinite(var) & np.isfinite(spread))
    if overflow.any():
        s, j = (int(k[0]) for k in np.nonzero(overflow))
        raise DataValidationError(
            f"shop index {s}, node index {j}: the values are not finite or too large to scale "
            f"(largest magnitude {np.abs(observed[s, :, j]).max():g}); check the data, or "
            "express the column in larger units (e.g. thousands)"
        )

    loc = np.where(spread > 0, mean, low)  # a constant maps to exact zeros
    scale = np.where(spread > 0, _positive_scale(np.sqrt(var)), 1.0)

    target_range = spread[:, target_index]
    constant = np.flatnonzero(~(target_range > 0))
    if constant.size:
        raise DataValidationError(
            f"shop index {int(constant[0])}: the target is constant, so it cannot be "
            "min-max scaled; drop the shop or check the target column"
        )
    loc[:, target_index] = low[:, target_index] - _TARGET_PAD * target_range
    with np.errstate(over="ignore"):
        scale[:, target_index] = _TARGET_SPAN * target_range
    if not np.isfinite(scale[:, target_index]).all():
        s = int(np.flatnonzero(~np.isfinite(scale[:, target_index]))[0])
        raise DataValidationError(
            f"shop index {s}: the target's range {target_range[s]:g} is too large to scale; "
            "express the target in larger units (e.g. thousands)"
        )

    if context is None:
        context_loc = np.zeros(0)
        context_scale = np.ones(0)
    else:
        context = np.asarray(context, dtype=np.float64)
        if context.ndim != 3 or context.shape[:2] != mask.shape:
            raise DataValidationError(
                f"fit_scaling needs context (shop, time, context); got {context.shape}"
            )
        pooled = context[mask]  # (observed step, context)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            if pooled.size:
                context_low = pooled.min(axis=0)
                context_spread = pooled.max(axis=0) - context_low
                context_mean, context_std = pooled.mean(axis=0), pooled.std(axis=0)
            else:
                context_low = context_spread = context_mean = np.zeros(context.shape[2])
                context_std = np.ones(context.shape[2])
        bad = ~(np.isfinite(context_spread) & np.isfinite(context_mean) & np.isfinite(context_std))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"context index {k}: the values are not finite or too large to scale; check "
                "the data, or express the column in larger units (e.g. thousands)"
            )
        context_loc = np.where(context_spread > 0, context_mean, context_low)
        context_scale = np.where(context_spread > 0, _positive_scale(context_std), 1.0)
    return Scaling(loc=loc, scale=scale, context_loc=context_loc, context_scale=context_scale)
