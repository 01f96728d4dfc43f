"""Columns of the z-gated linear term: lags, same-period spend, baseline, intercept.

For effect node j at step t the linear term of :mod:`models.linear` regresses on

    [ x_i^{t-1-l}  (i = 1..D, l = 0..L-1)      gate z_ij (own lags: 1)
      x_s^t        (s in the same-period set)  gate z_sj if rank_s < rank_j, else 0
      b_k^t        (k = 1..K baseline columns)  gate 1
      1 ]                                       gate 1

``P = D L + |same| + K + 1`` columns, in that order. Every node has a within-period rank
(:attr:`DesignLayout.ranks`) and a same-period column of node s enters node j only if
``rank_s < rank_j``. With ``same_period="on"`` the set is the spend channels (the
advertiser's decisions, rank 0) and every other node has rank 1: in weekly data most of a
spend's effect lands within the week it is spent, which lagged-only columns cannot see.
With ``same_period="funnel"`` the other nodes are ranked 1, 2, ... in the data's order
(the target last; :func:`funnel_rank`) and all but the last rank join the set, so a
within-week chain spend -> page views -> clicks -> GMV is in the design. Spends get no
same-period parents and columns only point forward in rank, so the contemporaneous graph
is acyclic; a rollout settles one rank per pass (:attr:`DesignLayout.depth`).
The baseline columns (trend, Fourier seasonality, additive controls; :mod:`models.baseline`)
are causes of every node and effects of none: they are never gated and never change
under an intervention on a node.

Claim 1 still holds: every column carrying node i's values into node j's mean (its lags
and, for a node ranked before j, its current value) is multiplied by ``z_ij``.

**Saturating response** (``ModelConfig(response="hill")``): a spend channel c in the
``response`` set reaches the nodes that are not in the set through one column instead of
its L lags (which are then gated 0 into them),

    phi_c^t = hill(a_c^t),   a_c^t = (1 - d_c) u_c^{t-1} + d_c a_c^{t-1},   a_c^0 = 1,
    hill(a) = (1 + kappa_c) a / (a + kappa_c)        (kappa_c = inf: hill(a) = a)

with ``u = spend / mean spend`` of the shop (so ``a``, the geometric adstock, has mean
about 1 and starts at its steady state), gated by ``z_cj``: geometric carryover with
decay ``d_c`` then a Hill curve of shape 1, monotone and concave in spend, with shapes
shared by every shop and an effect size (the column's coefficient) per shop and edge.
Switching the channel off drives ``a`` to 0 and the column to 0 (``hill(0) = 0``): no
straight line is extrapolated below the observed spend. Columns:
``[lags | same-period | response (|response|) | baseline | 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .linear import lag_design


@dataclass(frozen=True)
class DesignLayout:
    """Column layout of the linear design.

    ``n_nodes`` D, ``lags`` L, ``same`` the node indices with a same-period column (sorted),
    ``n_exog`` K baseline columns.
    """

    n_nodes: int
    lags: int
    same: tuple[int, ...] = ()
    n_exog: int = 0
    response: tuple[int, ...] = ()
    rank: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for what, nodes in (("same-period", self.same), ("response", self.response)):
            if list(nodes) != sorted(set(nodes)):
                raise ValueError(f"{what} nodes must be sorted and distinct: {nodes}")
            if any(not 0 <= s < self.n_nodes for s in nodes):
                raise ValueError(f"{what} nodes {nodes} outside 0..{self.n_nodes - 1}")
        if self.rank and (len(self.rank) != self.n_nodes or min(self.rank) < 0):
            raise ValueError(f"rank needs {self.n_nodes} non-negative entries: {self.rank}")

    @property
    def ranks(self) -> tuple[int, ...]:
        """Within-period order of every node (:func:`within_period_ranks`)."""
        return within_period_ranks(self.n_nodes, self.same, self.rank)

    @property
    def depth(self) -> int:
        """Within-period passes a rollout needs: the number of distinct ranks of the
        same-period nodes (1 for spends only; a chain of ``k`` such ranks settles one rank
        per pass)."""
        r = self.ranks
        return len({r[s] for s in self.same})

    def same_allowed(self, device=None) -> torch.Tensor:
        """``(n_same, node)`` bool: may the same-period column of ``same[k]`` enter node j
        (``ranks[same[k]] < ranks[j]``)."""
        r = torch.as_tensor(self.ranks, device=device)
        return r[self.same_index(device)][:, None] < r[None, :]

    @property
    def n_lag(self) -> int:
        return self.n_nodes * self.lags

    @property
    def n_same(self) -> int:
        return len(self.same)

    @property
    def n_resp(self) -> int:
        return len(self.response)

    @property
    def width(self) -> int:
        """P, the number of columns."""
        return self.n_lag + self.n_same + self.n_resp + self.n_exog + 1

    @property
    def same_slice(self) -> slice:
        return slice(self.n_lag, self.n_lag + self.n_same)

    @property
    def resp_slice(self) -> slice:
        start = self.n_lag + self.n_same
        return slice(start, start + self.n_resp)

    @property
    def exog_slice(self) -> slice:
        start = self.n_lag + self.n_same + self.n_resp
        return slice(start, start + self.n_exog)

    def same_index(self, device=None) -> torch.Tensor:
        return torch.as_tensor(self.same, dtype=torch.long, device=device)

    def resp_index(self, device=None) -> torch.Tensor:
        return torch.as_tensor(self.response, dtype=torch.long, device=device)


def cause_directions(layout: DesignLayout, causes) -> torch.Tensor:
    """``(C, P)`` 0/1 rows marking, for each node of ``causes``, every column it enters
    through: its ``L`` lags, its same-period column and its response column where the
    layout has them. ``direction @ beta`` is then the cause's long-run direct gain on an
    effect (model units: the sum of its coefficients)."""
    causes = [int(c) for c in causes]
    out = torch.zeros(len(causes), layout.width)
    for k, i in enumerate(causes):
        out[k, i * layout.lags : (i + 1) * layout.lags] = 1.0
        if i in layout.same:
            out[k, layout.same_slice.start + layout.same.index(i)] = 1.0
        if i in layout.response:
            out[k, layout.resp_slice.start + layout.response.index(i)] = 1.0
    return out


def within_period_ranks(n_nodes: int, same, rank=()) -> tuple[int, ...]:
    """Within-period order ``(node,)``: a same-period column of node s enters node j only
    if ``ranks[s] < ranks[j]``. ``rank`` if given, else 0 for the ``same`` nodes (the
    spends: no same-period parents) and 1 for the others."""
    if rank:
        return tuple(int(r) for r in rank)
    same = set(same)
    return tuple(0 if i in same else 1 for i in range(n_nodes))


def funnel_rank(node_names: list[str], spend) -> list[int]:
    """Within-period ranks ``(node,)`` of ``same_period="funnel"``: 0 for the spend
    channels (names in ``spend``), then 1, 2, ... for the other nodes in the order
    given (the target, listed last, ranks last)."""
    out, k = [], 0
    for name in node_names:
        if name in spend:
            out.append(0)
        else:
            k += 1
            out.append(k)
    return out


def same_period_columns(node_names: list[str], spend, mode: str) -> tuple[list[int], list[int]]:
    """``(same-period nodes, ranks)`` of a resolved ``ModelConfig.same_period`` ``mode``:
    "off" none; "on" the spend channels (default ranks, returned empty); "funnel" every
    node ranked below the last rank of :func:`funnel_rank` (spends and every responding
    node but the last, the target), with those ranks. Without a spend channel: none."""
    spends = [i for i, n in enumerate(node_names) if n in spend]
    if mode not in ("on", "funnel") or not spends:
        return [], []
    if mode == "on":
        return spends, []
    rank = funnel_rank(node_names, spend)
    top = max(rank)
    return [i for i, r in enumerate(rank) if r < top], rank


def design_matrix(
    x: torch.Tensor,
    exog: torch.Tensor | None,
    layout: DesignLayout,
    resp: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ungated design ``(shop, time, P)`` from values ``x`` ``(shop, time, node)``,
    baseline columns ``exog`` ``(shop, time, K)`` (None when K = 0) and the response
    columns ``resp`` ``(shop, time, |response|)`` (:func:`response_columns`; None when
    the layout has none); column ``i * L + l`` is ``x[:, t-1-l, i]`` (zero before the
    series starts)."""
    parts = []
    if layout.lags:
        lagged = lag_design(x, layout.lags)
        parts.append(lagged.reshape(*lagged.shape[:2], -1))
    if layout.n_same:
        parts.append(x[..., layout.same_index(x.device)])
    if layout.n_resp:
        if resp is None or resp.shape[-1] != layout.n_resp:
            got = None if resp is None else tuple(resp.shape)
            raise ValueError(f"the design needs {layout.n_resp} response columns, got {got}")
        parts.append(resp.to(x.dtype))
    if layout.n_exog:
        if exog is None or exog.shape[-1] != layout.n_exog:
            got = None if exog is None else tuple(exog.shape)
            raise ValueError(f"the design needs {layout.n_exog} baseline columns, got {got}")
        parts.append(exog.to(x.dtype))
    parts.append(torch.ones_like(x[..., :1]))
    return torch.cat(parts, dim=-1)


