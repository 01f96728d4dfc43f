"""The robust (sandwich, HAC) covariance of the decision engine's coefficient draws."""

from __future__ import annotations

import pytest
import torch

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models.linear import (
    andrews_bandwidth,
    hac_bandwidth,
    posterior_precision,
    robust_root,
    score_covariance,
)


def test_score_covariance_is_the_bartlett_weighted_double_sum():
    torch.manual_seed(0)
    B, T, P, R, L = 2, 15, 3, 2, 3
    X = torch.randn(B, T, P, dtype=torch.float64)
    e = torch.randn(4, B, T, R, dtype=torch.float64)  # a leading draw axis
    gates = torch.ones(4, B, R, P, dtype=torch.float64)
    got = score_covariance(X, e, gates, float(L))
    assert got.shape == (4, B, R, P, P)
    h = e.transpose(-1, -2)[..., None] * X[:, None]  # (4, B, R, T, P)
    want = torch.zeros_like(got)
    for t in range(T):
        for u in range(T):
            k = max(0.0, 1.0 - abs(t - u) / (L + 1))
            want += k * h[..., t, :, None] * h[..., u, None, :]
    assert torch.allclose(got, want)
    # no lags: the heteroskedasticity-robust X^T diag(e^2) X
    plain = score_covariance(X, e, gates, 0.0)
    assert torch.allclose(plain, torch.einsum("btp,sbtr,btq->sbrpq", X, e**2, X))


def test_score_covariance_with_a_bandwidth_per_row_matches_the_double_sum():
    # rows of different bandwidths (0, fractional, wide) are computed on a sorted prefix
    # per lag; each row must still be its own Bartlett double sum, in its own place
    torch.manual_seed(1)
    B, T, P, R = 3, 12, 2, 2
    X = torch.randn(B, T, P, dtype=torch.float64)
    e = torch.randn(2, B, T, R, dtype=torch.float64)
    gates = torch.ones(2, B, R, P, dtype=torch.float64)
    bw = torch.tensor([0.0, 4.3, 1.0, 7.0, 2.5, 0.0, 3.0, 5.5, 1.2, 0.4, 6.0, 2.0])
    bw = bw.reshape(2, B, R).to(torch.float64)
    got = score_covariance(X, e, gates, bw)
    h = e.transpose(-1, -2)[..., None] * X[:, None]  # (2, B, R, T, P)
    want = torch.zeros_like(got)
    for t in range(T):
        for u in range(T):
            k = (1.0 - abs(t - u) / (bw + 1)).clamp_min(0.0)[..., None, None]
            want += k * h[..., t, :, None] * h[..., u, None, :]
    assert torch.allclose(got, want)


def test_bandwidth_grows_with_the_scores_autocorrelation():
    gen = torch.Generator().manual_seed(1)
    T = 400
    z = torch.randn(3, T, generator=gen, dtype=torch.float64)
    h = torch.zeros_like(z)
    rhos = torch.tensor([0.0, 0.5, 0.9], dtype=torch.float64)
    h[:, 0] = z[:, 0]
    for t in range(1, T):
        h[:, t] = rhos * h[:, t - 1] + z[:, t]
    bw = andrews_bandwidth(h[:, None, None, :, None], torch.ones(3, 1, 1, 1))[:, 0, 0]
    # Andrews' AR(1) values: 1.1447 (4 rho^2 / ((1 - rho)^2 (1 + rho)^2) T)^(1/3)
    want = 1.1447 * (4 * rhos**2 / ((1 - rhos) ** 2 * (1 + rhos) ** 2) * T) ** (1 / 3)
    assert bw[0] < 4.0 < bw[1] < bw[2]  # white scores: a few lags from sampling noise
    assert torch.allclose(bw[1:], want[1:], rtol=0.25)
    assert bw[2] <= T / 4
    # the HAC bandwidth never falls below Newey & West's rule of thumb (5 lags at T = 400)
    hac = hac_bandwidth(h[:, None, None, :, None], torch.ones(3, 1, 1, 1))[:, 0, 0]
    assert torch.equal(hac, torch.maximum(bw, torch.full_like(bw, 5.0)))


