"""Non-Bayesian edge-scoring baselines.

Every baseline has one interface::

    scores = baseline(values, mask=None, **options)   # (shop, cause, effect)

``values`` is float ``(shop, time, node)``; ``mask`` is bool ``(shop, time)``
(True = observed). Higher scores mean "more likely cause -> effect"; scores are
not probabilities. The diagonal is 0. Shops are processed together with
batched linear algebra (no Python loop over shops).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pyro_causalmmm.errors import ConfigError, DataValidationError

__all__ = ["ridge_var_granger", "BASELINES"]


def _check_inputs(values: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=float)
    if x.ndim != 3:
        raise DataValidationError(
            f"values must be (shop, time, node), got an array of shape {x.shape}"
        )
    if mask is None:
        m = np.ones(x.shape[:2], dtype=bool)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != x.shape[:2]:
            raise DataValidationError(f"mask must be (shop, time) = {x.shape[:2]}, got {m.shape}")
    m = m & np.all(np.isfinite(x), axis=2)
    return np.where(m[:, :, None], x, 0.0), m


def ridge_var_granger(
    values: np.ndarray,
    lags: int = 3,
    alpha: float = 1.0,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge VAR Granger scores per shop, float ``(shop, cause, effect)``.

    For each shop, every series is standardized over its observed steps, then
    each node ``j`` is regressed on lags ``1..L`` of all nodes with a ridge
    penalty ``alpha`` (no intercept; the data are centred)::

        x_j^t = sum_{l=1..L} sum_i B[l, i, j] x_i^{t-l} + e,
        B = (X^T X + alpha I)^{-1} X^T Y        (one solve per shop, batched)

    and ``score(i -> j) = || B[1..L, i, j] ||_2``. Rows whose target step or any
    of its ``L`` lagged steps is masked (or non-finite) are left out. A shop with
    no usable row gets all-zero scores.

    Args:
        values: float ``(shop, time, node)``.
        lags: number of lags ``L`` (>= 1, < time).
        alpha: ridge penalty (>= 0; 0 is ordinary least squares).
        mask: bool ``(shop, time)``, True = observed; default all observed.
    """
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ConfigError(f"lags must be an integer >= 1, got {lags!r}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ConfigError(f"alpha must be a finite number >= 0, got {alpha!r}")
    x, m = _check_inputs(values, mask)
    n_shops, n_time, n_nodes = x.shape
    if n_time <= lags:
        raise ConfigError(f"lags must be < time = {n_time}, got {lags}")

    # Standardize each (shop, node) over observed steps.
    w = m[:, :, None].astype(float)
    count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    mean = (x * w).sum(axis=1, keepdims=True) / count
    var = (((x - mean) * w) ** 2).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    z = np.where(w > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)

    # Design: row t (t = L..T-1) holds z^{t-1}, ..., z^{t-L}; column block l-1 = lag l.
    target = z[:, lags:, :]  # (shop, rows, node)
    design = np.concatenate(
        [z[:, lags - lag : n_time - lag, :] for lag in range(1, lags + 1)], axis=2
    )  # (shop, rows, L * node)
    keep = m[:, lags:].copy()
    for lag in range(1, lags + 1):
        keep &= m[:, lags - lag : n_time - lag]
    kw = keep[:, :, None].astype(float)
    design = design * kw
    target = target * kw

    gram = np.einsum("nrp,nrq->npq", design, design)
    gram = gram + alpha * np.eye(lags * n_nodes)
    # alpha == 0 with a singular gram (e.g. no usable rows): fall back to a tiny ridge.
    gram = gram + 1e-8 * np.eye(lags * n_nodes)
    rhs = np.einsum("nrp,nrj->npj", design, target)
    coef = np.linalg.solve(gram, rhs)  # (shop, L * node, node)
    coef = coef.reshape(n_shops, lags, n_nodes, n_nodes)  # (shop, lag, cause, effect)
    scores = np.sqrt((coef**2).sum(axis=1))
    scores[:, np.arange(n_nodes), np.arange(n_nodes)] = 0.0
    return scores


BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "ridge_var_granger": ridge_var_granger,
}
"""Baseline name -> scoring function ``(values, mask=None, **options) -> (shop, cause, effect)``."""
