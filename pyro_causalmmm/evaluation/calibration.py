"""Ranking and calibration of edge probabilities against known graphs (pure numpy).

Every function takes ``(shop, cause, effect)`` arrays (or ``(cause, effect)`` for one
shop) and scores only their off-diagonal entries, flattened over shops
(:func:`pyro_causalmmm.evaluation.metrics.off_diagonal`); a 1-D array is taken as
already-flattened entries. ``truth`` is binary (1 = cause -> effect).

* ranking: :func:`auprc` (average precision) and :func:`ranking_metrics` (per-shop mean
  and pooled AUROC / AUPRC; the per-shop mean is over shops whose true graph has both
  edges and non-edges);
* calibration of probabilities ``p`` in [0, 1]: :func:`ece`, :func:`reliability`,
  :func:`brier` next to :func:`base_rate_brier`, and :func:`decision_shares` (how often
  an edge called present is real, and one called absent is absent).

Bad input (shapes that differ, a non-square graph, non-finite scores, non-binary truth,
probabilities outside [0, 1]) raises :class:`~pyro_causalmmm.errors.DataValidationError`
(a ``ValueError``), as :mod:`~pyro_causalmmm.evaluation.metrics` does; bad settings
(``bins``, thresholds) raise :class:`~pyro_causalmmm.errors.ConfigError`.
"""

from __future__ import annotations

import numpy as np

from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.evaluation.metrics import auroc, edge_arrays, off_diagonal

__all__ = [
    "auprc",
    "base_rate_brier",
    "brier",
    "calibration_summary",
    "decision_shares",
    "ece",
    "ranking_metrics",
    "reliability",
]


def _entries(
    scores: np.ndarray, truth: np.ndarray, name: str, probability: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Flattened off-diagonal ``(scores float, truth bool)``, validated."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(truth)
    if s.shape != y.shape:
        raise DataValidationError(
            f"{name}: scores and truth must have the same shape, got {s.shape} and {y.shape}"
        )
    if s.ndim in (2, 3):
        if s.shape[-1] != s.shape[-2]:
            raise DataValidationError(
                f"{name}: graphs must be square (cause == effect), got shape {s.shape}"
            )
        s, y = off_diagonal(s).ravel(), off_diagonal(y).ravel()
    elif s.ndim != 1:
        raise DataValidationError(
            f"{name}: needs (shop, cause, effect), (cause, effect) or 1-D entries, "
            f"got shape {s.shape}"
        )
    if not np.all(np.isfinite(s)):
        raise DataValidationError(f"{name}: scores must be finite (found NaN or inf)")
    if y.size and not np.all((y == 0) | (y == 1)):
        raise DataValidationError(f"{name}: truth must be binary (0 or 1)")
    if probability and s.size and (s.min() < 0.0 or s.max() > 1.0):
        raise DataValidationError(
            f"{name}: probabilities must lie in [0, 1], found [{s.min():.4g}, {s.max():.4g}]"
        )
    return s, y.astype(bool)


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"bins must be an integer >= 1, got {bins!r}")
    return int(bins)


def _average_precision(s: np.ndarray, y: np.ndarray) -> float:
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # one threshold per distinct score: the last index of each run of tied scores
    last = np.flatnonzero(np.concatenate([s_sorted[1:] != s_sorted[:-1], [True]]))
    tp = np.cumsum(y_sorted)[last]
    called = last + 1
    precision = tp / called
    recall = tp / n_pos
    d_recall = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(d_recall * precision))


