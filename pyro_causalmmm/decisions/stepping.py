"""The decoder and the linear term stepped on subsets of rows, for the rollouts of
:mod:`pyro_causalmmm.decisions.interventions`: sparse edge messages (:class:`Pairs`), the
recurrent step for chosen receiving nodes (:func:`step_subset`) or chosen (scenario, draw,
shop, node) rows (:func:`step_rows`), and the one-step means of chosen rows
(:func:`mean_rows`).

Shapes: ``K`` scenarios, ``S`` draws, ``B`` shops, ``D`` nodes, ``R`` responding nodes,
``H`` hidden units, ``W`` message window, ``L`` lags.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pyro_causalmmm.models.decoder import saturate


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``sigmoid``, in place when no gradient is recorded (``x`` is a fresh intermediate)."""
    return torch.sigmoid(x) if torch.is_grad_enabled() else torch.sigmoid_(x)


def _pair_messages(mlp, send: torch.Tensor, recv: torch.Tensor, gather=None) -> torch.Tensor:
    """``sigmoid`` form of the edge MLP: returns ``q`` with ``m_ij = 2 q_ij - 1``.

    ``EdgeMessage`` computes ``m = tanh(W2 tanh(s_i + r_j) + b2)``. With
    ``tanh(u) = 2 sigmoid(2u) - 1`` this is ``m = 2 q - 1``,
    ``q = sigmoid(4 W2 p + 2 (b2 - W2 1))``, ``p = sigmoid(2 s_i + 2 r_j)``: the same
    numbers up to float rounding for a third of the elementwise work (``torch.tanh`` is
    the slowest elementwise op on CPU and dominates the cost of the messages).
    ``gather`` = None pairs every sender with every receiver (``send`` ``(..., D, H)``,
    ``recv`` ``(..., R, H)`` -> ``(..., D, R, H)``); else ``(src, dst)`` index the rows of
    ``send`` and ``recv`` (``(..., N, H)`` out).
    """
    if gather is None:
        pre = (2.0 * send)[..., :, None, :] + (2.0 * recv)[..., None, :, :]
    else:
        src, dst = gather
        pre = (2.0 * send).index_select(-2, src) + (2.0 * recv).index_select(-2, dst)
    w2, b2 = mlp.out.weight, mlp.out.bias
    p = _sigmoid(pre)
    return _sigmoid(torch.nn.functional.linear(p, 4.0 * w2, 2.0 * (b2 - w2.sum(-1))))


@dataclass(frozen=True)
class Pairs:
    """The present edges ``(i -> j)`` into the responders, for sparse messages.

    From ``adj_in`` ``(S, B, D, R)``: ``src`` indexes the senders in the flattened
    ``(S * B * D)`` rows, ``dst`` the receivers in ``(S * B * R)``, ``weight`` ``(N, 1)``
    the edge weights ``z_ij`` (None when all are 1, as for hard draws), ``degree``
    ``(S * B * R, 1)`` the summed weights into each receiver.
    """

    src: torch.Tensor
    dst: torch.Tensor
    weight: torch.Tensor | None
    degree: torch.Tensor
    n_rows: int

    @classmethod
    def from_adjacency(cls, adj_in: torch.Tensor) -> Pairs:
        S, B, D, R = adj_in.shape
        s, b, i, j = adj_in.nonzero(as_tuple=True)
        sb = s * B + b
        weight = adj_in[s, b, i, j][:, None]
        degree = adj_in.sum(-2).reshape(-1, 1)
        if bool((weight == 1).all()):
            weight = None
        return cls(sb * D + i, sb * R + j, weight, degree, S * B * R)


