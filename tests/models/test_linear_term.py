"""The collapsed (coefficients integrated out) linear lag term."""

from __future__ import annotations

import math

import torch
from torch.distributions import MultivariateNormal

from pyro_causalmmm.models.linear import collapsed_gaussian, gated_design, lag_design


def test_lag_design_shifts_values():
    x = torch.arange(10.0).reshape(1, 5, 2)
    lagged = lag_design(x, 2)
    assert lagged.shape == (1, 5, 2, 2)
    assert lagged[0, 3, 1, 0] == x[0, 2, 1]  # lag 1
    assert lagged[0, 3, 0, 1] == x[0, 1, 0]  # lag 2
    assert torch.all(lagged[0, 0] == 0)


def test_collapsed_evidence_equals_explicit_marginal():
    torch.manual_seed(0)
    T, P = 12, 3
    G = torch.randn(1, 1, T, P, dtype=torch.float64)
    r = torch.randn(1, 1, T, dtype=torch.float64)
    sigma, s = torch.tensor([[0.7]], dtype=torch.float64), 0.5
    mask = torch.ones(1, T, dtype=torch.bool)
    log_ev, fit = collapsed_gaussian(r, G, mask, sigma, s)
    cov = sigma[0, 0] ** 2 * torch.eye(T, dtype=torch.float64) + s**2 * G[0, 0] @ G[0, 0].T
    ref = MultivariateNormal(torch.zeros(T, dtype=torch.float64), cov).log_prob(r[0, 0])
    assert math.isclose(log_ev.item(), ref.item(), rel_tol=1e-9)
    beta = torch.linalg.solve(
        G[0, 0].T @ G[0, 0] / sigma[0, 0] ** 2 + torch.eye(P, dtype=torch.float64) / s**2,
        G[0, 0].T @ r[0, 0] / sigma[0, 0] ** 2,
    )
    assert torch.allclose(fit[0, 0], G[0, 0] @ beta)


def test_masked_rows_are_ignored():
    torch.manual_seed(1)
    G = torch.randn(1, 1, 10, 2)
    r = torch.randn(1, 1, 10)
    mask = torch.ones(1, 10, dtype=torch.bool)
    mask[0, 7:] = False
    a, _ = collapsed_gaussian(r, G, mask, torch.ones(1, 1), 1.0)
    r2 = r.clone()
    r2[..., 7:] = 100.0
    b, _ = collapsed_gaussian(r2, G, mask, torch.ones(1, 1), 1.0)
    assert torch.allclose(a, b)


def test_gate_zero_removes_cause_columns_but_keeps_own_lags():
    x = torch.randn(2, 8, 3)
    adj = torch.zeros(2, 3, 3)
    design = gated_design(lag_design(x, 2), adj)  # (B, effect, T, 3*2 + 1)
    assert design.shape == (2, 3, 8, 7)
    # effect 1: own lags (cause 1 -> columns 2, 3) kept, causes 0 and 2 zeroed
    assert torch.all(design[:, 1, :, [0, 1, 4, 5]] == 0)
    assert torch.any(design[:, 1, :, [2, 3]] != 0)
    assert torch.all(design[..., -1] == 1)
