"""do()-interventions with same-period edges along the funnel (``same_period="funnel"``):
counterfactuals, future paths and the stability radius settle the within-period chain."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.decisions import interventions as iv


@pytest.fixture(scope="module")
def weekly_funnel():
    from pyro_causalmmm.simulate.funnel import simulate_funnel_weekly

    sim = simulate_funnel_weekly(n_shops=3, length=50, seed=2)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    mmm = CausalMMM(ModelConfig(hidden=8, same_period="funnel"))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    x, mask, ctx = mmm.tensors(data)
    return mmm, data, x, mask, ctx


def test_funnel_do_travels_the_within_period_chain_exactly(weekly_funnel):
    """``same_period="funnel"`` on the weekly funnel (spends 0-3, page views 4, clicks 5,
    gmv 6): with the graph spend 0 -> 4 -> 5 -> 6 only, a change of spend 0 at the last
    step reaches gmv in that step, by the product of the three same-period coefficients
    (nothing else can move within the step); a no-op do() reproduces the data and the
    row-subset shortcut equals stepping every row."""
    mmm, data, x, mask, ctx = weekly_funnel
    layout = mmm.model.layout
    assert mmm.same_period_nodes == [0, 1, 2, 3, 4, 5] and layout.depth == 3
    n = data.n_nodes
    B, T, _ = x.shape
    adj = torch.zeros(1, B, n, n)
    adj[..., 0, 4] = adj[..., 4, 5] = adj[..., 5, 6] = 1.0
    world = iv.prepare_world(mmm.model.eval(), x, mask, ctx, adj)
    world = dataclasses.replace(
        world, floor=torch.full_like(world.floor, -1e9), ceiling=torch.full_like(world.ceiling, 1e9)
    )
    t0, step = T - 1, 0.25
    do_mask = torch.zeros(2, B, T, n, dtype=torch.bool)
    do_mask[:, :, t0, 0] = True
    values = x.expand(2, 1, B, T, n).clone()
    values[1, ..., t0, 0] = x[:, t0, 0] + step
    with torch.no_grad():
        out = iv.counterfactual(world, do_mask, values)
        slow = iv.counterfactual(world, do_mask, values, every_row=True)
    assert torch.equal(out[0], x.expand_as(out[0])), "a no-op do() changed the data"
    torch.testing.assert_close(out, slow)
    coef = world.coef[0, :, :, layout.same_slice]  # (B, R, n_same); responders 4, 5, 6
    pos = {int(s): k for k, s in enumerate(layout.same)}
    rows = {int(r): k for k, r in enumerate(world.nodes)}
    expect = step * coef[:, rows[4], pos[0]] * coef[:, rows[5], pos[4]] * coef[:, rows[6], pos[5]]
    got = out[1, 0, :, t0, 6] - x[:, t0, 6]
    torch.testing.assert_close(got, expect, atol=1e-5, rtol=1e-4)
    assert bool((expect.abs() > 0).all())


def test_subsystem_radius_reads_the_within_period_chain(weekly_funnel):
    """x4_t = 0.5 x4_{t-1}; x5_t = 2 x4_t + 0.6 x5_{t-1} + 0.5 x4_{t-1}, with x5's lag
    feeding x4 back: x4_t = 0.5 x4_{t-1} + 0.3 x5_{t-1}. Without the same-period term the
    lag matrix is [[0.5, 0.3], [0.5, 0.6]]; with it the reduced form (I - C)^-1 A has rows
    [0.5, 0.3] and [1.5, 1.2], radius (1.7 + sqrt(0.49 + 1.8)) / 2."""
    mmm, data, x, mask, ctx = weekly_funnel
    n = data.n_nodes
    adj = torch.ones(1, x.shape[0], n, n) * (1 - torch.eye(n))
    world = iv.prepare_world(mmm.model.eval(), x, mask, ctx, adj)
    L, layout = world.lags, mmm.model.layout
    rows = {int(r): k for k, r in enumerate(world.nodes)}
    coef = torch.zeros_like(world.coef)
    coef[..., rows[4], 4 * L] = 0.5
    coef[..., rows[4], 5 * L] = 0.3
    coef[..., rows[5], 5 * L] = 0.6
    coef[..., rows[5], 4 * L] = 0.5
    coef[..., rows[5], layout.same_slice.start + list(layout.same).index(4)] = 2.0
    world = dataclasses.replace(world, coef=coef)
    keep = torch.zeros(1, n, dtype=torch.bool)
    keep[0, [4, 5]] = True
    r = iv.subsystem_radius(world, keep)[0, 0, 0]
    expect = (1.7 + (0.49 + 1.8) ** 0.5) / 2
    torch.testing.assert_close(r, torch.tensor(expect), atol=1e-5, rtol=0)


def test_rollout_future_travels_the_within_period_chain(weekly_funnel):
    """The optimizer's path (``rollout_future``) on the weekly funnel with the graph
    spend 0 -> 4 -> 5 -> 6 only: a plan that differs in spend 0 at the first future step
    moves gmv at that step by the product of the three same-period coefficients."""
    mmm, data, x, mask, ctx = weekly_funnel
    n = data.n_nodes
    B = x.shape[0]
    adj = torch.zeros(1, B, n, n)
    adj[..., 0, 4] = adj[..., 4, 5] = adj[..., 5, 6] = 1.0
    world = iv.prepare_world(mmm.model.eval(), x, mask, ctx, adj)
    world = dataclasses.replace(
        world, floor=torch.full_like(world.floor, -1e9), ceiling=torch.full_like(world.ceiling, 1e9)
    )
    M, step = 3, 0.25
    pin_mask = torch.zeros(2, B, M, n, dtype=torch.bool)
    pin_mask[..., :4] = True  # the spends
    plan = torch.zeros(2, 1, B, M, n)
    plan[1, ..., 0, 0] = step
    a, g = world.a[:, -1:].expand(B, M), world.g[:, -1:].expand(B, M)
    with torch.no_grad():
        path = iv.rollout_future(world, pin_mask, plan, a, g)
    layout = mmm.model.layout
    coef = world.coef[0, :, :, layout.same_slice]
    pos = {int(s): k for k, s in enumerate(layout.same)}
    rows = {int(r): k for k, r in enumerate(world.nodes)}
    expect = step * coef[:, rows[4], pos[0]] * coef[:, rows[5], pos[4]] * coef[:, rows[6], pos[5]]
    got = path[1, 0, :, 0, 6] - path[0, 0, :, 0, 6]
    torch.testing.assert_close(got, expect, atol=1e-5, rtol=1e-4)
