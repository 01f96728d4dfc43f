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

import torch

from pyro_causalmmm.decisions.stepping import Pairs, mean_rows, step_rows, step_subset
from pyro_causalmmm.decisions.worlds import (
    World,
    _teacher_forced,
    _windows,
    end_window,
    graph_draws,
    subsystem_radius,
)

__all__ = [
    "World",
    "graph_draws",
    "step_subset",
    "step_rows",
    "Pairs",
    "prepare_world",
    "subsystem_radius",
    "counterfactual",
    "ancestors",
    "rollout_future",
    "end_window",
]


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
    coef_noise: Callable[[int], torch.Tensor] | None = None,
    covariance: str = "robust",
    positive: torch.Tensor | None = None,
) -> World:
    """Teacher-forced pass of the responders ``nodes`` (default: every node) on the observed
    values for every graph draw, the linear coefficients given each draw, and the
    stationarity check.

    ``x`` ``(B, T, D)`` model units, ``mask`` ``(B, T)``, ``context`` ``(B, T, C)`` scaled,
    ``adj`` ``(S, B, D, D)``, ``floor`` and ``ceiling`` ``(B, D)`` the limits of
    responding nodes (default: none; see the module docstring). The decoder's
    messages read the observed windows, which all draws share, so they are computed once
    per step. The linear coefficients have the conditional posterior
    ``N(A^{-1} G^T r / sigma^2, A^{-1})``, ``A = G^T G / sigma^2 + I / s^2``, ``r`` the
    decoder residuals over the scored steps: with ``coef_noise`` one draw of them per graph
    draw (so effects carry the coefficients' uncertainty, not only the graph's), without
    it their mean. ``coef_noise(attempt)`` returns ``(S, B, D, P)`` standard normals
    (:func:`~pyro_causalmmm.decisions.worlds.coefficient_noise`); attempt -1 for the
    first pass, 0, 1, ... for redrawn draws. ``covariance`` "robust" (default) draws them
    from the sandwich posterior ``A^{-1} V A^{-1}`` of :func:`models.linear.robust_root`
    (HAC scores of the decoder residuals), "model" from ``N(., A^{-1})``. ``positive``
    ``(cause, effect)`` bool (or None) marks the (spend, responder) pairs whose long-run
    direct gain has a prior ``>= 0`` (each coefficient draw is projected onto it,
    ``models.linear.project_half_spaces``; :func:`~pyro_causalmmm.decisions.chunks.positive_pairs`).

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
    noise = None if coef_noise is None else coef_noise(-1)
    world = _teacher_forced(
        model, x, mask, context, adj, nodes, start, floor, ceiling, noise, covariance, positive
    )
    bad = (subsystem_radius(world, keep_sets) >= 1).any(-1)  # (S, B)
    if redraw is not None and bool(bad.any()):  # own copies: the fixes are written in place
        world = dataclasses.replace(
            world,
            adj=world.adj.clone(),
            fact=world.fact.clone(),
            h_start=world.h_start.clone(),
            h_end=world.h_end.clone(),
            h_path=None if world.h_path is None else world.h_path.clone(),
            coef=None if world.coef is None else world.coef.clone(),
            exog=None if world.exog is None else world.exog.clone(),
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
            None if coef_noise is None else coef_noise(attempt)[s_idx, b_idx][None],
            covariance,
            positive,
        )
        world.adj[s_idx, b_idx] = fresh[0]
        world.fact[s_idx, b_idx] = part.fact[0]
        world.h_start[s_idx, b_idx] = part.h_start[0]
        world.h_end[s_idx, b_idx] = part.h_end[0]
        if world.h_path is not None:
            world.h_path[s_idx, b_idx] = part.h_path[0]
        if world.coef is not None:
            world.coef[s_idx, b_idx] = part.coef[0]
        if world.exog is not None:
            world.exog[s_idx, b_idx] = part.exog[0]
        still = (subsystem_radius(part, keep_sets) >= 1).any(-1)[0]
        bad = torch.zeros_like(bad)
        bad[s_idx[still], b_idx[still]] = True
    return dataclasses.replace(world, unstable=int(bad.sum()))


def _place(base: torch.Tensor, nodes: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``base`` ``(..., D)`` with ``values`` ``(..., R)`` written at ``nodes`` (out of place)."""
    return base.expand(*values.shape[:-1], base.shape[-1]).index_copy(-1, nodes, values)


