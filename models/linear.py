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


def posterior_precision(gtg: torch.Tensor, sigma: torch.Tensor, prior_scale: float) -> torch.Tensor:
    """Posterior precision of beta, ``A = G^T G / sigma^2 + I / s^2`` ``(..., P, P)``;
    the posterior is ``N(A^{-1} G^T r / sigma^2, A^{-1})``."""
    eye = torch.eye(gtg.shape[-1], dtype=gtg.dtype, device=gtg.device)
    return gtg / (sigma**2)[..., None, None] + eye / prior_scale**2


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
