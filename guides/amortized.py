"""Amortized guide q(z | X, y): the relational encoder's logits parameterise the same
relaxed-Bernoulli ``z`` site as the model, under the same lambda ``poutine.scale``.

With ``calibrate_edges`` (the default) an edge's logit is

    logit_ij = c_j(z_ij) + bound * tanh(MLP_ij)

``z_ij`` the lag-test z-score of edge i -> j (``evidence.edge_evidence_stats``), ``c_j``
the monotone empirical-Bayes log-odds curve of effect node j fitted across the training
shops (``calibration``; stored as the buffer ``curve``), and the NRI encoder's output a
bounded correction that starts at 0 (training may move an edge's log-odds by at most
``bound = correction_bound``, so it cannot overrule strong evidence; 0 by default).
Without ``calibrate_edges`` (the previous guide) the logit is
``logit(p0) + w * log BF_ij + MLP_ij``.
"""

from __future__ import annotations

import math

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_causalmmm.models.config import ModelConfig
from pyro_causalmmm.models.design import within_period_ranks
from pyro_causalmmm.models.distributions import kl_weight

from . import calibration
from .encoder import RelationalEncoder
from .evidence import edge_evidence_stats, edge_evidence_variants
from .features import edge_features


class AmortizedGraphGuide(nn.Module):
    """``guide(values, mask, context, subsample)`` with the model's signature.

    ``edge_logits(x, mask, context)`` gives ``(shop, edge)`` logits for any shops in one
    forward pass (new shops need no retraining). ``exog``: the indices of the context
    columns that are the evidence's always-on baseline columns (some of the model's
    calendar and control columns, chosen by ``config.evidence_calendar``); every evidence
    method then needs ``context``.
    """

    def __init__(
        self,
        config: ModelConfig,
        n_nodes: int,
        same_period: tuple[int, ...] = (),
        rank: tuple[int, ...] = (),
        exog: tuple[int, ...] = (),
    ):
        super().__init__()
        self.config = config
        self.exog_cols = tuple(int(i) for i in exog)
        self.n_nodes = n_nodes
        # nodes whose current value enters later-ranked nodes' means (models.design): the
        # evidence for an edge into node j then tests lags 0..L-1 of a cause ranked before j
        self.same_period = tuple(sorted(int(i) for i in same_period))
        self.ranks = within_period_ranks(n_nodes, self.same_period, rank)
        self.prior_logit = math.log(config.prior_edge_prob / (1 - config.prior_edge_prob))
        if config.calibrate_edges:
            self.stat_lags = config.evidence_lags
            n_stats = self.stat_lags + 2 if config.encoder_lag_features else 0
            self.encoder = RelationalEncoder(n_nodes, config.hidden, n_stats, 0.0)
            default = self._default_params()
            curve = torch.tensor(calibration.log_odds_curve(default), dtype=torch.float64)
            self.register_buffer("curve", curve)  # (effect, grid), saved with the weights
            self.register_buffer("edge_rate", torch.tensor(default["rate"]))
            # log-odds of each (cause, effect) pair's own rate against its effect's
            # (ModelConfig.edge_rates = "edge"; zeros: the rate per effect node)
            self.register_buffer("edge_offset", torch.zeros(n_nodes, n_nodes, dtype=torch.float64))
        else:
            self.stat_lags = max(config.linear_lags, 1)
            n_stats = self.stat_lags + 1 if config.encoder_lag_features else 0
            self.encoder = RelationalEncoder(n_nodes, config.hidden, n_stats, self.prior_logit)

    def _default_params(self) -> dict:
        """The curve before (or without) `calibrate`: a theoretical null and a generic
        alternative at the prior edge probability."""
        return {
            "mu0": 0.0,
            "sd0": 1.0,
            "weights": np.ones(1),
            "mus": np.array([4.0]),
            "sds": np.array([2.0]),
            "rate": np.full(self.n_nodes, self.config.prior_edge_prob),
        }

    def _exog(self, context: torch.Tensor | None) -> torch.Tensor | None:
        """The evidence's baseline columns ``(shop, time, K)`` of ``context`` (None when
        the evidence has none)."""
        if not self.exog_cols:
            return None
        if context is None:
            raise ValueError("this guide's evidence reads the baseline columns: pass context")
        return context[..., list(self.exog_cols)]

    def _evidence(self, x: torch.Tensor, mask: torch.Tensor, context=None):
        """``(features, log_bf, z)`` of :func:`evidence.edge_evidence_stats`. With
        same-period nodes, edges into node j are tested on the design whose columns of
        the nodes ranked before j are advanced one step (lags 0..L-1 of those causes, lags
        1..L of the others and of j itself); edges into a spend node on the lagged design
        (a decision has no same-period parents), so the evidence tests the model's own
        columns."""
        cfg = self.config
        args = (
            self.stat_lags,
            cfg.linear_prior_scale,
            cfg.evidence_refinements,
            self.prior_logit,
            cfg.evidence_ranks,
            cfg.evidence_baseline,
        )
        kw = {
            "even": cfg.evidence_even,
            "products": cfg.evidence_products,
            "exog": self._exog(context),
        }
        if not self.same_period:
            return edge_evidence_stats(x, mask, *args, **kw)
        # every design in one batched pass (guides.evidence.edge_evidence_variants); the
        # effect j reads the design whose advanced nodes are those ranked before it
        ranks = self.ranks
        wanted = [
            tuple(s for s in self.same_period if ranks[s] < ranks[j]) for j in range(len(ranks))
        ]
        designs = tuple(dict.fromkeys(wanted))
        which = torch.tensor([designs.index(w) for w in wanted], device=x.device)
        return edge_evidence_variants(x, mask, *args, advances=designs, which=which, **kw)[0]

    def edge_stats(self, x: torch.Tensor, mask: torch.Tensor, context=None):
        """Per-edge lag statistics ``(shop, cause, effect, F)`` and log Bayes factors
        ``(shop, cause, effect)``; ``(F = 0, None)`` when switched off."""
        cfg = self.config
        if cfg.calibrate_edges:
            feats, bf, _ = self._evidence(x, mask, context)
            return (feats if cfg.encoder_lag_features else feats[..., :0]), bf
        if not cfg.encoder_lag_features:
            return x.new_zeros(x.shape[0], self.n_nodes, self.n_nodes, 0), None
        return edge_features(
            x,
            mask,
            self.stat_lags,
            cfg.linear_prior_scale,
            cfg.evidence_refinements,
            self.prior_logit,
        )

    def edge_evidence(self, x: torch.Tensor, mask: torch.Tensor, context=None) -> torch.Tensor:
        """Untrained evidence ``(shop, cause, effect)``: the lag-test z-scores (calibrated
        guide) or the log Bayes factors (previous guide) the logits start from."""
        if self.config.calibrate_edges:
            return self._evidence(x, mask, context)[2]
        _, log_bf = self.edge_stats(x, mask)
        if log_bf is None:
            return x.new_zeros(x.shape[0], self.n_nodes, self.n_nodes)
        return log_bf

    @torch.no_grad()
    def calibrate(
        self, x: torch.Tensor, mask: torch.Tensor, context=None, chunk: int = 64
    ) -> dict:
        """Fit the empirical-Bayes curve on shops ``x`` ``(shop, time, node)`` (all their
        off-diagonal edges) and store it; returns the fitted parameters."""
        D = self.n_nodes
        ctx = [None] * len(x.split(chunk)) if context is None else context.split(chunk)
        z = torch.cat(
            [
                self.edge_evidence(a, m, c)
                for a, m, c in zip(x.split(chunk), mask.split(chunk), ctx, strict=True)
            ]
        )
        off = ~torch.eye(D, dtype=torch.bool)
        effect = torch.arange(D).expand(D, D)[off]  # (edge,) column index = effect node
        vals = z[:, off].double().cpu().numpy().reshape(-1)
        groups = effect.expand(z.shape[0], -1).reshape(-1).numpy()
        pair = torch.arange(D * D).reshape(D, D)[off]  # cause * D + effect
        pairs = pair.expand(z.shape[0], -1).reshape(-1).numpy()
        per_pair = getattr(self.config, "edge_rates", "effect") == "edge"
        if vals.size < calibration.MIN_EDGES:
            # too few edges to learn a null and an edge rate (one shop, one channel): the
            # theoretical null N(0, 1), a generic alternative, the prior edge probability
            return {**self._default_params(), "note": "too few edges: prior curve kept"}
        per_effect = getattr(self.config, "evidence_alternative", "shared") == "effect"
        params = calibration.fit_two_group(
            vals, groups, D, components=self.config.evidence_components,
            edge=pairs if per_pair else None, n_edges=D * D,
            alt_strength=calibration.ALT_STRENGTH if per_effect else None,
        )
        curve = torch.tensor(calibration.log_odds_curve(params), dtype=torch.float64)
        self.curve.copy_(curve.to(self.curve.device))
        self.edge_rate.copy_(torch.as_tensor(params["rate"], dtype=torch.float64))
        offset = torch.zeros(D, D, dtype=torch.float64)
        if per_pair:
            pair_rate = torch.as_tensor(params["edge_rate"], dtype=torch.float64).reshape(D, D)
            rate = torch.as_tensor(params["rate"], dtype=torch.float64)[None, :]  # by effect
            offset = torch.logit(pair_rate) - torch.logit(rate)
            offset.fill_diagonal_(0.0)
        self.edge_offset.copy_(offset.to(self.edge_offset.device))
        return params

    def edge_logits(self, x: torch.Tensor, mask: torch.Tensor, context=None) -> torch.Tensor:
        """Edge logits ``(shop, edge)`` for shops ``x`` ``(shop, time, node)`` (``context``
        ``(shop, time, C)``: needed when the evidence reads the baseline columns)."""
        if not self.config.calibrate_edges:
            return self.encoder(x, mask, *self.edge_stats(x, mask))
        feats, _, z = self._evidence(x, mask, context)
        enc = self.encoder
        base = calibration.apply_curve(z, self.curve) + self.edge_offset.to(z.device)
        base = base[:, enc.cause, enc.effect].to(x.dtype)
        bound = self.config.correction_bound
        if bound == 0:
            return base
        stats = feats if self.config.encoder_lag_features else feats[..., :0]
        return base + bound * torch.tanh(enc(x, mask, stats, None))

    def guide(
        self,
        values: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor,
        subsample: torch.Tensor | None = None,
    ) -> None:
        pyro.module("encoder", self)
        with pyro.plate("shops", values.shape[0], subsample=subsample) as idx:
            if self.config.full_graph:
                return
            ctx = None if context is None else context[idx]
            logits = self.edge_logits(values[idx], mask[idx], ctx)
            tau = torch.tensor(self.config.tau, device=logits.device)
            q = dist.RelaxedBernoulli(tau, logits=logits)
            with kl_weight(self.config.lam):
                pyro.sample("z", q.to_event(1))

    __call__ = guide
