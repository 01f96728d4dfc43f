"""The saturating spend response (ModelConfig(response="hill")): its columns, gates,
Claim 1, shape selection and its agreement between the design and the rollouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_causalmmm.models import CausalMMMModel, ModelConfig
from pyro_causalmmm.models.design import (
    DesignLayout,
    design_gates,
    hill,
    relative_spend,
    response_columns,
)
from pyro_causalmmm.models.response import fit_response_shapes

D, T, C = 4, 40, 1
SPENDS = (0, 1)


def _context(cv: torch.Tensor, B: int, n_ctx: int = C) -> torch.Tensor:
    """Context ``(B, T, n_ctx + D)``: random S-curve columns, then per-node cv."""
    return torch.cat([torch.randn(B, T, n_ctx), cv[:, None, :].expand(B, T, D)], dim=-1)


def _model(**kw) -> CausalMMMModel:
    return CausalMMMModel(ModelConfig(hidden=8, response="hill", **kw), D, C, response=SPENDS)


def test_hill_is_monotone_concave_through_zero_and_one():
    a = torch.linspace(0, 6, 61)
    for k in (0.5, 1.0, 4.0):
        h = hill(a, torch.tensor(k))
        assert h[0] == 0
        assert torch.isclose(hill(torch.tensor(1.0), torch.tensor(k)), torch.tensor(1.0))
        d = h.diff()
        assert (d > 0).all() and (d.diff() <= 1e-6).all()
        assert h.max() < 1 + k  # what more spend can buy is bounded
    assert torch.equal(hill(a, torch.tensor(math.inf)), a)


def test_relative_spend_inverts_the_z_score():
    spend = torch.tensor([0.0, 50.0, 100.0, 250.0])
    mean, std = spend.mean(), spend.std(unbiased=False)
    x = (spend - mean) / std
    u = relative_spend(x, std / mean)
    torch.testing.assert_close(u, spend / mean)
    assert torch.equal(relative_spend(x, torch.tensor(float("nan"))), torch.ones(4))


def test_adstock_path_is_the_geometric_recursion_and_rows_read_the_past_only():
    torch.manual_seed(0)
    u = torch.rand(2, 12, 1) * 3
    phi, a = response_columns(u, torch.tensor([0.6]), torch.tensor([2.0]))
    assert a.shape == (2, 13, 1) and torch.equal(a[:, 0], torch.ones(2, 1))
    for t in range(12):
        torch.testing.assert_close(a[:, t + 1], 0.4 * u[:, t] + 0.6 * a[:, t])
    torch.testing.assert_close(phi, hill(a[:, :-1], torch.tensor([2.0])))
    u2 = u.clone()
    u2[:, 7:] = 0.0  # spending nothing from step 7 on changes rows 8.. only
    phi2, _ = response_columns(u2, torch.tensor([0.6]), torch.tensor([2.0]))
    assert torch.equal(phi2[:, :8], phi[:, :8]) and (phi2[:, 8:] < phi[:, 8:]).all()


def test_response_gates_replace_the_spend_lags_into_other_nodes():
    layout = DesignLayout(D, 2, (), 1, SPENDS)
    adj = torch.ones(1, D, D) * (1 - torch.eye(D))
    adj[0, 1, 3] = 0.0
    g = design_gates(adj, layout)[0]  # (effect, P)
    lag = layout.n_lag
    for j in (2, 3):  # responders: no lag columns of a spend, its response column instead
        assert torch.equal(g[j, : 2 * len(SPENDS)], torch.zeros(2 * len(SPENDS)))
        assert torch.equal(g[j, lag:lag + 2], adj[0, [0, 1], j])
    for j in SPENDS:  # spends keep the other spends' lags and get no response column
        assert torch.equal(g[j, lag:lag + 2], torch.zeros(2))
        other = 1 - j
        assert torch.equal(g[j, other * 2 : other * 2 + 2], torch.ones(2))


@settings(max_examples=10, deadline=None)
@given(cause=st.integers(0, D - 1), effect=st.integers(0, D - 1), seed=st.integers(0, 10_000))
def test_claim1_with_response_columns(cause, effect, seed):
    """z_ij = 0: node i's whole history cannot change node j's prediction, through the
    response column included; z_ij = 1: it does."""
    if cause == effect:
        return
    torch.manual_seed(seed)
    model = _model()
    model.decay.copy_(torch.tensor([0.5, 0.8]))
    model.kappa.copy_(torch.tensor([1.0, math.inf]))
    ctx = _context(torch.tensor([0.7, 1.2, float("nan"), float("nan")]).expand(2, D), 2)
    x = torch.randn(2, T, D)
    adj = (torch.rand(2, D, D) > 0.5).float() * (1 - torch.eye(D))
    x2 = x.clone()
    x2[:, :, cause] = torch.randn(2, T) * 3
    mask = torch.ones(2, T, dtype=torch.bool)
    for z, same in ((0.0, True), (1.0, False)):
        adj[:, cause, effect] = z
        with torch.no_grad():
            a = model.predict_mean(x, mask, ctx, adj)[..., effect]
            b = model.predict_mean(x2, mask, ctx, adj)[..., effect]
        assert torch.equal(a, b) == same


def _saturating_panel(seed: int, decay: float, kappa: float, B: int = 30, T_: int = 150):
    """Bursty spends (on/off flights) and a responder driven by one spend through adstock
    + Hill (``kappa`` inf: a linear lag-1 effect), in model units, with the context."""
    gen = torch.Generator().manual_seed(seed)
    on = (torch.rand(B, T_, 2, generator=gen) < 0.4).float()
    spend = on * (0.5 + torch.rand(B, T_, 2, generator=gen) * 2)
    mean = spend.mean(1, keepdim=True)
    std = spend.std(1, unbiased=False, keepdim=True)
    x_sp = (spend - mean) / std
    cv = (std / mean)[:, 0]  # (B, 2)
    phi, _ = response_columns(spend / mean, torch.full((2,), decay), torch.full((2,), kappa))
    y = 2.0 * phi[..., 0] + 0.3 * torch.randn(B, T_, generator=gen)
    other = torch.randn(B, T_, generator=gen)
    x = torch.stack([x_sp[..., 0], x_sp[..., 1], other, y], -1)
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)
    cvs = torch.cat([cv, torch.full((B, 2), float("nan"))], -1)
    ctx = torch.cat([torch.zeros(B, T_, C), cvs[:, None].expand(B, T_, D)], -1)
    return x, torch.ones(B, T_, dtype=torch.bool), ctx


@pytest.mark.parametrize(("decay", "kappa"), [(0.7, 1.0), (0.0, math.inf)])
def test_shapes_are_recovered_by_the_pooled_evidence(decay, kappa):
    """Spend 0 drives node 3 with a known shape: the grid search picks it (or its
    neighbour on the grid); on a linear lag-1 effect it picks no carryover, no saturation."""
    torch.manual_seed(0)
    x, mask, ctx = _saturating_panel(1, decay, kappa)
    model = CausalMMMModel(ModelConfig(hidden=8, response="hill"), D, C, response=SPENDS)
    p = torch.zeros(x.shape[0], D, D)
    p[:, 0, 3] = 1.0
    chosen = fit_response_shapes(model, x, mask, ctx, p)
    d, k = chosen[0]
    assert abs(d - decay) <= 0.2, chosen
    if math.isinf(kappa):
        assert k >= 4.0, chosen
    else:
        assert 0.5 <= k <= 2.0, chosen


def test_world_and_forecast_rollouts_match_the_design_with_response_columns():
    """The rollout engines carry the adstock state: the worlds' teacher-forced means equal
    the model's one-step predictions, a do() that changes nothing returns the data, and
    a 1-step forecast from a shortened panel equals the design's prediction of the step."""
    from pyro_causalmmm.decisions import interventions as iv

    torch.manual_seed(3)
    x, mask, ctx = _saturating_panel(2, 0.5, 1.0, B=4, T_=T)
    model = _model()
    model.decay.copy_(torch.tensor([0.5, 0.3]))
    model.kappa.copy_(torch.tensor([1.0, 2.0]))
    adj = torch.ones(2, 4, D, D) * (1 - torch.eye(D))
    world = iv.prepare_world(model.eval(), x, mask, ctx, adj)
    with torch.no_grad():
        ref = model.predict_mean(x, mask, ctx, adj[0])
    torch.testing.assert_close(world.fact[0], ref, atol=1e-4, rtol=1e-4)
    do_mask = torch.zeros(1, 4, T, D, dtype=torch.bool)
    with torch.no_grad():
        same = iv.counterfactual(world, do_mask, x.expand(1, 1, *x.shape).clone())
    assert torch.equal(same[0], x.expand_as(same[0]))
    # switching spend 0 off from step 20 lowers the adstock its column reads to ~0
    off = torch.zeros(1, 4, T, D, dtype=torch.bool)
    off[..., 20:, 0] = True
    vals = x.expand(1, 1, *x.shape).clone()
    vals[..., 20:, 0] = -1.0 / ctx[:, 0, C + 0][None, None, :, None]  # zero spend
    with torch.no_grad():
        cf = iv.counterfactual(world, off, vals)
    assert (cf[0, :, :, 25:, 3] != x[None, :, 25:, 3]).any()


