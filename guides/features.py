"""Per-edge statistics of a shop's history that expose lagged dependence.

Pure functions of the data (no learned parameters), computed inside the guide under
``torch.no_grad``. They give the relational encoder direct access to the evidence a
Granger test looks at, which the raw-series NRI embedding alone learns too slowly.
"""

from __future__ import annotations

import math

import torch

from pyro_causalmmm.guides.nonlinear import paired_lag_matrix
from pyro_causalmmm.models.linear import (
    evidence_from_moments,
    lag_matrix,
    posterior_precision,
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


def baseline_basis(mask: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` slow cosines per shop ``(shop, time, k)``: ``cos(pi m (t + 1/2) / T_s)`` for
    ``m = 1..k`` over each shop's own observed length ``T_s`` (0 on padding). Added to the
    evidence's regressions as always-on columns, they absorb trend and slow seasonality
    shared by a cause and its effect (budgets that follow demand), which would otherwise
    read as an edge."""
    w = mask.to(torch.float64)
    length = w.sum(1, keepdim=True).clamp_min(1.0)  # (B, 1)
    t = torch.arange(mask.shape[1], dtype=torch.float64, device=mask.device)[None]
    m = torch.arange(1, k + 1, dtype=torch.float64, device=mask.device)
    phase = math.pi * (t + 0.5)[..., None] * m / length[..., None]  # (B, T, k)
    return torch.cos(phase) * w[..., None]


def always_on(
    mask: torch.Tensor, baseline: int = 0, exog: torch.Tensor | None = None
) -> torch.Tensor | None:
    """The evidence regressions' always-on columns ``(shop, time, K)``: ``baseline``
    slow cosines (:func:`baseline_basis`) and the ``exog`` columns (the model's own
    baseline: calendar trend and seasonality, additive controls), 0 on padding; None
    without any."""
    parts = [baseline_basis(mask, baseline)] if baseline else []
    if exog is not None and exog.shape[-1]:
        parts.append(exog.to(torch.float64) * mask[..., None])
    return torch.cat(parts, dim=-1) if parts else None


def normal_scores(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rank-based normal scores of every (shop, node) series, ``(shop, time, node)``:
    ``Phi^{-1}((rank + 1/2) / n)`` over the observed steps, ties at their mean rank (a
    spend that is 0 on many days keeps one value there), 0 on padding. Invariant to any
    increasing transform of a series: heavy-tailed bursts become moderate and a
    saturating (Hill) response becomes closer to linear in the cause's scores."""
    B, T, D = x.shape
    big = torch.finfo(x.dtype).max
    v = torch.where(mask[..., None], x, torch.full_like(x, big)).transpose(1, 2)  # (B, D, T)
    v = v.reshape(B * D, T).contiguous()
    srt = torch.sort(v, dim=-1).values
    lo = torch.searchsorted(srt, v, right=False).to(x.dtype)
    hi = torch.searchsorted(srt, v, right=True).to(x.dtype)
    n = mask.to(x.dtype).sum(1).clamp_min(1.0).repeat_interleave(D)[:, None]  # (B*D, 1)
    q = ((lo + hi) / 2 / n).clamp(0.5 / n, 1 - 0.5 / n)
    out = torch.special.ndtri(q.double()).to(x.dtype).view(B, D, T).transpose(1, 2)
    const = (srt[:, :1] == srt.gather(1, (n.long() - 1).clamp_min(0))).view(B, D)
    return torch.where(mask[..., None] & ~const[:, None, :], out, torch.zeros_like(out))


def _advance(x: torch.Tensor, nodes) -> torch.Tensor:
    """``x`` ``(shop, time, node)`` with the series of ``nodes`` moved one step earlier
    (``out[:, t, i] = x[:, t + 1, i]``, 0 at the last step), so that a lag design built
    on it holds lags 0..L-1 of those nodes and 1..L of the others."""
    out = x.clone()
    idx = torch.as_tensor(list(nodes), dtype=torch.long, device=x.device)
    out[:, :-1, idx] = x[:, 1:, idx]
    out[:, -1, idx] = 0.0
    return out


def _lag_moments(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    baseline: int = 0,
    advance: tuple = (),
    extra: torch.Tensor | None = None,
    exog: torch.Tensor | None = None,
):
    """Sufficient statistics of the full lag regression of every effect node:
    ``G^T G`` ``(shop, effect, P, P)``, ``G^T r`` ``(shop, effect, P)``, ``r^T r`` and
    the row count ``(shop, effect)``; ``P = node * lags + 1`` (intercept last). With
    ``advance`` the design holds lags 0..L-1 of those nodes (:func:`_advance`) and their
    own responses are replaced by unit-variance noise orthogonal to the design (a node's
    current value would explain itself; their statistics are not used). With ``extra``
    ``(shop, time, node)`` each node's block also holds its lags in ``extra``
    (:func:`guides.nonlinear.paired_lag_matrix`; ``P = node * 2 lags + 1``). The
    always-on columns of :func:`always_on` (``baseline`` slow cosines, ``exog``
    ``(shop, time, K)`` at each scored step) follow the intercept, never gated.

    With every gate at 1 the design is the same for every effect, so ``X^T X`` is
    computed once per shop and shared (an expanded view)."""
    B, T, D = x.shape
    src = _advance(x, advance) if advance else x
    if extra is None:
        X = lag_matrix(src, lags)
    else:
        X = paired_lag_matrix(src, _advance(extra, advance) if advance else extra, lags)
    base = always_on(mask, baseline, exog)
    if base is not None:
        X = torch.cat([X, base.to(x.dtype)], dim=-1)
    X = X[:, lags:]  # (B, T', P)
    w = mask[:, lags:].to(x.dtype)  # (B, T')
    Xw = X * w[..., None]
    y = x[:, lags:] * w[..., None]  # (B, T', D)
    xtx = Xw.transpose(1, 2) @ X  # (B, P, P)
    gtr = (Xw.transpose(1, 2) @ y).transpose(1, 2)  # (B, effect, P)
    rtr = (y * y).sum(1)  # (B, effect)
    n = w.sum(1, keepdim=True).expand(B, D)
    if advance:  # a unit-variance response orthogonal to the design: well-conditioned
        idx = list(advance)
        gtr, rtr = gtr.clone(), rtr.clone()
        gtr[:, idx] = 0.0
        rtr[:, idx] = n[:, idx]
    gtg = xtx[:, None].expand(B, D, *xtx.shape[1:])
    return gtg, gtr, rtr, n.clamp_min(1.0)


def _gated_log_bf(gtg, gtr, rtr, n, gate, lags: int, prior_scale: float) -> torch.Tensor:
    """Log Bayes factor of each edge, ``(shop, cause, effect)``: the first output of
    :func:`_gated_statistics` (see there)."""
    return _gated_statistics(gtg, gtr, rtr, n, gate, lags, prior_scale)[0]


def _gated_statistics(
    gtg, gtr, rtr, n, gate, lags: int, prior_scale: float, wald: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log Bayes factor of each edge with the other causes' columns scaled by ``gate``.

    ``gate`` ``(shop, cause, effect)`` in [0, 1] (own lags are always 1). For effect j,
    ``log p(x_j | i on, others at gate) - log p(x_j | i off, others at gate)``; the noise
    is set to the gated model's posterior-mean residual scale.

    Computed without one factorisation per edge: with ``M = A^{-1}`` of the gated model
    of effect j (one ``P x P`` inverse per shop and effect), removing cause i's ``L``
    columns gives ``A_r^{-1} = M_rr - M_ri M_ii^{-1} M_ir``, and adding them back at full
    scale is a block update with Schur complement ``S = E - C^T A_r^{-1} C`` (``C`` the
    cross moments, ``E`` the block's own precision), so

        log BF = -1/2 [ L log s^2 + log|S| - u^T S^{-1} u / sigma^4 ],
        u = b_i - C^T A_r^{-1} b_r,

    the same value as comparing the two models' evidences directly (tested), with
    ``L x L`` work per edge instead of ``P x P``. Runs in float64.

    Returns ``(log_bf (shop, cause, effect), wald (shop, cause, effect, L))``:
    ``wald[..., l - 1] = u_l^T S_l^{-1} u_l / sigma^4`` is the (prior-shrunk) Wald
    statistic of cause i's first ``l`` lags, about chi-square with ``l`` degrees of
    freedom when the edge is absent; ``S_l`` and ``u_l`` are the leading blocks of ``S``
    and ``u`` (the Schur complement of a leading set of columns is the leading block).
    """
    dtype = gtg.dtype
    gtg, gtr, rtr, n, gate = (t.double() for t in (gtg, gtr, rtr, n, gate))
    B, D, P = gtr.shape
    L = lags
    eye = torch.eye(D, dtype=gtg.dtype, device=gtg.device)
    # cause of each column; the intercept and any baseline columns -> D (never gated)
    col_cause = (torch.arange(P, device=gtg.device) // lags).clamp(max=D)
    g = gate * (1 - eye) + eye
    g = torch.cat([g, torch.ones_like(g[:, :1])], dim=1)  # intercept row
    gc = g[:, col_cause, :].transpose(1, 2)  # (B, effect, P) column gates
    gg = gtg * gc[..., :, None] * gc[..., None, :]
    sigma0 = (rtr / n).sqrt().clamp_min(1e-3)
    _, beta = evidence_from_moments(gg, gtr * gc, rtr, n, sigma0, prior_scale)
    rss = (
        rtr
        - 2 * (beta * gtr * gc).sum(-1)
        + (beta[..., None, :] @ gg @ beta[..., :, None])[..., 0, 0]
    )
    sigma = (rss.clamp_min(1e-6) / n).sqrt().clamp_min(1e-3)
    var = sigma**2  # (B, j)
    A = posterior_precision(gg, sigma, prior_scale)  # (B, j, P, P)
    M = torch.cholesky_inverse(torch.linalg.cholesky(A))
    b = gtr * gc  # (B, j, P) G^T r of the gated model
    DL = D * L  # cause i's columns are i * L .. i * L + L - 1: blocks are views, not gathers

    def by_cause(t, dim):  # split a column axis's first D L entries into (cause, lag)
        return t.narrow(dim, 0, DL).unflatten(dim, (D, L))

    def own_block(t, dim):  # (..., i, [rest], ..., c, L, ...) -> entries of c = i only
        # ``dim`` is the cause axis c of ``by_cause``; axis 2 is the per-cause axis i
        return t.diagonal(dim1=2, dim2=dim).movedim(-1, 2)

    # per cause i (axis 2): its block's rows/columns
    M_ib = by_cause(M, 2)  # (B, j, i, L, P): rows of block i
    M_ii = own_block(by_cause(M_ib, 4), 4)  # (B, j, i, L, L)
    in_block = col_cause[None, :] == torch.arange(D, device=gtg.device)[:, None]  # (i, P)
    rest = (~in_block).to(gtg.dtype)
    # C: rest columns (gated) x block i (scale 1), embedded in P rows (block rows zero)
    gtg_blk = by_cause(gtg, 3).permute(0, 1, 3, 2, 4)  # (B, j, i, P, L)
    K = gtg_blk * (gc[:, :, None, :] * rest[None, None])[..., None] / var[..., None, None, None]
    # W = M K for every cause at once (no copy of M per cause)
    W = (M @ K.permute(0, 1, 3, 2, 4).reshape(B, D, P, D * L)).view(B, D, P, D, L)
    W = W.permute(0, 1, 3, 2, 4)  # (B, j, i, P, L)
    W_i = own_block(by_cause(W, 3), 3)  # (B, j, i, L, L): rows of block i
    Mii_inv = torch.linalg.inv(M_ii)
    ctac = K.transpose(-1, -2) @ W - W_i.transpose(-1, -2) @ Mii_inv @ W_i  # (B, j, i, L, L)
    gtg_ii = own_block(by_cause(by_cause(gtg, 2), 4), 4)  # (B, j, i, L, L)
    E = gtg_ii / var[..., None, None, None] + torch.eye(L, dtype=gtg.dtype) / prior_scale**2
    S = E - ctac
    b_block = by_cause(b, 2)  # (B, j, i, L) gated model's block entries
    m_full = (M @ b[..., None]).squeeze(-1)  # (B, j, P)
    mb_r = m_full[:, :, None, :] - (M_ib.transpose(-1, -2) @ b_block[..., None]).squeeze(-1)
    mb_r_i = own_block(by_cause(mb_r, 3), 3)  # (B, j, i, L)
    ctab = (K.transpose(-1, -2) @ mb_r[..., None]).squeeze(-1)
    ctab = ctab - (W_i.transpose(-1, -2) @ Mii_inv @ mb_r_i[..., None]).squeeze(-1)
    u = by_cause(gtr, 2) - ctab  # block i at full scale: G_i^T r unscaled
    chol = torch.linalg.cholesky(S)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    # y = chol^{-1} u: forward substitution is prefix-stable, and the Cholesky factor of a
    # leading block of S is the leading block of chol, so the Wald statistic of cause i's
    # first l lags, u_l^T S_l^{-1} u_l, is the sum of the first l squares of y
    y = torch.linalg.solve_triangular(chol, u[..., None], upper=False).squeeze(-1)
    cum = torch.cumsum(y * y, dim=-1)  # (B, j, i, L)
    quad = cum[..., -1]
    bf = -0.5 * (L * math.log(prior_scale**2) + logdet - quad / var[..., None] ** 2)
    off = 1 - eye
    bf = (bf.transpose(1, 2) * off).to(dtype)  # (B, cause, effect)
    if not wald:
        return bf, None
    wald = cum / var[..., None, None] ** 2  # (B, j, i, L)
    return bf, (wald.transpose(1, 2) * off[..., None]).to(dtype)


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
    return _refined(moments, lags, prior_scale, refinements, prior_logit, wald=False)[0]


def _refined(
    moments, lags: int, prior_scale: float, refinements: int, prior_logit: float, wald: bool = True
):
    """``(log_bf, wald, gate)`` after ``refinements`` passes of gating the other causes by
    ``sigmoid(prior_logit + log BF)`` of the previous pass (see :func:`edge_log_evidence`);
    Wald statistics only of the last pass (None without ``wald``)."""
    gate = refined_gate(moments, lags, prior_scale, refinements, prior_logit)
    bf, w = _gated_statistics(*moments, gate, lags, prior_scale, wald=wald)
    return bf, w, gate


def refined_gate(
    moments, lags: int, prior_scale: float, refinements: int, prior_logit: float
) -> torch.Tensor:
    """The gate ``(shop, cause, effect)`` of the last of ``refinements + 1`` passes: all
    ones, then ``sigmoid(prior_logit + log BF)`` of each pass in turn (the other causes
    gated by how likely they are parents; see :func:`edge_log_evidence`)."""
    gtr = moments[1]
    B, D = gtr.shape[:2]
    gate = torch.ones(B, D, D, dtype=gtr.dtype, device=gtr.device)
    for _ in range(refinements):
        bf = _gated_statistics(*moments, gate, lags, prior_scale, wald=False)[0]
        gate = torch.sigmoid(prior_logit + bf.clamp(-30, 30))
    return gate


def standardize_series(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """z-score every (shop, node) series over its observed steps, ``(shop, time, node)``.

    ``(x - mean) / std`` with mean and std over the steps where ``mask`` is set; a
    constant series (std < 1e-8) maps to zeros; padded steps stay 0 (the mean).
    """
    w = mask.to(x.dtype)[..., None]  # (B, T, 1)
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * w).sum(1, keepdim=True) / n
    var = (((x - mean) * w) ** 2).sum(1, keepdim=True) / n
    std = var.sqrt()
    std = torch.where(std < 1e-8, torch.ones_like(std), std)
    return (x - mean) / std * w


def edge_features(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    prior_scale: float,
    refinements: int = 1,
    prior_logit: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-edge statistics, computed without gradients, on every series z-scored per
    shop (:func:`standardize_series`).

    Why z-score here although the model's units are already standardized: the target is
    min-max scaled into [0.1, 0.9] for the Hill curve (std about 0.2 against 1 for the
    channels), and a Bayes factor with a fixed ``N(0, prior_scale^2)`` coefficient prior
    is not scale-free, so edges into and out of the target were under-weighted against
    the others. On Simulation 2 (N = 100, d = 10, T = 120) the factors' per-shop AUROC
    rose from 0.977 / 0.950 to 0.989 / 0.977 (seeds 0 / 1) with this change.

    Returns ``(features (shop, cause, effect, lags + 1), log_bf (shop, cause, effect))``:
    the features stack the lagged correlations and a signed ``log1p`` of the log Bayes
    factor (O(1) inputs for the MLPs); ``log_bf`` is the raw log Bayes factor, which
    the encoder adds to the prior log-odds (posterior odds = prior odds x Bayes factor).

    Tried and not kept: the Bayes factor only in the logit, not among these MLP inputs.
    It ranked edges better (Simulation 2 AUROC 0.987 against 0.970 over 3 seeds) but the
    posterior became over-confident (notebook 03: 40% of the edges called present were
    real, against 89%), the ELBO worse, and the decisions' effect ranking weaker
    (Spearman 0.81 against 0.86); ``benchmarks/notes.md`` has the figures.
    """
    with torch.no_grad():
        x = standardize_series(x, mask)
        corr = lagged_correlations(x, mask, lags)
        bf = edge_log_evidence(x, mask, lags, prior_scale, refinements, prior_logit)
        squashed = torch.sign(bf) * torch.log1p(bf.abs())
    return torch.cat([corr, squashed[..., None]], dim=-1), bf
