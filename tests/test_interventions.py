"""Counterfactual engine: do() on observed steps, future rollouts, graph draws, stability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.decisions import interventions as iv
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import simulate

D = 5  # 4 channels + gmv


@pytest.fixture(scope="module")
def fitted():
    sim = simulate("sim2", n_shops=6, n_channels=4, length=40, n_graphs=2, seed=3)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=6, seed=0))
    x, mask, ctx = mmm.tensors(data)
    return mmm, data, x, mask, ctx


def _world(fitted, adj, **kw):
    mmm, _, x, mask, ctx = fitted
    return iv.prepare_world(mmm.model.eval(), x, mask, ctx, adj, **kw)


def _do(x, K, node, t0, value):
    """K scenarios setting ``node`` to ``value`` from step ``t0`` on."""
    B, T, _ = x.shape
    mask = torch.zeros(K, B, T, D, dtype=torch.bool)
    mask[:, :, t0:, node] = True
    values = x.expand(K, 1, B, T, D).clone()
    values[..., t0:, node] = value
    return mask, values


def test_graph_draws_are_seeded_hard_and_follow_p():
    p = np.full((3, 4, 4), 0.3)
    a = iv.graph_draws(p, 200, seed=1)
    assert a.shape == (200, 3, 4, 4)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert (a.diagonal(dim1=-2, dim2=-1) == 0).all()
    assert torch.equal(a, iv.graph_draws(p, 200, seed=1))
    assert torch.equal(a[:5], iv.graph_draws(p, 5, seed=1))  # first draws do not depend on S
    off = ~torch.eye(4, dtype=torch.bool)
    assert abs(a[:, :, off].mean().item() - 0.3) < 0.03
    with pytest.raises(ConfigError):
        iv.graph_draws(p, 0, seed=1)


def test_step_subset_equals_decoder_step(fitted):
    mmm = fitted[0]
    dec = mmm.model.decoder
    torch.manual_seed(0)
    h = torch.randn(3, 2, D, dec.hidden)
    win = torch.randn(2, D, dec.window)
    inp = torch.randn(2, D)
    adj = (torch.rand(3, 2, D, D) < 0.5).float() * (1 - torch.eye(D))
    with torch.no_grad():
        full, _ = dec.step(h, win, inp, adj)
        nodes = torch.tensor([1, 4])
        sub, _ = iv.step_subset(dec, h[..., nodes, :], win, inp, adj[..., nodes], nodes)
        # the sparse path needs the draw dims on the window
        pairs = iv.Pairs.from_adjacency(adj[..., nodes])
        sparse, _ = iv.step_subset(
            dec,
            h[..., nodes, :],
            win.expand(3, 2, D, -1),
            inp.expand(3, 2, D),
            adj[..., nodes],
            nodes,
            pairs,
        )
    torch.testing.assert_close(sub, full[..., nodes, :], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse, full[..., nodes, :], atol=1e-5, rtol=1e-5)


def test_world_means_equal_the_models_one_step_prediction(fitted):
    mmm, _, x, mask, ctx = fitted
    adj = iv.graph_draws(mmm.edge_probability_array(fitted[1]), 2, seed=0)
    world = _world(fitted, adj)
    with torch.no_grad():
        ref = mmm.model.predict_mean(x, mask, ctx, adj[1])
    torch.testing.assert_close(world.fact[1], ref, atol=1e-4, rtol=1e-4)


def test_no_change_reproduces_the_observed_series_exactly(fitted):
    mmm, data, x, _, _ = fitted
    adj = iv.graph_draws(mmm.edge_probability_array(data), 3, seed=0)
    world = _world(fitted, adj)
    mask, values = _do(x, 2, node=1, t0=10, value=0.0)
    values[1] = x  # scenario 1 "sets" the observed values: nothing changes
    mask[0] = False  # scenario 0 sets nothing
    with torch.no_grad():
        out = iv.counterfactual(world, mask, values)
    assert out.shape == (2, 3, data.n_shops, data.n_time, D)
    assert torch.equal(out, x.expand_as(out))


def test_intervention_moves_only_later_steps_and_descendants(fitted):
    mmm, data, x, _, _ = fitted
    p = np.zeros((data.n_shops, D, D))
    p[:, 0, 2] = p[:, 2, 4] = 1.0  # spend_1 -> spend_3 -> gmv; spend_2, spend_4 exogenous
    adj = iv.graph_draws(p, 2, seed=0)
    world = _world(fitted, adj, start=15)
    mask, values = _do(x, 1, node=0, t0=20, value=-2.0)
    with torch.no_grad():
        out = iv.counterfactual(world, mask, values)[0]  # (S, B, T, D)
    before = x[:, :20].expand(2, *x[:, :20].shape)
    assert torch.equal(out[:, :, :20], before)  # nothing moves before the intervention
    for node in (1, 3):  # no learned parents: keep their observed values
        assert torch.equal(out[..., node], x[..., node].expand_as(out[..., node]))
    assert (out[:, :, 21:, 2] != x[:, 21:, 2]).any()  # the child responds one step later
    assert torch.equal(out[:, :, 20, 2], x[:, 20, 2].expand(2, -1))
    assert (out[:, :, 22:, 4] != x[:, 22:, 4]).any()  # GMV two steps later
    assert torch.equal(out[..., 0][..., 20:], torch.full_like(out[..., 0][..., 20:], -2.0))


def test_intervention_before_the_worlds_start_is_refused(fitted):
    x = fitted[2]
    world = _world(fitted, torch.zeros(1, x.shape[0], D, D), start=20)
    mask, values = _do(x, 1, node=0, t0=5, value=1.0)
    with pytest.raises(ValueError, match="before world.start"):
        iv.counterfactual(world, mask, values)


def test_limits_hold_responders_inside_their_range(fitted):
    mmm, data, x, _, _ = fitted
    p = np.zeros((data.n_shops, D, D))
    p[:, 0, 1] = p[:, 0, 4] = 1.0
    floor = torch.full((data.n_shops, D), -torch.inf)
    ceiling = torch.full((data.n_shops, D), torch.inf)
    floor[:, 1] = x[:, :, 1].min(1).values  # spend_2 may not leave its observed range
    ceiling[:, 1] = x[:, :, 1].max(1).values
    floor[:, 4], ceiling[:, 4] = 0.0, 1.0  # gmv inside the S-curve's range
    world = _world(fitted, iv.graph_draws(p, 1, seed=0), floor=floor, ceiling=ceiling)
    mask, values = _do(x, 2, node=0, t0=5, value=0.0)
    values[0, ..., 5:, 0] = -40.0
    values[1, ..., 5:, 0] = 40.0
    with torch.no_grad():
        out = iv.counterfactual(world, mask, values)
    low, high = floor[None, None, :, None], ceiling[None, None, :, None]
    for node in (1, 4):
        assert (out[..., node] >= low[..., node]).all()
        assert (out[..., node] <= high[..., node]).all()
    assert (out[..., 1] == low[..., 1]).any() and (out[..., 1] == high[..., 1]).any()


def test_rollout_future_pins_and_gradients(fitted):
    mmm, data, x, mask_obs, ctx = fitted
    p = np.zeros((data.n_shops, D, D))
    p[:, :4, 4] = 1.0  # every channel -> gmv
    world = _world(fitted, iv.graph_draws(p, 2, seed=0), nodes=[4], start=data.n_time)
    M = 6
    pin_mask = torch.zeros(1, data.n_shops, M, D, dtype=torch.bool)
    pin_mask[..., :4] = True
    plan = torch.zeros(1, 1, data.n_shops, M, D, requires_grad=True)
    a = torch.full((data.n_shops, M), 1.5)
    g = torch.ones(data.n_shops, M)
    path = iv.rollout_future(world, pin_mask, plan, a, g)
    assert path.shape == (1, 2, data.n_shops, M, D)
    assert torch.equal(path[..., :4].detach(), torch.zeros_like(path[..., :4]))
    path[..., 4].sum().backward()
    assert plan.grad[..., :4].abs().sum() > 0
    with pytest.raises(ValueError, match="pinned"):
        iv.rollout_future(world, torch.zeros_like(pin_mask), plan.detach(), a, g)


def test_subsystem_radius_of_known_lag_dynamics(fitted):
    data = fitted[1]
    world = _world(fitted, torch.zeros(1, data.n_shops, D, D))
    L = world.lags
    coef = torch.zeros_like(world.coef)  # (S, B, R, D * L + 1)
    coef[..., 0, 0 * L] = 0.5  # x0_t = 0.5 x0_{t-1}
    coef[..., 1, 0 * L] = 2.0  # x1_t = 2 x0_{t-1} + 0.9 x1_{t-1}
    coef[..., 1, 1 * L] = 0.9
    coef[..., 2, 3 * L] = 1.2  # x2 <- x3 <- x2: a loop with gain 1.2 * 1.0
    coef[..., 3, 2 * L] = 1.0
    world = dataclasses.replace(world, coef=coef)
    keep = torch.zeros(4, D, dtype=torch.bool)
    keep[0, 0] = True
    keep[1, [0, 1]] = True
    keep[2, [2, 3]] = True  # the loop: radius sqrt(1.2)
    keep[3, 2] = True  # the loop cut by holding x3 fixed: radius 0
    r = iv.subsystem_radius(world, keep)[0, 0]
    torch.testing.assert_close(r, torch.tensor([0.5, 0.9, 1.2**0.5, 0.0]), atol=1e-5, rtol=0)


def test_unstable_draws_are_redrawn(fitted, monkeypatch):
    """A (draw, shop) flagged explosive is replaced by a fresh draw, recomputed in full."""
    data = fitted[1]
    S, B = 3, data.n_shops

    def fake_radius(world, keep):  # "explosive" iff the draw has the edge 0 -> 1
        return world.adj[..., 0, 1][..., None].expand(-1, -1, keep.shape[0]) * 2.0

    monkeypatch.setattr(iv, "subsystem_radius", fake_radius)
    adj = torch.zeros(S, B, D, D)
    adj[1, 2, 0, 1] = adj[2, 4, 0, 1] = 1.0
    clean = torch.zeros(S, B, D, D)
    clean[..., 0, 4] = 1.0
    calls = []

    def redraw(attempt):
        calls.append(attempt)
        return clean

    world = _world(fitted, adj.clone(), redraw=redraw)
    assert world.unstable == 0 and calls == [0]
    assert world.adj[1, 2, 0, 4] == 1 and world.adj[..., 0, 1].sum() == 0
    assert world.adj[0, 0, 0, 4] == 0  # untouched draws keep their graph
    ref = _world(fitted, clean)
    torch.testing.assert_close(world.fact[1, 2], ref.fact[1, 2])
    stuck = _world(fitted, adj.clone(), redraw=lambda attempt: adj, max_tries=3)
    assert stuck.unstable == 2


@pytest.fixture(scope="module")
def weekly():
    from pyro_causalmmm.simulate.funnel import simulate_funnel_weekly

    sim = simulate_funnel_weekly(n_shops=3, length=50, seed=2)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    mmm = CausalMMM(ModelConfig(hidden=8, same_period="on"))  # spends-only columns
    mmm.fit(data, TrainConfig(epochs=1, batch_size=3, seed=0))
    x, mask, ctx = mmm.tensors(data)
    return mmm, data, x, mask, ctx


def test_same_period_do_moves_responders_in_the_same_step(weekly):
    """Weekly data: setting a spend at step t0 moves its children at t0 already (the
    same-period column), and a do() to the observed values reproduces the data exactly."""
    mmm, data, x, mask, ctx = weekly
    assert mmm.model.layout.n_same == 4
    n = data.n_nodes
    adj = torch.ones(2, x.shape[0], n, n) * (1 - torch.eye(n))
    world = iv.prepare_world(mmm.model.eval(), x, mask, ctx, adj)
    B, T, _ = x.shape
    t0 = T - 10
    do_mask = torch.zeros(2, B, T, n, dtype=torch.bool)
    do_mask[:, :, t0:, 0] = True
    values = x.expand(2, 1, B, T, n).clone()
    values[1, ..., t0:, 0] = x[:, t0:, 0].min() - 1.0  # scenario 1 changes the spend
    with torch.no_grad():
        out = iv.counterfactual(world, do_mask, values)
    assert torch.equal(out[0], x.expand_as(out[0])), "a no-op do() changed the data"
    moved = (out[1, :, :, t0, 4:] - x[None, :, t0, 4:]).abs()
    assert bool((moved > 0).any()), "no responder moved in the step of the intervention"
    assert torch.equal(out[1, :, :, t0 - 1], x[None, :, t0 - 1].expand_as(out[1, :, :, t0 - 1]))
    assert torch.equal(out[1, :, :, t0, 1:4], x[None, :, t0, 1:4].expand_as(out[1, :, :, t0, 1:4]))


def test_stepping_only_descendant_rows_gives_the_same_counterfactual(fitted):
    """The shortcut of ``counterfactual`` (decoder states recomputed only for rows that
    descend from a changed cell, the rest taken from the factual path) against stepping
    every row, on graph draws where some nodes do and some do not descend from the
    intervened channel; a row that never descends keeps the factual state exactly."""
    mmm, data, x, _, _ = fitted
    p = np.full((data.n_shops, D, D), 0.3)
    p[:, 1, 4] = 1.0
    adj = iv.graph_draws(p * (1 - np.eye(D)), 4, seed=1)
    world = _world(fitted, adj, start=12)
    assert world.h_path.shape[2] == data.n_time - 12 + 1
    assert torch.equal(world.h_path[:, :, 0], world.h_start)
    mask, values = _do(x, 3, node=1, t0=15, value=-1.5)
    values[1, ..., 15:, 1] = 0.5
    mask[2, :, :, 0] = True  # scenario 2 moves two channels
    values[2, ..., 15:, 0] = 1.0
    with torch.no_grad():
        fast = iv.counterfactual(world, mask, values)
        slow = iv.counterfactual(world, mask, values, every_row=True)
    assert (fast != x).any()
    assert torch.allclose(fast, slow, atol=1e-5, rtol=1e-5)
    # a node with no path from the intervened channel in a draw keeps its observed values
    reach = adj.bool()[:, :, 1].clone()  # (S, B, D) children of channel 1
    for _ in range(D):
        reach = reach | (reach[..., :, None] & adj.bool()).any(-2)
    untouched = ~reach[..., 2:]  # nodes 2..4, scenario 0 only moves channel 1
    same = (fast[0][..., 2:] == x[None, ..., 2:]).all(-2)  # (S, B, 3)
    assert bool(same[untouched].all())


def test_ancestors_follow_directed_paths():
    adj = torch.zeros(2, 4, 4)
    adj[0, 0, 1] = adj[0, 1, 3] = 1.0  # 0 -> 1 -> 3; 2 isolated
    adj[1, 3, 2] = 1.0  # draw 1: 3 -> 2 only
    anc = iv.ancestors(adj, 3)
    assert anc.tolist() == [[True, True, False, True], [False, False, False, True]]


def test_restricting_to_the_targets_ancestors_keeps_its_path(fitted):
    """``relevant`` = the target's ancestors: the target's counterfactual path is the same
    as with every responder run, and a non-ancestor keeps its observed values."""
    mmm, data, x, _, _ = fitted
    p = np.full((data.n_shops, D, D), 0.35)
    p[:, 1, 2] = 1.0
    p[:, 2, :] = 0.0  # node 2 responds to channel 1 and is never a cause
    adj = iv.graph_draws(p * (1 - np.eye(D)), 4, seed=2)
    world = _world(fitted, adj, start=12)
    mask, values = _do(x, 2, node=1, t0=15, value=-1.5)
    values[1, ..., 15:, 1] = 0.7
    relevant = iv.ancestors(world.adj, D - 1)[..., world.nodes]
    assert not bool(relevant[..., 2].any())
    with torch.no_grad():
        full = iv.counterfactual(world, mask, values)
        part = iv.counterfactual(world, mask, values, relevant=relevant)
    assert (full[..., 2] != x[..., 2]).any()  # node 2 does respond when run
    assert torch.equal(part[..., 2], x[..., 2].expand_as(part[..., 2]))
    assert torch.allclose(part[..., -1], full[..., -1], atol=1e-6)


@pytest.mark.parametrize("covariance", ["model", "robust"])
def test_coefficient_draws_centre_on_the_posterior_mean(fitted, covariance):
    """Either covariance draws the linear coefficients around the same conditional mean
    (400 draws of one graph), gated-off columns stay exactly 0 (Claim 1) and the two
    covariances give different spreads from the same noise."""
    from pyro_causalmmm.decisions.worlds import coefficient_noise

    mmm, _, x, *_ = fitted
    S = 400
    adj = iv.graph_draws(np.full((x.shape[0], D, D), 0.5), 1, seed=2).expand(S, -1, -1, -1)
    mean = _world(fitted, adj[:1]).coef[0]  # (B, R, P)
    noise = coefficient_noise(5, S, x.shape[0], mmm.model)
    draws = {
        cov: _world(fitted, adj, coef_noise=lambda a: noise, covariance=cov).coef
        for cov in ("model", "robust")
    }
    got = draws[covariance]
    sd = got.std(0)
    assert torch.all((got.mean(0) - mean).abs() <= 5 * sd / S**0.5 + 1e-6)  # 690 coefficients
    gates = mmm.model.gates(adj[:1])[0]  # (B, D, P)
    assert torch.all(got[:, gates == 0] == 0)
    assert not torch.allclose(draws["model"].std(0), draws["robust"].std(0), rtol=0.05)


def _spend_pairs(spends, effects=None) -> torch.Tensor:
    """``(D, D)`` bool: ``spends`` into every node that is not a spend (or into ``effects``)."""
    pairs = torch.zeros(D, D, dtype=torch.bool)
    others = [j for j in range(D) if j not in spends] if effects is None else effects
    pairs[torch.tensor(spends)[:, None], torch.tensor(others)[None]] = True
    return pairs


def test_positive_spends_have_non_negative_long_run_gains(fitted):
    """With ``positive`` pairs (every spend into every responder that is not a spend) each
    draw's sum of a spend's coefficients there is >= 0; gated-off columns stay 0; without
    it nothing changes."""
    from pyro_causalmmm.decisions.worlds import coefficient_noise
    from pyro_causalmmm.models.design import cause_directions

    mmm, _, x, *_ = fitted
    S, spends = 50, [0, 1, 2]
    adj = iv.graph_draws(np.full((x.shape[0], D, D), 0.6), S, seed=4)
    noise = coefficient_noise(6, S, x.shape[0], mmm.model)
    free = _world(fitted, adj, coef_noise=lambda a: noise).coef
    pos = _world(fitted, adj, coef_noise=lambda a: noise, positive=_spend_pairs(spends)).coef
    sums = torch.einsum("sbrp,cp->csbr", pos, cause_directions(mmm.model.layout, spends))
    assert float(sums[..., 3:].min()) >= -1e-5  # responders 3 (a channel) and 4 (gmv)
    free_sums = torch.einsum("sbrp,cp->csbr", free, cause_directions(mmm.model.layout, spends))
    assert float(free_sums[..., 3:].min()) < 0  # the constraint binds somewhere
    assert torch.equal(pos[..., :3, :], free[..., :3, :])  # spends' own equations: free
    gates = mmm.model.gates(adj)
    assert torch.all(pos[gates == 0] == 0)
    mean = _world(fitted, adj[:1], positive=_spend_pairs(spends)).coef
    m_sums = torch.einsum("sbrp,cp->csbr", mean, cause_directions(mmm.model.layout, spends))
    assert float(m_sums[..., 3:].min()) >= -1e-5


def test_positive_pairs_constrain_only_their_own_equations(fitted):
    """Pairs into gmv alone (what ``spend_effects="auto"`` may choose): gmv's gains are >= 0,
    the other responders' coefficients are those of the free draws, and channel 3's
    negative gains stay negative."""
    from pyro_causalmmm.decisions.worlds import coefficient_noise
    from pyro_causalmmm.models.design import cause_directions

    mmm, _, x, *_ = fitted
    S, spends = 50, [0, 1, 2]
    adj = iv.graph_draws(np.full((x.shape[0], D, D), 0.6), S, seed=4)
    noise = coefficient_noise(6, S, x.shape[0], mmm.model)
    free = _world(fitted, adj, coef_noise=lambda a: noise).coef
    part = _world(
        fitted, adj, coef_noise=lambda a: noise, positive=_spend_pairs(spends, [D - 1])
    ).coef
    dirs = cause_directions(mmm.model.layout, spends)
    assert float(torch.einsum("sbrp,cp->csbr", part, dirs)[..., D - 1].min()) >= -1e-5
    assert torch.equal(part[..., : D - 1, :], free[..., : D - 1, :])
    assert float(torch.einsum("sbrp,cp->csbr", part, dirs)[..., 3].min()) < 0
