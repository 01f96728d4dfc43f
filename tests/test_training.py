"""The SVI training driver."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_causalmmm.errors import ConfigError, TrainingError
from pyro_causalmmm.inference.training import TrainConfig, fit, split_shops


def _toy(n=6):
    values = torch.randn(n, 5, 2)
    return values, torch.ones(n, 5, dtype=torch.bool), torch.zeros(n, 5, 0)


def _model(values, mask, context, subsample=None):
    loc = pyro.param("loc", torch.zeros(()))
    with pyro.plate("shops", values.shape[0], subsample=subsample) as idx:
        pyro.sample(
            "obs", dist.Normal(loc, 1.0).expand([len(idx), 5, 2]).to_event(2), obs=values[idx]
        )


def _guide(values, mask, context, subsample=None):
    with pyro.plate("shops", values.shape[0], subsample=subsample):
        pass


def test_fit_records_losses_and_split():
    cfg = TrainConfig(epochs=4, batch_size=2, val_fraction=0.34, lr=0.05)
    result = fit(_model, _guide, _toy(), cfg)
    assert len(result.train_losses) == 4 and len(result.val_losses) == 4
    assert len(result.val_shops) == 2 and len(result.train_shops) == 4
    assert not set(result.val_shops) & set(result.train_shops)
    assert result.seconds > 0 and result.epochs_run == 4
    assert result.train_losses[-1] < result.train_losses[0]
    assert result.model is _model and result.guide is _guide
    record = result.to_dict()
    assert "model" not in record and record["epochs_run"] == 4


def test_early_stopping_stops():
    values, mask, ctx = _toy()

    def flat_model(values, mask, context, subsample=None):
        # the validation loss never improves: nothing is learnable
        with pyro.plate("shops", values.shape[0], subsample=subsample) as idx:
            pyro.sample(
                "obs", dist.Normal(0.0, 1.0).expand([len(idx), 5, 2]).to_event(2), obs=values[idx]
            )

    cfg = TrainConfig(epochs=50, batch_size=3, val_fraction=0.34, patience=2)
    result = fit(flat_model, _guide, (values, mask, ctx), cfg)
    assert result.epochs_run == 3


def test_nan_loss_stops_with_a_clear_error():
    def nan_model(values, mask, context, subsample=None):
        loc = pyro.param("loc", torch.zeros(()))
        with pyro.plate("shops", values.shape[0], subsample=subsample):
            pyro.factor("bad", loc * float("nan"))

    with pytest.raises(TrainingError, match="epoch 1"):
        fit(nan_model, _guide, _toy(), TrainConfig(epochs=2))


def test_split_is_seeded_and_keeps_a_training_shop():
    a = split_shops(10, 0.3, seed=1)
    b = split_shops(10, 0.3, seed=1)
    assert (a[0] == b[0]).all() and len(a[1]) == 3
    train, val = split_shops(1, 0.9, seed=0)
    assert len(train) == 1 and len(val) == 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("lr_decay", 1.5),
        ("clip", 0.0),
        ("val_fraction", 1.0),
        ("patience", -1),
    ],
)
def test_train_config_rejects_out_of_range(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})
