"""The two-group model's alternative density per effect node
(``ModelConfig.evidence_alternative = "effect"``)."""

from __future__ import annotations

import numpy as np
import pytest

from pyro_causalmmm import ModelConfig
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.guides import calibration


def _two_nodes(seed: int):
    """Node 0: 30% real edges of strong evidence (z ~ N(7, 1.5)); node 1: 50% real edges
    of weak evidence (z ~ N(2, 1)); nulls N(0, 1). ``(z, group, real)``."""
    rng = np.random.default_rng(seed)
    n = 400
    real = np.r_[rng.random(n) < 0.3, rng.random(n) < 0.5]
    group = np.r_[np.zeros(n, int), np.ones(n, int)]
    strong = np.where(real[:n], rng.normal(7.0, 1.5, n), rng.normal(0.0, 1.0, n))
    weak = np.where(real[n:], rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n))
    return np.r_[strong, weak], group, real


def _posterior(z, group, params):
    curve = calibration.log_odds_curve(params)
    grid = calibration.z_grid()
    logit = np.array([np.interp(v, grid, curve[g]) for v, g in zip(z, group, strict=True)])
    return 1.0 / (1.0 + np.exp(-logit))


@pytest.mark.parametrize("seed", [0, 1])
def test_per_node_alternative_calibrates_a_node_of_weak_edges(seed):
    """With one shared alternative the weak node's real edges read as null (its rate near
    0, half of its edges real); with the alternative per node the node's mean probability
    matches its share of real edges, and the strong node is unchanged."""
    z, group, real = _two_nodes(seed)
    shared = calibration.fit_two_group(z, group, 2, components=1)
    own = calibration.fit_two_group(z, group, 2, components=1, alt_strength=20.0)
    p_shared, p_own = _posterior(z, group, shared), _posterior(z, group, own)
    weak, strong = group == 1, group == 0
    assert p_shared[weak].mean() < 0.1  # the failure: 50% real, called almost all absent
    assert abs(p_own[weak].mean() - real[weak].mean()) < 0.06
    assert p_own[weak & real].mean() > 0.6 > p_own[weak & ~real].mean() + 0.2
    assert abs(p_own[strong].mean() - real[strong].mean()) < 0.03
    assert own["group_mus"].shape == (2, 1) and own["group_mus"][1, 0] < own["group_mus"][0, 0]


def test_curve_of_a_fit_without_group_alternatives_is_unchanged():
    """Parameters without ``group_mus`` (saved curves, the shared fit) give the curve of
    the shared alternative, whatever the group."""
    z, group, _ = _two_nodes(0)
    shared = calibration.fit_two_group(z, group, 2, components=2)
    tiled = {**shared, "group_mus": np.tile(shared["mus"], (2, 1)),
             "group_sds": np.tile(shared["sds"], (2, 1))}
    np.testing.assert_allclose(calibration.log_odds_curve(shared),
                               calibration.log_odds_curve(tiled))


def test_evidence_alternative_is_validated_and_old_models_keep_the_shared_one():
    assert ModelConfig().evidence_alternative == "effect"
    with pytest.raises(ConfigError, match="evidence_alternative"):
        ModelConfig(evidence_alternative="pair")
    legacy = {k: v for k, v in ModelConfig().to_dict().items() if k != "evidence_alternative"}
    assert ModelConfig.from_dict(legacy).evidence_alternative == "shared"