def _fit(X, y, gates, sigma, s):
    """Posterior mean, model covariance and robust covariance of one regression per shop."""
    w = torch.ones(X.shape[:2], dtype=X.dtype)
    gtg = gates[..., :, None] * gates[..., None, :] * (X.transpose(1, 2) @ X)[:, None]
    gtr = gates * torch.einsum("btp,btr->brp", X, y)
    A = posterior_precision(gtg, sigma.expand(gtr.shape[:-1]), s)
    chol = torch.linalg.cholesky(A)
    beta = torch.cholesky_solve(gtr[..., None], chol)[..., 0] / sigma[:, None] ** 2
    e = y - torch.einsum("btp,brp->btr", X, gates * beta)
    root = robust_root(X, e, w, gates, sigma, s)
    a_inv = torch.cholesky_inverse(chol)
    return beta, a_inv, a_inv @ root @ root.transpose(-1, -2) @ a_inv


def _ar1(n_rep, T, rho, gen):
    z = torch.randn(n_rep, T, generator=gen, dtype=torch.float64)
    out = torch.zeros_like(z)
    out[:, 0] = z[:, 0]
    for t in range(1, T):
        out[:, t] = rho * out[:, t - 1] + (1 - rho**2) ** 0.5 * z[:, t]
    return out


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.8])
def test_robust_intervals_cover_where_the_model_intervals_do_not(rho):
    """500 seeded regressions y = 0.5 x + 1 + e, x and e AR(1) with coefficient ``rho``.
    With independent errors both 90% intervals of the slope cover it about 90% of the time
    and the robust variance is the model's or a little more (it is never less); with
    autocorrelated errors the model's
    intervals are too narrow and the robust ones cover far more often (at rho = 0.8, 150
    steps, still short of 90%: HAC estimates under-cover with strong persistence in
    short series, Kiefer & Vogelsang 2005)."""
    gen = torch.Generator().manual_seed(7)
    n_rep, T = 500, 150
    x = _ar1(n_rep, T, rho, gen)
    e = _ar1(n_rep, T, rho, gen)
    y = (0.5 * x + 1.0 + e)[..., None]
    X = torch.stack([x, torch.ones_like(x)], dim=-1)  # (rep as shops, T, 2)
    gates = torch.ones(n_rep, 1, 2, dtype=torch.float64)
    sigma = torch.ones(1, dtype=torch.float64)
    beta, model_cov, robust_cov = _fit(X, y, gates, sigma, s=10.0)
    err = (beta[:, 0, 0] - 0.5).abs()

    def coverage(cov):
        return float((err <= 1.645 * cov[:, 0, 0, 0].sqrt()).double().mean())

    ratio = robust_cov[:, 0, 0, 0] / model_cov[:, 0, 0, 0]
    assert bool((ratio >= 1 - 1e-9).all())
    if rho == 0.0:
        assert 1.0 < float(ratio.mean()) < 1.2
        assert 0.86 <= coverage(model_cov) <= 0.94 and 0.88 <= coverage(robust_cov) <= 0.96
    elif rho == 0.5:
        assert coverage(model_cov) < 0.84 and coverage(robust_cov) >= 0.86
    else:
        assert coverage(model_cov) < 0.60 and coverage(robust_cov) > 0.74


def test_gated_columns_stay_out_of_the_robust_covariance():
    torch.manual_seed(3)
    X = torch.randn(1, 60, 3, dtype=torch.float64)
    y = torch.randn(1, 60, 1, dtype=torch.float64)
    gates = torch.tensor([[[1.0, 0.0, 1.0]]], dtype=torch.float64)
    s = 2.0
    _, model_cov, robust_cov = _fit(X, y, gates, torch.ones(1, dtype=torch.float64), s)
    # a gated-off column keeps its prior (it multiplies a zero gate either way)
    assert torch.allclose(robust_cov[0, 0, 1], model_cov[0, 0, 1])
    assert torch.isclose(robust_cov[0, 0, 1, 1], torch.tensor(s**2, dtype=torch.float64))


