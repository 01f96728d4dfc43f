"""The two-group model's alternative density per effect node
(``ModelConfig.evidence_alternative = "effect"``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.guides import calibration


def _three_nodes(seed: int):
    """Node 0: 30% real edges of strong evidence (z ~ N(7, 1.5)); node 1: 50% real edges
    of weak evidence (z ~ N(2, 1)); node 2: null edges only (most of a panel's edges are
    null, which is what identifies the null); nulls N(0, 1). ``(z, group, real)``."""
    rng = np.random.default_rng(seed)
    n = 400
    real = np.r_[rng.random(n) < 0.3, rng.random(n) < 0.5, np.zeros(3 * n, bool)]
    group = np.r_[np.zeros(n, int), np.ones(n, int), np.full(3 * n, 2)]
    strong = np.where(real[:n], rng.normal(7.0, 1.5, n), rng.normal(0.0, 1.0, n))
    weak = np.where(real[n : 2 * n], rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n))
    return np.r_[strong, weak, rng.normal(0.0, 1.0, 3 * n)], group, real


def _posterior(z, group, params):
    curve = calibration.log_odds_curve(params)
    grid = calibration.z_grid()
    logit = np.array([np.interp(v, grid, curve[g]) for v, g in zip(z, group, strict=True)])
    return 1.0 / (1.0 + np.exp(-logit))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_per_node_alternative_calibrates_a_node_of_weak_edges(seed):
    """The shared alternative is set by the strong node, so the weak node's real edges
    read as null (its mean probability far below its share of real edges: 0.004-0.24
    against 0.5 on these seeds); with the alternative per node the weak node's mean
    probability is near its share, its real edges stand out from its null ones, and the
    strong and the null nodes are unchanged."""
    z, group, real = _three_nodes(seed)
    shared = calibration.fit_two_group(z, group, 3, components=1)
    own = calibration.fit_two_group(z, group, 3, components=1, alt_strength=20.0)
    p_shared, p_own = _posterior(z, group, shared), _posterior(z, group, own)
    weak, strong, null = group == 1, group == 0, group == 2
    share = real[weak].mean()
    assert abs(p_own[weak].mean() - share) < 0.2
    assert abs(p_own[weak].mean() - share) < abs(p_shared[weak].mean() - share) - 0.05
    assert p_own[weak & real].mean() > p_own[weak & ~real].mean() + 0.3
    assert abs(p_own[strong].mean() - real[strong].mean()) < 0.03
    assert p_own[null].mean() < 0.01
    assert own["group_mus"].shape == (3, 1) and own["group_mus"][1, 0] < own["group_mus"][0, 0]
    assert (own["mu0"], own["sd0"]) == (shared["mu0"], shared["sd0"])  # the null is held


MERIDIAN = Path(__file__).resolve().parents[3] / "shared" / "datasets" / (
    "meridian_geo_all_channels.csv"
)


@pytest.mark.skipif(not MERIDIAN.exists(), reason="Meridian's sample file is not beside the repo")
def test_per_node_alternative_does_not_take_over_the_null_on_meridians_file():
    """Meridian's geo file: a quarter of its edges have a Wald statistic of 0 (z at the
    floor) and the others sit a few units above. With the null refitted beside per-node
    alternatives, the null shrank onto that pile and every other edge into 8 of the 13
    nodes read as real (p = 1, also into the spend channels); with the null held at the
    shared fit's, edges stay rare and none leads into a spend."""
    frame = pd.read_csv(MERIDIAN)
    data = MarketingMixData.from_frame(frame, shop="geo", time="time", target="conversions")
    mmm = CausalMMM(ModelConfig(hidden=4))
    mmm.prepare(data)
    p = mmm.edge_probability_array(data)
    spends = [data.node_names.index(n) for n in data.spend_names]
    assert (p > 0.5).mean() < 0.1
    assert (p[:, :, spends] > 0.5).sum() == 0


def test_curve_of_a_fit_without_group_alternatives_is_unchanged():
    """Parameters without ``group_mus`` (saved curves, the shared fit) give the curve of
    the shared alternative, whatever the group."""
    z, group, _ = _three_nodes(0)
    shared = calibration.fit_two_group(z, group, 3, components=2)
    tiled = {**shared, "group_mus": np.tile(shared["mus"], (3, 1)),
             "group_sds": np.tile(shared["sds"], (3, 1))}
    np.testing.assert_allclose(calibration.log_odds_curve(shared),
                               calibration.log_odds_curve(tiled))


def test_evidence_alternative_is_validated_and_old_models_keep_the_shared_one():
    assert ModelConfig().evidence_alternative == "effect"
    with pytest.raises(ConfigError, match="evidence_alternative"):
        ModelConfig(evidence_alternative="pair")
    legacy = {k: v for k, v in ModelConfig().to_dict().items() if k != "evidence_alternative"}
    assert ModelConfig.from_dict(legacy).evidence_alternative == "shared"
