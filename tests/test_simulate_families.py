"""The simulated data families of `pyro_causalmmm.simulate.families` at quick size: shapes,
acyclic true graphs, non-negativity, loading, reproducibility, config checks, and the
VAR F-test sanity property (linear families well above chance, non-monotone near it)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm import MarketingMixData
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.evaluation.baselines import var_ftest_granger
from pyro_causalmmm.evaluation.metrics import edge_metrics
from pyro_causalmmm.simulate import (
    FAMILIES,
    FunnelConfig,
    LorenzConfig,
    MarketingConfig,
    NonMonotoneConfig,
    PopulationConfig,
    Simulation,
    lorenz96_graph,
    simulate_funnel,
    simulate_funnel_daily,
    simulate_funnel_weekly,
    simulate_lorenz96,
    simulate_marketing,
    simulate_nonmonotone,
    simulate_population,
)
from pyro_causalmmm.simulate.funnel import NODE_NAMES as FUNNEL_NODES
from pyro_causalmmm.simulate.nonmonotone import coupling_function

NAMES = sorted(FAMILIES)
ALL_NON_NEGATIVE = {"marketing", "funnel_daily", "funnel_weekly"}


@functools.cache
def quick(name: str, seed: int = 0) -> Simulation:
    return FAMILIES[name].make(seed, quick=True)


def is_acyclic(adj: np.ndarray) -> bool:
    """Kahn's algorithm on one ``(cause, effect)`` matrix."""
    indeg = adj.sum(axis=0).astype(int)
    todo = list(np.flatnonzero(indeg == 0))
    seen = 0
    while todo:
        node = todo.pop()
        seen += 1
        for child in np.flatnonzero(adj[node]):
            indeg[child] -= 1
            if indeg[child] == 0:
                todo.append(child)
    return seen == adj.shape[0]


def test_registry_entries():
    assert set(FAMILIES) == {
        "paper",
        "paper_scurve",
        "population",
        "marketing",
        "funnel_daily",
        "funnel_weekly",
        "lorenz96_f10",
        "lorenz96_f40",
        "nonmonotone",
    }
    for name, spec in FAMILIES.items():
        assert spec.name == name and spec.description and "\n" not in spec.description
    flagged = {name for name, spec in FAMILIES.items() if spec.no_saturation}
    assert flagged == {"lorenz96_f10", "lorenz96_f40", "nonmonotone"}


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_frame(name):
    sim = quick(name)
    n, t, d = sim.latent.shape
    assert 12 <= n <= 20 and t >= 80
    assert sim.adjacency.dtype == np.int8 and sim.adjacency.shape == (n, d, d)
    assert len(sim.node_names) == d and len(sim.shop_ids) == n
    assert sim.graph_index.shape == (n,)
    assert sim.context.shape == (n, len(sim.context_names))
    columns = ["shop", "time", *sim.node_names, *sim.context_names]
    assert list(sim.frame.columns) == columns and len(sim.frame) == n * t
    assert list(sim.frame["shop"].unique()) == list(sim.shop_ids)
    times = pd.DatetimeIndex(sim.frame["time"].iloc[:t])
    step = pd.Timedelta(days=7 if name == "funnel_weekly" else 1)
    assert (np.diff(times) == step).all()
    if not name.startswith("paper"):
        assert times[0] == pd.Timestamp("2024-01-01")
    assert np.isfinite(sim.values).all() and np.isfinite(sim.latent).all()
    assert set(sim.spend_names) <= set(sim.node_names[:-1])


@pytest.mark.parametrize("name", NAMES)
def test_graphs_are_dags_with_zero_diagonal(name):
    sim = quick(name)
    assert set(np.unique(sim.adjacency)) <= {0, 1}
    assert (np.diagonal(sim.adjacency, axis1=1, axis2=2) == 0).all()
    assert (sim.adjacency[:, :, -1].sum(axis=1) >= 1).all()  # the target has a parent
    if not name.startswith("lorenz"):  # Lorenz-96 is a ring with cycles, by design
        assert all(is_acyclic(a) for a in sim.adjacency)


@pytest.mark.parametrize("name", NAMES)
def test_non_negative_and_loads(name):
    sim = quick(name)
    values = sim.values
    assert (values[:, :, -1] >= 0).all()
    assert (values[:, :, -1].max(axis=1) > values[:, :, -1].min(axis=1)).all()
    for name_ in sim.spend_names:
        assert (sim.frame[name_] >= 0).all()
    if name in ALL_NON_NEGATIVE:
        assert (values >= 0).all() and len(sim.spend_names) >= 4
    data = MarketingMixData.from_frame(
        sim.frame,
        target=sim.node_names[-1],
        channels=list(sim.node_names[:-1]),
        context=list(sim.context_names) or None,
        spend=list(sim.spend_names) or [],
    )
    assert data.n_shops == values.shape[0] and data.n_nodes == values.shape[2]
    np.testing.assert_allclose(data.values, values)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_reproducibility(name):
    a, b = quick(name, 0), FAMILIES[name].make(0, quick=True)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)
    c = quick(name, 1)
    assert not np.allclose(a.values, c.values)


