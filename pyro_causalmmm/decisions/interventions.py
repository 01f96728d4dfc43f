"""Interventions on fitted shops: counterfactual paths under do(), over posterior graph draws.

A fitted CausalMMM is a simulator of each shop. For graph draw ``s`` and shop ``b`` the
one-step mean of node ``j`` at step ``t`` (model units, see :mod:`pyro_causalmmm.data.scaling`) is

    f_j(x_<t) = dec_j(x_<t; z) + sum_{i,l} z_ij beta_j[i,l] x_i^{t-1-l} + beta_j[0]

with ``dec`` the recurrent message-passing decoder (the S-curve applied on the target) and
``beta`` the linear lag coefficients at their posterior mean given the graph and the
decoder residuals (as in :func:`pyro_causalmmm.models.predictive.sample_paths`, without
the sampling step).

**Counterfactuals on observed steps** (abduction, action, prediction). The residual of
every observation is kept, ``e_t = x_t - f(x_<t)``, and the intervened world is rolled
forward as ``x'_t = f(x'_<t) + e_t``, computed as ``x'_t = x_t + [f(x'_<t) - f(x_<t)]``;
intervened cells take their set values. The bracket is applied only where the node's mean
can differ at all (its own past or a parent's past in the drawn graph differs from the
observed one) and is exactly 0 elsewhere, so an intervention that changes nothing
reproduces the observed series bit for bit, and a node with no learned parents keeps its
observed values unless it is intervened on.

**Paths past the data** (:func:`rollout_future`): from each shop's state after its last
observed step, responding nodes follow their mean path ``x'_t = f(x'_<t)`` (future residuals
0, no noise) and pinned nodes their given paths.

**Graph draws.** ``z ~ Bernoulli(p_edge)`` independently per draw, shop and edge, with
``p_edge`` the amortized posterior's edge probabilities. Hard 0/1 draws (the tau -> 0 limit
of the relaxed posterior the decoder is trained on, whose samples at tau = 0.5 already sit
near 0 and 1) make "node j has no parents in this draw" well defined. Every answer is a
distribution over draws; its spread is the graph uncertainty (the noise and the linear
coefficients are held at their residuals / posterior means).

**Stationary draws.** The model is fitted one step ahead, but a counterfactual iterates it:
a deviation ``delta`` evolves as ``delta_t = sum_l A_l delta_{t-l}`` (the linear lag term;
the decoder's response is much weaker), restricted to the nodes that respond. With the
default KL weight many non-edges keep ``p_edge`` near 0.5, and a draw can wire spurious
edges into a feedback loop that is stable while every node moves but explosive once one
node is held fixed (measured: about 1% of draws on Simulation 2, which then dominate any
mean). :func:`prepare_world` therefore conditions the draws on stationarity: a (draw, shop)
whose lag dynamics among the responders of any scenario to be run have spectral radius
``>= 1`` is redrawn from the same ``Bernoulli(p_edge)`` (a stationarity prior, as is common
for Bayesian VARs). ``World.unstable`` counts those still explosive after the retries.

**Limits.** Responding nodes stay within ``[floor, ceiling]`` (``World.floor``,
``World.ceiling``): the callers keep spend channels at or above 0 in the user's units and
the target inside the range of the model's S-curve, ``[0, 1]`` in model units (the observed
range widened by 12.5% of it at each end; see :mod:`pyro_causalmmm.data.scaling`) and at or above
0. The linear lag term adds to the S-curve unsaturated; without the ceiling a budget plan
on Simulation 2 put 68% of its future GMV steps above the S-curve's asymptote, i.e. gained
GMV from pure linear extrapolation. Observed values always lie inside the limits, so they
never change an unaffected value.

Shapes: ``K`` scenarios, ``S`` draws, ``B`` shops, ``T`` steps, ``D`` nodes, ``R``
responding nodes, ``H`` hidden units, ``W`` message window, ``L`` linear lags,
``P = D * L + 1`` linear design columns. Everything here is in model units; the callers
(:mod:`pyro_causalmmm.decisions.contributions`, :mod:`pyro_causalmmm.decisions.optimizer`) convert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models.decoder import saturate
from pyro_causalmmm.models.linear import column_gates, lag_matrix, posterior_precision

__all__ = [
    "World",
    "graph_draws",
    "step_subset",
    "Pairs",
    "prepare_world",
    "subsystem_radius",
    "counterfactual",
    "rollout_future",
    "end_window",
]


def graph_draws(p_edge: np.ndarray, draws: int, seed: int) -> torch.Tensor:
    """Hard graph draws ``z ~ Bernoulli(p_edge)``: ``(S, shop, cause, effect)`` float32 0/1
    with a zero diagonal, from a generator seeded with ``seed`` (same seed, same draws;
    the first ``k`` draws do not depend on ``draws``)."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise ConfigError(f"draws must be an integer >= 1, got {draws!r}")
    p = torch.as_tensor(np.asarray(p_edge, dtype=np.float64))
    gen = torch.Generator().manual_seed(int(seed))
    u = torch.stack([torch.rand(p.shape, generator=gen, dtype=torch.float64) for _ in range(draws)])
    eye = torch.eye(p.shape[-1], dtype=torch.bool)
    return ((u < p) & ~eye).to(torch.float32)


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


