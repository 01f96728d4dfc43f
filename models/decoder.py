"""Recurrent message-passing decoder and the contextual saturation head.

Each ``nn.Module`` computes one conditional of the generative model:

* :class:`EdgeMessage`    m_ij^t = f_edge([x_i^{t-W+1:t}, x_j^{t-W+1:t}])
* :class:`MessagePassingDecoder`  h_j^{t+1} = GRU([x_j^t, MSG_j^t, e_j], h_j^t),
  MSG_j^t = sum_i z_ij m_ij^t, prediction f_pre(h_j^{t+1})
* :class:`SaturationHead`  a = f_a(C), g = f_g(C) of the Hill curve u^a / (u^a + g)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import softplus

from .hill import hill


class EdgeMessage(nn.Module):
    """Message MLP over node pairs: ``(shop, node, W)`` windows -> ``(shop, cause, effect, H)``.

    The first layer is linear in the concatenation [sender, receiver], so it is computed
    per node and broadcast over pairs (``D`` instead of ``D^2`` matrix products).
    """

    def __init__(self, window: int, hidden: int):
        super().__init__()
        self.send = nn.Linear(window, hidden)
        self.recv = nn.Linear(window, hidden, bias=False)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, win: torch.Tensor) -> torch.Tensor:
        s = self.send(win)  # (B, D, H)
        r = self.recv(win)
        return torch.tanh(self.out(torch.tanh(s[:, :, None, :] + r[:, None, :, :])))


class MessagePassingDecoder(nn.Module):
    """One-step-ahead predictions of every node given the graph.

    ``forward(x, adj, feedback)``: ``x`` ``(shop, time, node)`` standardized values,
    ``adj`` ``(shop, cause, effect)`` edge weights z (zero diagonal), ``feedback``
    ``(shop, time)`` bool or None. Returns ``pred`` ``(shop, time, node)`` where
    ``pred[:, t]`` predicts ``x[:, t]`` from steps ``< t`` (``pred[:, 0]`` is the readout
    of the empty history). Where ``feedback[:, t]`` is true the decoder reads its own
    prediction of step ``t`` instead of ``x[:, t]`` (multi-step forecasting: burn-in on
    data, then predictions fed back; forecasting past the data is the same recursion).
    Raw readouts for the target are returned in ``pred[..., -1]``: the
    caller applies the S-curve.

    Claim 1: node j's state only ever receives x_j and messages m_ij weighted by z_ij,
    and m_ij reads only x_i and x_j values (not hidden states), so with z_ij = 0 node
    i's history cannot change node j's teacher-forced prediction.
    """

    def __init__(self, n_nodes: int, hidden: int, window: int, markov: bool = False):
        super().__init__()
        self.n_nodes = n_nodes
        self.hidden = hidden
        self.window = window
        self.markov = markov
        self.embed = nn.Parameter(0.1 * torch.randn(n_nodes, 8))
        self.message = EdgeMessage(window, hidden)
        self.gru = nn.GRUCell(1 + hidden + 8, hidden)
        self.readout = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(
        self, x: torch.Tensor, adj: torch.Tensor, feedback: torch.Tensor | None = None
    ) -> torch.Tensor:
        B, T, D = x.shape
        H, W = self.hidden, self.window
        h = x.new_zeros(B * D, H)
        win = x.new_zeros(B, D, W)
        emb = self.embed.expand(B, D, -1).reshape(B * D, -1)
        preds = [self.readout(h).view(B, D)]
        for t in range(T - 1):
            inp = x[:, t]
            if feedback is not None:
                inp = torch.where(feedback[:, t, None], preds[-1], inp)
            win = torch.cat([win[:, :, 1:], inp[:, :, None]], dim=-1)
            msg = torch.einsum("bij,bijh->bjh", adj, self.message(win))
            gru_in = torch.cat([inp.reshape(B * D, 1), msg.reshape(B * D, H), emb], dim=-1)
            h = self.gru(gru_in, torch.zeros_like(h) if self.markov else h)
            preds.append(self.readout(h).view(B, D))
        return torch.stack(preds, dim=1)


class SaturationHead(nn.Module):
    """Hill shape ``a = 0.1 + softplus(f_a(C))`` and inflexion ``g = 0.1 + softplus(f_g(C))``.

    ``context`` ``(shop, time, context)`` -> ``a, g`` each ``(shop, time)``. The floor of
    0.1 follows the reference code. With no context variables both are learned constants.
    """

    def __init__(self, n_context: int, hidden: int = 16):
        super().__init__()
        self.n_context = n_context
        n_in = max(n_context, 1)
        self.f_a = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.f_g = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_context == 0:
            context = context.new_zeros(*context.shape[:-1], 1)
        a = 0.1 + softplus(self.f_a(context).squeeze(-1) + 1.0)
        g = 0.1 + softplus(self.f_g(context).squeeze(-1))
        return a, g


def saturate(raw: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Target mean from the decoder's raw readout: ``hill(softplus(raw), a, g)``."""
    return hill(softplus(raw), a, g)
