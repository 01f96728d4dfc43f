"""Shapes, sites and ablation switches of the Pyro model."""

from __future__ import annotations

import pyro
import pytest
import torch
from pyro import poutine

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.guides import AmortizedGraphGuide
from pyro_causalmmm.models import CausalMMMModel, ModelConfig
from pyro_causalmmm.models.decoder import EdgeMessage, MessagePassingDecoder, SaturationHead

B, T, D, C = 3, 20, 4, 2


def _data():
    torch.manual_seed(0)
    x = torch.randn(B, T, D)
    x[..., -1] = torch.rand(B, T) * 0.8 + 0.1
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, 15:] = False  # a shorter shop
    return x, mask, torch.randn(B, T, C)


def test_module_shapes():
    assert EdgeMessage(3, 8)(torch.randn(B, D, 3)).shape == (B, D, D, 8)
    dec = MessagePassingDecoder(D, 8, 3)
    assert dec(torch.randn(B, T, D), torch.ones(B, D, D)).shape == (B, T, D)
    a, g = SaturationHead(C)(torch.randn(B, T, C))
    assert a.shape == g.shape == (B, T)
    assert (a >= 0.1).all() and (g >= 0.1).all()
    a0, _ = SaturationHead(0)(torch.zeros(B, T, 0))
    assert a0.shape == (B, T)


def test_model_trace_sites_and_shapes():
    x, mask, ctx = _data()
    model = CausalMMMModel(ModelConfig(hidden=8), D, C)
    tr = poutine.trace(model).get_trace(x, mask, ctx)
    assert tr.nodes["z"]["value"].shape == (B, D * (D - 1))
    assert tr.nodes["z"]["scale"] == model.config.lam
    assert tr.nodes["hill_shape"]["value"].shape == (B, T)
    assert tr.nodes["hill_inflexion"]["value"].shape == (B, T)
    tr.compute_log_prob()
    assert torch.isfinite(tr.nodes["obs"]["log_prob"]).all()
    assert tr.nodes["obs"]["log_prob"].shape == (B,)


def test_padded_steps_do_not_change_likelihood():
    x, mask, ctx = _data()
    model = CausalMMMModel(ModelConfig(hidden=8), D, C)
    adj = torch.ones(B, D, D) * (1 - torch.eye(D))
    mu, _, _ = model.decode(x, adj, ctx)
    ll = model.log_likelihood(x, mask, adj, mu)
    x2 = x.clone()
    x2[0, 15:] = 1e3  # garbage in the padding of shop 0
    mu2, _, _ = model.decode(x2, adj, ctx)
    assert torch.allclose(ll[0], model.log_likelihood(x2, mask, adj, mu2)[0])


def test_subsampled_plate_scales_the_likelihood():
    x, mask, ctx = _data()
    model = CausalMMMModel(ModelConfig(hidden=8), D, C)
    tr = poutine.trace(model).get_trace(x, mask, ctx, subsample=torch.tensor([1]))
    assert tr.nodes["obs"]["scale"] == pytest.approx(B / 1)
    assert tr.nodes["z"]["value"].shape == (1, D * (D - 1))


def test_full_graph_ablation_has_no_graph_site():
    x, mask, ctx = _data()
    cfg = ModelConfig(hidden=8, full_graph=True)
    tr = poutine.trace(CausalMMMModel(cfg, D, C)).get_trace(x, mask, ctx)
    assert "z" not in tr.nodes
    gtr = poutine.trace(AmortizedGraphGuide(cfg, D)).get_trace(x, mask, ctx)
    assert "z" not in gtr.nodes


def test_no_saturation_ablation_reads_target_directly():
    x, mask, ctx = _data()
    adj = torch.zeros(B, D, D)
    sat = CausalMMMModel(ModelConfig(hidden=8), D, C)
    raw = CausalMMMModel(ModelConfig(hidden=8, no_saturation=True), D, C)
    raw.load_state_dict(sat.state_dict())
    mu_sat, a, g = sat.decode(x, adj, ctx)
    mu_raw, _, _ = raw.decode(x, adj, ctx)
    assert torch.allclose(mu_sat[..., :-1], mu_raw[..., :-1])
    assert ((mu_sat[..., -1] > 0) & (mu_sat[..., -1] < 1)).all()
    assert not torch.allclose(mu_sat[..., -1], mu_raw[..., -1])


def test_markov_ablation_forgets_older_history():
    x, _, _ = _data()
    adj = torch.zeros(B, D, D)
    dec = MessagePassingDecoder(D, 8, window=1, markov=True)
    x2 = x.clone()
    x2[:, :5] += 5.0  # change old history only
    with torch.no_grad():
        assert torch.allclose(dec(x, adj)[:, 7:], dec(x2, adj)[:, 7:])
        rec = MessagePassingDecoder(D, 8, window=1, markov=False)
        assert not torch.allclose(rec(x, adj)[:, 7:], rec(x2, adj)[:, 7:])


def test_feedback_uses_predictions():
    x, _, _ = _data()
    dec = MessagePassingDecoder(D, 8, 2)
    adj = torch.ones(B, D, D)
    x2 = x.clone()
    x2[:, 12:] = 99.0  # data after the feedback point is never read
    fb = torch.zeros(B, T, dtype=torch.bool)
    fb[:, 12:] = True
    with torch.no_grad():
        assert torch.allclose(dec(x, adj, fb), dec(x2, adj, fb))
        assert not torch.allclose(dec(x, adj), dec(x2, adj))


def test_training_feedback_covers_each_shops_last_steps():
    _, mask, _ = _data()  # shop 0 has 15 observed steps, the others 20
    model = CausalMMMModel(ModelConfig(hidden=8, pred_steps=4), D, C)
    fb = model.training_feedback(mask)
    assert fb[0].nonzero().squeeze(-1).tolist() == [12, 13, 14]
    assert fb[1].nonzero().squeeze(-1).tolist() == [17, 18, 19]
    assert CausalMMMModel(ModelConfig(hidden=8), D, C).training_feedback(mask) is None


def test_elbo_is_finite_and_kl_weighted_by_lambda():
    x, mask, ctx = _data()
    losses = {}
    for lam in (0.0, 100.0):
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        cfg = ModelConfig(hidden=8, lam=lam)
        model, guide = CausalMMMModel(cfg, D, C), AmortizedGraphGuide(cfg, D)
        guide.encoder.out.bias.data.fill_(3.0)  # far from the prior: KL > 0
        elbo = pyro.infer.TraceMeanField_ELBO()
        losses[lam] = elbo.differentiable_loss(model, guide, x, mask, ctx)
        assert torch.isfinite(losses[lam])
    assert losses[100.0] > losses[0.0]


@pytest.mark.parametrize(
    "field,value",
    [
        ("tau", 0.0),
        ("lam", -1.0),
        ("prior_edge_prob", 1.0),
        ("hidden", 0),
        ("message_window", 0),
        ("linear_lags", -1),
        ("linear_prior_scale", 0.0),
        ("pred_steps", 0),
    ],
)
def test_config_rejects_out_of_range(field, value):
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**{field: value})
