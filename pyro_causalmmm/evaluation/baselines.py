"""Non-Bayesian edge-scoring baselines.

Every baseline has one interface::

    scores = baseline(values, mask=None, **options)   # (shop, cause, effect)

``values`` is float ``(shop, time, node)``; ``mask`` is bool ``(shop, time)``
(True = observed). Higher scores mean "more likely cause -> effect"; scores are
not probabilities. The diagonal is 0. :func:`ridge_var_granger` and
:func:`var_ftest_granger` process shops together with batched linear algebra (no
Python loop over shops); :func:`pcmci_parcorr` (tigramite) and :func:`varlingam`
(lingam) wrap libraries that fit one data set at a time, so they loop over shops.
Optional libraries are imported only when their baseline is called.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from pyro_causalmmm.errors import ConfigError, DataValidationError

__all__ = ["ridge_var_granger", "var_ftest_granger", "varlingam", "pcmci_parcorr", "BASELINES"]


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

    design, target, _ = _lag_rows(z, m, lags)

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


def _lag_rows(z: np.ndarray, m: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(design, target, keep)`` of the per-shop VAR regression.

    Row ``t`` (``t = L..T-1``) of ``design`` ``(shop, rows, L * node)`` holds ``z^{t-1},
    ..., z^{t-L}`` (column block ``l-1`` = lag ``l``, node ``i`` at ``(l-1) * node + i``);
    ``target`` ``(shop, rows, node)`` holds ``z^t``. Rows whose target or any lag is
    masked are zeroed; ``keep`` ``(shop, rows)`` marks the others.
    """
    n_time = z.shape[1]
    target = z[:, lags:, :]
    design = np.concatenate(
        [z[:, lags - lag : n_time - lag, :] for lag in range(1, lags + 1)], axis=2
    )
    keep = m[:, lags:].copy()
    for lag in range(1, lags + 1):
        keep &= m[:, lags - lag : n_time - lag]
    kw = keep[:, :, None].astype(float)
    return design * kw, target * kw, keep


def _check_lags(lags, n_time: int, name: str = "lags") -> None:
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {lags!r}")
    if n_time <= lags:
        raise ConfigError(f"{name} must be < time = {n_time}, got {lags}")


def var_ftest_granger(
    values: np.ndarray,
    lags: int = 3,
    mask: np.ndarray | None = None,
    score: str = "f",
) -> np.ndarray:
    """VAR Granger-causality F-tests per shop, float ``(shop, cause, effect)``.

    For each shop, a VAR(``L``) with intercept is fitted by ordinary least squares to
    every node on lags ``1..L`` of all nodes, and for each pair ``i -> j`` the null
    "the ``L`` lag coefficients of ``i`` in ``j``'s equation are 0" is tested with the
    Wald F statistic of Granger (1969)::

        F(i -> j) = (b_S^T [(X^T X)^{-1}]_SS^{-1} b_S / L) / (RSS_j / (n - P))

    with ``S`` the ``L`` columns of ``i``, ``n`` usable rows and ``P = L * node + 1``
    parameters; it equals (restricted RSS - RSS_j) / L over the same denominator and
    matches ``statsmodels``' ``VARResults.test_causality(j, i, kind="f")`` (checked in
    the tests). All shops and pairs are computed with batched linear algebra from one
    inverse per shop; statsmodels is not needed.

    ``score="f"`` (default) returns ``F``; ``score="1-p"`` returns ``1 - p`` with ``p``
    the ``F(L, n - P)`` upper tail (needs scipy). The statistic is the default because
    p-values of strong links underflow and tie, whereas ``F`` keeps ranking them (what
    AUROC measures). Rows whose target or any lag is masked (or non-finite) are left
    out; a shop with ``n <= P`` usable rows gets all-zero scores.

    Args:
        values: float ``(shop, time, node)``.
        lags: number of lags ``L`` (>= 1, < time).
        mask: bool ``(shop, time)``, True = observed; default all observed.
        score: ``"f"`` or ``"1-p"``.
    """
    if score not in ("f", "1-p"):
        raise ConfigError(f"score must be 'f' or '1-p', got {score!r}")
    x, m = _check_inputs(values, mask)
    n_shops, n_time, n_nodes = x.shape
    _check_lags(lags, n_time)
    # centre per shop (the F statistic is invariant to affine maps of each series)
    w = m[:, :, None].astype(float)
    mean = (x * w).sum(axis=1, keepdims=True) / np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    design, target, keep = _lag_rows(np.where(w > 0, x - mean, 0.0), m, lags)
    design = np.concatenate([design, keep[:, :, None].astype(float)], axis=2)  # intercept
    n_par = lags * n_nodes + 1
    n_rows = keep.sum(axis=1)
    ok = n_rows > n_par
    gram = np.einsum("nrp,nrq->npq", design, design)
    # a shop without enough rows would be singular; give it an identity (scored 0 below)
    gram[~ok] = np.eye(n_par)
    scale = np.sqrt(np.maximum(np.diagonal(gram, axis1=1, axis2=2), 1e-300))
    inv = np.linalg.pinv(gram / scale[:, :, None] / scale[:, None, :], hermitian=True)
    inv = inv / scale[:, :, None] / scale[:, None, :]  # (X^T X)^{-1}, equilibrated
    coef = inv @ np.einsum("nrp,nrj->npj", design, target)  # (shop, P, effect)
    resid = target - design @ coef
    rss = (resid**2).sum(axis=1)  # (shop, effect)
    df = np.maximum(n_rows - n_par, 1)[:, None]
    sigma2 = np.maximum(rss / df, 1e-300)
    # columns of cause i: (l-1) * node + i for l = 1..L
    cols = np.arange(lags)[None, :] * n_nodes + np.arange(n_nodes)[:, None]  # (cause, L)
    inv_ss = inv[:, cols[:, :, None], cols[:, None, :]]  # (shop, cause, L, L)
    b = coef[:, cols, :]  # (shop, cause, L, effect)
    sol = np.linalg.solve(inv_ss, b)  # (shop, cause, L, effect)
    wald = (b * sol).sum(axis=2)  # (shop, cause, effect)
    f = np.maximum(wald / lags / sigma2[:, None, :], 0.0)
    f[~ok] = 0.0
    if score == "1-p":
        from scipy.stats import f as f_dist

        f = np.where(ok[:, None, None], f_dist.cdf(f, lags, df[:, :, None]), 0.0)
    f[:, np.arange(n_nodes), np.arange(n_nodes)] = 0.0
    return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)


