"""The CausalMMM generative model p(z) p(X, y | z, C) as a Pyro model.

Per shop b (inside ``pyro.plate("shops")``, mini-batch subsampling supported):

    z_b   ~ RelaxedBernoulli(tau, p0)           off-diagonal edges, (shop, edge)
    mu_b  = decoder(x_b, z_b)                   recurrent message passing, (shop, time, node)
    mu_y  = hill(softplus(mu_b[..., -1]), a(C), g(C))   contextual S-curve on the target
    x_b   ~ N(mu_b + linear_z(x_b; beta_b), sigma^2)    beta_b integrated out (models.linear)

The lambda weight on the KL is applied with ``poutine.scale`` on the ``z`` site in both
model and guide, so only the KL term is reweighted. No training loop lives here.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from .config import ModelConfig
from .decoder import MessagePassingDecoder, SaturationHead, saturate
from .design import (
    DesignLayout,
    adstock_step,
    design_gates,
    design_matrix,
    gated,
    hill,
    relative_spend,
    response_columns,
)
from .distributions import edge_index, kl_weight, to_adjacency
from .linear import (
    collapsed_gaussian,
    em_noise_variance,
    gated_moments,
    posterior_precision,
    regression_moments,
)
from .pooling import posterior_mean


class CausalMMMModel(nn.Module):
    """Holds the decoder networks; ``model(...)`` is the Pyro model.

    ``values`` ``(shop, time, node)`` standardized, ``mask`` ``(shop, time)`` bool (False on
    padding), ``context`` ``(shop, time, n_context + n_exog)``: the S-curve's context
    columns, then the ``n_exog`` baseline columns of the linear term (additive controls and
    the calendar columns of :mod:`models.baseline`). ``same_period`` lists the nodes (the
    spend channels) whose current value enters the responding nodes' linear term
    (:mod:`models.design`); ``rank`` ``(node,)`` their within-period order (empty: spends
    0, the rest 1; ``same_period="funnel"`` ranks the responders too). The baseline and
    the same-period columns live in the linear
    term, so they need ``linear_lags >= 1``. ``response`` lists the spend channels with
    a saturating response column (:mod:`models.design`; ``config.response == "hill"``):
    then the last ``n_nodes`` context columns are each node's coefficient of variation
    per shop (:meth:`response_cv`), and the buffers ``decay`` and ``kappa``
    ``(len(response),)`` hold the response shapes (set by :mod:`models.response`).
    """

    def __init__(
        self,
        config: ModelConfig,
        n_nodes: int,
        n_context: int,
        n_exog: int = 0,
        same_period: tuple[int, ...] = (),
        response: tuple[int, ...] = (),
        rank: tuple[int, ...] = (),
    ):
        super().__init__()
        self.config = config
        self.n_nodes = n_nodes
        self.n_context = n_context
        self.n_exog = n_exog if config.linear_lags else 0
        same = tuple(sorted(int(i) for i in same_period)) if config.linear_lags else ()
        resp = tuple(sorted(int(i) for i in response)) if config.linear_lags else ()
        rank = tuple(int(r) for r in rank) if same else ()
        self.layout = DesignLayout(n_nodes, config.linear_lags, same, self.n_exog, resp, rank)
        self.decoder = MessagePassingDecoder(
            n_nodes, config.hidden, config.message_window, markov=config.markov
        )
        self.saturation = SaturationHead(n_context)
        # per-node noise scale, a point estimate (type-II maximum likelihood)
        self.log_sigma = nn.Parameter(torch.full((n_nodes,), -0.7))
        # graph prior log-odds per edge (cause-major order of `edge_index`): logit(p0), or
        # the empirical-Bayes edge rates of each effect node (`set_edge_rates`)
        p0 = torch.tensor(config.prior_edge_prob)
        self.register_buffer("prior_logits", torch.logit(p0).expand(self.n_edges).clone())
        # response shapes of the spends in `response`: adstock decay, half-saturation point
        # (None without response columns, so such a model's state has no such entries)
        self.register_buffer("decay", torch.zeros(len(resp)) if resp else None)
        self.register_buffer("kappa", torch.full((len(resp),), float("inf")) if resp else None)
        # the coefficients' prior pooled over shops (`models.pooling`), per (node, column):
        # mean and precision; N(0, s^2) until `fit_pooled_prior` sets them
        P = self.layout.width
        self.register_buffer("coef_mean", torch.zeros(n_nodes, P))
        self.register_buffer("coef_prec", torch.full((n_nodes, P), config.linear_prior_scale**-2))
        # (cause, effect) pairs of spends into other nodes whose direct gains the panel's
        # shops estimate as media-like (`models.pooling.media_pairs`): held >= 0 by the
        # decisions' default spend_effects="auto"; none until the fit sets them
        self.register_buffer("media_pairs", torch.zeros(n_nodes, n_nodes, dtype=torch.bool))

    def coefficient_prior(self, nodes=None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The linear coefficients' prior ``(mean, precision)``, each ``(node, P)`` (rows
        ``nodes`` only, when given): the pooled prior of ``models.pooling``, or
        ``(None, None)`` for ``N(0, s^2)`` (``effect_pooling="none"``)."""
        if self.config.effect_pooling == "none":
            return None, None
        if nodes is None:
            return self.coef_mean, self.coef_prec
        return self.coef_mean[nodes], self.coef_prec[nodes]

    @property
    def n_edges(self) -> int:
        return self.n_nodes * (self.n_nodes - 1)

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp().clamp_min(1e-3)

    def curve_context(self, context: torch.Tensor) -> torch.Tensor:
        """The S-curve's context columns ``(..., n_context)`` of ``context``."""
        return context[..., : self.n_context]

    def exog(self, context: torch.Tensor | None) -> torch.Tensor | None:
        """The baseline columns ``(..., n_exog)`` of ``context`` (None without any)."""
        if not self.n_exog:
            return None
        if context is None:
            raise ValueError(f"this model has {self.n_exog} baseline columns: pass the context")
        return context[..., self.n_context : self.n_context + self.n_exog]

    def response_cv(self, context: torch.Tensor | None) -> torch.Tensor | None:
        """Coefficients of variation ``(shop, |response|)`` of the response spends, from
        the last ``n_nodes`` columns of ``context`` ``(shop, time, C)`` (constant in
        time); None without response columns."""
        if not self.layout.n_resp:
            return None
        return context[:, 0, -self.n_nodes :][:, self.layout.resp_index(context.device)]

    def response_design(
        self, x: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
        """Response columns ``(shop, time, |response|)`` and adstock paths ``(shop, time +
        1, |response|)`` of ``x`` (:func:`models.design.response_columns`)."""
        cv = self.response_cv(context)
        if cv is None:
            return None, None
        u = relative_spend(x[..., self.layout.resp_index(x.device)], cv[:, None, :])
        return response_columns(u, self.decay.to(x.dtype), self.kappa.to(x.dtype))

    def response_step(self, a: torch.Tensor, values: torch.Tensor, cv: torch.Tensor):
        """Adstock ``(..., B, |response|)`` after a step with node values ``values``
        ``(..., B, D)``; ``cv`` ``(B, |response|)``."""
        u = relative_spend(values[..., self.layout.resp_index(values.device)], cv)
        return adstock_step(a, u, self.decay.to(a.dtype))

    def response_value(self, a: torch.Tensor) -> torch.Tensor:
        """The response columns' values ``hill(a)`` for adstock ``a`` ``(..., |response|)``."""
        return hill(a, self.kappa.to(a.dtype))

    def curve_params(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hill shape and inflexion ``(shop, time)`` from ``context``."""
        return self.saturation(self.curve_context(context))

    def design(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """Ungated linear design ``(shop, time, P)`` (:func:`models.design.design_matrix`)."""
        resp, _ = self.response_design(x, context)
        return design_matrix(x, self.exog(context), self.layout, resp)

    def gates(self, adj: torch.Tensor) -> torch.Tensor:
        """Column gates ``(..., shop, effect, P)`` of ``adj`` ``(..., shop, cause, effect)``."""
        return design_gates(adj, self.layout)

    def set_edge_rates(self, rate: torch.Tensor) -> None:
        """Use edge probability ``rate[j]`` ``(node,)`` for every edge into node j (the
        learned hierarchical prior on edge density) instead of ``prior_edge_prob``."""
        _, effect = edge_index(self.n_nodes)
        p = torch.as_tensor(rate, dtype=torch.float64).clamp(1e-4, 1 - 1e-4)[effect]
        self.prior_logits.copy_(torch.logit(p).to(self.prior_logits))

    def prior(self, batch: int) -> dist.Distribution:
        """Graph prior ``(shop, edge)``: relaxed Bernoulli with per-edge log-odds
        ``prior_logits`` (``logit(p0)`` unless learned rates were set)."""
        logits = self.prior_logits.expand(batch, self.n_edges)
        tau = torch.tensor(self.config.tau, device=logits.device)
        return dist.RelaxedBernoulli(tau, logits=logits).to_event(1)

    def decode(
        self, x: torch.Tensor, adj: torch.Tensor, context: torch.Tensor, feedback=None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder mean ``(shop, time, node)`` plus Hill shape and inflexion ``(shop, time)``.

        ``feedback`` ``(shop, time)`` bool marks steps whose input is the decoder's own
        prediction (see :class:`MessagePassingDecoder`)."""
        raw = self.decoder(x, adj, feedback)
        a, g = self.curve_params(context)
        return self.mean_from_raw(raw, a, g), a, g

    def mean_from_raw(self, raw: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Decoder mean from raw readouts ``(..., node)``: the S-curve on the target,
        ``a, g`` broadcastable to ``raw[..., -1]`` (identity with ``no_saturation``)."""
        if self.config.no_saturation:
            return raw
        target = saturate(raw[..., -1], a, g)
        return torch.cat([raw[..., :-1], target[..., None]], dim=-1)

    def training_feedback(self, mask: torch.Tensor) -> torch.Tensor | None:
        """Per-shop feedback mask ``(shop, time)`` for training with ``pred_steps = M``:
        the inputs of each shop's last ``M - 1`` observed steps are the decoder's own
        predictions, so its last ``M`` predictions are 1..M steps ahead. None when M = 1.

        Only the recurrent part is rolled out; the linear lag term is conditioned on
        observed lags during training (its coefficients are integrated out against the
        data), and rolled out with its posterior-mean coefficients when forecasting.
        """
        m = self.config.pred_steps
        if m <= 1:
            return None
        lengths = mask.sum(-1, keepdim=True)
        t = torch.arange(mask.shape[1], device=mask.device)[None, :]
        return (t >= lengths - (m - 1)) & mask

    def sample_graph(self, batch: int, device) -> torch.Tensor:
        """Sample the ``z`` site (or the full graph for CM-FULL): ``(shop, edge)``."""
        if self.config.full_graph:
            return torch.ones(batch, self.n_edges, device=device)
        with kl_weight(self.config.lam):
            return pyro.sample("z", self.prior(batch))

    def log_likelihood(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        adj: torch.Tensor,
        mu: torch.Tensor,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """log p(x | z) per shop ``(shop,)`` over scored steps (``t >= max_lag``, unmasked)."""
        cfg = self.config
        start = cfg.max_lag
        rows = mask[:, start:]
        resid = (x - mu)[:, start:]
        sigma = self.sigma
        if cfg.linear_lags == 0:
            ll = dist.Normal(0.0, sigma).log_prob(resid) * rows[..., None]
            return ll.sum((-1, -2))
        design = gated(self.design(x, context)[:, start:], self.gates(adj))
        log_ev, _ = collapsed_gaussian(
            resid.transpose(1, 2),
            design,
            rows,
            sigma.expand(x.shape[0], -1),
            cfg.linear_prior_scale,
        )
        return log_ev.sum(-1)

    def predict_mean(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor,
        adj: torch.Tensor,
        fit_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher-forced one-step posterior-mean prediction ``(shop, time, node)``.

        Decoder mean plus the linear term at its posterior-mean coefficients given the
        rows where ``fit_mask & mask`` (``(shop, time)``) holds (default: every observed
        step), so held-out steps can be scored honestly. ``adj`` ``(shop, cause, effect)``.
        """
        cfg = self.config
        mu, _, _ = self.decode(x, adj, context)
        if cfg.linear_lags == 0:
            return mu
        rows = mask if fit_mask is None else fit_mask & mask
        rows = rows.clone()
        rows[:, : cfg.max_lag] = False
        design = gated(self.design(x, context), self.gates(adj))  # (B, D, T, P)
        moments = regression_moments((x - mu).transpose(1, 2), design, rows)
        sigma = self.sigma.expand(x.shape[0], -1)
        mean, prec = self.coefficient_prior()
        A = posterior_precision(moments[0], sigma, cfg.linear_prior_scale, prec)
        beta = posterior_mean(torch.linalg.cholesky(A), moments[1], sigma, mean, prec)
        return mu + (design @ beta[..., None]).squeeze(-1).transpose(1, 2)

    @torch.no_grad()
    def residual_moments(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor,
        adj: torch.Tensor,
        chunk: int = 256,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Moments of the linear term's regression on the decoder's residuals over the
        scored steps, with the graph at ``adj`` ``(shop, cause, effect)``, the decoder run
        on chunks of ``chunk`` shops: ``G^T G`` ``(shop, node, P, P)`` and ``G^T r``
        ``(shop, node, P)`` (None without a linear term), ``r^T r`` and the row count ``n``
        ``(shop, node)``."""
        rows = mask.clone()
        rows[:, : self.config.max_lag] = False
        parts = []
        for sl in (slice(i, i + chunk) for i in range(0, x.shape[0], chunk)):
            xb, cb, ab = x[sl], context[sl], adj[sl]
            w = rows[sl].to(x.dtype)
            mu, _, _ = self.decode(xb, ab, cb)
            resid = (xb - mu) * w[..., None]  # (B, T, D)
            n = w.sum(1, keepdim=True).expand(-1, x.shape[-1])
            moments = (None, None)
            if self.config.linear_lags:
                moments = gated_moments(self.design(xb, cb), resid, w, self.gates(ab))
            parts.append((*moments, resid.pow(2).sum(1), n))
        gtg, gtr, rtr, n = zip(*parts, strict=True)
        if gtg[0] is None:
            return None, None, torch.cat(rtr), torch.cat(n)
        return torch.cat(gtg), torch.cat(gtr), torch.cat(rtr), torch.cat(n)

    @torch.no_grad()
    def calibrate_noise(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor,
        adj: torch.Tensor,
        chunk: int = 256,
    ) -> torch.Tensor:
        """Set the noise scales sigma ``(node,)`` to their type-II maximum-likelihood
        value by EM (:func:`models.linear.em_noise_variance`), with the graph at ``adj``
        ``(shop, cause, effect)`` (the posterior edge probabilities) and the decoder fixed.

        SVI moves ``log_sigma`` only as far as its small learning rate allows in a few
        hundred steps (from 0.5 it barely reaches 0.45 on a target whose one-step error
        is near 0.05), which makes every predictive interval far too wide. The graph
        posterior does not depend on sigma (the guide is already trained), so this
        closed-form step after training changes the predictive scale and the linear
        term's shrinkage only. Returns the new sigma.
        """
        gtg, gtr, rtr, n = self.residual_moments(x, mask, context, adj, chunk)
        if gtg is None:  # no linear term: the residuals' pooled variance per node
            sigma = (rtr.sum(0) / n.sum(0).clamp_min(1)).clamp_min(1e-8).sqrt()
        else:
            prior = self.config.linear_prior_scale
            sigma = em_noise_variance(gtg, gtr, rtr, n, self.sigma, prior)
        self.log_sigma.data.copy_(sigma.clamp_min(1e-3).log())
        return self.sigma

    def model(
        self,
        values: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor,
        subsample: torch.Tensor | None = None,
    ) -> None:
        pyro.module("causalmmm", self)
        n_shops = values.shape[0]
        with pyro.plate("shops", n_shops, subsample=subsample) as idx:
            x, m, c = values[idx], mask[idx], context[idx]
            z = self.sample_graph(x.shape[0], x.device)
            adj = to_adjacency(z, self.n_nodes)
            mu, a, g = self.decode(x, adj, c, self.training_feedback(m))
            pyro.deterministic("hill_shape", a, event_dim=1)
            pyro.deterministic("hill_inflexion", g, event_dim=1)
            pyro.factor("obs", self.log_likelihood(x, m, adj, mu, c))

    __call__ = model
