"""Edge evidence as a calibrated probability: lag tests -> one z-score per edge -> an
empirical-Bayes two-group model fitted across all shops' edges.

Pure functions (no learned weights, no Pyro); the guide stores the fitted curve.

1. **One z per edge over lags 1..L.** ``wald[..., l-1]`` (see
   :func:`guides.features._gated_statistics`) tests cause i's first ``l`` lags; under no
   edge it is about chi-square(l), so ``p_l = Q(l/2, W_l/2)`` (regularized upper gamma).
   The ``L`` p-values are merged with the Cauchy combination (ACAT, Liu & Xie 2020),
   valid under any dependence between them::

       T = mean_l tan((1/2 - p_l) pi),    p = 1/2 - arctan(T) / pi,    z = Phi^{-1}(1 - p)

   so a short carryover is found by the l = 1 test and a long one by the l = L test,
   without a fixed lag count and without paying the L-lag Occam factor on short effects.
2. **Two groups with an empirical null** (Efron 2004, "Large-scale simultaneous
   hypothesis testing"). Over all edges, ``z ~ pi0_j f0 + pi1_j f1`` with
   ``f0 = N(mu0, s0^2)`` (the null is *estimated*: autocorrelated, bursty or saturating
   data widen it beyond the theoretical N(0, 1), which is what made the raw Bayes factor
   over-confident) and ``f1`` a mixture of ``K`` Gaussians to the right of the null. The
   edge rate ``pi1_j`` is per effect node ``j`` with a ``Beta(k pi1, k (1 - pi1))``
   hyperprior around the global rate (shrinkage: a node with few edges borrows from the
   rest), and optionally (the guide's default since 0.6) one level deeper, per (cause,
   effect) pair across the shops, ``pi_ij ~ Beta(k pi1_j, k (1 - pi1_j))``. The
   alternative can be per effect node too (the guide's default since 0.10): node j's
   components are the shared ones shrunk toward its own edges (``alt_strength``
   pseudo-edges), so the weak real edges into a node that only weak causes reach are
   not read as null because other nodes have strong ones. Fitted by EM
   (MAP for the rates). The posterior edge probability is
   ``pi1_j f1(z) / (pi0_j f0(z) + pi1_j f1(z))`` (one minus the local false discovery rate).
3. **Monotone by construction.** The log-odds curve is tabulated on a grid of z and made
   non-decreasing by a running minimum from the right (a wide alternative would otherwise
   give high odds to very *negative* z), so more evidence never lowers an edge's
   probability (what training adds on top is bounded, see the guide).
"""

from __future__ import annotations

import math

import numpy as np
import torch

Z_MIN, Z_MAX, GRID = -8.0, 38.0, 2301  # z grid of the stored curve (step 0.02)
_P_FLOOR = 1e-300


# fewest edges (over all shops) from which the two-group model is fitted
MIN_EDGES = 10

def lag_test_z(
    wald: torch.Tensor, lags: int | None = None, dof: torch.Tensor | None = None
) -> torch.Tensor:
    """ACAT-combined z-score ``(...)`` of Wald statistics ``(..., k L)``: ``k`` groups of
    lag counts 1..L (degrees of freedom 1..L in each group; ``lags=None``: one group), or
    with ``dof`` ``(n,)`` the degrees of freedom of each statistic given explicitly.

    ``z`` is ``Phi^{-1}(1 - p)``: about N(0, 1) for an absent edge in a well-specified
    linear model, large for a present one; capped near 37 (p = 1e-300). A NaN statistic
    is a test that was not run: the combination averages over the others."""
    ran = ~torch.isnan(wald)
    w = torch.nan_to_num(wald.double(), nan=0.0).clamp_min(0.0)
    n = w.shape[-1]
    lags = n if lags is None else lags
    if dof is None:
        dof = (torch.arange(n, dtype=w.dtype, device=w.device) % lags) + 1
    else:
        dof = dof.to(device=w.device, dtype=w.dtype)
    p = torch.special.gammaincc(dof / 2, w / 2).clamp(_P_FLOOR, 1.0)
    # tan((1/2 - p) pi) = cot(p pi); for tiny p it is 1 / (p pi) (no overflow)
    t = torch.where(p < 1e-12, 1.0 / (p * math.pi), 1.0 / torch.tan(p * math.pi))
    stat = torch.where(ran, t, 0.0).sum(-1) / ran.sum(-1).clamp_min(1)
    p_comb = torch.where(
        stat > 1e12, 1.0 / (stat * math.pi), 0.5 - torch.atan(stat) / math.pi
    ).clamp(_P_FLOOR, 1.0 - 1e-15)
    return (-torch.special.ndtri(p_comb)).to(wald.dtype)


