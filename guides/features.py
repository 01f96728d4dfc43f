"""Per-edge statistics of a shop's history that expose lagged dependence.

Pure functions of the data (no learned parameters), computed inside the guide under
``torch.no_grad``. They give the relational encoder direct access to the evidence a
Granger test looks at, which the raw-series NRI embedding alone learns too slowly.
"""

from __future__ import annotations

import torch

from pyro_causalmmm.models.linear import evidence_from_moments, gated_design, lag_design


def lagged_correlations(x: torch.Tensor, mask: torch.Tensor, lags: int) -> torch.Tensor:
    """corr(x_i^{t-l}, x_j^t) over valid steps, ``(shop, cause, effect, lag)``.

    ``x`` ``(shop, time, node)``, ``mask`` ``(shop, time)``.
    """
    B, T, D = x.shape
    out = []
    for l in range(1, lags + 1):
        valid = (mask[:, l:] & mask[:, :-l]).to(x.dtype)[..., None]  # (B, T-l, 1)
        n = valid.sum(1).clamp_min(2.0)  # (B, 1)
        a, b = x[:, :-l] * valid, x[:, l:] * valid
        a = a - a.sum(1, keepdim=True) / n[:, None]
        b = b - b.sum(1, keepdim=True) / n[:, None]
        a, b = a * valid, b * valid
        cov = torch.einsum("bti,btj->bij", a, b)
        sa = (a * a).sum(1).clamp_min(1e-8).sqrt()
        sb = (b * b).sum(1).clamp_min(1e-8).sqrt()
        out.append(cov / (sa[:, :, None] * sb[:, None, :]))
    return torch.stack(out, dim=-1)


def edge_log_evidence(
    x: torch.Tensor, mask: torch.Tensor, lags: int, prior_scale: float
) -> torch.Tensor:
    """Log Bayes factor of each edge in a Bayesian VAR(L), ``(shop, cause, effect)``.

    For effect j: log p(x_j | all lags) - log p(x_j | all lags but cause i's), with
    coefficients ``N(0, prior_scale^2)`` integrated out and the noise variance set to
    the full model's posterior-mean residual variance. Dropping a cause is the same as
    zeroing its design columns, so each sub-model reuses the full ``A`` matrix.
    Diagonal entries are 0.
    """
    B, T, D = x.shape
    rows = mask[:, lags:]
    full = torch.ones(B, D, D, dtype=x.dtype, device=x.device)
    design = gated_design(lag_design(x, lags)[:, lags:], full)  # (B, effect, T', P)
    resid = x[:, lags:].transpose(1, 2)  # (B, effect, T')
    m = rows.to(x.dtype)[:, None, :]
    G, r = design * m[..., None], resid * m
    gtg = G.transpose(-1, -2) @ G  # (B, effect, P, P)
    gtr = (G.transpose(-1, -2) @ r[..., None]).squeeze(-1)
    rtr = (r * r).sum(-1)
    n = m.sum(-1).expand(B, D)
    # noise: the full model's posterior-mean residual variance
    sigma0 = (rtr / n.clamp_min(1.0)).sqrt().clamp_min(1e-3)
    _, beta = evidence_from_moments(gtg, gtr, rtr, n, sigma0, prior_scale)
    fit = (G @ beta[..., None]).squeeze(-1)
    sigma = (((r - fit) ** 2).sum(-1) / n.clamp_min(1.0)).sqrt().clamp_min(1e-3)
    ev_full, _ = evidence_from_moments(gtg, gtr, rtr, n, sigma, prior_scale)
    # drop cause k: zero its L design columns -> keep (cause_dropped, P)
    P = gtg.shape[-1]
    col_cause = torch.arange(P, device=x.device) // lags  # intercept column -> D
    keep = (col_cause[None, :] != torch.arange(D, device=x.device)[:, None]).to(x.dtype)
    gtg_red = gtg[:, None] * keep[None, :, None, :, None] * keep[None, :, None, None, :]
    gtr_red = gtr[:, None] * keep[None, :, None, :]
    ev_red, _ = evidence_from_moments(
        gtg_red, gtr_red, rtr[:, None], n[:, None], sigma[:, None], prior_scale
    )  # (B, cause, effect)
    eye = torch.eye(D, dtype=x.dtype, device=x.device)
    return (ev_full[:, None, :] - ev_red) * (1 - eye)


def edge_features(
    x: torch.Tensor, mask: torch.Tensor, lags: int, prior_scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-edge statistics, computed without gradients.

    Returns ``(features (shop, cause, effect, lags + 1), log_bf (shop, cause, effect))``:
    the features stack the lagged correlations and a signed ``log1p`` of the log Bayes
    factor (O(1) inputs for the MLPs); ``log_bf`` is the raw log Bayes factor, which
    the encoder adds to the prior log-odds (posterior odds = prior odds x Bayes factor).
    """
    with torch.no_grad():
        corr = lagged_correlations(x, mask, lags)
        bf = edge_log_evidence(x, mask, lags, prior_scale)
        squashed = torch.sign(bf) * torch.log1p(bf.abs())
    return torch.cat([corr, squashed[..., None]], dim=-1), bf
