"""Columns of the z-gated linear term: lags, same-period spend, baseline, intercept.

For effect node j at step t the linear term of :mod:`models.linear` regresses on

    [ x_i^{t-1-l}  (i = 1..D, l = 0..L-1)      gate z_ij (own lags: 1)
      x_s^t        (s in the same-period set)  gate z_sj if j is not in the set, else 0
      b_k^t        (k = 1..K baseline columns)  gate 1
      1 ]                                       gate 1

``P = D L + |same| + K + 1`` columns, in that order. The same-period set is the spend
channels (the advertiser's decisions) when same-period effects are on: in weekly data most
of a spend's effect lands within the week it is spent, which lagged-only columns cannot
see. Spends get no same-period parents (the set's own columns are gated 0 into its
members), so the contemporaneous graph is acyclic: decisions first, then everything that
responds to them. The baseline columns (trend, Fourier seasonality, additive controls;
:mod:`models.baseline`) are causes of every node and effects of none: they are never gated
and never change under an intervention on a node.

Claim 1 still holds: every column carrying node i's values into node j's mean (its lags
and, for a spend, its current value) is multiplied by ``z_ij``.
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

    def __post_init__(self) -> None:
        if list(self.same) != sorted(set(self.same)):
            raise ValueError(f"same-period nodes must be sorted and distinct: {self.same}")
        if any(not 0 <= s < self.n_nodes for s in self.same):
            raise ValueError(f"same-period nodes {self.same} outside 0..{self.n_nodes - 1}")

    @property
    def n_lag(self) -> int:
        return self.n_nodes * self.lags

    @property
    def n_same(self) -> int:
        return len(self.same)

    @property
    def width(self) -> int:
        """P, the number of columns."""
        return self.n_lag + self.n_same + self.n_exog + 1

    @property
    def same_slice(self) -> slice:
        return slice(self.n_lag, self.n_lag + self.n_same)

    @property
    def exog_slice(self) -> slice:
        start = self.n_lag + self.n_same
        return slice(start, start + self.n_exog)

    def same_index(self, device=None) -> torch.Tensor:
        return torch.as_tensor(self.same, dtype=torch.long, device=device)


def design_matrix(x: torch.Tensor, exog: torch.Tensor | None, layout: DesignLayout) -> torch.Tensor:
    """Ungated design ``(shop, time, P)`` from values ``x`` ``(shop, time, node)`` and
    baseline columns ``exog`` ``(shop, time, K)`` (None when K = 0); column ``i * L + l``
    is ``x[:, t-1-l, i]`` (zero before the series starts)."""
    parts = []
    if layout.lags:
        lagged = lag_design(x, layout.lags)
        parts.append(lagged.reshape(*lagged.shape[:2], -1))
    if layout.n_same:
        parts.append(x[..., layout.same_index(x.device)])
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
    parts = [gate.repeat_interleave(layout.lags, dim=-1)] if layout.lags else []
    if layout.n_same:
        idx = layout.same_index(adj.device)
        receives = torch.ones(D, dtype=adj.dtype, device=adj.device)
        receives[idx] = 0.0  # decisions have no same-period parents
        same = adj.transpose(-1, -2)[..., idx] * receives[:, None]
        parts.append(same)
    ones = torch.ones_like(gate[..., :1])
    parts.append(ones.expand(*ones.shape[:-1], layout.n_exog + 1))
    return torch.cat(parts, dim=-1)


def gated(design: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Per-effect gated design ``(..., shop, effect, time, P)`` from ``design``
    ``(shop, time, P)`` and ``gates`` ``(..., shop, effect, P)``."""
    return design[:, None] * gates[..., None, :]
