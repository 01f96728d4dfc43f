"""Effect sizes pooled over shops: an empirical-Bayes prior for the linear coefficients.

The model's coefficients have the prior ``N(0, s^2)`` per shop (``models.linear``), so a
shop's effect sizes come from its own 100-200 steps alone, and on daily data with on/off
flights those estimates are noisy (the 90% intervals of a channel's contribution were
about twice its size). Shops of one panel share their media, so after the fit the
coefficients get a prior learned from all of them (a hierarchical normal model, its
hyperparameters by the method of moments, :func:`pooled_prior`):

    beta_bjp ~ N(m_jp, tau_jp^2)      (shop b, effect node j, design column p)

The graph's evidence is unchanged (the edges are learned with ``N(0, s^2)``, so the
edge probabilities do not depend on this step); the coefficients behind contributions,
ROAS, response curves, plans, forecasts and posterior predictive checks use the pooled
prior. ``ModelConfig.effect_pooling`` chooses it ("shops", default) or not ("none").

Why a shop keeps at least half the weight (``floor = 1``): the funnels' shops differ in
earnest (each parent's share of a node's media effect is a Dirichlet split, and edges
come and go), which a normal prior fitted to 12-60 shops describes only roughly. With
``floor = 0.1`` the 12-shop weekly funnel's coverage fell from 85% to 80% (seeds 0-2),
with ``1`` to 84% (coverages read with 0.7's HDI window, which held 83% of a calibrated
posterior at 20 draws: compare them with each other, not with 90%), while the daily
funnel was the same either way; a small-sample
correction of the shrinkage factor (Morris 1983, ``(n - 3) / (n - 1)``) did not move it.
Measured effects of the default in ``benchmarks/notes.md`` (stop 24).
"""

from __future__ import annotations

import torch

from .design import cause_directions
from .linear import posterior_precision


def posterior_mean(
    chol: torch.Tensor, gtr: torch.Tensor, sigma: torch.Tensor, prior_mean=None, prior_prec=None
) -> torch.Tensor:
    """Posterior mean ``(..., P)`` of beta under the prior ``N(m, diag(prec)^{-1})``:
    ``A^{-1} (G^T r / sigma^2 + prec * m)`` with ``chol`` the Cholesky factor of ``A``
    (:func:`posterior_precision`), ``sigma`` ``(...)`` (each row's noise scale). Without
    ``prior_mean`` the prior is centred at 0: ``A^{-1} G^T r / sigma^2``."""
    b = gtr / (sigma**2)[..., None]
    if prior_mean is not None:
        b = b + (prior_prec * prior_mean).to(b.dtype)
    return torch.cholesky_solve(b[..., None], chol).squeeze(-1)


