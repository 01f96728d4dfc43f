"""Ground truth under do() from the simulator, and the model's effects measured against it."""

from __future__ import annotations

import numpy as np
import pytest

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.decisions.contributions import DecisionConfig, compare_with_truth, contributions
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.simulate import (
    hill,
    mediated_paths,
    simulate,
    true_contributions,
    true_counterfactual,
    true_intervention,
)


@pytest.fixture(scope="module")
def sim():
    return simulate("sim2", n_shops=6, n_channels=4, length=40, n_graphs=3, seed=7)


def test_new_fields_describe_the_process(sim):
    cfg = sim.config
    total = cfg.burn_in + cfg.length
    assert sim.process.shape == sim.innovations.shape == (6, total, 5)
    np.testing.assert_array_equal(sim.process[:, cfg.burn_in :, :4], sim.latent[..., :4])
    u = np.logaddexp(0.0, sim.process[:, cfg.burn_in :, 4])
    y = hill(u, sim.hill_shape[:, None], sim.hill_half[:, None])
    np.testing.assert_allclose(y, sim.latent[..., 4])
    # children are their mechanism plus the stored innovation, exactly
    k = cfg.lag
    coef = (sim.edge_weight[:, None] * sim.lag_profile)[:, ::-1]
    t = 70
    child = np.einsum("nmi,nmij->nj", np.tanh(sim.process[:, t - k : t]), coef)
    has_parents = sim.adjacency.sum(1) > 0
    np.testing.assert_array_equal(
        np.where(has_parents, child + sim.innovations[:, t], 0.0),
        np.where(has_parents, sim.process[:, t], 0.0),
    )


def test_no_change_is_the_data_bit_for_bit(sim):
    nothing = np.zeros((2, *sim.values.shape), dtype=bool)
    nothing[1, :, :, 2] = True  # sets channel 3 to its own observed values
    out = true_counterfactual(sim, nothing, np.broadcast_to(sim.values, nothing.shape))
    np.testing.assert_array_equal(out, np.broadcast_to(sim.values, out.shape))


def test_intervention_recomputes_children_from_their_mechanism(sim):
    n = 0
    adj = sim.adjacency[n]
    c = int(np.flatnonzero(adj[:4].any(1))[0])  # a channel with a child
    path = np.zeros(sim.values.shape[:2])
    out = true_intervention(sim, f"spend_{c + 1}", path, window=None)
    assert (out[:, :, c] == 0).all()
    for j in np.flatnonzero(adj[c]):
        assert (out[n, 1:, j] != sim.values[n, 1:, j]).any()
    descendants, frontier = set(), [c]
    while frontier:
        for j in np.flatnonzero(adj[frontier.pop()]):
            if j not in descendants:
                descendants.add(int(j))
                frontier.append(int(j))
    for j in set(range(5)) - descendants - {c}:  # nothing downstream of c: untouched
        np.testing.assert_array_equal(out[n, :, j], sim.values[n, :, j])
    window = np.zeros(sim.values.shape[:2], dtype=bool)
    window[:, 20:] = True
    late = true_intervention(sim, f"spend_{c + 1}", path, window=window)
    np.testing.assert_array_equal(late[:, :20], sim.values[:, :20])


def test_bad_interventions(sim):
    mask = np.zeros((1, *sim.values.shape), dtype=bool)
    mask[..., 4] = True
    with pytest.raises(ConfigError, match="target"):
        true_counterfactual(sim, mask, np.zeros(mask.shape))
    with pytest.raises(ConfigError, match="do_mask"):
        true_counterfactual(sim, mask[0], np.zeros(mask.shape[1:]))
    with pytest.raises(ConfigError, match="unknown channel"):
        true_intervention(sim, "gmv", np.zeros(sim.values.shape[:2]))


def test_mediated_paths_on_a_known_graph():
    adj = np.zeros((1, 4, 4), dtype=int)  # 0 -> 1 -> 3 (target), 2 -> 3, 0 -> 2
    adj[0, 0, 1] = adj[0, 1, 3] = adj[0, 2, 3] = adj[0, 0, 2] = 1
    np.testing.assert_array_equal(mediated_paths(adj), [[True, False, False]])
    adj[0, 1, 3] = adj[0, 2, 3] = 0
    np.testing.assert_array_equal(mediated_paths(adj), [[False, False, False]])


def test_true_contributions_split(sim):
    t = true_contributions(sim)
    assert len(t) == 6 * 4
    np.testing.assert_allclose(t["total"], t["direct"] + t["indirect"])
    assert (t.loc[~t["mediated"], "indirect"].abs() < 1e-9).all()
    assert (t.loc[t["mediated"], "indirect"].abs() > 1e-6).all()
    reach = mediated_paths(sim.adjacency) | sim.adjacency[:, :4, 4].astype(bool)
    no_path = ~reach.reshape(-1)
    assert (t.loc[no_path, ["total", "direct", "mroas"]].abs() < 1e-9).all().all()


def test_estimated_effects_rank_like_the_true_ones(record_property):
    """Fit on 16 simulated shops; the model's total effects must rank (shop, channel) pairs
    like the simulator's, and its indirect effects must be small where the true graph has
    no path through another channel and large where it has one."""
    sim = simulate("sim2", n_shops=16, n_channels=4, length=60, n_graphs=3, seed=0)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    mmm = CausalMMM(ModelConfig(hidden=16))
    mmm.fit(data, TrainConfig(epochs=10, batch_size=8, seed=0))
    estimated = contributions(mmm, data, config=DecisionConfig(draws=8, seed=0))
    scores = compare_with_truth(estimated.table, true_contributions(sim))
    for key, value in scores.items():
        record_property(key, value)
    print(f"Spearman (estimated vs true total effects): {scores['spearman_total']:.3f}")
    assert scores["spearman_total"] >= 0.75
    assert scores["spearman_total_per_shop"] >= 0.7
    assert scores["indirect_mediated"] > 3 * scores["indirect_unmediated"]