def varlingam(
    values: np.ndarray,
    mask: np.ndarray | None = None,
    lags: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """VARLiNGAM (Hyvarinen et al., JMLR 2010; package lingam) per shop, float
    ``(shop, cause, effect)``.

    Needs the optional dependency lingam: ``pip install 'pyro_causalmmm[bench]'``.

    For each shop, ``lingam.VARLiNGAM(lags=L, criterion=None, prune=False)`` fits a
    VAR(``L``) by least squares and DirectLiNGAM on its residuals, giving the
    instantaneous matrix ``B_0`` and lagged matrices ``B_1..B_L`` of the structural
    VAR (lingam's convention ``B_k[effect, cause]``), and::

        score(i -> j) = max_{k = 1..L} | B_k[j, i] |

    the largest absolute lagged structural coefficient from ``i`` to ``j``
    (instantaneous effects are not Granger causes and are not scored). Pruning is off
    so that scores do not tie at 0. Each shop is fitted on its longest run of
    observed steps (lingam takes no mask); a shop with fewer than ``2 * L + 3``
    such steps gets score 0. Series are standardized per shop first.

    Args:
        values: float ``(shop, time, node)``.
        mask: bool ``(shop, time)``, True = observed; default all observed.
        lags: number of lags ``L`` (>= 1, < time).
        seed: ``random_state`` handed to lingam.
    """
    try:
        import lingam
    except ImportError as exc:  # optional dependency
        raise ConfigError(
            f"varlingam needs lingam: pip install 'pyro_causalmmm[bench]' ({exc})"
        ) from exc
    x, m = _check_inputs(values, mask)
    n_shops, n_time, n_nodes = x.shape
    _check_lags(lags, n_time)
    scores = np.zeros((n_shops, n_nodes, n_nodes))
    for shop in range(n_shops):  # lingam: one data set per fit
        start, stop = _longest_run(m[shop])
        seg = x[shop, start:stop]
        if len(seg) < 2 * lags + 3:
            continue
        sd = seg.std(axis=0)
        seg = (seg - seg.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                fitted = lingam.VARLiNGAM(
                    lags=int(lags), criterion=None, prune=False, random_state=seed
                ).fit(seg)
            except (np.linalg.LinAlgError, ValueError):
                continue  # e.g. a constant series: no scores for this shop
        lagged = np.abs(np.asarray(fitted.adjacency_matrices_, dtype=float)[1:])
        scores[shop] = np.nan_to_num(lagged, nan=0.0, posinf=0.0).max(axis=0).T
    scores[:, np.arange(n_nodes), np.arange(n_nodes)] = 0.0
    return scores


def _longest_run(observed: np.ndarray) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of True in a 1-D bool array (``(0, 0)`` if none)."""
    padded = np.concatenate([[False], observed, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    if len(edges) == 0:
        return 0, 0
    starts, stops = edges[::2], edges[1::2]
    best = int(np.argmax(stops - starts))
    return int(starts[best]), int(stops[best])


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
    "var_ftest_granger": var_ftest_granger,
    "varlingam": varlingam,
    "pcmci_parcorr": pcmci_parcorr,
}
"""Baseline name -> scoring function ``(values, mask=None, **options) -> (shop, cause, effect)``."""
