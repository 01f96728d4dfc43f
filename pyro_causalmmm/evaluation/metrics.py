"""Evaluation metrics for edge recovery and forecasts (pure numpy).

Edge metrics follow the paper's protocol: only off-diagonal entries of the
``(shop, cause, effect)`` arrays count (self-loops are neither scored nor
judged). AUROC is reported two ways, and tables must say which:

* ``auroc_pooled``: one AUROC over every shop's off-diagonal entries together;
* ``auroc_per_shop_mean``: the mean of per-shop AUROCs over shops whose true
  graph has both edges and non-edges (others are skipped).
"""

from __future__ import annotations

import numpy as np

from pyro_causalmmm.errors import DataValidationError

__all__ = ["auroc", "edge_metrics", "mse", "mape", "off_diagonal"]


def auroc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve of 1-D ``scores`` against binary ``truth``.

    Rank form (Mann-Whitney U), ties get their average rank::

        AUROC = (sum_{i: truth_i = 1} rank_i - P (P + 1) / 2) / (P * Q)

    with ``P`` positives and ``Q`` negatives; equals ``P(score_pos > score_neg) +
    0.5 P(score_pos = score_neg)``. Returns ``nan`` when only one class is present.

    Raises:
        DataValidationError: shapes differ, inputs are not 1-D, or scores are not finite.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(truth)
    if s.ndim != 1 or y.shape != s.shape:
        raise DataValidationError(
            f"auroc needs 1-D scores and truth of the same length, got {s.shape} and {y.shape}"
        )
    if not np.all(np.isfinite(s)):
        raise DataValidationError("auroc scores must be finite (found NaN or inf)")
    y = y.astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Start index of each run of equal values.
    new_run = np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]])
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.concatenate([starts[1:], [x.size]])
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=float)
    ranks[order] = mean_rank[run_id]
    return ranks


def off_diagonal(array: np.ndarray) -> np.ndarray:
    """Off-diagonal entries of ``(..., node, node)`` as ``(..., node * (node - 1))``."""
    a = np.asarray(array)
    n_nodes = a.shape[-1]
    keep = ~np.eye(n_nodes, dtype=bool)
    return a[..., keep]


def edge_arrays(scores, truth, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, truth)`` as ``(shop, cause, effect)`` arrays (a ``(cause, effect)`` pair
    is one shop); raises `DataValidationError` naming ``name`` unless they have the same
    square shape."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(truth)
    if s.ndim == 2 and y.ndim == 2:
        s, y = s[None], y[None]
    if s.ndim != 3 or y.shape != s.shape or s.shape[1] != s.shape[2]:
        raise DataValidationError(
            f"{name} needs scores and truth of the same shape (shop, cause, effect) "
            f"with cause == effect, got {np.shape(scores)} and {np.shape(truth)}"
        )
    return s, y


def edge_metrics(scores: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """Edge-recovery metrics of ``scores`` against the true graphs.

    Args:
        scores: float ``(shop, cause, effect)`` (or ``(cause, effect)`` for one shop);
            higher means more likely an edge. Edge probabilities for ``acc``.
        truth: binary, same shape; 1 means cause -> effect.

    Returns:
        dict with ``auroc_pooled``, ``auroc_per_shop_mean`` (``nan`` if no shop has
        both classes), ``acc`` (pooled accuracy of ``scores >= 0.5``; meaningful only
        when scores are probabilities, e.g. posterior edge probabilities, not for
        unbounded baseline scores), ``n_shops`` (all shops) and
        ``n_shops_scored`` (shops in the per-shop mean). Diagonals are ignored.

    Raises:
        DataValidationError: shapes differ or are not square in (cause, effect).
    """
    s, y = edge_arrays(scores, truth, "edge_metrics")
    s_off = off_diagonal(s)  # (shop, pairs)
    y_off = off_diagonal(y).astype(bool)
    per_shop = [
        auroc(s_off[i], y_off[i])
        for i in range(s_off.shape[0])
        if 0 < y_off[i].sum() < y_off.shape[1]
    ]
    return {
        "auroc_pooled": auroc(s_off.ravel(), y_off.ravel()),
        "auroc_per_shop_mean": float(np.mean(per_shop)) if per_shop else float("nan"),
        "acc": float(np.mean((s_off >= 0.5) == y_off)),
        "n_shops": int(s.shape[0]),
        "n_shops_scored": len(per_shop),
    }


def _masked_pair(
    pred: np.ndarray, obs: np.ndarray, mask: np.ndarray | None, name: str
) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=float)
    o = np.asarray(obs, dtype=float)
    if p.shape != o.shape:
        raise DataValidationError(f"{name}: pred and obs shapes differ, {p.shape} vs {o.shape}")
    keep = np.isfinite(o)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        try:
            m = np.broadcast_to(m, o.shape) if m.ndim == o.ndim else _expand_mask(m, o.shape)
        except ValueError as exc:
            raise DataValidationError(
                f"{name}: mask shape {m.shape} does not fit obs shape {o.shape}"
            ) from exc
        keep &= m
    return p[keep], o[keep]


def _expand_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast a leading-axes mask, e.g. ``(shop, time)`` onto ``(shop, time, node)``."""
    if mask.shape != shape[: mask.ndim]:
        raise ValueError("mask does not match the leading axes")
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


def mse(pred: np.ndarray, obs: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error ``mean((pred - obs)^2)`` over kept entries.

    ``mask`` (True = keep) has the shape of ``obs`` or of its leading axes (e.g.
    ``(shop, time)`` for ``(shop, time, node)``); non-finite ``obs`` are skipped.
    Returns ``nan`` if nothing is kept.
    """
    p, o = _masked_pair(pred, obs, mask, "mse")
    if o.size == 0:
        return float("nan")
    return float(np.mean((p - o) ** 2))


def mape(pred: np.ndarray, obs: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute percentage error ``100 * mean(|pred - obs| / |obs|)``, in percent.

    Entries with ``obs == 0`` are skipped (the ratio is undefined), as are masked
    and non-finite ones; ``mask`` as in :func:`mse`. Returns ``nan`` if nothing is kept.
    """
    p, o = _masked_pair(pred, obs, mask, "mape")
    nonzero = o != 0
    if not nonzero.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(p[nonzero] - o[nonzero]) / np.abs(o[nonzero])))
