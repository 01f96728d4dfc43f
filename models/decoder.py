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
    """Message MLP over node pairs: ``(..., node, W)`` windows -> ``(..., cause, effect, H)``.

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
        return torch.tanh(self.out(torch.tanh(s[..., :, None, :] + r[..., None, :, :])))


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

    def init_state(self, batch_shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Zero hidden state ``(*batch_shape, node, hidden)``."""
        return like.new_zeros(*batch_shape, self.n_nodes, self.hidden)

    def readout_state(self, h: torch.Tensor) -> torch.Tensor:
        """Raw one-step prediction ``(..., node)`` from the state ``(..., node, hidden)``."""
        return self.readout(h).squeeze(-1)

    def step(
        self, h: torch.Tensor, win: torch.Tensor, inp: torch.Tensor, adj: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Consume the values ``inp`` ``(..., shop, node)`` of one step.

        ``h`` ``(..., shop, node, hidden)``, ``win`` ``(..., shop, node, W)`` the previous
        W inputs, ``adj`` ``(..., shop, cause, effect)``. Leading dims broadcast, so a
        window shared by all posterior draws (teacher forcing) computes its messages
        once. Returns the new ``(h, win)``; ``readout_state(h)`` predicts the next step.
        """
        win = torch.cat([win[..., 1:].expand(*inp.shape, -1), inp[..., None]], dim=-1)
        msg = torch.einsum("...ij,...ijh->...jh", adj, self.message(win))
        shape = h.shape
        inp = inp.expand(shape[:-1])
        emb = self.embed.expand(*shape[:-1], -1)
        gru_in = torch.cat([inp[..., None], msg.expand(shape), emb], dim=-1)
        prev = torch.zeros_like(h) if self.markov else h
        h = self.gru(gru_in.reshape(-1, gru_in.shape[-1]), prev.reshape(-1, shape[-1]))
        return h.view(shape), win

    def forward(
        self, x: torch.Tensor, adj: torch.Tensor, feedback: torch.Tensor | None = None
    ) -> torch.Tensor:
        B, T, D = x.shape
        h = self.init_state((B,), x)
        win = x.new_zeros(B, D, self.window)
        preds = [self.readout_state(h)]
        for t in range(T - 1):
            inp = x[:, t]
            if feedback is not None:
                inp = torch.where(feedback[:, t, None], preds[-1], inp)
            h, win = self.step(h, win, inp, adj)
            preds.append(self.readout_state(h))
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
