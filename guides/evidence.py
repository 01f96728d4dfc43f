"""The calibrated guide's evidence for every edge: the lag tests on the raw values and on
their normal scores, the even and product tests of :mod:`guides.nonlinear`, combined into
one z-score per edge (:func:`guides.calibration.lag_test_z`), for one design or several
at once (the lagged design and the same-period designs of weekly data, one per
within-period rank).

Shapes: ``(shop, time, node)`` series, ``(shop, cause, effect)`` per edge.
"""

from __future__ import annotations

import torch

from pyro_causalmmm.guides.calibration import lag_test_z
from pyro_causalmmm.guides.features import (
    _gated_statistics,
    _lag_moments,
    always_on,
    lagged_correlations,
    normal_scores,
    refined_gate,
    standardize_series,
)
from pyro_causalmmm.guides.nonlinear import even_scores, product_wald


def edge_evidence_stats(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    prior_scale: float,
    refinements: int = 1,
    prior_logit: float = 0.0,
    ranks: bool = False,
    baseline: int = 0,
    advance: tuple[int, ...] = (),
    even: bool = False,
    products: bool = False,
    exog: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Everything the calibrated guide reads, without gradients, on per-shop z-scored
    series: ``(features (shop, cause, effect, lags + 2), log_bf, z)``.

    ``log_bf`` ``(shop, cause, effect)`` is the refined Bayes factor of
    :func:`edge_log_evidence` with ``lags`` lags; ``z`` is the ACAT-combined z-score of
    the Wald tests of cause i's first 1..``lags`` lags from the same (refined) pass
    (:func:`guides.calibration.lag_test_z`); with ``ranks`` the same tests on the
    :func:`normal_scores` of the series (the other causes gated as in the raw values'
    last pass) join the combination (so bursty or saturating dependence that the raw
    values hide still counts), and ``baseline`` slow cosines
    (:func:`baseline_basis`) enter every regression. The features stack the lagged
    correlations, a signed ``log1p`` of ``log_bf`` and ``z / 5`` (O(1) MLP inputs).
    ``advance`` lists nodes whose lags 0..L-1 are tested instead of 1..L (same-period
    spend; :func:`_advance`); only edges into other nodes are then meaningful. With
    ``even`` the even test of :mod:`guides.nonlinear` on the normal scores (lags and
    folded scores of each cause, ``2 lags`` degrees of freedom at most) joins the
    combination (measured gains in that module). ``exog`` ``(shop, time, K)``: always-on
    columns of every regression (the model's calendar and control columns), so a weekly
    pattern or a control shared by a cause and its effect is not read as an edge.
    """
    args = (lags, prior_scale, refinements, prior_logit, ranks, baseline)
    return edge_evidence_variants(x, mask, *args, (advance,), even, products, exog=exog)[0]


def _stacked(parts: list, D: int) -> tuple:
    """Moments of :func:`_lag_moments` for several designs, stacked along the shop axis
    (``G^T G`` of a design shared by its effects stays an expanded view)."""
    if all(p[0].stride(1) == 0 for p in parts):
        gtg = torch.cat([p[0][:, 0] for p in parts])[:, None].expand(-1, D, -1, -1)
    else:
        gtg = torch.cat([p[0] for p in parts])
    return (gtg, *(torch.cat([p[k] for p in parts]) for k in (1, 2, 3)))


def _per_effect(parts: list, which: torch.Tensor) -> tuple:
    """One set of moments ``(B, effect, ...)`` from those of several designs: effect j
    takes design ``which[j]``'s (every design has the same columns, only some of them
    advanced, so the regressions of different effects can share one batched pass)."""
    cols = torch.arange(len(which), device=which.device)
    gtg = torch.stack([p[0][:, 0] for p in parts])[which].movedim(0, 1)  # (B, effect, P, P)
    rest = (torch.stack([p[k] for p in parts])[which, :, cols].movedim(0, 1) for k in (1, 2, 3))
    return (gtg, *rest)


def edge_evidence_variants(
    x: torch.Tensor,
    mask: torch.Tensor,
    lags: int,
    prior_scale: float,
    refinements: int = 1,
    prior_logit: float = 0.0,
    ranks: bool = False,
    baseline: int = 0,
    advances: tuple[tuple[int, ...], ...] = ((),),
    even: bool = False,
    products: bool = False,
    which: torch.Tensor | None = None,
    exog: torch.Tensor | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """:func:`edge_evidence_stats` for each design in ``advances`` (one ``advance`` each),
    computed together: the designs are stacked along the shop axis, and the raw values'
    last pass shares one call with the rank tests (they use the same gate), so a shop's
    evidence takes three batched regressions however many designs it needs (the product
    test does not depend on the design and runs once). With ``which`` ``(effect,)`` (a
    design index per effect node) one result: the edges into effect j from design
    ``which[j]``, the effects' regressions batched together instead of every design
    being fitted for every effect (the same numbers as picking them from the list)."""
    with torch.no_grad():
        x = standardize_series(x, mask)
        corr = lagged_correlations(x, mask, lags)
        B, _, D = x.shape

        def designs(series, extra=None):  # moments of every design, stacked or per effect
            parts = [
                _lag_moments(series, mask, lags, baseline, a, extra, exog) for a in advances
            ]
            return _stacked(parts, D) if which is None else _per_effect(parts, which)

        V = len(advances) if which is None else 1
        raw = designs(x)
        gate = refined_gate(raw, lags, prior_scale, refinements, prior_logit)
        cache = []

        def ranked():  # the normal scores, computed once for every test that reads them
            if not cache:
                cache.append(normal_scores(x, mask))
            return cache[0]

        if ranks:  # the same tests on normal scores, conditioned by the raw values' gate
            both = _stacked([raw, designs(ranked())], D)
            bf_all, w_all = _gated_statistics(*both, torch.cat([gate, gate]), lags, prior_scale)
            bf0, walds = bf_all[: V * B], [w_all[: V * B], w_all[V * B :]]
        else:
            bf0, wald = _gated_statistics(*raw, gate, lags, prior_scale)
            walds = [wald]
        dof = [torch.arange(1, lags + 1, dtype=x.dtype)] * len(walds)
        if even:  # lags and folded scores of every node, each cause's 2L columns tested
            ns = ranked()  # robust to bursts: folded raw spends are extreme
            folded = even_scores(ns, mask)
            walds.append(_gated_statistics(*designs(ns, folded), gate, 2 * lags, prior_scale)[1])
            dof.append(torch.arange(1, 2 * lags + 1, dtype=x.dtype))
        if products and D > 2:  # products of pairs of causes (guides.nonlinear.product_wald)
            base = always_on(mask, baseline, exog)
            prod = product_wald(ranked(), mask, lags, prior_scale, base).to(x.dtype)
            walds.append(prod.repeat(V, 1, 1)[..., None])
            dof.append(torch.full((1,), float(D - 1), dtype=x.dtype))
        eye = torch.eye(D, dtype=torch.bool, device=x.device)
        stats = torch.cat(walds, dim=-1)
        z = torch.where(eye, torch.zeros_like(bf0), lag_test_z(stats, dof=torch.cat(dof)))
        squashed = torch.sign(bf0) * torch.log1p(bf0.abs())
        feats = torch.cat([corr.repeat(V, 1, 1, 1), squashed[..., None], z[..., None] / 5], -1)
    return [
        (feats[v * B : (v + 1) * B], bf0[v * B : (v + 1) * B], z[v * B : (v + 1) * B])
        for v in range(V)
    ]