def step_subset(
    decoder,
    h: torch.Tensor,
    win: torch.Tensor,
    inp: torch.Tensor,
    adj_in: torch.Tensor,
    nodes: torch.Tensor,
    pairs: Pairs | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`MessagePassingDecoder.step` for the receiving nodes ``nodes`` ``(R,)`` only.

    ``h`` ``(..., shop, R, H)`` their states, ``win`` ``(..., shop, node, W)`` the last W
    inputs of every node, ``inp`` ``(..., shop, node)`` this step's values, ``adj_in``
    ``(..., shop, cause, R)`` the graph's columns of ``nodes``. Messages are computed only
    for the pairs ``(i, j in nodes)``: ``m_ij = f_edge([x_i^{t-W+1:t}, x_j^{t-W+1:t}])``,
    ``MSG_j = sum_i z_ij m_ij``, then ``h_j <- GRU([x_j^t, MSG_j, e_j], h_j)``. Leading dims
    broadcast (a window shared by all draws computes its messages once). With ``pairs``
    (:class:`Pairs` of ``adj_in``, whose draw and shop dims ``win`` and ``h`` must then
    carry in full) only the present edges are computed: the same result, for about half the
    cost on graphs of density 1/2. Returns the new ``(h, win)``; with ``nodes`` = every
    node it equals ``decoder.step``.
    """
    win = torch.cat([win[..., 1:].expand(*inp.shape, -1), inp[..., None]], dim=-1)
    mlp = decoder.message
    shape = h.shape
    if pairs is None:
        q = _pair_messages(mlp, mlp.send(win), mlp.recv(win[..., nodes, :]))  # (..., D, R, H)
        msg = 2.0 * torch.einsum("...ij,...ijh->...jh", adj_in, q) - adj_in.sum(-2)[..., None]
    else:
        lead = shape[:-4]
        send = mlp.send(win).reshape(*lead, -1, shape[-1])  # (..., S * B * D, H)
        recv = mlp.recv(win[..., nodes, :]).reshape(*lead, -1, shape[-1])
        q = _pair_messages(mlp, send, recv, (pairs.src, pairs.dst))  # (..., N, H)
        if pairs.weight is not None:
            q = q * pairs.weight
        acc = q.new_zeros(*lead, pairs.n_rows, shape[-1]).index_add(-2, pairs.dst, q)
        msg = (2.0 * acc - pairs.degree).view(shape)
    x_in = inp[..., nodes].expand(shape[:-1])
    emb = decoder.embed[nodes].expand(*shape[:-1], -1)
    gru_in = torch.cat([x_in[..., None], msg.expand(shape), emb], dim=-1)
    prev = torch.zeros_like(h) if decoder.markov else h
    out = decoder.gru(gru_in.reshape(-1, gru_in.shape[-1]), prev.reshape(-1, shape[-1]))
    return out.view(shape), win


def step_rows(
    decoder,
    h_fact: torch.Tensor,
    h: torch.Tensor,
    win: torch.Tensor,
    inp: torch.Tensor,
    adj_in: torch.Tensor,
    nodes: torch.Tensor,
    rows: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`step_subset` computed only for the receiving rows where ``rows`` holds; every
    other row takes its factual next state from ``h_fact``.

    ``h`` ``(K, S, B, R, H)`` the current states, ``h_fact`` ``(S, B, R, H)`` the factual
    states after this step (:attr:`World.h_path`), ``win`` ``(K|1, S|1, B, D, W)``, ``inp``
    ``(K, S, B, D)`` this step's values, ``adj_in`` ``(S, B, D, R)``, ``rows`` ``(K, S, B,
    R)`` bool. A row whose own values and parents' values have never left the observed
    path has exactly the factual state, so a counterfactual computes the decoder only for
    the descendants of what it changed (about a third of the rows of a contribution on
    Simulation 2). Returns the new ``(h, win)``.
    """
    win = torch.cat([win[..., 1:].expand(*inp.shape, -1), inp[..., None]], dim=-1)
    K, S, B, R, H = h.shape
    D = inp.shape[-1]
    out = h_fact.expand(K, S, B, R, H).clone()
    flat = rows.reshape(-1).nonzero().squeeze(-1)  # computed rows in (K, S, B, R) order
    if len(flat) == 0:
        return out, win
    ksb, r = flat // R, flat % R
    sb = ksb % (S * B)  # (draw, shop) of each row
    node = nodes[r]
    par = adj_in.reshape(S * B, D, R)[sb, :, r]  # (n, D) parents of each computed row
    row, i = par.nonzero(as_tuple=True)
    mlp = decoder.message
    win_rows = win.reshape(-1, win.shape[-1])  # (K * S * B * D, W)
    send = mlp.send(win_rows).index_select(0, ksb[row] * D + i)  # (E, H)
    recv = mlp.recv(win_rows.index_select(0, ksb * D + node))  # (n, H)
    edge = torch.arange(len(row), device=row.device)
    q = _pair_messages(mlp, send, recv, (edge, row))  # (E, H)
    weight = par[row, i]
    if not bool((weight == 1).all()):
        q = q * weight[:, None]
    msg = 2.0 * q.new_zeros(len(flat), H).index_add(0, row, q) - par.sum(-1, keepdim=True)
    x_in = inp.reshape(-1).index_select(0, ksb * D + node)
    gru_in = torch.cat([x_in[:, None], msg, decoder.embed[node]], dim=-1)
    prev = torch.zeros_like(msg) if decoder.markov else h.reshape(-1, H).index_select(0, flat)
    out.view(-1, H).index_copy_(0, flat, decoder.gru(gru_in, prev))
    return out, win


def mean_rows(
    world,
    h: torch.Tensor,
    lagbuf: torch.Tensor,
    t: int,
    rows: torch.Tensor,
    ad: torch.Tensor | None = None,
) -> torch.Tensor:
    """:meth:`~pyro_causalmmm.decisions.worlds.World.mean` of ``world`` on an observed step
    ``t`` for the rows where ``rows`` ``(K, S, B, R)`` holds, 0 elsewhere: ``(K, S, B, R)``.
    ``h`` ``(K, S, B, R, H)``, ``lagbuf`` ``(K|1, S|1, B, D, L)`` (newest first), ``ad``
    ``(K|1, S|1, B, n)`` the response spends' adstock. The decoder's readout, the S-curve
    and the linear term are evaluated only on those rows, the ones a counterfactual can
    move."""
    K, S, B, R, H = h.shape
    out = h.new_zeros(K * S * B * R)
    flat = rows.reshape(-1).nonzero().squeeze(-1)
    if len(flat) == 0:
        return out.view(K, S, B, R)
    model = world.model
    ksb, r = flat // R, flat % R
    sb = ksb % (S * B)
    b = sb % B
    f = model.decoder.readout(h.reshape(-1, H).index_select(0, flat)).squeeze(-1)
    pos = world.target_pos
    if pos is not None and not model.config.no_saturation:
        tgt = r == pos
        f = torch.where(tgt, saturate(f, world.a[b, t], world.g[b, t]), f)
    if world.coef is not None:
        n_lag = model.layout.n_lag
        D, L = lagbuf.shape[-2:]
        lags = lagbuf.expand(K, S, B, D, L).reshape(K * S * B, D * L).index_select(0, ksb)
        coef = world.coef.reshape(S * B * R, -1).index_select(0, sb * R + r)
        f = f + (lags * coef[:, :n_lag]).sum(-1) + coef[:, -1]
        if world.exog is not None:
            f = f + world.exog[:, :, t].reshape(-1).index_select(0, sb * R + r)
        if ad is not None and model.layout.n_resp:
            n = ad.shape[-1]
            phi = model.response_value(ad.expand(K, S, B, n).reshape(K * S * B, n))
            f = f + (phi.index_select(0, ksb) * coef[:, model.layout.resp_slice]).sum(-1)
    return out.index_copy_(0, flat, f).view(K, S, B, R)
