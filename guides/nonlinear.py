"""Non-linear lag tests for the edge evidence: even (U- or V-shaped) dependence and
couplings through products of parents.

A linear lag test sees only the part of a cause's effect that is correlated with the
cause's own values. An even coupling (``x_j^t = f(|x_i^{t-k}|) + ...``) has none: the
covariance of child and lagged parent is 0 at every lag (the non-monotone family, where
the VAR F-test is at chance). Its signal is in the magnitude of the cause. The even test
regresses each effect on the lags of every node *and* of every node's folded scores,
and tests cause i's block ``[x_i^{t-1..t-L}, q_i^{t-1..t-L}]`` (``2L`` columns) as one, with
the same gated Bayesian regression and Wald statistics as the linear test
(``features._gated_statistics``), so the raw lags stay in the model and the test does not
fire on a linear edge's residual curvature alone.

``q = (|x| - mean) / sd`` (the folded score) over each (shop, node) series' observed steps
(0 on padding and for a constant series). The guide runs the test on the rank-based normal
scores of the series (``features.normal_scores``), so a bursty spend's fold stays moderate.

Measured on the family matrix (evidence only, 3 seeds, per-shop AUROC without -> with the
even test; ``benchmarks/evidence_variants.md``): non-monotone 0.594 -> 0.964, Lorenz-96
F = 10 0.876 -> 0.959, F = 40 0.694 -> 0.778, marketing 0.774 -> 0.815; paper and both
funnels within 0.005, population -0.003. The fold ``|x|`` beat the square ``x^2`` of the
same scores (non-monotone 0.941, F = 40 0.764, marketing 0.804; Lorenz F = 10 0.961);
on the raw z-scores instead of the normal scores the square lost 0.017 on marketing (squared
bursts are extreme values).

The product test (:func:`product_wald`) asks whether cause i *interacts* with another node:
the Wald test of the pairwise products ``x_i^{t-1} x_k^{t-1}`` in a regression that also
holds every node's lags. Measured the same way (3 seeds, with -> without it): Lorenz-96
F = 10 0.959 (ECE 0.162) -> 1.000 (0.001), F = 40 0.778 (0.089) -> 0.944 (0.054);
population -0.004, marketing -0.004, every other family within 0.002. Without the
residual degrees-of-freedom correction of its noise scale (``rss / n`` instead of
``rss / (n - p_eff)``) F = 40 reached 0.964 but population lost 0.021: with 21 product
columns on 97 rows the statistics of absent edges were inflated.
"""

from __future__ import annotations

import torch

from pyro_causalmmm.models.linear import lag_design