def _normal_logpdf(z: np.ndarray, mu, sd) -> np.ndarray:
    return -0.5 * ((z - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)


def _t_logpdf(z: np.ndarray, mu, sd, df: float) -> np.ndarray:
    """Student-t log density with location ``mu``, scale ``sd`` and ``df`` degrees of
    freedom (``df = inf``: the normal)."""
    if not np.isfinite(df):
        return _normal_logpdf(z, mu, sd)
    q = ((z - mu) / sd) ** 2
    return (
        math.lgamma((df + 1) / 2)
        - math.lgamma(df / 2)
        - 0.5 * math.log(df * math.pi)
        - np.log(sd)
        - (df + 1) / 2 * np.log1p(q / df)
    )


# Null tail weights tried (Student-t dof; inf = normal). Only the normal by default: a
# heavy-tailed null absorbs the whole alternative (measured on the family matrix, seed 0:
# a t null with 5 or 10 dof put every edge near p = 0 on 7 of 9 families; the likelihood
# over dof in (2, ..., 30, inf) did the same on small panels), while the normal null
# leaves any heavy right tail of absent edges to the alternative: the top bin is then
# over-confident (paper family: p ~ 1.00, 90% real).
NULL_DFS = (math.inf,)

#: pseudo-edges of the shared alternative in each effect node's own alternative
#: (``ModelConfig.evidence_alternative = "effect"``): the strength of the rates' hyperprior
ALT_STRENGTH = 20.0


def fit_two_group(
    z: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    components: int = 2,
    strength: float = 20.0,
    iterations: int = 300,
    edge: np.ndarray | None = None,
    n_edges: int = 0,
    alt_strength: float | None = None,
) -> dict:
    """:func:`fit_two_group_df` for every null tail weight in ``NULL_DFS``; returns the fit
    of highest likelihood."""
    fits = [
        fit_two_group_df(z, group, n_groups, df, components, strength, iterations, edge, n_edges)
        for df in NULL_DFS
    ]
    shared = max(fits, key=lambda f: f["loglik"])
    if alt_strength is None:
        return shared
    # per-group alternatives with the shared fit's null held: with the null free too, a
    # flexible alternative can take over the null's mass (a panel whose z-scores pile up
    # at one value had its null shrunk onto that pile and every other edge called real)
    return fit_two_group_df(
        z, group, n_groups, shared["df0"], components, strength, iterations, edge, n_edges,
        alt_strength, null=(shared["mu0"], shared["sd0"]),
    )


def fit_two_group_df(
    z: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    df: float,
    components: int = 2,
    strength: float = 20.0,
    iterations: int = 300,
    edge: np.ndarray | None = None,
    n_edges: int = 0,
    alt_strength: float | None = None,
    null: tuple[float, float] | None = None,
) -> dict:
    """Fit the two-group model of the module docstring by EM, the null a Student-t with
    ``df`` degrees of freedom (EM with its latent precision weights).

    With ``edge`` ``(edge,)`` int (the same (cause, effect) pair in every shop, ``n_edges``
    pairs, each inside one group) the rate is a third level deep: per pair,
    ``pi_e ~ Beta(k pi1_j, k (1 - pi1_j))`` around its group's rate, so a pair that is
    present in most shops (the same funnel step everywhere) lifts its weak-evidence edges
    and one that is rarely present lowers them. Returned as ``edge_rate`` ``(n_edges,)``.

    With ``alt_strength`` ``kappa`` the alternative is per group too: group j's component
    k has its own mean and spread, shrunk to the shared component's by ``kappa w_k``
    pseudo-edges (``mu_jk = (sum_j r_k z + kappa w_k mu_k) / (sum_j r_k + kappa w_k)``, the
    variance likewise), so an effect node whose real edges are all weak (the last step of
    a funnel) is not judged against the strong edges of the others. Returned as
    ``group_mus`` and ``group_sds`` ``(n_groups, K)``. ``null`` ``(mu0, sd0)`` holds the
    null at those values (not refitted).

    Args:
        z: ``(edge,)`` z-scores of every off-diagonal edge of every training shop.
        group: ``(edge,)`` int effect node of each edge (its rate ``pi1_j``).
        n_groups: number of effect nodes.
        components: ``K``, Gaussians in the alternative.
        strength: ``k``, pseudo-edges of the Beta hyperprior on each ``pi1_j``.

    Returns a dict of floats/arrays: ``loglik, df0, mu0, sd0, weights (K,), mus (K,),
    sds (K,), rate (n_groups,), global_rate``.
    """
    z = np.asarray(z, dtype=np.float64)
    group = np.asarray(group, dtype=np.int64)
    if z.ndim != 1 or z.shape != group.shape or z.size < MIN_EDGES or not np.isfinite(z).all():
        raise ValueError(
            f"z and group must be equal-length finite 1-D arrays of >= {MIN_EDGES} edges"
        )
    counts = np.bincount(group, minlength=n_groups).astype(np.float64)
    med = float(np.median(z))
    below = z[z <= np.quantile(z, 0.75)]
    sd0 = float(np.clip(1.4826 * np.median(np.abs(below - med)), 0.3, 5.0))
    mu0 = med
    if null is not None:
        mu0, sd0 = float(null[0]), float(null[1])
    hi = z[z > np.quantile(z, 0.8)]
    spots = np.linspace(0.3, 0.9, components)
    mus = np.quantile(hi, spots) if hi.size else np.full(components, 3.0)
    mus = np.maximum(mus, mu0 + sd0)
    sds = np.full(components, max(sd0, float(hi.std()) if hi.size > 1 else sd0))
    weights = np.full(components, 1.0 / components)
    global_rate = 0.2
    rate = np.full(n_groups, global_rate)
    if edge is not None:
        edge = np.asarray(edge, dtype=np.int64)
        edge_counts = np.bincount(edge, minlength=n_edges).astype(np.float64)
        edge_group = np.zeros(n_edges, dtype=np.int64)
        edge_group[edge] = group
    edge_rate = None
    g_mus, g_sds = np.tile(mus, (n_groups, 1)), np.tile(sds, (n_groups, 1))  # (G, K)
    if alt_strength is not None:  # each group's alternative starts at its own upper tail
        for j in range(n_groups):
            zj = z[group == j]
            hj = zj[zj > np.quantile(zj, 0.8)] if zj.size >= 10 else zj[:0]
            if hj.size >= 2:
                g_mus[j] = np.maximum(np.quantile(hj, spots), mu0 + sd0)
                g_sds[j] = max(sd0, float(hj.std()))
    prev = -np.inf
    for _ in range(iterations):
        # E step: responsibilities of the null and of each alternative component
        r_each = rate[group] if edge_rate is None else edge_rate[edge]
        log0 = np.log1p(-r_each) + _t_logpdf(z, mu0, sd0, df)  # (E,)
        logk = (
            np.log(r_each)[:, None]
            + np.log(weights)[None]
            + _normal_logpdf(z[:, None], g_mus[group], g_sds[group])
        )  # (E, K)
        log_all = np.concatenate([log0[:, None], logk], axis=1)
        top = log_all.max(1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(log_all - top).sum(1))
        resp = np.exp(log_all - norm[:, None])
        ll = float(norm.sum())
        r0, rk = resp[:, 0], resp[:, 1:]
        # M step (MAP for the rates; the null and the alternative under constraints)
        r1 = rk.sum(1)
        global_rate = float(np.clip(r1.mean(), 1e-4, 1 - 1e-4))
        a, b = strength * global_rate, strength * (1 - global_rate)
        rate = (np.bincount(group, weights=r1, minlength=n_groups) + a) / (counts + a + b)
        rate = np.clip(rate, 1e-4, 1 - 1e-4)
        if edge is not None:
            ea, eb = strength * rate[edge_group], strength * (1 - rate[edge_group])
            edge_rate = (np.bincount(edge, weights=r1, minlength=n_edges) + ea) / (
                edge_counts + ea + eb
            )
            edge_rate = np.clip(edge_rate, 1e-4, 1 - 1e-4)
        u = 1.0 if not np.isfinite(df) else (df + 1) / (df + ((z - mu0) / sd0) ** 2)
        w0 = r0.sum()
        if null is None:
            mu0 = float((r0 * u * z).sum() / (r0 * u).sum())
            sd0 = float(np.clip(np.sqrt((r0 * u * (z - mu0) ** 2).sum() / w0), 0.3, 5.0))
        wk = rk.sum(0) + 1e-9
        weights = wk / wk.sum()
        mus = np.maximum((rk * z[:, None]).sum(0) / wk, mu0 + 0.5 * sd0)
        sds = np.sqrt((rk * (z[:, None] - mus[None]) ** 2).sum(0) / wk)
        sds = np.maximum(sds, sd0)  # a narrower alternative would lose odds at large z
        g_mus, g_sds = _group_alternatives(
            z, group, n_groups, rk, mus, sds, weights, alt_strength, mu0 + 0.5 * sd0, sd0
        )
        if abs(ll - prev) < 1e-7 * abs(ll):
            break
        prev = ll
    return {
        "loglik": ll,
        "df0": df,
        "mu0": mu0,
        "sd0": sd0,
        "weights": weights,
        "mus": mus,
        "sds": sds,
        "rate": rate,
        "global_rate": global_rate,
        "edge_rate": edge_rate,
        **({} if alt_strength is None else {"group_mus": g_mus, "group_sds": g_sds}),
    }


def _group_alternatives(z, group, n_groups, rk, mus, sds, weights, kappa, mu_min, sd_min):
    """Per-group alternative components ``(G, K)`` shrunk to the shared ones by ``kappa
    w_k`` pseudo-edges (:func:`fit_two_group_df`); the shared ones tiled when ``kappa``
    is None."""
    if kappa is None:
        return np.tile(mus, (n_groups, 1)), np.tile(sds, (n_groups, 1))
    K = rk.shape[1]
    w = np.stack([np.bincount(group, weights=rk[:, k], minlength=n_groups) for k in range(K)], 1)
    s1 = np.stack(
        [np.bincount(group, weights=rk[:, k] * z, minlength=n_groups) for k in range(K)], 1
    )
    prior = kappa * weights[None]  # (1, K) pseudo-edges of each shared component
    g_mus = np.maximum((s1 + prior * mus[None]) / (w + prior), mu_min)
    dev = (z[:, None] - g_mus[group]) ** 2 * rk  # (E, K)
    s2 = np.stack([np.bincount(group, weights=dev[:, k], minlength=n_groups) for k in range(K)], 1)
    g_sds = np.maximum(np.sqrt((s2 + prior * sds[None] ** 2) / (w + prior)), sd_min)
    return g_mus, g_sds


def z_grid() -> np.ndarray:
    """The z values ``(GRID,)`` at which the log-odds curve is stored."""
    return np.linspace(Z_MIN, Z_MAX, GRID)


def log_odds_curve(params: dict) -> np.ndarray:
    """Posterior log-odds of an edge ``(group, GRID)`` on :func:`z_grid`, made
    non-decreasing in z (running minimum from the right)."""
    z = z_grid()
    log_f0 = _t_logpdf(z, params["mu0"], params["sd0"], params.get("df0", math.inf))
    rate = np.asarray(params["rate"])
    # alternative components (group, K): per group where fitted so, else the shared ones
    mus = np.asarray(params.get("group_mus", np.tile(params["mus"], (rate.size, 1))))
    sds = np.asarray(params.get("group_sds", np.tile(params["sds"], (rate.size, 1))))
    comp = np.log(params["weights"])[None, :, None] + _normal_logpdf(
        z[None, None], mus[..., None], sds[..., None]
    )  # (G, K, GRID)
    top = comp.max(1)
    log_f1 = top + np.log(np.exp(comp - top[:, None]).sum(1))  # (G, GRID)
    curve = (np.log(rate) - np.log1p(-rate))[:, None] + log_f1 - log_f0[None]
    curve = np.minimum.accumulate(curve[:, ::-1], axis=1)[:, ::-1]
    # a slope of 1e-3 per unit z: where the fitted odds are flat (a degenerate fit, or the
    # clip) edges keep the ranking of their evidence instead of tying (<= 0.05 log-odds)
    return np.clip(curve, -30.0, 30.0) + 1e-3 * (z - Z_MIN)[None]


def apply_curve(z: torch.Tensor, curve: torch.Tensor) -> torch.Tensor:
    """Log-odds of edges with z-scores ``z`` ``(shop, cause, effect)`` from the curve
    ``(effect, GRID)``: linear interpolation on the grid, constant beyond its ends."""
    pos = ((z.double() - Z_MIN) / (Z_MAX - Z_MIN) * (GRID - 1)).clamp(0, GRID - 1)
    lo = pos.floor().long().clamp(max=GRID - 2)
    frac = (pos - lo).to(curve.dtype)
    D = z.shape[-1]
    rows = curve.to(z.device)[None, None].expand(z.shape[0], D, D, GRID)
    left = torch.gather(rows, -1, lo[..., None]).squeeze(-1)
    right = torch.gather(rows, -1, (lo + 1)[..., None]).squeeze(-1)
    return left + frac * (right - left)