def design_gates(adj: torch.Tensor, layout: DesignLayout) -> torch.Tensor:
    """Per-effect column gates ``(..., shop, effect, P)`` from ``adj`` ``(..., shop, cause,
    effect)`` (zero diagonal), so that the gated design of effect j is
    ``design_matrix(...) * design_gates(adj)[..., j, None, :]`` (see the module docstring)."""
    D = layout.n_nodes
    eye = torch.eye(D, dtype=adj.dtype, device=adj.device)
    gate = (adj * (1 - eye) + eye).transpose(-1, -2)  # (..., shop, effect, cause)
    if layout.n_resp:  # a response channel reaches the other nodes through its column
        ridx = layout.resp_index(adj.device)
        outside = torch.ones(D, dtype=adj.dtype, device=adj.device)
        outside[ridx] = 0.0
        lag_gate = gate.clone()
        lag_gate[..., ridx] = gate[..., ridx] * (1 - outside[:, None])
    else:
        lag_gate = gate
    parts = [lag_gate.repeat_interleave(layout.lags, dim=-1)] if layout.lags else []
    if layout.n_same:
        idx = layout.same_index(adj.device)
        # a column enters only later ranks (decisions have no same-period parents)
        allowed = layout.same_allowed(adj.device).T.to(adj.dtype)  # (effect, n_same)
        parts.append(adj.transpose(-1, -2)[..., idx] * allowed)
    if layout.n_resp:
        parts.append(adj.transpose(-1, -2)[..., ridx] * outside[:, None])
    ones = torch.ones_like(gate[..., :1])
    parts.append(ones.expand(*ones.shape[:-1], layout.n_exog + 1))
    return torch.cat(parts, dim=-1)


