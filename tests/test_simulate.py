"""Tests of the appendix A.2.1 synthetic generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import Simulation, SimulationConfig, hill, random_dags, simulate

# Every setting in the paper's tables (d, T, R), both scenarios and mechanisms.
PAPER_SETTINGS = [
    (5, 120, 5),
    (10, 120, 5),
    (20, 120, 5),
    (10, 30, 5),
    (10, 720, 5),
    (10, 120, 10),
    (10, 120, 20),
]


def _lagged_r2(y: np.ndarray, xs: np.ndarray, lags: int) -> np.ndarray:
    """Batched OLS R^2 of ``y (shop, time)`` on lags 1..L of ``xs (shop, time, k)``."""
    t = y.shape[1]
    design = np.concatenate([xs[:, lags - l : t - l, :] for l in range(1, lags + 1)], axis=2)
    design = np.concatenate([design, np.ones(design.shape[:2] + (1,))], axis=2)
    target = y[:, lags:]
    coef = np.linalg.solve(
        np.einsum("nrp,nrq->npq", design, design) + 1e-9 * np.eye(design.shape[2]),
        np.einsum("nrp,nr->np", design, target)[..., None],
    )[..., 0]
    resid = target - np.einsum("nrp,np->nr", design, coef)
    return 1.0 - resid.var(axis=1) / target.var(axis=1)


def test_shapes_and_frame_layout():
    sim = simulate("sim2", n_shops=7, n_channels=4, length=30, n_graphs=3, seed=1)
    assert isinstance(sim, Simulation)
    assert sim.node_names == ("spend_1", "spend_2", "spend_3", "spend_4", "gmv")
    assert sim.context_names == ("ctx_1", "ctx_2")
    assert sim.shop_ids[0] == "shop_000" and len(sim.shop_ids) == 7
    assert list(sim.frame.columns) == ["shop", "time", *sim.node_names, "ctx_1", "ctx_2"]
    assert len(sim.frame) == 7 * 30
    assert sim.frame["time"].iloc[0] == pd.Timestamp("2023-01-01")
    assert sim.frame["time"].iloc[29] == pd.Timestamp("2023-01-30")
    assert sim.adjacency.shape == (7, 5, 5) and sim.adjacency.dtype == np.int8
    assert sim.latent.shape == (7, 30, 5)
    assert sim.values.shape == (7, 30, 5)
    assert sim.graph_index.shape == (7,)
    assert sim.context.shape == (7, 2)
    assert sim.edge_weight.shape == (7, 5, 5)
    assert sim.lag_profile.shape == (7, 3, 5, 5)
    # Context columns are static within a shop.
    assert (sim.frame.groupby("shop")[["ctx_1", "ctx_2"]].nunique() == 1).all().all()


def test_config_object_equals_keywords():
    cfg = SimulationConfig(scenario="sim1", n_shops=4, n_channels=3, length=20, seed=5)
    a = simulate(cfg)
    b = simulate("sim1", n_shops=4, n_channels=3, length=20, seed=5)
    assert a.config == cfg
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_determinism_by_seed():
    a = simulate("sim2", n_shops=5, n_channels=4, length=40, seed=3)
    b = simulate("sim2", n_shops=5, n_channels=4, length=40, seed=3)
    c = simulate("sim2", n_shops=5, n_channels=4, length=40, seed=4)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)
    assert not np.allclose(a.latent, c.latent)


@pytest.mark.parametrize("scenario", ["sim1", "sim2"])
@pytest.mark.parametrize("mechanisms", ["per_shop", "shared"])
@pytest.mark.parametrize("d,length,n_graphs", PAPER_SETTINGS)
def test_paper_settings_are_finite_and_not_constant(scenario, mechanisms, d, length, n_graphs):
    sim = simulate(
        scenario,
        n_shops=20,
        n_channels=d,
        length=length,
        n_graphs=n_graphs,
        mechanisms=mechanisms,
        seed=0,
    )
    values = sim.values
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(sim.latent))
    assert values.min() >= 0.0
    assert np.all(values.std(axis=1) > 1e-3)
    assert np.abs(sim.latent).max() < 50.0


@pytest.mark.parametrize("seed", range(5))
def test_adjacency_is_a_dag_with_target_parent(seed):
    sim = simulate("sim1", n_shops=30, n_channels=8, length=20, n_graphs=6, seed=seed)
    adj = sim.adjacency
    d = 8
    assert np.all(np.diagonal(adj, axis1=1, axis2=2) == 0)
    assert np.all(adj[:, :, -1].sum(axis=1) >= 1)  # target has a parent
    assert np.all(adj[:, -1, :] == 0)  # target causes nothing
    assert np.all((adj[:, :d, :d].sum(axis=1) == 0).any(axis=1))  # a source channel
    # Acyclic: A^D == 0 for D nodes.
    power = np.eye(d + 1)
    for _ in range(d + 1):
        power = power @ adj.astype(float)
    assert np.all(power == 0)
    # Each shop's graph is one of the R graphs.
    assert set(np.unique(sim.graph_index)) <= set(range(6))


def test_random_dags_edge_prob_one_is_complete_order():
    graphs = random_dags(3, 4, 1.0, np.random.default_rng(0))
    assert np.all(graphs.sum(axis=(1, 2)) == 5 * 4 // 2)


def test_shared_mechanisms_are_equal_within_a_graph():
    sim = simulate("sim1", n_shops=30, n_channels=5, length=20, n_graphs=2, mechanisms="shared")
    g = sim.graph_index
    first = np.flatnonzero(g == g[0])
    assert first.size >= 2
    np.testing.assert_array_equal(sim.edge_weight[first[0]], sim.edge_weight[first[1]])
    np.testing.assert_array_equal(sim.lag_profile[first[0]], sim.lag_profile[first[1]])


def test_per_shop_mechanisms_differ_within_a_graph():
    sim = simulate("sim1", n_shops=30, n_channels=5, length=20, n_graphs=2, mechanisms="per_shop")
    g = sim.graph_index
    first = np.flatnonzero(g == g[0])
    assert not np.allclose(sim.edge_weight[first[0]], sim.edge_weight[first[1]])
    np.testing.assert_array_equal(sim.adjacency[first[0]], sim.adjacency[first[1]])


def test_mechanism_weights_follow_the_graph():
    sim = simulate("sim2", n_shops=10, n_channels=5, length=20, weight_low=0.5, weight_high=1.5)
    on = sim.adjacency.astype(bool)
    assert np.all(sim.edge_weight[~on] == 0)
    assert np.all((np.abs(sim.edge_weight[on]) >= 0.5) & (np.abs(sim.edge_weight[on]) <= 1.5))
    np.testing.assert_allclose(sim.lag_profile.sum(axis=1), on.astype(float))


def test_sim2_target_is_the_context_hill_curve():
    sim = simulate("sim2", n_shops=6, n_channels=4, length=30, seed=2)
    y = sim.latent[:, :, -1]
    assert np.all((y > 0) & (y < 1))
    np.testing.assert_allclose(sim.values[:, :, -1], 1000.0 * y)
    np.testing.assert_allclose(sim.hill_shape, np.exp(0.3 * sim.context[:, 0]) + 0.5)
    np.testing.assert_allclose(hill(np.array([1.0]), 2.0, 1.0), [0.5])


def test_observed_is_positive_affine_map_of_latent():
    sim = simulate("sim1", n_shops=4, n_channels=3, length=25, seed=7)
    lat, obs = sim.latent, sim.values
    for n in range(4):
        for j in range(4):
            slope = np.polyfit(lat[n, :, j], obs[n, :, j], 1)[0]
            assert slope > 0
            np.testing.assert_allclose(np.corrcoef(lat[n, :, j], obs[n, :, j])[0, 1], 1.0)
    assert obs.min() > 0


@pytest.mark.parametrize("mechanisms", ["per_shop", "shared"])
def test_granger_signal_parents_beat_non_parents(mechanisms):
    sim = simulate("sim1", n_shops=60, n_channels=6, length=120, mechanisms=mechanisms, seed=11)
    adj, lat = sim.adjacency, sim.latent
    parent_r2, other_r2 = [], []
    # Compare, per shop, the target on k true parents vs k non-parents (k = min of both).
    for n in range(adj.shape[0]):
        parents = np.flatnonzero(adj[n, :-1, -1])
        others = np.flatnonzero(adj[n, :-1, -1] == 0)
        k = min(parents.size, others.size)
        if k == 0:
            continue
        y = lat[n : n + 1, :, -1]
        parent_r2.append(_lagged_r2(y, lat[n : n + 1][:, :, parents[:k]], 3)[0])
        other_r2.append(_lagged_r2(y, lat[n : n + 1][:, :, others[:k]], 3)[0])
    parent_r2, other_r2 = np.array(parent_r2), np.array(other_r2)
    print(
        f"\n{mechanisms}: mean R2 parents {parent_r2.mean():.3f}, non-parents {other_r2.mean():.3f}"
    )
    assert len(parent_r2) >= 20
    assert parent_r2.mean() > other_r2.mean() + 0.2
    assert np.mean(parent_r2 > other_r2) > 0.8


@pytest.mark.parametrize(
    "field,value",
    [
        ("scenario", "sim3"),
        ("mechanisms", "global"),
        ("n_shops", 0),
        ("n_channels", 0),
        ("n_graphs", 0),
        ("lag", 0),
        ("length", 7),
        ("seed", -1),
        ("burn_in", 2),
        ("noise_std", 0.0),
        ("edge_prob", 0.0),
        ("edge_prob", 1.5),
        ("weight_low", -1.0),
        ("source_ar", 1.0),
        ("n_shops", 2.5),
        ("start_date", "not a date"),
    ],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        SimulationConfig(**{field: value})


def test_unknown_keyword_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown"):
        simulate("sim1", n_shops=2, not_a_field=1)


def test_config_is_frozen():
    cfg = SimulationConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_shops = 3  # type: ignore[misc]
