"""Pure maths: the Hill curve and the Bernoulli KL registered for the relaxed pair."""

from __future__ import annotations

import torch
from torch.distributions import Bernoulli, RelaxedBernoulli, kl_divergence

from pyro_causalmmm.models import bernoulli_kl, from_adjacency, hill, to_adjacency


def test_hill_matches_formula():
    u = torch.tensor([0.5, 1.0, 2.0, 7.0])
    a, g = torch.tensor(1.7), torch.tensor(0.8)
    expected = u**a / (u**a + g)
    assert torch.allclose(hill(u, a, g), expected, atol=1e-6)


def test_hill_half_at_inflexion():
    a, g = torch.tensor(2.5), torch.tensor(3.0)
    u_half = g ** (1 / a)
    assert torch.allclose(hill(u_half, a, g), torch.tensor(0.5), atol=1e-6)


def test_hill_zero_and_huge_input_stay_finite():
    u = torch.tensor([0.0, 1e-30, 1e9, 1e30])
    out = hill(u, torch.tensor(0.1), torch.tensor(0.1))
    assert torch.isfinite(out).all()
    assert out[0] == 0 or out[0] < 1e-2
    assert out[-1] > 0.99


def test_bernoulli_kl_matches_torch():
    q = torch.randn(50)
    p = torch.randn(50)
    ref = kl_divergence(Bernoulli(logits=q), Bernoulli(logits=p))
    assert torch.allclose(bernoulli_kl(q, p), ref, atol=1e-5)


def test_relaxed_pair_kl_is_registered_and_finite_for_extreme_logits():
    q = RelaxedBernoulli(torch.tensor(0.5), logits=torch.tensor([50.0, -50.0, 0.0]))
    p = RelaxedBernoulli(torch.tensor(0.5), logits=torch.zeros(3))
    out = kl_divergence(q, p)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[2], torch.tensor(0.0), atol=1e-7)
    assert torch.allclose(out[0], torch.log(torch.tensor(2.0)), atol=1e-4)


def test_adjacency_round_trip_has_zero_diagonal():
    z = torch.arange(12, dtype=torch.float32).reshape(1, 12) + 1
    adj = to_adjacency(z, 4)
    assert adj.shape == (1, 4, 4)
    assert torch.all(torch.diagonal(adj, dim1=-2, dim2=-1) == 0)
    assert torch.equal(from_adjacency(adj), z)
    # row = cause, column = effect, row-major over off-diagonal entries
    assert adj[0, 0, 1] == 1 and adj[0, 1, 0] == 4
