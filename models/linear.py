"""The z-gated per-shop linear lag term, with its coefficients integrated out.

Generative story (per shop b, effect node j, scored step t):

    beta_bj ~ N(0, s^2 I_P)
    x_j^t = mu_dec_j^t + sum_{i,l} z_ij x_i^{t-l} beta_bj[i,l] + beta_bj[0] + eps,
    eps ~ N(0, sigma_j^2)

with z_jj = 1 (a node's own lags are never gated) and l = 1..L. Because beta enters
linearly with a Gaussian prior, it is integrated out exactly (a Rao-Blackwellised
ELBO): the residual r_j = x_j - mu_dec_j is Gaussian with covariance
sigma^2 I + s^2 G G^T, where G is the gated lag design. The Bayesian evidence
penalises edges that do not pay for themselves (Occam), which is the signal the
graph needs. Claim 1 holds: column (i, l) of G_j is multiplied by z_ij, so with
z_ij = 0 node i's history does not enter node j's mean or evidence.
"""

from __future__ import annotations

import math

import torch


def lag_design(x: torch.Tensor, lags: int) -> torch.Tensor:
    """Lagged values ``(shop, time, node, lag)``: entry ``[b, t, i, l] = x[b, t-1-l, i]``
    (zero before the series starts). ``x`` is ``(shop, time, node)``."""
    B, T, D = x.shape
    out = x.new_zeros(B, T, D, lags)
    for l in range(lags):
        out[:, l + 1 :, :, l] = x[:, : T - 1 - l, :]
    return out