def test_decision_configs_check_the_covariance_name():
    from pyro_causalmmm.decisions.contributions import DecisionConfig
    from pyro_causalmmm.decisions.optimizer import BudgetConfig

    assert DecisionConfig().coefficient_covariance == "robust"
    assert BudgetConfig(budget=1.0).coefficient_covariance == "robust"
    assert DecisionConfig().spend_effects == "auto" == BudgetConfig(budget=1.0).spend_effects
    for make in (DecisionConfig, lambda **kw: BudgetConfig(budget=1.0, **kw)):
        assert make(coefficient_covariance="model").coefficient_covariance == "model"
        assert make(spend_effects="positive").spend_effects == "positive"
        assert make(spend_effects="free").spend_effects == "free"
        with pytest.raises(ConfigError, match="coefficient_covariance"):
            make(coefficient_covariance="sandwich")
        with pytest.raises(ConfigError, match="spend_effects"):
            make(spend_effects="negative")


def test_projection_onto_half_spaces_solves_the_constrained_least_squares():
    """Correlated directions: the projection satisfies every constraint, is the KKT point of
    min (b - beta)^T cov^-1 (b - beta) s.t. A b >= 0, leaves feasible draws alone and
    matches a brute-force search over the active sets."""
    import itertools

    from pyro_causalmmm.models.linear import project_half_spaces

    gen = torch.Generator().manual_seed(0)
    P, n = 4, 300
    L = torch.randn(P, P, generator=gen, dtype=torch.float64) + 2 * torch.eye(P)
    cov = L @ L.T
    A = torch.tensor([[1.0, 1.0, 0, 0], [0, 1.0, 1.0, 0], [0, 0, 0, 1.0]], dtype=torch.float64)
    beta = torch.randn(n, P, generator=gen, dtype=torch.float64) * 2
    out = project_half_spaces(beta, cov.expand(n, P, P), A[:, None].expand(3, n, P), sweeps=200)
    assert float((out @ A.T).min()) >= -1e-8
    inside = ((beta @ A.T) >= 0).all(-1)
    assert torch.allclose(out[inside], beta[inside])
    prec = torch.linalg.inv(cov)
    for i in range(20):  # brute force: the best feasible point over every active set
        best, best_val = None, float("inf")
        for k in range(4):
            for act in itertools.combinations(range(3), k):
                Aa = A[list(act)]
                if k:
                    lam = torch.linalg.solve(Aa @ cov @ Aa.T, -(Aa @ beta[i]))
                    cand = beta[i] + cov @ Aa.T @ lam
                else:
                    cand = beta[i]
                if float((A @ cand).min()) < -1e-9:
                    continue
                val = float((cand - beta[i]) @ prec @ (cand - beta[i]))
                if val < best_val:
                    best, best_val = cand, val
        assert torch.allclose(out[i], best, atol=1e-6)
    zero = torch.zeros(1, 5, P, dtype=torch.float64)
    assert torch.equal(project_half_spaces(beta[:5], cov.expand(5, P, P), zero), beta[:5])


def test_cause_directions_mark_every_column_of_a_cause():
    from pyro_causalmmm.models.design import DesignLayout, cause_directions

    lay = DesignLayout(n_nodes=4, lags=2, same=(0, 2), n_exog=3, rank=(0, 1, 0, 2))
    d = cause_directions(lay, [0, 2])
    assert d.shape == (2, lay.width)
    assert d[0].nonzero().flatten().tolist() == [0, 1, lay.same_slice.start]
    assert d[1].nonzero().flatten().tolist() == [4, 5, lay.same_slice.start + 1]


def test_robust_root_survives_collinear_columns_and_large_scores():
    """Collinear columns (impressions that copy a spend), a small sigma and persistent
    residuals far above it: assembled in float32 the root's Cholesky failed here (and on
    Meridian's geo panel in notebook 05); it is assembled in float64."""
    gen = torch.Generator().manual_seed(2)
    S, B, T, R, P = 3, 4, 150, 3, 12
    X = torch.randn(B, T, P, generator=gen)
    X[..., 1] = X[..., 0] + 1e-3 * torch.randn(B, T, generator=gen)
    X[..., -1] = 1.0
    e = torch.cumsum(torch.randn(S, B, T, R, generator=gen), 2) * 0.1
    gates = torch.ones(S, B, R, P)
    root = robust_root(X, e, torch.ones(B, T), gates, torch.full((R,), 1e-3), 1.0)
    assert root.dtype == torch.float32 and torch.isfinite(root).all()
