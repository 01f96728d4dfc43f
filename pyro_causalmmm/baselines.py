"""Non-Bayesian edge-scoring baselines.

Every baseline has one interface::

    scores = baseline(values, mask=None, **options)   # (shop, cause, effect)

``values`` is float ``(shop, time, node)``; ``mask`` is bool ``(shop, time)``
(True = observed). Higher scores mean "more likely cause -> effect"; scores are
not probabilities. The diagonal is 0. :func:`ridge_var_granger` processes shops
together with batched linear algebra (no Python loop over shops);
:func:`pcmci_parcorr` wraps tigramite, which runs one data frame at a time, so it
loops over shops.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from pyro_causalmmm.errors import ConfigError, DataValidationError

__all__ = ["ridge_var_granger", "pcmci_parcorr", "BASELINES"]


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


# Flag for masked steps handed to tigramite (it rejects NaN in its input but turns
# values equal to ``missing_flag`` into NaN and drops every sample that touches one).
_MISSING_FLAG = -9.87654321e300


def pcmci_parcorr(
    values: np.ndarray,
    mask: np.ndarray | None = None,
    tau_max: int = 3,
    pc_alpha: float | None = None,
    alpha_level: float = 0.05,
    max_conds_dim: int | None = None,
) -> np.ndarray:
    """PCMCI with partial-correlation tests (tigramite), float ``(shop, cause, effect)``.

    Needs the optional dependency tigramite: ``pip install 'pyro_causalmmm[bench]'``.

    For each shop, PCMCI (Runge et al., Sci. Adv. 2019) with the ``ParCorr``
    conditional-independence test runs on that shop's observed steps with
    ``tau_min=1`` (lagged links only, as in the Granger setting) and
    ``tau_max`` lags, and::

        score(i -> j) = max_{tau = 1..tau_max} | val_matrix[i, j, tau] |

    i.e. the largest absolute MCI partial correlation of ``x_i^{t-tau}`` with
    ``x_j^t`` given both variables' PC parents. The test statistic is used rather
    than ``1 - min p-value`` because p-values of strong links underflow to 0 and
    tie, whereas the statistic keeps ranking them (what AUROC measures), and it
    does not depend on the shop's sample size. The statistic is invariant to
    positive affine maps of each series (ParCorr standardizes internally).

    Masked (or non-finite) steps are marked missing; tigramite drops every test
    sample whose target or any lagged regressor falls on one. A shop with fewer
    than ``2 * tau_max + 3`` observed steps, and any link whose test is undefined
    (e.g. a constant series), gets score 0.

    tigramite runs one data frame at a time, so this loops over shops in Python
    (one PCMCI run per shop); it is far slower than :func:`ridge_var_granger`.

    Args:
        values: float ``(shop, time, node)``.
        mask: bool ``(shop, time)``, True = observed; default all observed.
        tau_max: largest lag (>= 1, < time).
        pc_alpha: significance level of the PC condition-selection step; ``None``
            lets tigramite choose it per variable from ``[0.05, 0.1, 0.2, 0.3, 0.4,
            0.5]`` by Akaike information (its documented default for ParCorr).
        alpha_level: significance level tigramite uses for its own graph; it
            does not change the scores.
        max_conds_dim: cap on the size of the PC condition sets (``None``: no cap).
    """
    if isinstance(tau_max, bool) or not isinstance(tau_max, (int, np.integer)) or tau_max < 1:
        raise ConfigError(f"tau_max must be an integer >= 1, got {tau_max!r}")
    if pc_alpha is not None and not (0 < pc_alpha < 1):
        raise ConfigError(f"pc_alpha must be None or in (0, 1), got {pc_alpha!r}")
    if not (0 < alpha_level < 1):
        raise ConfigError(f"alpha_level must be in (0, 1), got {alpha_level!r}")
    try:
        from tigramite import data_processing as pp
        from tigramite.independence_tests.parcorr import ParCorr
        from tigramite.pcmci import PCMCI
    except ImportError as exc:  # optional dependency
        raise ConfigError(
            "pcmci_parcorr needs tigramite (and joblib): "
            f"pip install 'pyro_causalmmm[bench]' ({exc})"
        ) from exc
    x, m = _check_inputs(values, mask)
    n_shops, n_time, n_nodes = x.shape
    if n_time <= tau_max:
        raise ConfigError(f"tau_max must be < time = {n_time}, got {tau_max}")

    scores = np.zeros((n_shops, n_nodes, n_nodes))
    for shop in range(n_shops):  # tigramite: one data frame per run
        if m[shop].sum() < 2 * tau_max + 3:
            continue
        data = np.where(m[shop][:, None], x[shop], _MISSING_FLAG)
        frame = pp.DataFrame(data, missing_flag=_MISSING_FLAG)
        pcmci = PCMCI(dataframe=frame, cond_ind_test=ParCorr(), verbosity=0)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # constant-series and small-sample warnings
            result = pcmci.run_pcmci(
                tau_min=1,
                tau_max=int(tau_max),
                pc_alpha=pc_alpha,
                alpha_level=alpha_level,
                max_conds_dim=max_conds_dim,
            )
        val = np.abs(np.asarray(result["val_matrix"], dtype=float)[:, :, 1:])
        scores[shop] = np.nan_to_num(val, nan=0.0, posinf=0.0, neginf=0.0).max(axis=2)
    scores[:, np.arange(n_nodes), np.arange(n_nodes)] = 0.0
    return scores


BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "ridge_var_granger": ridge_var_granger,
    "pcmci_parcorr": pcmci_parcorr,
}
"""Baseline name -> scoring function ``(values, mask=None, **options) -> (shop, cause, effect)``."""
