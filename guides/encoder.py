"""NRI-style relational encoder: a shop's whole history -> edge logits.

    h_j^1  = f_emb(series_j)                         (temporal conv + masked pooling)
    h_ij^1 = f_edge1([h_i^1, h_j^1, s_ij])           s_ij: per-edge lag statistics
    h_j^2  = f_vertex(sum_{i != j} h_ij^1)
    h_ij^2 = f_edge2([h_i^2, h_j^2, h_ij^1, s_ij])   (skip of h_ij^1, as in NRI)
    logit_ij = w^T h_ij^2 + c * log BF_ij + b

``log BF_ij`` is the closed-form Bayes factor of edge i -> j in a Bayesian VAR (see
``features``); with ``c = 1`` and ``b = logit(p0)`` at initialisation the guide starts
at the linear model's posterior log-odds, and the networks learn the correction the
recurrent, saturating likelihood asks for.

MLP blocks are Linear -> ELU -> Linear -> ELU -> LayerNorm with Xavier init and bias 0.1
(the reference uses BatchNorm; LayerNorm keeps a shop's logits independent of which
other shops share its mini-batch, so amortized inference is deterministic per shop).
"""

from __future__ import annotations

import torch
from torch import nn

from pyro_causalmmm.models.distributions import edge_index


class MLP(nn.Module):
    """Linear -> ELU -> Linear -> ELU -> LayerNorm, ``(..., n_in) -> (..., n_out)``."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, n_out), nn.ELU(),
            nn.LayerNorm(n_out),
        )
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
                nn.init.constant_(layer.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RelationalEncoder(nn.Module):
    """``forward(x, mask, edge_stats)`` -> edge logits ``(shop, edge)``.

    ``x`` ``(shop, time, node)`` standardized, ``mask`` ``(shop, time)``, ``edge_stats``
    ``(shop, cause, effect, F)`` (F may be 0), ``log_bf`` ``(shop, cause, effect)`` or
    None. Works for any series length.
    """

    def __init__(
        self, n_nodes: int, hidden: int, n_stats: int, prior_logit: float = 0.0,
        kernel: int = 5,
    ):
        super().__init__()
        self.n_nodes = n_nodes
        self.conv = nn.Conv1d(1, hidden, kernel, padding=kernel // 2)
        self.node_id = nn.Parameter(0.1 * torch.randn(n_nodes, 8))
        self.emb = MLP(2 * hidden + 8, hidden, hidden)
        self.edge1 = MLP(2 * hidden + n_stats, hidden, hidden)
        self.vertex = MLP(hidden, hidden, hidden)
        self.edge2 = MLP(3 * hidden + n_stats, hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, prior_logit)
        self.bf_weight = nn.Parameter(torch.tensor(1.0 if n_stats else 0.0))
        cause, effect = edge_index(n_nodes)
        self.register_buffer("cause", cause, persistent=False)
        self.register_buffer("effect", effect, persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        edge_stats: torch.Tensor,
        log_bf: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, T, D = x.shape
        m = mask.to(x.dtype)[:, None, None, :]  # (B, 1, 1, T)
        feats = torch.nn.functional.elu(self.conv(x.transpose(1, 2).reshape(B * D, 1, T)))
        feats = feats.view(B, D, -1, T)
        n = m.sum(-1).clamp_min(1.0)
        mean = (feats * m).sum(-1) / n
        std = (((feats - mean[..., None]) ** 2 * m).sum(-1) / n).clamp_min(1e-6).sqrt()
        h1 = self.emb(torch.cat([mean, std, self.node_id.expand(B, D, -1)], dim=-1))
        s = edge_stats[:, self.cause, self.effect]  # (B, E, F)
        e1 = self.edge1(torch.cat([h1[:, self.cause], h1[:, self.effect], s], dim=-1))
        incoming = x.new_zeros(B, D, e1.shape[-1]).index_add(1, self.effect, e1)
        h2 = self.vertex(incoming)
        e2 = self.edge2(torch.cat([h2[:, self.cause], h2[:, self.effect], e1, s], dim=-1))
        logits = self.out(e2).squeeze(-1)
        if log_bf is not None:
            logits = logits + self.bf_weight * log_bf[:, self.cause, self.effect].clamp(-30, 30)
        return logits