@pytest.mark.parametrize("name", NAMES)
def test_var_ftest_sanity(name):
    """Mean per-shop AUROC of the lag-3 VAR F-test (fixed seed, so deterministic)."""
    sim = quick(name)
    scores = var_ftest_granger(sim.values, lags=3)
    auc = edge_metrics(scores, sim.adjacency)["auroc_per_shop_mean"]
    if name == "nonmonotone":
        assert auc <= 0.65
    else:
        assert 0.6 < auc < 0.995


def test_population_shares_graphs_and_mechanism():
    sim = simulate_population(n_shops=40, seed=3)
    assert len(np.unique(sim.graph_index)) <= 3
    for g in np.unique(sim.graph_index):
        shops = np.flatnonzero(sim.graph_index == g)
        assert (sim.adjacency[shops] == sim.adjacency[shops[0]]).all()
        assert (sim.edge_weight[shops] == sim.edge_weight[shops[0]]).all()
        assert (sim.lag_profile[shops] == sim.lag_profile[shops[0]]).all()
    sources = (sim.adjacency[:, :, :-1].sum(axis=1) == 0).sum(axis=1)
    assert (sources == 5).all()
    assert sim.lag_profile.shape[1] == 6
    on_edges = sim.lag_profile.sum(axis=1)[sim.adjacency == 1]
    np.testing.assert_allclose(on_edges, 1.0)


def test_funnel_graph_order_and_weekly_sums():
    daily = simulate_funnel_daily(n_shops=5, length=30, seed=2)
    assert daily.node_names == FUNNEL_NODES
    assert (np.tril(daily.adjacency) == 0).all()  # a DAG in the funnel order
    assert (daily.adjacency[:, :, :4] == 0).all()  # spends have no parents
    weekly = simulate_funnel_weekly(n_shops=3, length=12, seed=4)
    times = pd.DatetimeIndex(weekly.frame["time"].iloc[:12])
    assert (np.diff(times) == pd.Timedelta(days=7)).all()
    twin = simulate_funnel(dataclasses.replace(weekly.config, weekly=False, length=84))
    sums = twin.values.reshape(3, 12, 7, len(FUNNEL_NODES)).sum(axis=2)
    np.testing.assert_allclose(weekly.values, sums, rtol=1e-12)
    np.testing.assert_array_equal(weekly.adjacency, twin.adjacency)


def test_lorenz_structure_up_to_permutation():
    sim = simulate_lorenz96(n_shops=4, length=20, burn_in=50, seed=1)
    ring = lorenz96_graph(10)
    assert (ring.sum(axis=0) == 3).all() and (ring.sum(axis=1) == 3).all()
    assert ring[9, 0] == ring[1, 0] == ring[8, 0] == 1
    perm = sim.params["permutation"]
    assert len({tuple(p) for p in perm}) > 1  # graphs differ between shops
    for a, p in zip(sim.adjacency, perm, strict=True):
        np.testing.assert_array_equal(a, ring[np.ix_(p, p)])
    plain = simulate_lorenz96(n_shops=2, length=20, burn_in=50, permute=False, seed=1)
    np.testing.assert_array_equal(plain.adjacency, np.broadcast_to(ring, (2, 10, 10)))


def test_nonmonotone_coupling_is_even_and_bounded():
    z = np.linspace(-8.0, 8.0, 161)
    for coupling in ("fold", "quadratic"):
        f = coupling_function(z, coupling)
        np.testing.assert_allclose(f, f[::-1], atol=1e-12)
        assert np.abs(f).max() < 10.0
    draws = coupling_function(np.random.default_rng(0).normal(size=200_000), "fold")
    assert abs(draws.mean()) < 0.02 and abs(draws.var() - 1.0) < 0.02


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (PopulationConfig, {"n_sources": 6}),
        (MarketingConfig, {"decay_high": 1.0}),
        (FunnelConfig, {"p_views": 1.5}),
        (LorenzConfig, {"dt": 0.5}),
        (NonMonotoneConfig, {"coupling": "cubic"}),
    ],
)
def test_config_validation(make, bad):
    with pytest.raises(ConfigError):
        make(**bad)


@pytest.mark.parametrize(
    "function",
    [
        simulate_population,
        simulate_marketing,
        simulate_funnel,
        simulate_lorenz96,
        simulate_nonmonotone,
    ],
)
def test_unknown_setting_raises(function):
    with pytest.raises(ConfigError, match="unknown setting"):
        function(n_shops=2, not_a_field=1)
