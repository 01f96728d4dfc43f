"""Amortized guide q(z | X, y): the relational encoder's logits parameterise the same
relaxed-Bernoulli ``z`` site as the model, under the same lambda ``poutine.scale``."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pyro_causalmmm.models.config import ModelConfig
from pyro_causalmmm.models.distributions import kl_weight

from .encoder import RelationalEncoder
from .features import edge_features


class AmortizedGraphGuide(nn.Module):
    """``guide(values, mask, context, subsample)`` with the model's signature.

    ``edge_logits(x, mask)`` gives ``(shop, edge)`` logits for any shops in one forward
    pass (new shops need no retraining).
    """

    def __init__(self, config: ModelConfig, n_nodes: int):
        super().__init__()
        self.config = config
        self.n_nodes = n_nodes
        self.stat_lags = max(config.linear_lags, 1)
        n_stats = self.stat_lags + 1 if config.encoder_lag_features else 0
        self.prior_logit = math.log(config.prior_edge_prob / (1 - config.prior_edge_prob))
        self.encoder = RelationalEncoder(n_nodes, config.hidden, n_stats, self.prior_logit)

    def edge_stats(self, x: torch.Tensor, mask: torch.Tensor):
        """Per-edge lag statistics ``(shop, cause, effect, F)`` and log Bayes factors
        ``(shop, cause, effect)``; ``(F = 0, None)`` when switched off."""
        if not self.config.encoder_lag_features:
            return x.new_zeros(x.shape[0], self.n_nodes, self.n_nodes, 0), None
        cfg = self.config
        return edge_features(
            x, mask, self.stat_lags, cfg.linear_prior_scale, cfg.evidence_refinements,
            self.prior_logit,
        )

    def edge_evidence(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Untrained evidence ``(shop, cause, effect)``: the log Bayes factors the logits
        start from (zeros when the lag features are off)."""
        _, log_bf = self.edge_stats(x, mask)
        if log_bf is None:
            return x.new_zeros(x.shape[0], self.n_nodes, self.n_nodes)
        return log_bf

    def edge_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Edge logits ``(shop, edge)`` for shops ``x`` ``(shop, time, node)``."""
        return self.encoder(x, mask, *self.edge_stats(x, mask))

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
            logits = self.edge_logits(values[idx], mask[idx])
            tau = torch.tensor(self.config.tau, device=logits.device)
            q = dist.RelaxedBernoulli(tau, logits=logits)
            with kl_weight(self.config.lam):
                pyro.sample("z", q.to_event(1))

    __call__ = guide
