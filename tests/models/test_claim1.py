"""Claim 1 (the paper's Granger guarantee), for every model variant:
if z_ij = 0, node i's history cannot change node j's one-step prediction;
if z_ij = 1 it does."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_causalmmm.models import CausalMMMModel, ModelConfig

VARIANTS = {
    "default": {},
    "no_linear_term": {"linear_lags": 0},
    "paper_messages_w1": {"message_window": 1, "linear_lags": 0},
    "markov": {"markov": True},
    "no_saturation": {"no_saturation": True},
    "long_window_lags": {"message_window": 5, "linear_lags": 4},
}
D, T, C = 4, 16, 2


def _predictions(model, x, adj, ctx):
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    with torch.no_grad():
        return model.predict_mean(x, mask, ctx, adj)


@pytest.mark.parametrize("variant", list(VARIANTS))
@settings(max_examples=8, deadline=None)
@given(
    cause=st.integers(0, D - 1),
    effect=st.integers(0, D - 1),
    seed=st.integers(0, 10_000),
)
def test_claim1(variant, cause, effect, seed):
    if cause == effect:
        return
    torch.manual_seed(seed)
    model = CausalMMMModel(ModelConfig(hidden=8, **VARIANTS[variant]), D, C)
    x = torch.randn(2, T, D)
    ctx = torch.randn(2, T, C)
    adj = (torch.rand(2, D, D) > 0.5).float() * (1 - torch.eye(D))
    x_changed = x.clone()
    x_changed[:, :, cause] = torch.randn(2, T) * 3

    adj[:, cause, effect] = 0.0
    before = _predictions(model, x, adj, ctx)[..., effect]
    after = _predictions(model, x_changed, adj, ctx)[..., effect]
    assert torch.equal(before, after), "z_ij = 0 but node i's history changed node j"

    adj[:, cause, effect] = 1.0
    before = _predictions(model, x, adj, ctx)[..., effect]
    after = _predictions(model, x_changed, adj, ctx)[..., effect]
    assert not torch.allclose(before, after), "z_ij = 1 but node i had no influence on j"
