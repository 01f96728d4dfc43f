"""Per-edge statistics of a shop's history that expose lagged dependence.

Pure functions of the data (no learned parameters), computed inside the guide under
``torch.no_grad``. They give the relational encoder direct access to the evidence a
Granger test looks at, which the raw-series NRI embedding alone learns too slowly.
"""

from __future__ import annotations

import torch

from pyro_causalmmm.models.linear import (
    evidence_from_moments,
    gated_design,
    lag_design,
    regression_moments,
)


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


def _lag_moments(x: torch.Tensor, mask: torch.Tensor, lags: int):
    """Sufficient statistics of the full lag regression of every effect node:
    ``G^T G`` ``(shop, effect, P, P)``, ``G^T r`` ``(shop, effect, P)``, ``r^T r`` and
    the row count ``(shop, effect)``; ``P = node * lags + 1`` (intercept last)."""
    B, T, D = x.shape
    full = torch.ones(B, D, D, dtype=x.dtype, device=x.device)
    design = gated_design(lag_design(x, lags)[:, lags:], full)  # (B, effect, T', P)
    gtg, gtr, rtr, n = regression_moments(x[:, lags:].transpose(1, 2), design, mask[:, lags:])
    return gtg, gtr, rtr, n.clamp_min(1.0)

def _gated_log_bf(gtg, gtr, rtr, n, gate, lags: int, prior_scale: float) -> torch.Tensor:
    """Log Bayes factor of each edge with the other causes' columns scaled by ``gate``.

    ``gate`` ``(shop, cause, effect)`` in [0, 1] (own lags are always 1). For effect j,
    ``log p(x_j | i on, others at gate) - log p(x_j | i off, others at gate)``; the noise
    is set to the gated model's posterior-mean residual scale.
    """
    D, P = gtr.shape[1], gtr.shape[-1]
    eye = torch.eye(D, dtype=gtg.dtype, device=gtg.device)
    col_cause = torch.arange(P, device=gtg.device) // lags  # intercept column -> D
    g = gate * (1 - eye) + eye
    g = torch.cat([g, torch.ones_like(g[:, :1])], dim=1)  # intercept row
    gc = g[:, col_cause, :].transpose(1, 2)  # (B, effect, P) column gates
    gg = gtg * gc[..., :, None] * gc[..., None, :]
    sigma0 = (rtr / n).sqrt().clamp_min(1e-3)
    _, beta = evidence_from_moments(gg, gtr * gc, rtr, n, sigma0, prior_scale)
    rss = rtr - 2 * (beta * gtr * gc).sum(-1) + (beta[..., None, :] @ gg @ beta[..., :, None])[
        ..., 0, 0
    ]
    sigma = (rss.clamp_min(1e-6) / n).sqrt().clamp_min(1e-3)
    own = (col_cause[None, :] == torch.arange(D, device=gtg.device)[:, None]).to(gtg.dtype)
    on = gc[:, None] * (1 - own[None, :, None, :]) + own[None, :, None, :]  # (B, i, j, P)
    off = gc[:, None] * (1 - own[None, :, None, :])

    def log_ev(cols):
        return evidence_from_moments(
            gtg[:, None] * cols[..., :, None] * cols[..., None, :], gtr[:, None] * cols,
            rtr[:, None], n[:, None], sigma[:, None], prior_scale,
        )[0]

    return (log_ev(on) - log_ev(off)) * (1 - eye)


def edge_log_evidence(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    prior_scale: float,
    refinements: int = 1,
    prior_logit: float = 0.0,
) -> torch.Tensor:
    """Log Bayes factor of each edge in a Bayesian VAR(L), ``(shop, cause, effect)``.

    Pass 0: for effect j, log p(x_j | all lags) - log p(x_j | all lags but cause i's),
    coefficients ``N(0, prior_scale^2)`` integrated out. Each refinement recomputes the
    factors with the other causes' columns scaled by the previous pass's edge
    probabilities ``sigmoid(prior_logit + log BF)``: a cause is then tested against the
    likely parents only, not against every node (the Bayesian analogue of conditioning
    on a selected parent set, as PCMCI does). One refinement lifted the factors' AUROC
    on Simulation 2 from 0.945 / 0.911 to 0.977 / 0.950 (seeds 0 / 1; more passes
    oscillate). Diagonal entries are 0.
    """
    moments = _lag_moments(x, mask, lags)
    B, D = x.shape[0], x.shape[-1]
    gate = torch.ones(B, D, D, dtype=x.dtype, device=x.device)
    bf = _gated_log_bf(*moments, gate, lags, prior_scale)
    for _ in range(refinements):
        gate = torch.sigmoid(prior_logit + bf.clamp(-30, 30))
        bf = _gated_log_bf(*moments, gate, lags, prior_scale)
    return bf


def edge_features(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    prior_scale: float,
    refinements: int = 1,
    prior_logit: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-edge statistics, computed without gradients.

    Returns ``(features (shop, cause, effect, lags + 1), log_bf (shop, cause, effect))``:
    the features stack the lagged correlations and a signed ``log1p`` of the log Bayes
    factor (O(1) inputs for the MLPs); ``log_bf`` is the raw log Bayes factor, which
    the encoder adds to the prior log-odds (posterior odds = prior odds x Bayes factor).
    """
    with torch.no_grad():
        corr = lagged_correlations(x, mask, lags)
        bf = edge_log_evidence(x, mask, lags, prior_scale, refinements, prior_logit)
        squashed = torch.sign(bf) * torch.log1p(bf.abs())
    return torch.cat([corr, squashed[..., None]], dim=-1), bf
