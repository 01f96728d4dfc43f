"""Posterior predictive simulation: one-step replicates on the observed window and
ancestral-sampling forecasts past each shop's last step, for many graph draws at once.

For S posterior graph draws z^(s) (``adj`` ``(S, shop, cause, effect)``):

1. Teacher-forced decoder pass over the observed window (the window of observed values
   is shared by all draws, so the edge messages are computed once per step):
   ``mu^(s)_t`` ``(S, shop, time, node)``.
2. The linear lag coefficients are drawn from their exact conditional posterior given
   the graph and the decoder residuals, ``beta ~ N(A^{-1} G^T r / sigma^2, A^{-1})``
   (``models.linear``). ``G^T G`` is the same for every draw up to the column gates, so
   ``G_j^T G_j = (g_j g_j^T) * (X^T X)`` with one ``X^T X`` per shop.
3. Replicate ``x~_t = mu_t + G_t beta + sigma eps`` for observed t: the one-step-ahead
   posterior predictive.
4. Forecast: from each shop's last observed step, the decoder state and the lag buffer
   roll forward, each step's sample (mean + linear term + noise) fed back as the next
   input. Context for future steps is the ``future_context`` given (the caller holds the
   last observed value when the user gives none).

Everything here is in the model's scaled units; the caller converts to user units.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from .distributions import to_adjacency
from .linear import gated_moments, posterior_precision
from .pooling import posterior_mean


def _end_gather(x: torch.Tensor, lengths: torch.Tensor, k: int) -> torch.Tensor:
    """The last ``k`` observed values of each shop, oldest first: ``(shop, node, k)``
    (zeros before a series starts)."""
    B, T, D = x.shape
    idx = lengths[:, None] - k + torch.arange(k, device=x.device)[None]  # (B, k)
    vals = x.gather(1, idx.clamp_min(0)[..., None].expand(B, k, D))
    vals = vals * (idx >= 0)[..., None]
    return vals.transpose(1, 2)


def teacher_forced(model, x: torch.Tensor, adj: torch.Tensor, lengths: torch.Tensor):
    """Raw decoder readouts ``(S, shop, time, node)`` for graph draws ``adj``
    ``(S, shop, cause, effect)``, and each shop's state after its last observed step
    ``(S, shop, node, hidden)``."""
    dec = model.decoder
    S = adj.shape[0]
    B, T, D = x.shape
    h = dec.init_state((S, B), x)
    win = x.new_zeros(B, D, dec.window)
    raws = [dec.readout_state(h)]
    h_end = h
    for t in range(T):
        h, win = dec.step(h, win, x[:, t], adj)
        ended = (lengths - 1 == t)[None, :, None, None]
        h_end = torch.where(ended, h, h_end)
        if t < T - 1:
            raws.append(dec.readout_state(h))
    return torch.stack(raws, dim=2), h_end


def hill_drive(raw_target: torch.Tensor) -> torch.Tensor:
    """The S-curve input ``u = softplus(raw)`` of the target."""
    return torch.nn.functional.softplus(raw_target)


def plausible_band(
    x: torch.Tensor, mask: torch.Tensor, floor: torch.Tensor | None = None, widen: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low, high)`` each ``(shop, node)``: the observed range of every series widened
    by ``widen`` times its width on each side, ``low`` raised to ``floor`` if given."""
    m = mask[..., None]
    big = torch.finfo(x.dtype).max
    lo = torch.where(m, x, x.new_tensor(big)).amin(1)
    hi = torch.where(m, x, x.new_tensor(-big)).amax(1)
    span = (hi - lo).clamp_min(1e-6)
    low, high = lo - widen * span, hi + widen * span
    if floor is not None:
        low = torch.maximum(low, floor.to(x.dtype))
    return low, high


