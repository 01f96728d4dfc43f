"""Posterior predictive simulation (models.predictive) against the training-time paths."""

from __future__ import annotations

import torch

from pyro_causalmmm.models import CausalMMMModel, ModelConfig
from pyro_causalmmm.models.linear import em_noise_variance, regression_moments
from pyro_causalmmm.models.predictive import sample_paths, teacher_forced


def _model(**kw):
    torch.manual_seed(0)
    return CausalMMMModel(ModelConfig(hidden=8, **kw), n_nodes=4, n_context=2).eval()


def _inputs(B=3, T=25, D=4):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, D, generator=g)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 20:] = False  # a shorter shop
    x[1, 20:] = 0.0
    ctx = torch.randn(B, T, 2, generator=g)
    adj = torch.rand(5, B, D, D, generator=g) * (1 - torch.eye(D))
    return x, mask, ctx, adj


def test_teacher_forced_equals_decoder_forward_per_draw():
    model = _model()
    x, mask, _, adj = _inputs()
    with torch.no_grad():
        raw, _ = teacher_forced(model, x, adj, mask.sum(-1))
        for s in range(adj.shape[0]):
            torch.testing.assert_close(raw[s], model.decoder(x, adj[s]), rtol=0, atol=1e-6)


def test_first_forecast_step_is_the_one_step_prediction_after_the_data():
    """Without the linear term and with tiny noise, forecasting 1 step from the first L
    steps gives the decoder's teacher-forced prediction of step L (per shop length)."""
    model = _model(linear_lags=0)
    model.log_sigma.data.fill_(-20.0)  # sigma clamps at 1e-3
    x, mask, ctx, adj = _inputs()
    lengths = mask.sum(-1)
    with torch.no_grad():
        short_mask = mask.clone()
        short_mask[torch.arange(3), lengths - 1] = False  # drop each shop's last step
        x_short = x * short_mask[..., None]
        out = sample_paths(
            model,
            x_short,
            short_mask,
            ctx,
            adj,
            horizon=2,
            future_context=ctx[torch.arange(3), lengths - 1][:, None].expand(-1, 2, -1),
        )
        for s in range(adj.shape[0]):
            full, _, _ = model.decode(x, adj[s], ctx)
            expect = full[torch.arange(3), lengths - 1]
            torch.testing.assert_close(out["forecast"][s, :, 0], expect, rtol=0, atol=1e-2)
    assert out["forecast"].shape == (5, 3, 2, 4)
    assert out["replicate"].shape == (5, 3, 25, 4)


def test_replicate_mean_matches_posterior_mean_prediction():
    model = _model()
    x, mask, ctx, adj = _inputs()
    one = adj[:1].expand(3000, -1, -1, -1)
    with torch.no_grad():
        torch.manual_seed(3)
        rep = sample_paths(model, x, mask, ctx, one)["replicate"]
        expect = model.predict_mean(x, mask, ctx, adj[0])
    start = model.config.max_lag
    diff = (rep.mean(0) - expect)[:, start:][mask[:, start:]]
    se = rep.std(0)[:, start:][mask[:, start:]] / 3000**0.5
    assert (diff.abs() < 5 * se).all()


def test_em_recovers_the_noise_scale_of_a_bayesian_regression():
    g = torch.Generator().manual_seed(0)
    B, D, T, P = 40, 3, 200, 5
    sigma = torch.tensor([0.1, 0.5, 2.0])
    design = torch.randn(B, D, T, P, generator=g, dtype=torch.float64)
    beta = 0.7 * torch.randn(B, D, P, generator=g, dtype=torch.float64)
    noise = torch.randn(B, D, T, generator=g, dtype=torch.float64) * sigma[:, None].double()
    resid = (design @ beta[..., None]).squeeze(-1) + noise
    rows = torch.ones(B, T, dtype=torch.bool)
    moments = regression_moments(resid, design, rows)
    est = em_noise_variance(*moments, torch.ones(D, dtype=torch.float64), 0.7, iterations=50)
    torch.testing.assert_close(est, sigma.double(), rtol=0.03, atol=0)


def test_simulated_values_stay_in_the_plausible_band_and_above_the_floor():
    from pyro_causalmmm.models.predictive import plausible_band

    model = _model()
    model.log_sigma.data.fill_(3.0)  # noise 20x the data's scale: would leave any band
    x, mask, ctx, adj = _inputs()
    floor = torch.full((3, 4), -0.5)
    floor[:, 0] = float("-inf")  # a series that may be negative
    low, high = plausible_band(x, mask, floor)
    with torch.no_grad():
        out = sample_paths(
            model, x, mask, ctx, adj, horizon=10, future_context=ctx[:, -10:], floor=floor
        )
    for key in ("replicate", "forecast"):
        v = out[key]
        assert (v >= low[:, None] - 1e-6).all() and (v <= high[:, None] + 1e-6).all()
    assert (out["forecast"][..., 1:] >= -0.5 - 1e-6).all()
    assert out["forecast"][..., 0].min() < -0.5  # unfloored series can go below
    obs = x[1, :20, 2]
    span = obs.max() - obs.min()
    torch.testing.assert_close(high[1, 2], obs.max() + 0.5 * span)


def test_a_planned_spend_travels_the_within_period_chain_in_its_own_step():
    """The funnel layout (node 0 a spend, nodes 1 -> 2 -> 3 ranked in that order) and the
    graph 0 -> 1 -> 2 -> 3 only: a different planned spend at the first forecast step
    moves node 3 at that step, by the product of the three same-period coefficients
    (same noise and coefficient draws: one pass per rank, not a single pass)."""
    import pyro

    model = CausalMMMModel(
        ModelConfig(hidden=8, no_saturation=True), n_nodes=4, n_context=2,
        same_period=(0, 1, 2), rank=(0, 1, 2, 3),
    ).eval()
    model.log_sigma.data.fill_(-20.0)
    x, mask, ctx, _ = _inputs()
    adj = torch.zeros(2, 3, 4, 4)
    adj[..., 0, 1] = adj[..., 1, 2] = adj[..., 2, 3] = 1.0
    fctx = ctx[:, -2:]
    runs = []
    for value in (0.0, 1.0):
        plan = torch.full((3, 2, 4), float("nan"))
        plan[:, 0, 0] = value
        pyro.set_rng_seed(7)
        with torch.no_grad(), pyro.poutine.trace() as tr:
            out = sample_paths(model, x, mask, ctx, adj, 2, fctx, future_values=plan)
        runs.append((out["forecast"], tr.trace.nodes["beta"]["value"]))
    (a, beta), (b, _) = runs
    coef = beta * model.gates(adj)  # (S, B, D, P)
    same = model.layout.same_slice.start
    expect = coef[..., 1, same] * coef[..., 2, same + 1] * coef[..., 3, same + 2]
    torch.testing.assert_close(b[:, :, 0, 3] - a[:, :, 0, 3], expect, atol=1e-4, rtol=1e-3)
    assert bool((expect.abs() > 1e-3).all())
