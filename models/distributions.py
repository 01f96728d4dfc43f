"""Graph distributions and the KL that makes their ELBO stable.

torch has no KL for a pair of ``RelaxedBernoulli`` distributions, so
``TraceMeanField_ELBO`` would fall back to a Monte Carlo estimate on relaxed
densities, which diverges at tau = 0.5 (DESIGN.md). We register the KL of the
underlying Bernoulli variables (same logits), which is what the relaxation
approximates, once, here.
"""

from __future__ import annotations

import functools

import torch
from torch.distributions import RelaxedBernoulli, kl

__all__ = ["bernoulli_kl", "edge_index", "to_adjacency"]


def bernoulli_kl(q_logits: torch.Tensor, p_logits: torch.Tensor) -> torch.Tensor:
    """KL(Bern(sigmoid(q)) || Bern(sigmoid(p))), elementwise.

    ``= q log(q/p) + (1-q) log((1-q)/(1-p))`` with ``q = sigmoid(q_logits)``; computed
    from logits with ``logsigmoid`` so it is finite for any finite logits.
    """
    q = torch.sigmoid(q_logits)
    log_q1 = torch.nn.functional.logsigmoid(q_logits)
    log_q0 = torch.nn.functional.logsigmoid(-q_logits)
    log_p1 = torch.nn.functional.logsigmoid(p_logits)
    log_p0 = torch.nn.functional.logsigmoid(-p_logits)
    return q * (log_q1 - log_p1) + (1 - q) * (log_q0 - log_p0)


@kl.register_kl(RelaxedBernoulli, RelaxedBernoulli)
def _kl_relaxed_bernoulli(q: RelaxedBernoulli, p: RelaxedBernoulli) -> torch.Tensor:
    return bernoulli_kl(q.logits, p.logits)


def edge_index(n_nodes: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Off-diagonal (cause, effect) index pairs in row-major order, each ``(edge,)``,
    ``edge = n_nodes * (n_nodes - 1)``, on ``device`` (cached: no host-to-device copy
    per call in training loops)."""
    return _edge_index(n_nodes, str(torch.device(device or "cpu")))


@functools.lru_cache(maxsize=64)
def _edge_index(n_nodes: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    i, j = torch.meshgrid(torch.arange(n_nodes), torch.arange(n_nodes), indexing="ij")
    off = i != j
    return i[off].to(device), j[off].to(device)


def to_adjacency(z: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Scatter edge values ``(..., edge)`` into an adjacency ``(..., cause, effect)``
    with a zero diagonal."""
    cause, effect = edge_index(n_nodes, z.device)
    out = z.new_zeros(*z.shape[:-1], n_nodes, n_nodes)
    out[..., cause, effect] = z
    return out


def from_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_adjacency`: ``(..., cause, effect)`` -> ``(..., edge)``."""
    cause, effect = edge_index(adj.shape[-1], adj.device)
    return adj[..., cause, effect]


def kl_weight(lam: float):
    """Context manager weighting the graph site's log densities (hence the KL) by lambda.

    Used around the ``z`` site in both model and guide. ``poutine.scale`` needs a
    positive scale, so lambda = 0 masks the site's densities instead (KL term = 0).
    """
    from pyro import poutine

    return poutine.scale(scale=lam) if lam > 0 else poutine.mask(mask=False)
