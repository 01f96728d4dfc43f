"""Public API: fit, edge probabilities, predictions, save/load, graph recovery."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.api import META_FILE, WEIGHTS_FILE
from pyro_causalmmm.errors import ModelFileError
from pyro_causalmmm.evaluation.metrics import edge_metrics
from pyro_causalmmm.simulate import simulate

SMALL = ModelConfig(hidden=8)
QUICK = TrainConfig(epochs=2, batch_size=8, seed=0)


@pytest.fixture(scope="module")
def sim():
    return simulate(scenario="sim2", n_shops=16, n_channels=3, length=40, n_graphs=3, seed=1)


@pytest.fixture(scope="module")
def data(sim):
    return MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))


def test_fit_and_edge_table(data):
    mmm = CausalMMM(SMALL)
    result = mmm.fit(data, QUICK)
    assert len(result.train_losses) == 2 and np.isfinite(result.train_losses).all()
    edges = mmm.edge_probabilities(data)
    assert list(edges.columns) == ["shop", "cause", "effect", "p_edge"]
    assert len(edges) == data.n_shops * data.n_nodes * (data.n_nodes - 1)
    assert (edges["cause"] != edges["effect"]).all()
    assert set(edges["shop"]) == set(data.shop_ids)
    assert edges["p_edge"].between(0, 1).all()
    pred = mmm.predict_one_step(data)
    assert pred.shape == data.values.shape and np.isfinite(pred).all()


def test_same_seed_same_result(data):
    a = CausalMMM(SMALL)
    a.fit(data, QUICK)
    b = CausalMMM(SMALL)
    b.fit(data, QUICK)
    np.testing.assert_array_equal(a.edge_probability_array(data), b.edge_probability_array(data))


def test_save_load_round_trip(tmp_path, data):
    mmm = CausalMMM(SMALL)
    mmm.fit(data, QUICK)
    mmm.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["node_names"] == data.node_names and "version" in meta
    loaded = CausalMMM.load(tmp_path / "m")
    np.testing.assert_array_equal(
        mmm.edge_probability_array(data), loaded.edge_probability_array(data)
    )
    np.testing.assert_array_equal(mmm.predict_one_step(data), loaded.predict_one_step(data))


def test_new_shops_need_no_retraining(data, sim):
    mmm = CausalMMM(SMALL)
    mmm.fit(data.subset(list(range(10))), QUICK)
    p_new = mmm.edge_probability_array(data.subset([12, 13]))
    p_all = mmm.edge_probability_array(data)
    np.testing.assert_allclose(p_new, p_all[[12, 13]], atol=1e-6)


def test_load_refuses_other_columns(tmp_path, data, sim):
    mmm = CausalMMM(SMALL)
    mmm.fit(data, QUICK)
    mmm.save(tmp_path / "m")
    other = MarketingMixData.from_frame(
        sim.frame,
        target="gmv",
        channels=["spend_2", "spend_1", "spend_3"],
        context=list(sim.context_names),
    )
    with pytest.raises(ModelFileError, match="columns differ"):
        CausalMMM.load(tmp_path / "m").edge_probabilities(other)


def test_load_refuses_pickled_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    d = tmp_path / "m"
    d.mkdir()
    (d / META_FILE).write_text(json.dumps({"config": {}, "node_names": ["a", "b"]}))
    (d / WEIGHTS_FILE).write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError):
        CausalMMM.load(d)


def test_load_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="not a saved model"):
        CausalMMM.load(tmp_path / "nope")


def test_unfitted_model_is_a_clear_error(data):
    with pytest.raises(ModelFileError, match="not fitted"):
        CausalMMM().edge_probabilities(data)


@pytest.mark.parametrize("ablation", ["full_graph", "markov", "no_saturation"])
def test_ablations_fit(data, ablation):
    mmm = CausalMMM(ModelConfig(hidden=8, **{ablation: True}))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8))
    p = mmm.edge_probability_array(data)
    if ablation == "full_graph":
        assert (p[:, ~np.eye(data.n_nodes, dtype=bool)] == 1).all()
    assert np.isfinite(p).all()


def test_graph_recovery_well_above_chance():
    """Seeded recovery on small Simulation 2 data (per-shop mechanisms)."""
    sim = simulate(scenario="sim2", n_shops=40, n_channels=5, length=100, n_graphs=3, seed=3)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    torch.manual_seed(0)
    mmm = CausalMMM(ModelConfig(hidden=16))
    mmm.fit(data, TrainConfig(epochs=6, batch_size=10, seed=0))
    m = edge_metrics(mmm.edge_probability_array(data), np.asarray(sim.adjacency))
    print("recovery", m)
    assert m["auroc_per_shop_mean"] > 0.85
    assert m["acc"] > 0.75


def test_load_refuses_a_model_file_from_another_version(tmp_path, data):
    mmm = CausalMMM(SMALL)
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8))
    mmm.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    meta["config"]["no_such_setting"] = 1
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="cannot load model"):
        CausalMMM.load(tmp_path / "m")


def test_load_refuses_weights_of_other_networks_with_one_clear_error(tmp_path, data):
    # e.g. a model saved by a version whose edge MLP had one more input
    mmm = CausalMMM(SMALL)
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8))
    mmm.save(tmp_path / "m")
    state = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)
    key = next(k for k in state if k.startswith("guide.") and k.endswith("edge1.net.0.weight"))
    state[key] = torch.cat([state[key], state[key][:, :1]], dim=1)
    torch.save(state, tmp_path / "m" / "weights.pt")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    meta["version"] = "0.0.9"
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"saved by pyro_causalmmm 0\.0\.9.*refit"):
        CausalMMM.load(tmp_path / "m")


def test_column_mismatch_names_the_difference():
    from pyro_causalmmm.api import CausalMMM
    from pyro_causalmmm.errors import ModelFileError

    mmm = CausalMMM()
    mmm.node_names, mmm.context_names = ["tv", "search", "gmv"], ["promo"]
    fake = type("D", (), {"node_names": ["tv", "radio", "gmv"], "context_names": ["promo"]})
    with pytest.raises(ModelFileError, match=r"missing \['search'\]; not in the model \['radio'\]"):
        mmm._check_columns(fake)
    fake.node_names = ["search", "tv", "gmv"]
    with pytest.raises(ModelFileError, match="another order"):
        mmm._check_columns(fake)
    fake.node_names, fake.context_names = ["tv", "search", "gmv"], []
    with pytest.raises(ModelFileError, match=r"context columns: missing \['promo'\]"):
        mmm._check_columns(fake)


def test_a_model_saved_by_version_0_1_still_loads(tmp_path, data):
    """0.1 files have no calibration settings and no learned graph prior: they load as
    the previous (uncalibrated) guide with the fixed prior, and predict as before."""
    import torch

    from pyro_causalmmm.api import META_FILE, WEIGHTS_FILE

    mmm = CausalMMM(ModelConfig(hidden=8, calibrate_edges=False))
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8))
    mmm.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    for key in (
        "calibrate_edges",
        "evidence_lags",
        "evidence_ranks",
        "evidence_baseline",
        "evidence_components",
        "correction_bound",
    ):
        meta["config"].pop(key)
    meta["version"] = "0.1.0"
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    weights = torch.load(tmp_path / "m" / WEIGHTS_FILE, weights_only=True)
    weights.pop("model.prior_logits")
    torch.save(weights, tmp_path / "m" / WEIGHTS_FILE)
    old = CausalMMM.load(tmp_path / "m")
    assert old.config.calibrate_edges is False
    np.testing.assert_allclose(old.edge_probability_array(data), mmm.edge_probability_array(data))


def test_a_model_saved_by_version_0_2_still_loads(tmp_path, data):
    """0.2 files have no baseline, no same-period columns, no even and no product test:
    they load as such and give the same edges and one-step predictions."""
    from pyro_causalmmm.api import META_FILE

    cfg = ModelConfig(
        hidden=8,
        seasonality=0,
        trend=False,
        same_period="off",
        evidence_even=False,
        evidence_products=False,
    )
    mmm = CausalMMM(cfg)
    mmm.fit(data, TrainConfig(epochs=1, batch_size=8))
    mmm.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    for key in (
        "seasonality", "trend", "same_period", "controls", "evidence_even", "evidence_products"
    ):
        meta["config"].pop(key)
    meta.pop("calendar")
    meta.pop("same_period_nodes")
    meta["version"] = "0.2.0"
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    old = CausalMMM.load(tmp_path / "m")
    assert old.config.seasonality == 0 and old.config.evidence_even is False
    assert old.config.evidence_products is False
    assert old.calendar is None and old.model.layout.width == mmm.model.layout.width
    np.testing.assert_allclose(old.edge_probability_array(data), mmm.edge_probability_array(data))
    np.testing.assert_allclose(old.predict_one_step(data), mmm.predict_one_step(data))