def pooled_prior(
    beta: torch.Tensor,
    var: torch.Tensor,
    active: torch.Tensor,
    prior_scale: float,
    min_shops: int = 5,
    floor: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Empirical-Bayes prior of each coefficient, pooled over shops (method of moments).

    ``beta`` ``(shop, effect, P)`` the per-shop posterior means under ``N(0, s^2)``,
    ``var`` their posterior variances (the diagonal of ``A^{-1}``), ``active`` (bool,
    same shape) where the column is in the shop's design (its edge on, its values not
    all zero). Per ``(effect, column)`` over its ``n`` active shops::

        m = mean_b beta_b,     tau^2 = mean_b (beta_b - m)^2 - mean_b var_b

    (the spread of the estimates less the part their own noise explains), with
    ``tau^2`` kept in ``[floor * mean_b var_b, s^2]``: the pooled prior is never wider
    than the model's ``N(0, s^2)``, and never so tight that a shop's own data weigh less
    than ``floor / (1 + floor)`` of a column's estimate (the default 1: at least half;
    why in the module docstring). Columns with fewer than
    ``min_shops`` active shops keep ``N(0, s^2)``. Returns ``(mean, precision)``, each
    ``(effect, P)``; the shop's coefficients then have the prior ``N(m, 1 / prec)``.
    """
    w = active.to(beta.dtype)
    n = w.sum(0)  # (effect, P)
    m = (w * beta).sum(0) / n.clamp_min(1)
    spread = (w * (beta - m) ** 2).sum(0) / n.clamp_min(1)
    noise = (w * var).sum(0) / n.clamp_min(1)
    tau2 = torch.maximum(spread - noise, floor * noise).clamp_max(prior_scale**2)
    pooled = n >= min_shops
    mean = torch.where(pooled, m, torch.zeros_like(m))
    prec = torch.where(pooled, 1 / tau2.clamp_min(1e-12), torch.full_like(m, prior_scale**-2))
    return mean, prec


def media_pairs(
    gains: torch.Tensor, active: torch.Tensor, strength: float = 10.0, share: float = 0.75
) -> torch.Tensor:
    """``(cause, effect)`` bool: the (spend, responder) pairs whose direct gains the panel
    says are media-like (non-negative), for ``DecisionConfig.spend_effects="auto"``.

    ``gains`` ``(shop, cause, effect)`` each shop's estimated long-run direct gain (its own
    data alone), ``active`` (bool, same shape) where the shop has the edge. With ``k+``
    positive gains of ``n`` active ones in the whole panel and ``k+_ij`` of ``n_ij`` for a
    pair, the shares of positive gains (Beta-binomial, the panel's share as the pair's
    prior mean with ``strength`` pseudo-shops)::

        s = (k+ + 1) / (n + 2),    s_ij = (k+_ij + strength * s) / (n_ij + strength)

    and a pair is media-like when ``s_ij >= share``. Random signs give ``s`` about 1/2 (so no
    pair reaches 3/4 unless its own shops agree); media give 0.8-0.9 (funnels: most pairs,
    also those with 2-5 shops, borrow the panel's share). A pair no shop has (``n_ij = 0``:
    its edge appears only in some graph draws) takes the panel's share: in a media panel it
    is held >= 0 too, as the tools that assume media everywhere would. Measured in
    ``benchmarks/notes.md`` (stop 27)."""
    w = active.to(gains.dtype)
    pos = ((gains > 0) & active).to(gains.dtype)
    s = (pos.sum() + 1) / (w.sum() + 2)
    s_ij = (pos.sum(0) + strength * s) / (w.sum(0) + strength)
    return s_ij >= share


@torch.no_grad()
def fit_pooled_prior(model, x, mask, context, adj, chunk: int = 256, spends=()):
    """The pooled prior ``(mean, precision)`` ``(node, P)`` of ``model``'s coefficients
    from the panel ``x`` ``(shop, time, node)``, with the graph at ``adj`` ``(shop, cause,
    effect)`` rounded to 0/1 (an edge is in a shop's design when its probability is
    > 0.5) and the decoder as trained, and :func:`media_pairs` ``(node, node)`` of the
    ``spends`` (node indices) into the other nodes from the same per-shop estimates.
    Shops are processed in chunks of ``chunk``."""
    prior = model.config.linear_prior_scale
    hard = (adj > 0.5).to(x.dtype)
    gtg, gtr, _, _ = model.residual_moments(x, mask, context, hard, chunk)
    sigma = model.sigma.expand(gtr.shape[:-1])
    chol = torch.linalg.cholesky(posterior_precision(gtg, sigma, prior))
    beta = posterior_mean(chol, gtr, sigma)
    var = torch.diagonal(torch.cholesky_inverse(chol), dim1=-2, dim2=-1)
    # a column is in a shop's design where its edge is on and its values are not all 0
    # (a gated-off column has a zero diagonal in G^T G)
    active = torch.diagonal(gtg, dim1=-2, dim2=-1) > 0
    mean, prec = pooled_prior(beta, var, active, prior)
    D = x.shape[-1]
    pairs = torch.zeros(D, D, dtype=torch.bool)
    spends = sorted(int(i) for i in spends)
    others = [j for j in range(D) if j not in spends]
    if spends and others:
        dirs = cause_directions(model.layout, spends).to(beta.dtype)  # (C, P)
        gains = torch.einsum("cp,bjp->bcj", dirs, beta[:, others])  # (shop, C, |others|)
        on = hard[:, spends][:, :, others] > 0
        pairs[torch.as_tensor(spends)[:, None], torch.as_tensor(others)[None]] = media_pairs(
            gains, on
        )
    return mean, prec, pairs


def set_effect_priors(model, x, mask, context, adj, spends) -> None:
    """After the fit: set ``model``'s pooled prior (used with ``effect_pooling="shops"``
    only, ``CausalMMMModel.coefficient_prior``) and its media pairs (used by the decisions'
    ``spend_effects="auto"`` with either) from :func:`fit_pooled_prior`; nothing without a
    linear term."""
    if not model.config.linear_lags:
        return
    mean, prec, pairs = fit_pooled_prior(model, x, mask, context, adj, spends=spends)
    if model.config.effect_pooling == "shops":
        model.coef_mean.copy_(mean)
        model.coef_prec.copy_(prec)
    model.media_pairs.copy_(pairs)