def gated_design(lagged: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
    """Per-effect gated design ``(..., shop, effect, time, cause*lag + 1)``.

    ``lagged`` is ``(shop, time, node, lag)``; ``adj`` is ``(..., shop, cause, effect)``
    with zero diagonal (the diagonal is set to 1 here: own lags are never gated). The
    last column is the intercept.
    """
    D = adj.shape[-1]
    eye = torch.eye(D, dtype=adj.dtype, device=adj.device)
    gate = adj * (1 - eye) + eye  # (..., B, cause, effect)
    g = torch.einsum("btil,...bij->...bjtil", lagged, gate)
    g = g.reshape(*g.shape[:-2], -1)
    ones = torch.ones_like(g[..., :1])
    return torch.cat([g, ones], dim=-1)


def posterior_precision(
    gtg: torch.Tensor, sigma: torch.Tensor, prior_scale: float, prior_prec=None
) -> torch.Tensor:
    """Posterior precision of beta, ``A = G^T G / sigma^2 + I / s^2`` ``(..., P, P)``;
    the posterior is ``N(A^{-1} G^T r / sigma^2, A^{-1})``. ``prior_prec`` (broadcastable
    to ``(..., P)``), when given, replaces ``1 / s^2`` by a per-column prior precision
    (the shops' pooled prior, :func:`models.pooling.pooled_prior`)."""
    if prior_prec is None:
        eye = torch.eye(gtg.shape[-1], dtype=gtg.dtype, device=gtg.device)
        return gtg / (sigma**2)[..., None, None] + eye / prior_scale**2
    prec = prior_prec.to(gtg.dtype).expand(gtg.shape[:-1])
    return gtg / (sigma**2)[..., None, None] + torch.diag_embed(prec)


def lag_matrix(x: torch.Tensor, lags: int) -> torch.Tensor:
    """Ungated design ``(shop, time, node*lag + 1)``: column ``i*lags + l`` is
    ``x[:, t-1-l, i]``, the last column the intercept (the column order of
    :func:`gated_design`)."""
    lagged = lag_design(x, lags)
    flat = lagged.reshape(*lagged.shape[:2], -1)
    return torch.cat([flat, torch.ones_like(flat[..., :1])], dim=-1)


def column_gates(adj: torch.Tensor, lags: int) -> torch.Tensor:
    """Per-effect column gates ``(..., shop, effect, node*lag + 1)`` so that
    ``gated_design(...)[..., j, t, :] == lag_matrix(x)[:, t] * column_gates(adj)[..., j, :]``
    (own lags and the intercept are never gated)."""
    D = adj.shape[-1]
    eye = torch.eye(D, dtype=adj.dtype, device=adj.device)
    gate = (adj * (1 - eye) + eye).transpose(-1, -2)  # (..., shop, effect, cause)
    cols = gate.repeat_interleave(lags, dim=-1)
    return torch.cat([cols, torch.ones_like(cols[..., :1])], dim=-1)


def evidence_from_moments(
    gtg: torch.Tensor,
    gtr: torch.Tensor,
    rtr: torch.Tensor,
    n: torch.Tensor,
    sigma: torch.Tensor,
    prior_scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bayesian linear-regression log evidence from sufficient statistics.

    ``gtg = G^T G`` ``(..., P, P)``, ``gtr = G^T r`` ``(..., P)``, ``rtr = r^T r`` and the
    row count ``n`` ``(...)``, noise ``sigma`` ``(...)``, prior ``beta ~ N(0, s^2 I)``.
    With ``A = G^T G / sigma^2 + I / s^2``:

        log p(r) = -1/2 [n log 2 pi + n log sigma^2 + P log s^2 + log|A|
                         + r^T r / sigma^2 - b^T A^{-1} b / sigma^4],   b = G^T r

    Returns ``(log_evidence (...), beta_mean (..., P))``, ``beta_mean = A^{-1} b / sigma^2``.
    """
    P = gtg.shape[-1]
    var = sigma**2
    A = posterior_precision(gtg, sigma, prior_scale)
    L = torch.linalg.cholesky(A)
    Ainv_b = torch.cholesky_solve(gtr[..., None], L).squeeze(-1)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    quad = rtr / var - (gtr * Ainv_b).sum(-1) / var**2
    log_ev = -0.5 * (
        n * (math.log(2 * math.pi) + torch.log(var)) + P * math.log(prior_scale**2) + logdet + quad
    )
    return log_ev, Ainv_b / var[..., None]


def regression_moments(
    resid: torch.Tensor, design: torch.Tensor, row_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sufficient statistics over the rows where ``row_mask`` ``(shop, time)`` holds.

    ``resid`` ``(..., shop, effect, time)``, ``design`` ``(..., shop, effect, time, P)``.
    Returns ``G^T G`` ``(..., P, P)``, ``G^T r`` ``(..., P)``, ``r^T r`` and the row count
    ``n`` (each ``(..., shop, effect)``).
    """
    m = row_mask.to(resid.dtype)[:, None, :]  # (shop, 1, time)
    r = resid * m
    G = design * m[..., None]
    gtg = G.transpose(-1, -2) @ G
    gtr = (G.transpose(-1, -2) @ r[..., None]).squeeze(-1)
    n = m.sum(-1).expand(r.shape[:-1])
    return gtg, gtr, (r * r).sum(-1), n


def collapsed_gaussian(
    resid: torch.Tensor,
    design: torch.Tensor,
    row_mask: torch.Tensor,
    sigma: torch.Tensor,
    prior_scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log evidence and posterior-mean fit of a Bayesian linear regression.

    ``resid`` ``(..., shop, effect, time)`` is regressed on ``design``
    ``(..., shop, effect, time, P)`` over the rows where ``row_mask`` ``(shop, time)`` is
    true, noise ``sigma`` broadcastable to ``(..., shop, effect)``; see
    :func:`evidence_from_moments` for the formula. Returns
    ``(log_evidence (..., shop, effect), fit (..., shop, effect, time))`` where
    ``fit = G beta_mean`` is the posterior-mean linear prediction.
    """
    gtg, gtr, rtr, n = regression_moments(resid, design, row_mask)
    log_ev, beta = evidence_from_moments(gtg, gtr, rtr, n, sigma, prior_scale)
    return log_ev, (design @ beta[..., None]).squeeze(-1) * row_mask[:, None, :]


def em_noise_variance(
    gtg: torch.Tensor,
    gtr: torch.Tensor,
    rtr: torch.Tensor,
    n: torch.Tensor,
    sigma: torch.Tensor,
    prior_scale: float,
    iterations: int = 20,
) -> torch.Tensor:
    """Type-II maximum-likelihood noise scale per effect node by EM.

    Moments ``(shop, effect, ...)`` as from :func:`regression_moments`; ``sigma``
    ``(effect,)`` is the starting point. Each iteration takes the posterior
    ``beta ~ N(m, Sigma)`` at the current sigma and sets, pooled over shops,

        sigma_j^2 = sum_b [ |r - G m|^2 + tr(Sigma G^T G) ]_bj / sum_b n_bj

    with ``|r - G m|^2 = r^T r - 2 m^T G^T r + m^T G^T G m``. Returns ``(effect,)``.
    """
    sigma = sigma.detach().clone()
    for _ in range(iterations):
        A = posterior_precision(gtg, sigma.expand(gtr.shape[:-1]), prior_scale)
        chol = torch.linalg.cholesky(A)
        m = torch.cholesky_solve(gtr[..., None], chol).squeeze(-1) / (sigma**2)[..., None]
        cov = torch.cholesky_inverse(chol)
        rss = (
            rtr
            - 2 * (m * gtr).sum(-1)
            + (m[..., None, :] @ gtg @ m[..., None]).reshape(m.shape[:-1])
        )
        trace = (cov * gtg).sum((-1, -2))
        var = (rss + trace).sum(0) / n.sum(0).clamp_min(1)
        sigma = var.clamp_min(1e-8).sqrt()
    return sigma


def gated_moments(
    X: torch.Tensor, resid: torch.Tensor, w: torch.Tensor, gates: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``G^T G`` ``(..., shop, effect, P, P)`` and ``G^T r`` ``(..., shop, effect, P)`` of
    the per-effect gated design ``G = X * gates[..., j, None, :]``, without forming it.

    ``X`` ``(shop, time, P)`` the ungated design, ``resid`` ``(..., shop, time, effect)``
    already weighted by the row weights ``w`` ``(shop, time)``, ``gates`` ``(..., shop,
    effect, P)``: ``G^T G = gates gates^T * (X^T W X)`` (one ``P x P`` product per shop,
    shared by every effect and draw) and ``G^T r = gates * X^T r``."""
    xtx = (X * w[..., None]).transpose(1, 2) @ X  # (shop, P, P)
    gtr = gates * torch.einsum("btp,...btr->...brp", X, resid)
    gtg = gates[..., :, None] * gates[..., None, :] * xtx[:, None]
    return gtg, gtr


def scored_steps(h: torch.Tensor) -> torch.Tensor:
    """Steps with a nonzero score ``(..., shop, effect)`` of scores ``h`` ``(..., T, P)``."""
    return (h != 0).any(-1).sum(-1).to(h.dtype)


def andrews_bandwidth(
    h: torch.Tensor, gates: torch.Tensor, n: torch.Tensor | None = None
) -> torch.Tensor:
    """Data-driven Bartlett bandwidth ``(..., shop, effect)`` of the scores ``h``
    ``(..., shop, effect, time, P)`` (Andrews 1991, AR(1) plug-in, equal column weights)::

        S = 1.1447 (alpha n)^(1/3),
        alpha = sum_a 4 rho_a^2 s_a^4 / ((1 - rho_a)^6 (1 + rho_a)^2) / sum_a s_a^4 / (1 - rho_a)^4

    with ``rho_a`` and ``s_a^2`` the lag-1 autoregression coefficient and innovation
    variance of score column ``a`` over the gated columns (``gates`` ``(..., shop,
    effect, P)``), ``rho`` clipped to [-0.95, 0.95]; 0 where the scores are
    uncorrelated. ``S`` is capped at ``n / 4``; ``n`` the scored steps (default
    :func:`scored_steps`), broadcasting to ``(..., shop, effect)``."""
    n = (scored_steps(h) if n is None else n.to(h.dtype)).clamp_min(2.0)
    hh = (h * h).sum(-2)
    aa, bb = hh - h[..., 0, :] ** 2, hh - h[..., -1, :] ** 2  # sum_t h_t^2 over t >= 1, t < T-1
    ab = (h[..., 1:, :] * h[..., :-1, :]).sum(-2)
    rho = (ab / bb.clamp_min(1e-30)).clamp(-0.95, 0.95)
    s2 = (aa - 2 * rho * ab + rho**2 * bb).clamp_min(0.0) / n[..., None]
    g = (gates != 0).to(h.dtype)
    num = (g * 4 * rho**2 * s2**2 / ((1 - rho) ** 6 * (1 + rho) ** 2)).sum(-1)
    den = (g * s2**2 / (1 - rho) ** 4).sum(-1).clamp_min(1e-30)
    return torch.minimum(1.1447 * (num / den * n) ** (1.0 / 3.0), n / 4)


def hac_bandwidth(
    h: torch.Tensor, gates: torch.Tensor, n: torch.Tensor | None = None
) -> torch.Tensor:
    """Bartlett bandwidth ``(..., shop, effect)`` of :func:`score_covariance`: the larger of
    Newey & West's (1994) rule of thumb ``floor(4 (n / 100)^(2/9))`` (4 for 100-279 scored
    steps) and :func:`andrews_bandwidth`, which grows with the scores' persistence.

    Why the floor: Andrews' rule minimises the error of the variance estimate, not the
    coverage of the intervals built from it, and larger bandwidths cover better (Kiefer &
    Vogelsang 2005). On the funnels' residuals it gave 1-3 lags and intervals that covered
    less than with the rule of thumb (``benchmarks/notes.md``)."""
    n = scored_steps(h) if n is None else n.to(h.dtype)
    rule = torch.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))
    return torch.maximum(rule, andrews_bandwidth(h, gates, n))


def score_covariance(
    X: torch.Tensor,
    resid: torch.Tensor,
    gates: torch.Tensor,
    bandwidth: torch.Tensor | float | None = None,
    n: torch.Tensor | None = None,
) -> torch.Tensor:
    """Long-run (HAC) covariance of the regression scores ``h_t = X_t e_t`` per shop and
    effect (Newey & West 1987 with Bartlett weights, bandwidth ``S`` of
    :func:`hac_bandwidth`)::

        M = sum_t h_t h_t^T + sum_{l >= 1} k_l sum_t (h_t h_{t-l}^T + h_{t-l} h_t^T),
        k_l = max(0, 1 - l / (S + 1))

    ``X`` ``(shop, time, P)`` the ungated design, ``resid`` ``(..., shop, time, effect)``
    the residuals ``e`` after the fit, already weighted by the row weights (0 on unscored
    rows), ``gates`` ``(..., shop, effect, P)``, ``bandwidth`` ``S`` (default
    :func:`hac_bandwidth` of the scored steps ``n``; a float or a tensor broadcasting to
    ``(..., shop, effect)``).
    Returns ``(..., shop, effect, P, P)``, ungated (gate it like ``G^T G``:
    ``gates gates^T * M``). With independent errors of variance ``sigma^2``,
    ``E[M] = X^T X sigma^2``."""
    h = (resid.transpose(-1, -2)[..., None] * X[:, None]).contiguous()  # (..., shop, effect, T, P)
    if bandwidth is None:
        bandwidth = hac_bandwidth(h, gates, n)
    lead, (T, P) = h.shape[:-2], h.shape[-2:]
    bw = torch.as_tensor(bandwidth, dtype=h.dtype).expand(lead).reshape(-1)
    flat = h.reshape(-1, T, P)
    M = flat.transpose(-1, -2) @ flat
    if not bw.numel() or float(bw.max()) <= 0:
        return M.reshape(*lead, P, P)
    # rows sorted by bandwidth, widest first, so the rows lag l reaches (k_l > 0, i.e.
    # S > l - 1) are a prefix: a lag is computed only where its weight is nonzero (one
    # geo of 16 lags no longer makes every row pay for 16)
    order = torch.argsort(bw, descending=True)
    hs, bs = flat[order], bw[order]
    lags = int(math.ceil(float(bs[0])))
    reach = (bs[None, :] > torch.arange(lags, dtype=bs.dtype)[:, None]).sum(1).tolist()
    pad = h.new_zeros(len(bs), T + lags, P)
    pad[:, lags:] = hs  # pad[:, lags - l + t] = h_{t-l}: views, no copy per lag
    cross = torch.zeros_like(M)
    for lag, m in zip(range(1, lags + 1), reach, strict=True):
        k = 1.0 - lag / (bs[:m, None, None] + 1.0)  # (m, 1, 1), > 0
        cross[:m] += k * (hs[:m].transpose(-1, -2) @ pad[:m, lags - lag : lags - lag + T])
    out = torch.empty_like(M)
    out[order] = M[order] + cross + cross.transpose(-1, -2)  # sum_l k_l sum_t h_t h_{t-l}^T
    return out.reshape(*lead, P, P)


def robust_root(
    X: torch.Tensor,
    resid: torch.Tensor,
    w: torch.Tensor,
    gates: torch.Tensor,
    sigma: torch.Tensor,
    prior_scale: float,
    prior_prec=None,
) -> torch.Tensor:
    """A root ``R`` ``(..., shop, effect, P, P)`` of the robust (sandwich) posterior
    covariance of the gated coefficients, ``Sigma = A^{-1} R R^T A^{-1}``::

        R R^T = G^T G / sigma^2 + [H - G^T G / sigma^2]_+ + I / s^2,
        H = c * (gates gates^T * M) / sigma^4,    c = n / (n - p)

    with ``A`` of :func:`posterior_precision`, ``M`` the HAC score covariance of
    :func:`score_covariance`, ``n`` the scored steps, ``p`` the gated columns (the HC1
    degrees-of-freedom factor) and ``[.]_+`` the positive part of a symmetric matrix (its
    negative eigenvalues set to 0). ``A^{-1} H A^{-1}`` alone is the misspecification-
    robust ("sandwich") posterior of Mueller (2013, Econometrica 81); with ``[.]_+`` the
    covariance is at least the model's ``A^{-1}`` and at least the sandwich (in the
    positive semi-definite order). So it is the model's posterior where the residuals
    agree with it (independent errors of variance ``sigma^2``: ``E[c M] ~ G^T G sigma^2``),
    and wider in the directions where they are autocorrelated or noisier than the pooled
    sigma (a response shape the lags only approximate).

    Why never narrower than the model: the sandwich alone narrowed the intervals of shops
    quieter than the pooled sigma and lost coverage on the paper's simulator (62% -> 60%;
    ``benchmarks/notes.md``); a residual-based variance from 100-200 steps with tens of
    columns is itself biased low (HC1 corrects it only in part).

    ``X`` ``(shop, time, P)``, ``resid`` ``(..., shop, time, effect)`` the residuals after
    the fit weighted by ``w`` ``(shop, time)``, ``gates`` ``(..., shop, effect, P)``,
    ``sigma`` ``(effect,)``; ``prior_prec`` (broadcastable to ``(..., effect, P)``), when
    given, replaces ``I / s^2`` by ``diag(prior_prec)`` (:func:`models.pooling.pooled_prior`)."""
    n = w.sum(-1)  # (shop,)
    M = score_covariance(X, resid, gates, n=n[:, None])
    c = n[:, None] / (n[:, None] - gates.sum(-1)).clamp_min(1.0)  # (..., shop, effect)
    # float64 from here: float32 eigh fails on the gated-off zero rows, and in float32 the
    # rounding of G^T G / sigma^2 (1e6 and more where sigma is small) can exceed I / s^2
    # along collinear columns (a geo panel's impressions that copy its spend), so the
    # Cholesky below failed; the root returns in the input's dtype
    gg = (gates[..., :, None] * gates[..., None, :]).double()
    s2 = sigma.double() ** 2
    hac = gg * M.double() * (c.double() / s2**2)[..., None, None]
    xtx = (X.double() * w.double()[..., None]).transpose(1, 2) @ X.double()  # (shop, P, P)
    model = gg * xtx[:, None] / s2[..., None, None]  # G^T G / sigma^2
    lam, Q = torch.linalg.eigh(hac - model)
    V = model + (Q * lam.clamp_min(0.0)[..., None, :]) @ Q.transpose(-1, -2)
    if prior_prec is None:
        prior = torch.eye(V.shape[-1], dtype=V.dtype, device=V.device) / prior_scale**2
    else:
        prior = torch.diag_embed(prior_prec.double().expand(V.shape[:-1]))
    return torch.linalg.cholesky(V + prior).to(X.dtype)


def project_half_spaces(
    beta: torch.Tensor, cov: torch.Tensor, directions: torch.Tensor, sweeps: int = 50
) -> torch.Tensor:
    """Project coefficients onto ``{b: a_c^T b >= 0 for every c}`` in the metric of the
    posterior covariance (posterior projection, Sen, Patra & Dunson 2018)::

        beta' = argmin_b (b - beta)^T cov^{-1} (b - beta)   s.t.   A b >= 0

    A draw (or the mean) already inside is unchanged; one outside moves along ``cov A^T``
    to the nearest boundary, so a spend whose draw has a negative long-run gain gets gain
    0 there. Solved in the dual, ``beta' = beta + cov A^T lam``, ``lam >= 0`` minimising
    ``lam^T K lam / 2 + g^T lam`` (``K = A cov A^T``, ``g = A beta``) by ``sweeps`` rounds of
    exact coordinate descent, ``lam_c <- max(0, lam_c - (g + K lam)_c / K_cc)``
    (Hildreth 1957; converges for any positive semi-definite ``K``, exact after one round
    for one direction or orthogonal ones).

    ``beta`` ``(..., P)``, ``cov`` ``(..., P, P)``, ``directions`` ``(C, ..., P)`` (a zero
    direction is no constraint). Returns ``(..., P)``."""
    A = directions.movedim(0, -2)  # (..., C, P)
    ca = cov @ A.transpose(-1, -2)  # (..., P, C)
    K = A @ ca  # (..., C, C)
    g = (A @ beta[..., None])[..., 0]  # (..., C)
    diag = K.diagonal(dim1=-2, dim2=-1)
    on = diag > 1e-12
    inv = torch.where(on, 1.0 / diag.clamp_min(1e-12), 0.0)
    lam = torch.zeros_like(g)
    for _ in range(sweeps):
        for c in range(A.shape[-2]):
            slack = g[..., c] + (K[..., c, :] * lam).sum(-1)
            lam[..., c] = (lam[..., c] - slack * inv[..., c]).clamp_min(0.0)
    return beta + (ca @ lam[..., None])[..., 0]