def auprc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step form).

    With the distinct scores as thresholds ``t_1 > t_2 > ...`` (tied scores enter
    together), precision ``P_k`` and recall ``R_k`` of calling ``score >= t_k`` an edge::

        AP = sum_k (R_k - R_{k-1}) P_k,      R_0 = 0

    (scikit-learn's ``average_precision_score``). A perfect ranking gives 1; a random one
    gives about the base rate. Returns ``nan`` without positives.

    Args:
        scores: float ``(shop, cause, effect)``, ``(cause, effect)`` or 1-D; higher means
            more likely an edge (any scale).
        truth: binary, same shape.
    """
    s, y = _entries(scores, truth, "auprc")
    return _average_precision(s, y)


def ranking_metrics(scores: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """Per-shop mean and pooled AUROC and AUPRC of ``scores`` against ``truth``.

    Args:
        scores, truth: ``(shop, cause, effect)`` (or ``(cause, effect)``: one shop).

    Returns:
        dict with ``auroc_per_shop_mean`` and ``auprc_per_shop_mean`` (means over the
        shops whose off-diagonal truth has both classes; ``nan`` if none),
        ``auroc_pooled`` and ``auprc_pooled`` (one curve over every shop's entries),
        ``n_shops`` and ``n_shops_scored``.
    """
    s, y = edge_arrays(scores, truth, "ranking_metrics")
    s_all, y_all = _entries(s, y, "ranking_metrics")  # validates values
    s_off = s_all.reshape(s.shape[0], -1)
    y_off = y_all.reshape(s.shape[0], -1)
    both = [i for i in range(s.shape[0]) if 0 < y_off[i].sum() < y_off.shape[1]]
    roc = [auroc(s_off[i], y_off[i]) for i in both]
    ap = [_average_precision(s_off[i], y_off[i]) for i in both]
    return {
        "auroc_per_shop_mean": float(np.mean(roc)) if roc else float("nan"),
        "auprc_per_shop_mean": float(np.mean(ap)) if ap else float("nan"),
        "auroc_pooled": auroc(s_all, y_all),
        "auprc_pooled": _average_precision(s_all, y_all),
        "n_shops": int(s.shape[0]),
        "n_shops_scored": len(both),
    }


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each ``p`` in [0, 1]: ``[k/B, (k+1)/B)``, the last bin closed."""
    return np.minimum((p * bins).astype(int), bins - 1)


def reliability(p: np.ndarray, truth: np.ndarray, bins: int = 10) -> list[dict]:
    """Reliability table of probabilities ``p``: equal-width bins on [0, 1].

    Bin ``k`` (``k = 0..B-1``) holds ``k/B <= p < (k+1)/B`` (the last bin includes 1).

    Returns:
        one dict per bin, in order: ``bin`` (k), ``lo``, ``hi`` (its edges), ``count``
        (entries in it), ``mean_p`` (their mean probability) and ``frequency`` (the share
        of them that are true edges); ``mean_p`` and ``frequency`` are ``nan`` for an
        empty bin.
    """
    bins = _check_bins(bins)
    s, y = _entries(p, truth, "reliability", probability=True)
    idx = _bin_index(s, bins)
    count = np.bincount(idx, minlength=bins)
    sum_p = np.bincount(idx, weights=s, minlength=bins)
    sum_y = np.bincount(idx, weights=y.astype(float), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / np.maximum(count, 1), np.nan)
        freq = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    return [
        {"bin": k, "lo": k / bins, "hi": (k + 1) / bins, "count": int(count[k]),
         "mean_p": float(mean_p[k]), "frequency": float(freq[k])}
        for k in range(bins)
    ]


def ece(p: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins (those of :func:`reliability`)::

        ECE = sum_k (n_k / n) | mean(p in bin k) - frequency of edges in bin k |

    0 for perfectly calibrated probabilities; at most 1. ``nan`` for no entries.
    """
    table = reliability(p, truth, bins)
    n = sum(r["count"] for r in table)
    if n == 0:
        return float("nan")
    return float(sum(r["count"] / n * abs(r["mean_p"] - r["frequency"])
                     for r in table if r["count"]))


def brier(p: np.ndarray, truth: np.ndarray) -> float:
    """Brier score ``mean((p - y)^2)`` of probabilities ``p`` (lower is better; ``nan`` for
    no entries)."""
    s, y = _entries(p, truth, "brier", probability=True)
    if s.size == 0:
        return float("nan")
    return float(np.mean((s - y) ** 2))


def base_rate_brier(truth: np.ndarray) -> float:
    """Brier score of the constant forecast ``p = pi``, the share of true edges among the
    (off-diagonal) entries of ``truth``: ``pi (1 - pi)``.

    The reference a useful forecast must beat (it knows the base rate of these very
    graphs, nothing else). ``nan`` for no entries.
    """
    y = np.asarray(truth)
    _, yb = _entries(np.zeros(y.shape), y, "base_rate_brier")
    if yb.size == 0:
        return float("nan")
    pi = float(yb.mean())
    return pi * (1.0 - pi)


def decision_shares(
    p: np.ndarray, truth: np.ndarray, present: float = 0.8, absent: float = 0.2
) -> dict[str, float | int]:
    """How trustworthy the calls "present" (``p >= present``) and "absent"
    (``p <= absent``) are.

    Returns:
        dict with ``present_real`` (share of edges called present that are true edges:
        the precision of the call), ``absent_absent`` (share of edges called absent that
        are not edges), ``n_present``, ``n_present_real``, ``n_absent``,
        ``n_absent_absent``, ``n_undecided`` (entries between the thresholds) and
        ``n`` (all entries). A share is ``nan`` when nothing is called.

    Raises:
        ConfigError: unless ``0 <= absent < present <= 1``.
    """
    if not (0.0 <= absent < present <= 1.0):
        raise ConfigError(
            f"thresholds must satisfy 0 <= absent < present <= 1, got absent={absent!r}, "
            f"present={present!r}"
        )
    s, y = _entries(p, truth, "decision_shares", probability=True)
    called_present = s >= present
    called_absent = s <= absent
    n_present, n_absent = int(called_present.sum()), int(called_absent.sum())
    n_present_real = int((called_present & y).sum())
    n_absent_absent = int((called_absent & ~y).sum())
    return {
        "present_real": n_present_real / n_present if n_present else float("nan"),
        "absent_absent": n_absent_absent / n_absent if n_absent else float("nan"),
        "n_present": n_present,
        "n_present_real": n_present_real,
        "n_absent": n_absent,
        "n_absent_absent": n_absent_absent,
        "n_undecided": int(s.size - n_present - n_absent),
        "n": int(s.size),
    }


def calibration_summary(
    p: np.ndarray, truth: np.ndarray, bins: int = 10, present: float = 0.8, absent: float = 0.2
) -> dict:
    """Everything above for probabilities ``p`` in one dict: ``ece``, ``reliability``,
    ``brier``, ``base_rate_brier``, ``base_rate`` and ``decision`` (of
    :func:`decision_shares`)."""
    _, y = _entries(p, truth, "calibration_summary", probability=True)
    return {
        "ece": ece(p, truth, bins),
        "reliability": reliability(p, truth, bins),
        "brier": brier(p, truth),
        "base_rate_brier": base_rate_brier(truth),
        "base_rate": float(y.mean()) if y.size else float("nan"),
        "decision": decision_shares(p, truth, present, absent),
    }