def gated(design: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Per-effect gated design ``(..., shop, effect, time, P)`` from ``design``
    ``(shop, time, P)`` and ``gates`` ``(..., shop, effect, P)``."""
    return design[:, None] * gates[..., None, :]


def hill(a: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """``(1 + kappa) a / (a + kappa)`` (``a`` itself where ``kappa`` is inf): the Hill curve
    of :mod:`models.hill` with shape 1 and inflexion ``kappa``, scaled through 0 and
    (1, 1); monotone and concave for ``a >= 0``. Written out rather than through
    ``models.hill.hill``, whose log-domain form clamps ``a`` at 1e-30: here no spend
    must give exactly 0 (a channel switched off contributes nothing)."""
    lin = torch.isinf(kappa)
    k = torch.where(lin, torch.ones_like(kappa), kappa)
    return torch.where(lin, a, (1 + k) * a / (a + k))


def relative_spend(x: torch.Tensor, cv: torch.Tensor) -> torch.Tensor:
    """Spend relative to its shop's mean, ``u = max(1 + cv x, 0)``, from model units ``x``
    (the per-shop z-score) and the coefficient of variation ``cv`` (std / mean), both
    broadcastable; a ``cv`` that is not finite (a spend never positive) gives ``u = 1``."""
    ok = torch.isfinite(cv)
    return torch.where(ok, (1 + torch.where(ok, cv, 0.0) * x).clamp_min(0.0), 1.0)


def adstock_step(a: torch.Tensor, u: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    """One step of the normalised geometric adstock, ``(1 - d) u + d a``."""
    return (1 - decay) * u + decay * a


def response_columns(
    u: torch.Tensor, decay: torch.Tensor, kappa: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Response columns ``phi`` ``(shop, time, n)`` and the adstock path ``a`` ``(shop,
    time + 1, n)`` of relative spends ``u`` ``(shop, time, n)`` (see the module
    docstring): ``a[:, 0] = 1``, ``a[:, t + 1] = (1 - d) u[:, t] + d a[:, t]``,
    ``phi[:, t] = hill(a[:, t])``, so row t reads spends before t only."""
    a = [torch.ones_like(u[:, 0])]
    for t in range(u.shape[1]):
        a.append(adstock_step(a[-1], u[:, t], decay))
    path = torch.stack(a, dim=1)
    return hill(path[:, :-1], kappa), path