def even_scores(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Standardized folded scores ``(shop, time, node)``, ``(|x| - mean) / sd``, of
    series ``x`` (see the module docstring)."""
    w = mask.to(x.dtype)[..., None]
    sq = x.abs() * w
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    mean = sq.sum(1, keepdim=True) / n
    var = (((sq - mean) * w) ** 2).sum(1, keepdim=True) / n
    sd = var.sqrt()
    ok = sd > 1e-8
    return torch.where(ok, (sq - mean) / torch.where(ok, sd, torch.ones_like(sd)), 0.0) * w


def paired_lag_matrix(x: torch.Tensor, extra: torch.Tensor, lags: int) -> torch.Tensor:
    """Design ``(shop, time, node * 2 lags + 1)`` whose block of node i is its ``lags``
    lags in ``x`` then its ``lags`` lags in ``extra`` (both ``(shop, time, node)``), the
    intercept last: the column layout of a lag design with ``2 lags`` lags per node."""
    both = torch.cat([lag_design(x, lags), lag_design(extra, lags)], dim=-1)  # (B,T,D,2L)
    flat = both.reshape(*both.shape[:2], -1)
    return torch.cat([flat, torch.ones_like(flat[..., :1])], dim=-1)


#: Residual degrees of freedom a shop needs beyond the product regression's P columns;
#: with fewer the test is not run for it (NaN: the combination leaves it out).
MIN_RESIDUAL_DOF = 30

#: float64 entries of one chunk's (shop, effect, P, P) arrays in :func:`product_wald`
#: (2^25: 256 MB), so wide panels are processed a few shops at a time.
_CHUNK_DOUBLES = 2**25


def product_wald(
    x: torch.Tensor, mask: torch.Tensor, lags: int, prior_scale: float, baseline=None
) -> torch.Tensor:
    """Wald statistics ``(shop, cause, effect)`` of the product test: does cause i's
    value *interact* with another node's in driving the effect?

    Every effect j is regressed, by the same Bayesian regression as the lag tests
    (coefficients ``N(0, s^2)``, noise at its posterior-mean residual scale), on

        [ x_k^{t-1..t-L} (every node k),  p_ab^t = x_a^{t-1} x_b^{t-1} (every pair a < b),
          baseline columns,  1 ]

    and the statistic of cause i is the Wald statistic ``m_G^T Sigma_GG^{-1} m_G`` of
    the ``D - 1`` product columns that involve i (posterior mean ``m``, covariance
    ``Sigma``), about chi-square with ``D - 1`` degrees of freedom when i interacts with
    nothing. A Lorenz-96 coupling ``x_j' = (x_{j+1} - x_{j-2}) x_{j-1} + ...`` enters
    through products of two parents, which neither a lag block nor a fold of one cause
    can express; here each parent's product with its partner is a column that only that
    pair shares, so removing it costs evidence that no other cause can restore. The
    products are standardized per shop; ``x`` ``(shop, time, node)`` are the normal
    scores of the series, ``baseline`` ``(shop, time, K)`` or None.

    A shop with fewer than ``P + MIN_RESIDUAL_DOF`` scored rows gets NaN (no test: its
    noise scale could not be estimated and every statistic would be near 0, which the
    ACAT combination would read as strong evidence *against* every edge); the combination
    (:func:`guides.calibration.lag_test_z`) then leaves the test out for that shop.

    Cost: ``P = D L + D (D - 1) / 2 + K + 1`` columns and one ``P x P`` eigendecomposition
    per shop (``X^T X`` is shared by every effect, whose noise scales only shift its
    eigenvalues), so it is meant for tens of nodes, not hundreds.
    """
    from pyro_causalmmm.models.linear import lag_matrix

    B, T, D = x.shape
    width = D * lags + 1 + D * (D - 1) // 2 + (0 if baseline is None else baseline.shape[-1])
    scored = mask[:, lags:].sum(1)  # rows of each shop's regression
    enough = scored >= width + MIN_RESIDUAL_DOF
    if not bool(enough.any()):  # too short for this many columns: no test (NaN)
        return torch.full((B, D, D), float("nan"), dtype=x.dtype, device=x.device)
    chunk = max(1, _CHUNK_DOUBLES // (D * width * width))  # (shop, effect, P, P) per chunk
    if B > chunk:
        parts = [
            product_wald(
                x[i : i + chunk],
                mask[i : i + chunk],
                lags,
                prior_scale,
                None if baseline is None else baseline[i : i + chunk],
            )
            for i in range(0, B, chunk)
        ]
        return torch.cat(parts)
    dtype = x.dtype
    x = x.double()
    a, b = torch.triu_indices(D, D, offset=1, device=x.device)
    prev = lag_design(x, 1)[..., 0]  # (B, T, D): x^{t-1}
    prod = prev[..., a] * prev[..., b]  # (B, T, n_pairs)
    w = mask.to(x.dtype)[..., None]
    w_lag = w.clone()
    w_lag[:, :lags] = 0.0
    n = w_lag.sum(1, keepdim=True).clamp_min(1.0)
    mean = (prod * w_lag).sum(1, keepdim=True) / n
    sd = ((((prod - mean) * w_lag) ** 2).sum(1, keepdim=True) / n).sqrt()
    prod = (prod - mean) / torch.where(sd > 1e-8, sd, torch.ones_like(sd)) * w_lag
    parts = [lag_matrix(x, lags), prod]
    if baseline is not None:
        parts.append(baseline.to(x.dtype))
    X = torch.cat(parts, dim=-1)[:, lags:]  # (B, T', P)
    wr = w_lag[:, lags:]  # (B, T', 1)
    Xw = X * wr
    y = x[:, lags:] * wr  # (B, T', effect)
    xtx = Xw.transpose(1, 2) @ X  # (B, P, P)
    gtr = (Xw.transpose(1, 2) @ y).transpose(1, 2)  # (B, effect, P)
    rtr = (y * y).sum(1)
    rows = wr.sum(1).expand(B, D).clamp_min(1.0)
    P = X.shape[-1]
    # one eigendecomposition per shop serves every effect: with X^T X = V diag(lam) V^T,
    # A_j^{-1} = (X^T X / sigma_j^2 + I / s^2)^{-1} = sigma_j^2 V diag(1 / (lam + c_j)) V^T,
    # c_j = sigma_j^2 / s^2
    lam, V = torch.linalg.eigh(xtx)  # (B, P), (B, P, P)
    lam = lam.clamp_min(0.0)
    proj = gtr @ V  # (B, effect, P): V^T X^T y_j
    s2 = prior_scale**2

    def shrink(sigma):  # 1 / (lam + c_j), (B, effect, P)
        return 1.0 / (lam[:, None, :] + (sigma**2 / s2)[..., None])

    sigma0 = (rtr / rows).sqrt().clamp_min(1e-3)
    d0 = shrink(sigma0)
    # posterior mean at sigma0: V diag(d0) V^T X^T y; its residual sum of squares
    rss = rtr - 2 * (proj * proj * d0).sum(-1) + (proj * proj * d0 * d0 * lam[:, None]).sum(-1)
    # residual degrees of freedom n - p_eff, p_eff = tr(hat) = P - tr(A^{-1}) / s^2: with
    # P a large share of the rows, rss / n would shrink sigma and inflate every statistic
    p_eff = P - (sigma0**2 * d0.sum(-1)) / s2
    resid_dof = (rows - p_eff).clamp_min(1.0)
    sigma = (rss.clamp_min(1e-6) / resid_dof).sqrt().clamp_min(1e-3)
    d = shrink(sigma)  # (B, effect, P)
    m = ((proj * d)[..., None, :] * V[:, None]).sum(-1)  # (B, effect, P) = V diag(d) V^T b
    # the product columns that involve each node i: (D, D - 1) column indices
    start = D * lags + 1
    pair_of = torch.full((D, D), -1, dtype=torch.long, device=x.device)
    pair_of[a, b] = torch.arange(len(a), device=x.device)
    pair_of[b, a] = pair_of[a, b]
    off = ~torch.eye(D, dtype=torch.bool, device=x.device)
    cols = start + pair_of[off].view(D, D - 1)  # (cause, D - 1)
    m_g = m[:, :, cols]  # (B, effect, cause, g)
    Vg = V[:, cols]  # (B, cause, g, P): the rows of V of each cause's product columns
    # Sigma_GG = sigma^2 V_G diag(d) V_G^T, (B, effect, cause, g, g)
    cov_g = torch.einsum("bigp,bjp,bihp->bjigh", Vg, d, Vg) * (sigma**2)[..., None, None, None]
    lg = torch.linalg.cholesky(cov_g)
    v = torch.linalg.solve_triangular(lg, m_g[..., None], upper=False).squeeze(-1)
    stat = (v * v).sum(-1)  # (B, effect, cause)
    stat = torch.where(enough[:, None, None], stat, float("nan"))
    return (stat.transpose(1, 2) * off).to(dtype)