@dataclass(frozen=True, eq=False)
class World:
    """A fitted model's mechanisms for ``B`` shops and ``S`` graph draws, ready for do().

    Attributes:
        model: the :class:`CausalMMMModel` (its decoder and saturation head are used).
        x: ``(B, T, D)`` observed values, model units (padding 0).
        lengths: ``(B,)`` observed steps per shop.
        a, g: ``(B, T)`` the S-curve's shape and inflexion from the observed context.
        adj: ``(S, B, D, D)`` hard graph draws (cause, effect).
        nodes: ``(R,)`` sorted indices of the responding nodes (those whose mean is
            modelled; every other node must be pinned by an intervention).
        coef: ``(S, B, R, P)`` effective linear coefficients (gates * posterior-mean beta)
            on :func:`lag_matrix`'s columns, or None without a linear term.
        fact: ``(S, B, T, R)`` one-step means ``f(x_<t)`` of the responders on the
            observed path (the abduction: residual ``e = x - fact``).
        start: first step a counterfactual may change.
        h_start: ``(S, B, R, H)`` decoder states before step ``start``.
        h_end: ``(S, B, R, H)`` decoder states after each shop's last observed step.
        floor, ceiling: ``(B, D)`` lowest and highest value a responding node may take
            (``-inf`` / ``inf`` where there is no limit).
        unstable: (draw, shop) pairs left with explosive lag dynamics after the redraws.
    """

    model: object
    x: torch.Tensor
    lengths: torch.Tensor
    a: torch.Tensor
    g: torch.Tensor
    adj: torch.Tensor
    nodes: torch.Tensor
    coef: torch.Tensor | None
    fact: torch.Tensor
    start: int
    h_start: torch.Tensor
    h_end: torch.Tensor
    floor: torch.Tensor
    ceiling: torch.Tensor
    unstable: int = 0

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[-1])

    @property
    def target_pos(self) -> int | None:
        """Position of the target (the last node) among ``nodes``, or None."""
        hits = (self.nodes == self.n_nodes - 1).nonzero()
        return int(hits[0, 0]) if len(hits) else None

    @property
    def lags(self) -> int:
        return int(self.model.config.linear_lags)

    def restrict(self, nodes) -> World:
        """The same world with fewer responding ``nodes`` (a subset of ``self.nodes``)."""
        nodes = torch.as_tensor(sorted(int(n) for n in nodes), dtype=torch.long)
        pos = torch.searchsorted(self.nodes, nodes)
        if not torch.equal(self.nodes[pos.clamp_max(len(self.nodes) - 1)], nodes):
            raise ValueError(f"nodes {nodes.tolist()} are not all in {self.nodes.tolist()}")
        return dataclasses.replace(
            self,
            nodes=nodes,
            coef=None if self.coef is None else self.coef[..., pos, :],
            fact=self.fact[..., pos],
            h_start=self.h_start[..., pos, :],
            h_end=self.h_end[..., pos, :],
        )

    def first_draws(self, n: int) -> World:
        """The same world with its first ``n`` graph draws only."""
        return dataclasses.replace(
            self,
            adj=self.adj[:n],
            coef=None if self.coef is None else self.coef[:n],
            fact=self.fact[:n],
            h_start=self.h_start[:n],
            h_end=self.h_end[:n],
        )

    def limit(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` ``(..., B, R)`` of the responders clamped to their limits."""
        return torch.clamp(values, self.floor[:, self.nodes], self.ceiling[:, self.nodes])

    def mean(self, h: torch.Tensor, lagbuf: torch.Tensor, a, g) -> torch.Tensor:
        """One-step means ``f`` ``(..., S, B, R)`` of the responders from their decoder
        states ``h`` ``(..., S, B, R, H)`` and the last ``L`` values of every node
        ``lagbuf`` ``(..., S|1, B, D, L)`` (newest first); ``a, g`` ``(B,)`` this step's
        S-curve parameters."""
        model = self.model
        raw = model.decoder.readout_state(h)
        pos = self.target_pos
        if pos is not None and not model.config.no_saturation:
            target = saturate(raw[..., pos], a, g)
            raw = torch.cat([raw[..., :pos], target[..., None], raw[..., pos + 1 :]], dim=-1)
        if self.coef is None:
            return raw
        flat = lagbuf.reshape(*lagbuf.shape[:-2], -1)  # (..., B, D * L), column i * L + l
        lin = torch.einsum("...bp,...brp->...br", flat, self.coef[..., :-1]) + self.coef[..., -1]
        return raw + lin


def _windows(x: torch.Tensor, end: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` values of each shop before step ``end`` ``(B,)``, oldest first:
    ``(B, D, k)`` (zeros before the series starts)."""
    B, T, D = x.shape
    idx = end[:, None] - k + torch.arange(k)[None]  # (B, k)
    vals = x.gather(1, idx.clamp(0, T - 1)[..., None].expand(B, k, D))
    return (vals * (idx >= 0)[..., None]).transpose(1, 2)


def end_window(x: torch.Tensor, lengths: torch.Tensor, k: int) -> torch.Tensor:
    """The last ``k`` observed values of each shop, oldest first: ``(B, D, k)``."""
    return _windows(x, lengths, k)


@torch.no_grad()
def _teacher_forced(model, x, mask, context, adj, nodes, start, floor, ceiling) -> World:
    """The world of :func:`prepare_world` for given draws ``adj`` (no stability check)."""
    cfg = model.config
    dec = model.decoder
    S = adj.shape[0]
    B, T, D = x.shape
    R = len(nodes)
    lengths = mask.sum(-1)
    a, g = model.saturation(context)
    adj_in = adj[..., nodes]
    h = x.new_zeros(S, B, R, dec.hidden)
    win = x.new_zeros(B, D, dec.window)
    h_start = h
    h_end = h
    raws = []
    for t in range(T):
        if t == start:
            h_start = h
        raws.append(dec.readout_state(h))
        h, win = step_subset(dec, h, win, x[:, t], adj_in, nodes)
        h_end = torch.where((lengths - 1 == t)[None, :, None, None], h, h_end)
    if start == T:
        h_start = h
    mean = torch.stack(raws, dim=2)  # (S, B, T, R) raw readouts
    hits = (nodes == D - 1).nonzero()
    if len(hits) and not cfg.no_saturation:
        pos = int(hits[0, 0])
        mean[..., pos] = saturate(mean[..., pos], a[None], g[None])
    world = World(
        model, x, lengths, a, g, adj, nodes, None, mean, start, h_start, h_end, floor, ceiling
    )
    L = cfg.linear_lags
    if L == 0:
        return world
    rows = mask.clone()
    rows[:, : cfg.max_lag] = False
    w = rows.to(x.dtype)
    X = lag_matrix(x, L)  # (B, T, P)
    xtx = (X * w[..., None]).transpose(1, 2) @ X  # (B, P, P)
    gates = column_gates(adj, L)[..., nodes, :]  # (S, B, R, P)
    resid = (x[None, ..., nodes] - mean) * w[None, ..., None]  # (S, B, T, R)
    xtr = torch.einsum("btp,sbtr->sbrp", X, resid)
    gtg = gates[..., :, None] * gates[..., None, :] * xtx[None, :, None]
    sigma = model.sigma[nodes]
    A = posterior_precision(gtg, sigma.expand(S, B, R), cfg.linear_prior_scale)
    beta = torch.cholesky_solve((gates * xtr)[..., None], torch.linalg.cholesky(A)).squeeze(-1)
    coef = gates * beta / (sigma**2)[:, None]
    fact = mean + torch.einsum("btp,sbrp->sbtr", X, coef)
    return dataclasses.replace(world, coef=coef, fact=fact)


def subsystem_radius(world: World, keep: torch.Tensor) -> torch.Tensor:
    """Spectral radius ``(S, B, Q)`` of the linear lag dynamics among the nodes of each row
    of ``keep`` ``(Q, D)`` bool (each a subset of ``world.nodes``; the other nodes are held
    fixed): the largest ``|lambda|`` of the companion matrix of
    ``delta_t = sum_{l=1..L} A_l delta_{t-l}``, ``A_l[j, i] = coef[j, i * L + l - 1]``.
    Zero without a linear term."""
    S, B = world.adj.shape[:2]
    Q = keep.shape[0]
    L = world.lags
    if world.coef is None or L == 0:
        return torch.zeros(S, B, Q)
    D = world.n_nodes
    A = world.coef[..., :-1].reshape(S, B, len(world.nodes), D, L)  # [j in nodes, i, l]
    out = torch.zeros(S, B, Q)
    for q in range(Q):
        idx = keep[q].nonzero()[:, 0]
        n = len(idx)
        if n == 0:
            continue
        rows = torch.searchsorted(world.nodes, idx)
        Aq = A[:, :, rows][:, :, :, idx]  # (S, B, n, n, L)
        comp = A.new_zeros(S, B, n * L, n * L)
        comp[..., :n, :] = Aq.permute(0, 1, 2, 4, 3).reshape(S, B, n, n * L)
        if L > 1:
            comp[..., n:, : n * (L - 1)] = torch.eye(n * (L - 1))
        out[..., q] = torch.linalg.eigvals(comp.double()).abs().amax(-1).float()
    return out


def prepare_world(
    model,
    x: torch.Tensor,
    mask: torch.Tensor,
    context: torch.Tensor,
    adj: torch.Tensor,
    nodes=None,
    start: int = 0,
    floor: torch.Tensor | None = None,
    ceiling: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
    redraw: Callable[[int], torch.Tensor] | None = None,
    max_tries: int = 25,
) -> World:
    """Teacher-forced pass of the responders ``nodes`` (default: every node) on the observed
    values for every graph draw, the linear coefficients given each draw, and the
    stationarity check.

    ``x`` ``(B, T, D)`` model units, ``mask`` ``(B, T)``, ``context`` ``(B, T, C)`` scaled,
    ``adj`` ``(S, B, D, D)``, ``floor`` and ``ceiling`` ``(B, D)`` the limits of
    responding nodes (default: none; see the module docstring). The decoder's
    messages read the observed windows, which all draws share, so they are computed once
    per step. The linear coefficients are the conditional posterior mean
    ``beta = A^{-1} G^T r / sigma^2``, ``A = G^T G / sigma^2 + I / s^2``, ``r`` the decoder
    residuals over the scored steps.

    ``keep`` ``(Q, D)`` bool lists the responder sets of the scenarios to be run (default:
    ``nodes``); a (draw, shop) with :func:`subsystem_radius` ``>= 1`` for any of them is
    replaced by ``redraw(attempt)[s, b]`` (``redraw`` returns fresh ``(S, B, D, D)`` draws;
    without it nothing is redrawn), up to ``max_tries`` times.
    """
    B, T, D = x.shape
    nodes = torch.arange(D) if nodes is None else torch.as_tensor(sorted(int(n) for n in nodes))
    nodes = nodes.to(torch.long)
    if not 0 <= start <= T:
        raise ValueError(f"start {start} outside 0..{T}")
    floor = torch.full((B, D), -torch.inf) if floor is None else floor.to(x.dtype)
    ceiling = torch.full((B, D), torch.inf) if ceiling is None else ceiling.to(x.dtype)
    keep_sets = torch.zeros(1, D, dtype=torch.bool) if keep is None else keep.clone()
    if keep is None:
        keep_sets[0, nodes] = True
    world = _teacher_forced(model, x, mask, context, adj, nodes, start, floor, ceiling)
    bad = (subsystem_radius(world, keep_sets) >= 1).any(-1)  # (S, B)
    if redraw is not None and bool(bad.any()):  # own copies: the fixes are written in place
        world = dataclasses.replace(
            world,
            adj=world.adj.clone(),
            fact=world.fact.clone(),
            h_start=world.h_start.clone(),
            h_end=world.h_end.clone(),
            coef=None if world.coef is None else world.coef.clone(),
        )
    for attempt in range(max_tries if redraw is not None else 0):
        if not bool(bad.any()):
            break
        s_idx, b_idx = bad.nonzero(as_tuple=True)
        fresh = redraw(attempt)[s_idx, b_idx][None]  # (1, n, D, D)
        part = _teacher_forced(
            model,
            x[b_idx],
            mask[b_idx],
            context[b_idx],
            fresh,
            nodes,
            start,
            floor[b_idx],
            ceiling[b_idx],
        )
        world.adj[s_idx, b_idx] = fresh[0]
        world.fact[s_idx, b_idx] = part.fact[0]
        world.h_start[s_idx, b_idx] = part.h_start[0]
        world.h_end[s_idx, b_idx] = part.h_end[0]
        if world.coef is not None:
            world.coef[s_idx, b_idx] = part.coef[0]
        still = (subsystem_radius(part, keep_sets) >= 1).any(-1)[0]
        bad = torch.zeros_like(bad)
        bad[s_idx[still], b_idx[still]] = True
    return dataclasses.replace(world, unstable=int(bad.sum()))


def _place(base: torch.Tensor, nodes: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``base`` ``(..., D)`` with ``values`` ``(..., R)`` written at ``nodes`` (out of place)."""
    return base.expand(*values.shape[:-1], base.shape[-1]).index_copy(-1, nodes, values)


def counterfactual(world: World, do_mask: torch.Tensor, do_values: torch.Tensor) -> torch.Tensor:
    """Observed steps under do(): ``(K, S, B, T, D)`` values in model units.

    ``do_mask`` ``(K, B, T, D)`` bool marks the intervened cells of each of ``K``
    scenarios, ``do_values`` ``(K, S|1, B, T, D)`` their values (other cells ignored). A
    cell that is neither intervened nor a responder keeps its observed value. Steps before
    the first changed cell are copied from the data; the first change must not come before
    ``world.start``. See the module docstring for the abduction formula.
    """
    x = world.x
    B, T, D = x.shape
    K = do_mask.shape[0]
    S = world.adj.shape[0]
    changes = (do_mask[:, None] & (do_values != x)).flatten(0, 2).any(0).any(-1)  # (T,)
    out = x.expand(K, S, B, T, D)
    if not bool(changes.any()):
        return out.clone()
    first = int(changes.nonzero()[0, 0])
    if first < world.start:
        raise ValueError(f"the intervention changes step {first}, before world.start")
    start = world.start
    nodes = world.nodes
    dec = world.model.decoder
    adj_in = world.adj[..., nodes]  # (S, B, D, R)
    parents = adj_in.bool()
    pairs = Pairs.from_adjacency(adj_in)
    h = world.h_start.expand(K, S, B, len(nodes), dec.hidden)
    start_t = torch.full((B,), start, dtype=torch.long)
    win = _windows(x, start_t, dec.window).expand(K, S, B, D, dec.window)
    L = max(world.lags, 1)
    lagbuf = _windows(x, start_t, L).flip(-1)  # (B, D, L), newest first
    changed = torch.zeros(K, S, B, D, dtype=torch.bool)
    steps = []
    for t in range(start, T):
        affected = changed[..., nodes] | (parents & changed[..., :, None]).any(-2)  # (K,S,B,R)
        f_new = world.mean(h, lagbuf, world.a[:, t], world.g[:, t])
        delta = torch.where(affected, f_new - world.fact[:, :, t], 0.0)
        moved = world.limit(x[:, t, nodes] + delta)
        value = _place(x[:, t], nodes, moved)
        value = torch.where(do_mask[:, None, :, t], do_values[..., t, :], value)
        changed = changed | (value != x[:, t])
        steps.append(value)
        h, win = step_subset(dec, h, win, value, adj_in, nodes, pairs)
        lagbuf = torch.cat([value[..., None], lagbuf[..., :-1].expand(*value.shape, -1)], -1)
    return torch.cat([out[..., :start, :], torch.stack(steps, dim=3)], dim=3)


def rollout_future(
    world: World,
    pin_mask: torch.Tensor,
    pin_values: torch.Tensor,
    a_future: torch.Tensor,
    g_future: torch.Tensor,
) -> torch.Tensor:
    """Mean paths past each shop's last step: ``(K, S, B, M, D)`` model units.

    ``pin_mask`` ``(K, B, M, D)`` bool, ``pin_values`` ``(K, S|1, B, M, D)``: pinned cells
    take these values (the plan, or mediators held at a reference path); every node outside
    ``world.nodes`` must be pinned at every step. Responders follow ``x'_t = f(x'_<t)``.
    ``a_future, g_future`` ``(B, M)`` are the S-curve parameters of the future context.
    Differentiable in ``pin_values`` (the optimizer's gradients flow through here).
    """
    x = world.x
    B, T, D = x.shape
    K, _, M, _ = pin_mask.shape
    S = world.adj.shape[0]
    nodes = world.nodes
    free = torch.ones(D, dtype=torch.bool)
    free[nodes] = False
    if bool((~pin_mask[..., free]).any()):
        raise ValueError("every node outside world.nodes must be pinned at every step")
    dec = world.model.decoder
    adj_in = world.adj[..., nodes]
    pairs = Pairs.from_adjacency(adj_in)
    h = world.h_end.expand(K, S, B, len(nodes), dec.hidden)
    win = end_window(x, world.lengths, dec.window).expand(K, S, B, D, dec.window)
    L = max(world.lags, 1)
    lagbuf = end_window(x, world.lengths, L).flip(-1)
    zeros = x.new_zeros(D)
    steps = []
    for k in range(M):
        f_new = world.mean(h, lagbuf, a_future[:, k], g_future[:, k])  # (K, S, B, R)
        value = _place(zeros, nodes, world.limit(f_new))
        value = torch.where(pin_mask[:, None, :, k], pin_values[..., k, :], value)
        steps.append(value)
        h, win = step_subset(dec, h, win, value, adj_in, nodes, pairs)
        lagbuf = torch.cat([value[..., None], lagbuf[..., :-1].expand(*value.shape, -1)], -1)
    return torch.stack(steps, dim=3)