def test_a_fitted_response_model_saves_loads_and_plans(tmp_path):
    """Fit from the API with response="hill" on a small funnel: the shapes are stored
    and reloaded, predictions and contributions are the same after loading."""
    from pyro_causalmmm import CausalMMM, MarketingMixData, TrainConfig
    from pyro_causalmmm.decisions.contributions import DecisionConfig, contributions
    from pyro_causalmmm.simulate import simulate_funnel_daily

    sim = simulate_funnel_daily(n_shops=4, length=60, seed=0)
    data = MarketingMixData.from_frame(
        sim.frame, target="gmv", channels=list(sim.node_names[:-1]),
        spend=list(sim.spend_names),
    )
    mmm = CausalMMM(ModelConfig(hidden=8, response="hill"))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=4, seed=0, quiet=True))
    assert set(mmm.response_shapes) == {data.node_names.index(s) for s in sim.spend_names}
    mmm.save(tmp_path / "m")
    back = CausalMMM.load(tmp_path / "m")
    assert torch.equal(back.model.decay, mmm.model.decay)
    assert torch.equal(back.model.kappa, mmm.model.kappa)
    np.testing.assert_allclose(back.predict_one_step(data), mmm.predict_one_step(data))
    cfg = DecisionConfig(draws=4, seed=0)
    a = contributions(mmm, data, config=cfg).table
    b = contributions(back, data, config=cfg).table
    np.testing.assert_allclose(a["contribution"], b["contribution"])


def test_a_channel_without_edges_keeps_the_linear_response():
    """No edge leaves spend 1: its evidence is flat over the grid and the tie goes to the
    linear response without carryover (decay 0, kappa inf)."""
    x, mask, ctx = _saturating_panel(1, 0.7, 1.0)
    model = CausalMMMModel(ModelConfig(hidden=8, response="hill"), D, C, response=SPENDS)
    p = torch.zeros(x.shape[0], D, D)
    p[:, 0, 3] = 1.0
    assert fit_response_shapes(model, x, mask, ctx, p)[1] == (0.0, math.inf)