def ancestors(adj: torch.Tensor, node: int) -> torch.Tensor:
    """``(..., D)`` bool: the nodes with a directed path to ``node`` in ``adj`` ``(..., D,
    D)`` (cause, effect), ``node`` itself included."""
    D = adj.shape[-1]
    edge = adj.bool()
    anc = torch.zeros(edge.shape[:-1], dtype=torch.bool, device=adj.device)
    anc[..., node] = True
    for _ in range(D - 1):  # a path has at most D - 1 edges
        anc = anc | (edge & anc[..., None, :]).any(-1)
    return anc


def counterfactual(
    world: World,
    do_mask: torch.Tensor,
    do_values: torch.Tensor,
    every_row: bool = False,
    relevant: torch.Tensor | None = None,
) -> torch.Tensor:
    """Observed steps under do(): ``(K, S, B, T, D)`` values in model units.

    ``do_mask`` ``(K, B, T, D)`` bool marks the intervened cells of each of ``K``
    scenarios, ``do_values`` ``(K, S|1, B, T, D)`` their values (other cells ignored). A
    cell that is neither intervened nor a responder keeps its observed value. Steps before
    the first changed cell are copied from the data; the first change must not come before
    ``world.start``. See the module docstring for the abduction formula.

    The decoder is stepped only for the (scenario, draw, shop, node) rows that descend from
    a changed cell (:func:`~pyro_causalmmm.decisions.stepping.step_rows`); the others keep
    their factual states ``world.h_path``. ``every_row`` steps every row instead (the
    same numbers up to float rounding; kept to test the shortcut against).

    ``relevant`` ``(S, B, R)`` bool restricts the answer to the responders that matter
    (for a GMV gain: the ancestors of the target in each draw, :func:`ancestors`); the
    others keep their observed values and are never stepped. A node outside the set has
    no path into it, so the values of the nodes inside are unchanged by this.
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
    pairs = Pairs.from_adjacency(adj_in) if every_row or world.h_path is None else None
    h = world.h_start.expand(K, S, B, len(nodes), dec.hidden)
    start_t = torch.full((B,), start, dtype=torch.long)
    win = _windows(x, start_t, dec.window).expand(K, S, B, D, dec.window)
    L = max(world.lags, 1)
    lagbuf = _windows(x, start_t, L).flip(-1)  # (B, D, L), newest first
    layout = world.model.layout
    same = layout.same_index()
    # same-period parents: a column enters only later-ranked nodes (spends have none)
    same_parents = parents[..., same, :] & layout.same_allowed()[:, nodes]  # (S, B, n_same, R)
    changed = torch.zeros(K, S, B, D, dtype=torch.bool)
    ad = world.adstock_at(start_t)  # (B, n) response spends' adstock, or None
    steps = []

    def settle(f, affected, t):
        delta = torch.where(affected, f - world.fact[:, :, t], 0.0)
        value = _place(x[:, t], nodes, world.limit(x[:, t, nodes] + delta))
        return torch.where(do_mask[:, None, :, t], do_values[..., t, :], value)

    for t in range(start, T):
        affected = changed[..., nodes] | (parents & changed[..., :, None]).any(-2)  # (K,S,B,R)
        if relevant is not None:
            affected = affected & relevant
        if every_row:
            exog = None if world.exog is None else world.exog[:, :, t]
            f_new = world.mean(h, lagbuf, world.a[:, t], world.g[:, t], exog, ad)
        else:  # only rows that can move this step (0 elsewhere: settle ignores them)
            cand = affected
            if len(same):  # a moved spend can reach a responder within the step
                cand = cand | same_parents.any(-2)
                cand = cand if relevant is None else cand & relevant
            f_new = mean_rows(world, h.expand(*cand.shape, h.shape[-1]), lagbuf, t, cand, ad)
        if len(same):  # rank by rank: spends first (no same-period parents), then the
            # nodes that respond to them within the step (one pass per rank)
            cur = x[:, t, same]  # (B, n_same)
            f_new = f_new + world.same_period(cur)
            for _ in range(layout.depth):
                now = settle(f_new, affected, t)[..., same]  # (K, S, B, n_same)
                moved = (now != x[:, t, same])[..., :, None]
                affected = affected | (same_parents & moved).any(-2)
                if relevant is not None:
                    affected = affected & relevant
                f_new = f_new + world.same_period(now - cur)
                cur = now
        value = settle(f_new, affected, t)
        changed = changed | (value != x[:, t])
        steps.append(value)
        if ad is not None:
            ad = world.model.response_step(ad, value, world.cv)
        if every_row or world.h_path is None:
            h, win = step_subset(dec, h, win, value, adj_in, nodes, pairs)
        else:  # rows whose own or a parent's value has left the observed path
            rows = changed[..., nodes] | (parents & changed[..., :, None]).any(-2)
            if relevant is not None:
                rows = rows & relevant
            fact = world.h_path[:, :, t - start + 1]
            h, win = step_rows(dec, fact, h, win, value, adj_in, nodes, rows)
        lagbuf = torch.cat([value[..., None], lagbuf[..., :-1].expand(*value.shape, -1)], -1)
    return torch.cat([out[..., :start, :], torch.stack(steps, dim=3)], dim=3)


def rollout_future(
    world: World,
    pin_mask: torch.Tensor,
    pin_values: torch.Tensor,
    a_future: torch.Tensor,
    g_future: torch.Tensor,
    exog_future: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean paths past each shop's last step: ``(K, S, B, M, D)`` model units.

    ``pin_mask`` ``(K, B, M, D)`` bool, ``pin_values`` ``(K, S|1, B, M, D)``: pinned cells
    take these values (the plan, or mediators held at a reference path); every node outside
    ``world.nodes`` must be pinned at every step. Responders follow ``x'_t = f(x'_<t)``.
    ``a_future, g_future`` ``(B, M)`` are the S-curve parameters of the future context,
    ``exog_future`` ``(B, M, K)`` the baseline columns of the future steps (None: each
    shop's last observed baseline part held). This step's spends come first; the
    responders' same-period part is added from them, rank by rank
    (:attr:`models.design.DesignLayout.depth` passes).
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
    layout = world.model.layout
    same = layout.same_index()
    held = None
    if world.exog is not None and exog_future is None:  # last observed step's part
        last = (world.lengths - 1).clamp_min(0)
        held = world.exog[:, torch.arange(B), last]  # (S, B, R)
    ad = world.adstock_at(world.lengths)  # after each shop's last step, or None
    steps = []
    for k in range(M):
        exog = held
        if world.exog is not None and exog_future is not None:
            cols = world.coef[..., layout.exog_slice]  # (S, B, R, K)
            exog = torch.einsum("bk,sbrk->sbr", exog_future[:, k].to(cols.dtype), cols)
        f_new = world.mean(h, lagbuf, a_future[:, k], g_future[:, k], exog, ad)  # (K,S,B,R)
        value = _place(zeros, nodes, world.limit(f_new))
        value = torch.where(pin_mask[:, None, :, k], pin_values[..., k, :], value)
        for _ in range(layout.depth if len(same) else 0):  # one pass per within-step rank
            f_k = f_new + world.same_period(value[..., same])
            value = _place(zeros, nodes, world.limit(f_k))
            value = torch.where(pin_mask[:, None, :, k], pin_values[..., k, :], value)
        steps.append(value)
        if ad is not None:
            ad = world.model.response_step(ad, value, world.cv)
        h, win = step_subset(dec, h, win, value, adj_in, nodes, pairs)
        lagbuf = torch.cat([value[..., None], lagbuf[..., :-1].expand(*value.shape, -1)], -1)
    return torch.stack(steps, dim=3)
