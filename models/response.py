"""Response shapes of the spend channels (adstock decay, half-saturation), by pooled evidence.

With ``ModelConfig(response="hill")`` a spend channel c reaches every node outside the
spend set through one column ``phi_c = hill(adstock(u_c; d_c); kappa_c)``
(:mod:`models.design`). The shapes ``(d_c, kappa_c)`` are shared by every shop; the
effect sizes (the column's coefficients) stay per shop and edge and are integrated out
as before. The shapes are chosen by type-II maximum likelihood over a grid, pooled over
shops and over the nodes the spends can reach:

    (d_c, kappa_c) = argmax_{(d, k) in DECAYS x KAPPAS} sum_{b, j not a spend} log p(x_bj | z)

``log p`` is the collapsed Gaussian evidence of the linear term (:mod:`models.linear`,
coefficients ``N(0, s^2)`` integrated out), ``z`` the graph at the posterior edge
probabilities rounded to 0/1, the noise scales set by EM once (at the first grid point),
and the residual the value itself (the decoder is not trained yet). The grid holds
``kappa = inf`` (no saturation) and ``d = 0`` (no carryover), so a channel whose data do
not ask for either does not get it. Channels are visited once each, in order, every other
channel at its current choice (one pass of coordinate ascent).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .linear import em_noise_variance, evidence_from_moments, gated_moments

#: Candidate adstock decays per step (0: the effect lands in the next step only).
DECAYS = (0.0, 0.3, 0.5, 0.7, 0.85)
#: Candidate half-saturation points, in units of the channel's mean adstock (inf: linear).
#: Ties go to the first grid point, the linear response without carryover.
KAPPAS = (math.inf, 4.0, 2.0, 1.0, 0.5)


def _moments(model, x, mask, context, adj):
    """``G^T G, G^T r, r^T r, n`` of every effect's gated linear regression, ``(shop,
    effect, ...)``, with ``r = x`` over the scored steps."""
    rows = mask.clone()
    rows[:, : model.config.max_lag] = False
    w = rows.to(x.dtype)
    r = x * w[..., None]
    gtg, gtr = gated_moments(model.design(x, context), r, w, model.gates(adj))
    n = w.sum(1, keepdim=True).expand(-1, x.shape[-1])
    return gtg, gtr, (r * r).sum(1), n


@torch.no_grad()
def fit_response_shapes(
    model,
    x: torch.Tensor,
    mask: torch.Tensor,
    context: torch.Tensor,
    p_edge: torch.Tensor,
    decays=DECAYS,
    kappas=KAPPAS,
) -> dict:
    """Set ``model.decay`` and ``model.kappa`` of every response spend to its grid point of
    highest pooled evidence (module docstring); returns ``{node: (decay, kappa)}``.
    ``x`` ``(shop, time, node)``, ``p_edge`` ``(shop, cause, effect)``."""
    layout = model.layout
    adj = (p_edge > 0.5).to(x.dtype)
    reached = torch.ones(layout.n_nodes, dtype=torch.bool)
    reached[layout.resp_index()] = False  # the nodes whose evidence the shapes change
    prior = model.config.linear_prior_scale
    model.decay.fill_(decays[0])
    model.kappa.fill_(kappas[0])
    sigma = em_noise_variance(*_moments(model, x, mask, context, adj), model.sigma, prior)
    model.log_sigma.data.copy_(sigma.clamp_min(1e-3).log())
    grid = [(d, k) for d in decays for k in kappas]
    chosen = {}
    for c, node in enumerate(layout.response):
        scores = []
        for d, k in grid:
            model.decay[c], model.kappa[c] = d, k
            gtg, gtr, rtr, n = _moments(model, x, mask, context, adj)
            log_ev, _ = evidence_from_moments(gtg, gtr, rtr, n, sigma.expand_as(rtr), prior)
            scores.append(float(log_ev[:, reached].sum()))
        d, k = grid[max(range(len(grid)), key=scores.__getitem__)]
        model.decay[c], model.kappa[c] = d, k
        chosen[int(node)] = (float(d), float(k))
    return chosen


def spend_cv(data) -> np.ndarray:
    """``(shop, node)`` std / mean of each spend channel per shop of a
    ``MarketingMixData``, in the data's units (the scaling's z-score: ``scale / loc``),
    NaN for the other nodes and for a spend whose mean is not positive (the saturating
    response then leaves it linear)."""
    loc, scale = data.scaling.loc, data.scaling.scale
    cv = np.full(loc.shape, np.nan)
    for name in data.spend_names:
        i = data.node_names.index(name)
        pos = loc[:, i] > 0
        cv[pos, i] = scale[pos, i] / loc[pos, i]
    return cv
