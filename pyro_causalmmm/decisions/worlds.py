"""A fitted shop's "world" for interventions: posterior graph draws, the teacher-forced
pass that caches messages and linear terms per draw (`World`) and the stability radius of
a subsystem; the row-subset steps the rollouts use are in
:mod:`pyro_causalmmm.decisions.stepping`.

Shapes: ``(draw, shop, time, node)`` for paths, ``(draw, shop, cause, effect)`` for graphs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from pyro_causalmmm.decisions.stepping import step_subset
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models.decoder import saturate
from pyro_causalmmm.models.design import cause_directions
from pyro_causalmmm.models.linear import (
    gated_moments,
    posterior_precision,
    project_half_spaces,
    robust_root,
)
from pyro_causalmmm.models.pooling import posterior_mean

# covariance of the coefficient draws and the sign prior of spends' effects
# (DecisionConfig.coefficient_covariance, DecisionConfig.spend_effects)
COVARIANCES = ("robust", "model")
SPEND_EFFECTS = ("auto", "positive", "free")


def check_decision_options(config) -> None:
    """Raise :class:`ConfigError` unless ``config.coefficient_covariance`` is one of
    :data:`COVARIANCES` and ``config.spend_effects`` one of :data:`SPEND_EFFECTS`."""
    for name, known in (("coefficient_covariance", COVARIANCES), ("spend_effects", SPEND_EFFECTS)):
        value = getattr(config, name)
        if value not in known:
            raise ConfigError(f"{name}={value!r} is not known; use one of {', '.join(known)}")


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
        coef: ``(S, B, R, P)`` effective linear coefficients (gates * beta) on the columns
            of :func:`models.design.design_matrix` (lags, same-period columns, baseline,
            intercept), or None without a linear term.
        exog: ``(S, B, T, R)`` the baseline columns' part of the linear term on the observed
            steps (None without baseline columns); it never changes under do().
        fact: ``(S, B, T, R)`` one-step means ``f(x_<t)`` of the responders on the
            observed path (the abduction: residual ``e = x - fact``).
        start: first step a counterfactual may change.
        h_start: ``(S, B, R, H)`` decoder states before step ``start``.
        h_end: ``(S, B, R, H)`` decoder states after each shop's last observed step.
        floor, ceiling: ``(B, D)`` lowest and highest value a responding node may take
            (``-inf`` / ``inf`` where there is no limit).
        unstable: (draw, shop) pairs left with explosive lag dynamics after the redraws.
        cv: ``(B, n)`` coefficients of variation of the ``n`` response spends
            (:mod:`models.design`), None without response columns.
        adstock: ``(B, T + 1, n)`` their factual adstock before each step (and after the
            last), None without response columns.
        h_path: ``(S, B, T - start + 1, R, H)`` the factual decoder states before each
            step ``start..T`` (``h_path[:, :, 0]`` is ``h_start``), so a counterfactual
            recomputes only the states it changes (:func:`step_rows`).
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
    exog: torch.Tensor | None = None
    h_path: torch.Tensor | None = None
    cv: torch.Tensor | None = None
    adstock: torch.Tensor | None = None

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
            exog=None if self.exog is None else self.exog[..., pos],
            fact=self.fact[..., pos],
            h_start=self.h_start[..., pos, :],
            h_end=self.h_end[..., pos, :],
            h_path=None if self.h_path is None else self.h_path[..., pos, :],
        )

    def first_draws(self, n: int) -> World:
        """The same world with its first ``n`` graph draws only."""
        return dataclasses.replace(
            self,
            adj=self.adj[:n],
            coef=None if self.coef is None else self.coef[:n],
            exog=None if self.exog is None else self.exog[:n],
            fact=self.fact[:n],
            h_start=self.h_start[:n],
            h_end=self.h_end[:n],
            h_path=None if self.h_path is None else self.h_path[:n],
        )

    def limit(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` ``(..., B, R)`` of the responders clamped to their limits."""
        return torch.clamp(values, self.floor[:, self.nodes], self.ceiling[:, self.nodes])

    def same_period(self, spend: torch.Tensor) -> torch.Tensor:
        """The same-period part ``(..., S, B, R)`` of the responders' means for this step's
        values ``spend`` ``(..., S|1, B, n_same)`` of the same-period nodes (spends, and
        with ``same_period="funnel"`` the responders ranked before the last; 0 without
        same-period columns)."""
        layout = self.model.layout
        if self.coef is None or not layout.n_same:
            return torch.zeros((), dtype=self.x.dtype)
        return torch.einsum("...bc,...brc->...br", spend, self.coef[..., layout.same_slice])

    def response(self, ad: torch.Tensor | None) -> torch.Tensor:
        """The response columns' part ``(..., S, B, R)`` of the responders' means for
        adstock ``ad`` ``(..., S|1, B, n)`` (0 without response columns)."""
        layout = self.model.layout
        if self.coef is None or not layout.n_resp or ad is None:
            return torch.zeros((), dtype=self.x.dtype)
        phi = self.model.response_value(ad)
        return torch.einsum("...bc,...brc->...br", phi, self.coef[..., layout.resp_slice])

    def adstock_at(self, steps: torch.Tensor) -> torch.Tensor | None:
        """Factual adstock ``(B, n)`` before step ``steps[b]`` of each shop (None without
        response columns)."""
        if self.adstock is None:
            return None
        return self.adstock[torch.arange(self.x.shape[0]), steps]

    def mean(
        self,
        h: torch.Tensor,
        lagbuf: torch.Tensor,
        a,
        g,
        exog: torch.Tensor | None = None,
        ad: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One-step means ``f`` ``(..., S, B, R)`` of the responders from their decoder
        states ``h`` ``(..., S, B, R, H)`` and the last ``L`` values of every node
        ``lagbuf`` ``(..., S|1, B, D, L)`` (newest first); ``a, g`` ``(B,)`` this step's
        S-curve parameters; ``exog`` ``(S|1, B, R)`` this step's baseline part; ``ad``
        ``(..., S|1, B, n)`` the response spends' adstock (:meth:`response`). The
        same-period part is added by the caller (:meth:`same_period`), once this step's
        spends are known."""
        model = self.model
        raw = model.decoder.readout_state(h)
        pos = self.target_pos
        if pos is not None and not model.config.no_saturation:
            target = saturate(raw[..., pos], a, g)
            raw = torch.cat([raw[..., :pos], target[..., None], raw[..., pos + 1 :]], dim=-1)
        if self.coef is None:
            return raw
        n_lag = self.model.layout.n_lag
        flat = lagbuf.reshape(*lagbuf.shape[:-2], -1)  # (..., B, D * L), column i * L + l
        lin = torch.einsum("...bp,...brp->...br", flat, self.coef[..., :n_lag]) + self.coef[..., -1]
        if exog is not None:
            lin = lin + exog
        return raw + lin + self.response(ad)


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


def coefficient_noise(seed: int, draws: int, shops: int, model) -> torch.Tensor:
    """Standard normal noise ``(draw, shop, node, node * lags + 1)`` behind the linear
    coefficient draws of :func:`prepare_world`; one generator per ``seed`` over all shops,
    so a shop's draws do not depend on how shops are chunked."""
    D, P = model.n_nodes, model.layout.width
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(draws, shops, D, P, generator=gen)


@torch.no_grad()
def _teacher_forced(
    model, x, mask, context, adj, nodes, start, floor, ceiling, coef_noise=None,
    covariance="robust", positive=None,
) -> World:
    """The world of :func:`prepare_world` for given draws ``adj`` (no stability check).
    ``coef_noise`` None: the linear coefficients at their conditional posterior mean; a
    tensor ``(S, B, D, P)`` (:func:`coefficient_noise`): one draw of them per graph draw
    from that posterior, whose covariance is the robust sandwich
    (:func:`models.linear.robust_root`) for ``covariance="robust"`` or the model's
    ``A^{-1}`` for ``"model"``. ``positive``: ``(cause, effect)`` bool (or None), the pairs
    whose long-run direct gain (the sum of the cause's coefficients in the effect's
    equation, :func:`models.design.cause_directions`) must be ``>= 0``: each draw (or the
    mean) is projected onto that set in the posterior's metric
    (:func:`models.linear.project_half_spaces`)."""
    cfg = model.config
    dec = model.decoder
    S = adj.shape[0]
    B, T, D = x.shape
    R = len(nodes)
    lengths = mask.sum(-1)
    a, g = model.curve_params(context)
    adj_in = adj[..., nodes]
    h = x.new_zeros(S, B, R, dec.hidden)
    win = x.new_zeros(B, D, dec.window)
    h_end = h
    raws, path = [], []
    for t in range(T):
        if t >= start:
            path.append(h)
        raws.append(dec.readout_state(h))
        h, win = step_subset(dec, h, win, x[:, t], adj_in, nodes)
        h_end = torch.where((lengths - 1 == t)[None, :, None, None], h, h_end)
    path.append(h)
    h_path = torch.stack(path, dim=2)  # (S, B, T - start + 1, R, H)
    h_start = path[0]
    mean = torch.stack(raws, dim=2)  # (S, B, T, R) raw readouts
    hits = (nodes == D - 1).nonzero()
    if len(hits) and not cfg.no_saturation:
        pos = int(hits[0, 0])
        mean[..., pos] = saturate(mean[..., pos], a[None], g[None])
    _, adstock = model.response_design(x, context)
    world = World(
        model, x, lengths, a, g, adj, nodes, None, mean, start, h_start, h_end, floor, ceiling,
        h_path=h_path, cv=model.response_cv(context), adstock=adstock,
    )
    L = cfg.linear_lags
    if L == 0:
        return world
    rows = mask.clone()
    rows[:, : cfg.max_lag] = False
    w = rows.to(x.dtype)
    X = model.design(x, context)  # (B, T, P)
    gates = model.gates(adj)[..., nodes, :]  # (S, B, R, P)
    resid = (x[None, ..., nodes] - mean) * w[None, ..., None]  # (S, B, T, R)
    gtg, gtr = gated_moments(X, resid, w, gates)
    sigma = model.sigma[nodes]
    prior_mean, prior_prec = model.coefficient_prior(nodes)  # (R, P) each, or None
    A = posterior_precision(gtg, sigma.expand(S, B, R), cfg.linear_prior_scale, prior_prec)
    chol = torch.linalg.cholesky(A)
    beta = posterior_mean(chol, gtr, sigma.expand(S, B, R), prior_mean, prior_prec)
    cov = None
    if coef_noise is not None and covariance == "robust":  # A^{-1} R eps, see robust_root
        eps = coef_noise[:, :, nodes].to(beta.dtype)  # (S, B, R, P)
        e = resid - torch.einsum("btp,sbrp->sbtr", X, gates * beta) * w[None, ..., None]
        root = robust_root(X, e, w, gates, sigma, cfg.linear_prior_scale, prior_prec)
        beta = beta + torch.cholesky_solve(root @ eps[..., None], chol)[..., 0]
        if positive is not None:
            half = torch.cholesky_solve(root, chol)  # A^{-1} R
            cov = half @ half.transpose(-1, -2)
    elif coef_noise is not None:  # beta ~ N(mean, A^{-1}): mean + chol^{-T} eps
        eps = coef_noise[:, :, nodes].to(beta.dtype)  # (S, B, R, P)
        upper = chol.transpose(-1, -2)
        beta = beta + torch.linalg.solve_triangular(upper, eps[..., None], upper=True)[..., 0]
    if positive is not None:  # the marked pairs' long-run direct gains projected onto >= 0
        causes = positive.any(1).nonzero()[:, 0]
        on = positive[causes][:, nodes].to(beta.dtype)  # (C, R) the pairs among responders
        dirs = cause_directions(model.layout, causes).to(beta.dtype)  # (C, P)
        dirs = dirs[:, None, None, None, :] * gates[None] * on[:, None, None, :, None]
        cov = torch.cholesky_inverse(chol) if cov is None else cov
        beta = project_half_spaces(beta, cov, dirs)
    coef = gates * beta
    fact = mean + torch.einsum("btp,sbrp->sbtr", X, coef)
    exog = None
    if model.layout.n_exog:
        cols = model.layout.exog_slice
        exog = torch.einsum("btk,sbrk->sbtr", X[..., cols], coef[..., cols])
    return dataclasses.replace(world, coef=coef, fact=fact, exog=exog)


def subsystem_radius(world: World, keep: torch.Tensor) -> torch.Tensor:
    """Spectral radius ``(S, B, Q)`` of the linear lag dynamics among the nodes of each row
    of ``keep`` ``(Q, D)`` bool (each a subset of ``world.nodes``; the other nodes are held
    fixed): the largest ``|lambda|`` of the companion matrix of
    ``delta_t = sum_{l=1..L} A_l delta_{t-l}``, ``A_l[j, i] = coef[j, i * L + l - 1]``
    (with same-period columns ``delta_t = C delta_t + ...``, so ``A_l`` is replaced by the
    reduced form ``(I - C)^{-1} A_l``).
    Zero without a linear term."""
    S, B = world.adj.shape[:2]
    Q = keep.shape[0]
    L = world.lags
    if world.coef is None or L == 0:
        return torch.zeros(S, B, Q)
    D = world.n_nodes
    A = world.coef[..., : D * L].reshape(S, B, len(world.nodes), D, L)  # [j in nodes, i, l]
    layout = world.model.layout
    now = None  # same-period coefficients [j in nodes, i] (x_t = now x_t + ...), if any
    if layout.n_same:
        now = A.new_zeros(S, B, len(world.nodes), D)
        now[..., layout.same_index()] = world.coef[..., layout.same_slice]
    out = torch.zeros(S, B, Q)
    for q in range(Q):
        idx = keep[q].nonzero()[:, 0]
        n = len(idx)
        if n == 0:
            continue
        rows = torch.searchsorted(world.nodes, idx)
        Aq = A[:, :, rows][:, :, :, idx]  # (S, B, n, n, L)
        if now is not None:  # x_t = C x_t + sum_l A_l x_{t-l}: the reduced form (I - C)^-1 A_l
            C = now[:, :, rows][:, :, :, idx]  # strictly triangular in rank: I - C invertible
            Aq = torch.linalg.solve(torch.eye(n) - C, Aq.reshape(S, B, n, n * L)).view(Aq.shape)
        comp = A.new_zeros(S, B, n * L, n * L)
        comp[..., :n, :] = Aq.permute(0, 1, 2, 4, 3).reshape(S, B, n, n * L)
        if L > 1:
            comp[..., n:, : n * (L - 1)] = torch.eye(n * (L - 1))
        out[..., q] = torch.linalg.eigvals(comp.double()).abs().amax(-1).float()
    return out