def sample_paths(
    model,
    x: torch.Tensor,
    mask: torch.Tensor,
    context: torch.Tensor,
    adj: torch.Tensor,
    horizon: int = 0,
    future_context: torch.Tensor | None = None,
    floor: torch.Tensor | None = None,
    future_values: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Replicates and forecasts for S graph draws (see the module docstring).

    Every simulated value is kept inside its series' plausible band, the observed range
    widened by half its width on each side, and above ``floor`` ``(shop, node)`` where
    given (the scaled zero of a series that is never negative, e.g. spend and GMV). The
    band stops the rare draw whose sampled linear coefficients are explosive from
    feeding back into ever larger values over long horizons; the clipped value is what
    is recorded and fed back.

    ``x`` ``(shop, time, node)`` scaled values, ``mask`` ``(shop, time)``, ``context``
    ``(shop, time, context)``, ``adj`` ``(S, shop, cause, effect)``, ``future_context``
    ``(shop, horizon, context)``, ``future_values`` ``(shop, horizon, node)`` planned
    values in model units, NaN where not planned: a planned node takes its value at that
    step in every draw (a do()-intervention whose effects flow through the graph).
    Returns ``replicate`` ``(S, shop, time, node)``,
    ``forecast`` ``(S, shop, horizon, node)``, ``hill_shape``/``hill_inflexion``
    ``(shop, time)``, ``hill_drive`` ``(S, shop, time)``.
    """
    cfg = model.config
    S = adj.shape[0]
    B, T, D = x.shape
    lengths = mask.sum(-1)
    low, high = plausible_band(x, mask, floor)
    raw, h = teacher_forced(model, x, adj, lengths)
    a, g = model.curve_params(context)
    mu = model.mean_from_raw(raw, a[None], g[None])
    sigma = model.sigma
    L = cfg.linear_lags
    layout = model.layout
    rows = mask.clone()
    rows[:, : cfg.max_lag] = False
    w = rows.to(x.dtype)
    if L > 0:
        X = model.design(x, context)  # (B, T, P)
        gates = model.gates(adj)  # (S, B, D, P)
        resid = (x[None] - mu) * w[None, ..., None]  # (S, B, T, D)
        gtg, gtr = gated_moments(X, resid, w, gates)
        prior_mean, prior_prec = model.coefficient_prior()
        A = posterior_precision(gtg, sigma.expand(S, B, D), cfg.linear_prior_scale, prior_prec)
        chol = torch.linalg.cholesky(A)
        mean = posterior_mean(chol, gtr, sigma.expand(S, B, D), prior_mean, prior_prec)
        beta = pyro.sample(
            "beta", dist.MultivariateNormal(mean, precision_matrix=A).to_event(1)
        )  # (S, B, D, P)
        coef = gates * beta  # effective coefficients on the ungated design
        lin = torch.einsum("btp,sbdp->sbtd", X, coef)
    else:
        lin = torch.zeros_like(mu)
    noise = torch.randn_like(mu) * sigma
    replicate = torch.maximum(torch.minimum(mu + lin + noise, high[:, None]), low[:, None])
    out = {
        "replicate": replicate,
        "hill_shape": a,
        "hill_inflexion": g,
        "hill_drive": hill_drive(raw[..., -1]),
    }
    if horizon <= 0:
        out["forecast"] = x.new_zeros(S, B, 0, D)
        return out
    dec = model.decoder
    fa, fg = model.curve_params(future_context)  # (B, M)
    f_exog = model.exog(future_context)  # (B, M, K) or None
    win = _end_gather(x, lengths, dec.window)  # (B, D, W)
    lagbuf = _end_gather(x, lengths, max(L, 1)).flip(-1).expand(S, B, D, max(L, 1))
    cv = model.response_cv(context)
    ad = None  # the response spends' adstock after each shop's last step
    if cv is not None:
        ad = model.response_design(x, context)[1][torch.arange(B), lengths]  # (B, n)
    same = layout.same_index(x.device)
    steps = []
    for k in range(horizon):
        m = model.mean_from_raw(dec.readout_state(h), fa[None, :, k], fg[None, :, k])
        if L > 0:
            lag_flat = lagbuf.reshape(S, B, D * L)
            lin_k = torch.einsum("sbp,sbdp->sbd", lag_flat, coef[..., : D * L]) + coef[..., -1]
            if f_exog is not None:
                lin_k = lin_k + torch.einsum(
                    "bk,sbdk->sbd", f_exog[:, k], coef[..., layout.exog_slice]
                )
            if ad is not None:
                phi = model.response_value(ad)
                lin_k = lin_k + torch.einsum("...bc,sbdc->sbd", phi, coef[..., layout.resp_slice])
        else:
            lin_k = 0.0
        value = m + lin_k + torch.randn_like(m) * sigma
        planned = None if future_values is None else future_values[:, k]  # (B, D)
        base = value
        for _ in range(layout.depth if layout.n_same else 0):
            # the decisions of this step first, then what responds to them, rank by rank
            spend = torch.maximum(torch.minimum(value, high), low)[..., same]
            if planned is not None:
                p_same = planned[:, same].to(value.dtype)
                spend = torch.where(torch.isnan(p_same), spend, p_same)
            value = base + torch.einsum("sbc,sbdc->sbd", spend, coef[..., layout.same_slice])
        value = torch.maximum(torch.minimum(value, high), low)
        if planned is not None:
            value = torch.where(torch.isnan(planned), value, planned.to(value.dtype))
        steps.append(value)
        if ad is not None:
            ad = model.response_step(ad, value, cv)
        h, win = dec.step(h, win, value, adj)
        lagbuf = torch.cat([value[..., None], lagbuf[..., :-1]], dim=-1)
    out["forecast"] = torch.stack(steps, dim=2)
    return out


def predictive_model(
    model,
    values: torch.Tensor,
    mask: torch.Tensor,
    context: torch.Tensor,
    horizon: int = 0,
    future_context: torch.Tensor | None = None,
    floor: torch.Tensor | None = None,
    future_values: torch.Tensor | None = None,
) -> None:
    """Pyro program for ``pyro.infer.Predictive(..., guide=amortized_guide,
    parallel=True)``: the graph site ``z`` (replayed from the guide, vectorized over
    draws at dim -2), then :func:`sample_paths`; results as deterministic sites
    ``replicate``, ``forecast``, ``hill_shape``, ``hill_inflexion``, ``hill_drive``."""
    B = values.shape[0]
    with pyro.plate("shops", B):
        if model.config.full_graph:
            ones = values.new_ones(B, model.n_edges)
            z = pyro.sample("z", dist.Delta(ones).to_event(1))
        else:
            z = pyro.sample("z", model.prior(B))
        if z.dim() == 2:  # a single draw (Predictive with parallel=False)
            z = z[None]
        adj = to_adjacency(z, model.n_nodes)
        out = sample_paths(
            model, values, mask, context, adj, horizon, future_context, floor, future_values
        )
        pyro.deterministic("replicate", out["replicate"], event_dim=2)
        pyro.deterministic("forecast", out["forecast"], event_dim=2)
        pyro.deterministic("hill_drive", out["hill_drive"], event_dim=1)
    pyro.deterministic("hill_shape", out["hill_shape"], event_dim=2)
    pyro.deterministic("hill_inflexion", out["hill_inflexion"], event_dim=2)
