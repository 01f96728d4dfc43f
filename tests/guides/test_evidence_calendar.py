"""The model's baseline columns in the edge evidence (``ModelConfig.evidence_calendar``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.guides import AmortizedGraphGuide
from pyro_causalmmm.guides.evidence import edge_evidence_stats
from pyro_causalmmm.models.baseline import CalendarBasis, evidence_columns


def _weekly_pattern_pair(seed: int, shops: int = 6, T: int = 140):
    """Two nodes with no edge between them that share a day-of-week pattern (each its own
    phase) and an independent AR(1) noise: ``(x (shop, T, 2), weekly Fourier (shop, T, 6))``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float64)
    cols = [f(2 * np.pi * h * t / 7) for h in (1, 2, 3) for f in (torch.cos, torch.sin)]
    basis = torch.stack(cols, -1)[None].expand(shops, T, 6)
    x = torch.zeros(shops, T, 2, dtype=torch.float64)
    phase = torch.rand(shops, 2, generator=g, dtype=torch.float64) * 7
    pattern = torch.cos(2 * np.pi * (t[None, :, None] - phase[:, None]) / 7)
    noise = torch.randn(shops, T, 2, generator=g, dtype=torch.float64)
    for s in range(1, T):
        x[:, s] = 0.5 * x[:, s - 1] + noise[:, s]
    return (x + 2.0 * pattern).float(), basis.float()


def test_baseline_columns_remove_a_shared_weekly_pattern_from_the_evidence():
    """Without the calendar, the lags of a node with its own weekly pattern predict the
    other node's pattern (the effect's own three lags cannot): a strong false edge. With
    the weekly columns always on, the same test is at the null (|z| small)."""
    x, basis = _weekly_pattern_pair(0)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    _, _, z_off = edge_evidence_stats(x, mask, 3, 0.5, ranks=True)
    _, _, z_on = edge_evidence_stats(x, mask, 3, 0.5, ranks=True, exog=basis)
    assert z_off[:, 0, 1].median() > 3 and z_off[:, 1, 0].median() > 3
    assert z_on[:, 0, 1].abs().median() < 1.5 and z_on[:, 1, 0].abs().median() < 1.5


def test_baseline_columns_keep_a_real_edge():
    """A real lagged edge 0 -> 1 on top of the shared pattern is still found with the
    calendar in the evidence."""
    x, basis = _weekly_pattern_pair(1)
    x = x.clone()
    x[:, 1:, 1] += 0.8 * x[:, :-1, 0]
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    _, _, z = edge_evidence_stats(x, mask, 3, 0.5, ranks=True, exog=basis)
    assert z[:, 0, 1].min() > 4


def test_evidence_columns_by_mode():
    """Context layout: S-curve columns, controls, then the calendar columns."""
    cal = CalendarBasis(0.0, 100.0, True, ((7.0, 1), (365.25, 1)))
    assert cal.names() == ["trend", "weekly_cos1", "weekly_sin1", "yearly_cos1", "yearly_sin1"]
    assert evidence_columns("off", 3, 1, cal) == ()
    assert evidence_columns("all", 3, 1, cal) == (2, 3, 4, 5, 6, 7)
    assert evidence_columns("slow", 3, 1, cal) == (2, 3, 6, 7)
    assert evidence_columns("slow", 2, 0, None) == ()


def test_guide_with_baseline_columns_needs_the_context():
    guide = AmortizedGraphGuide(ModelConfig(hidden=4, evidence_calendar="all"), 3, exog=(1,))
    x = torch.randn(2, 30, 3)
    mask = torch.ones(2, 30, dtype=torch.bool)
    with pytest.raises(ValueError, match="pass context"):
        guide.edge_logits(x, mask)
    assert guide.edge_logits(x, mask, torch.randn(2, 30, 2)).shape == (2, 6)


def test_evidence_calendar_is_validated_and_old_models_load_without_it():
    with pytest.raises(ConfigError, match="evidence_calendar"):
        ModelConfig(evidence_calendar="weekly")
    assert ModelConfig().evidence_calendar == "off"
    legacy = {k: v for k, v in ModelConfig(evidence_calendar="all").to_dict().items()
              if k != "evidence_calendar"}
    assert ModelConfig.from_dict(legacy).evidence_calendar == "off"


def _daily_panel(shops: int = 4, T: int = 120) -> MarketingMixData:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=T, freq="D")
    rows = []
    for s in range(shops):
        ads = rng.gamma(2.0, 50.0, T)
        week = 1 + 0.3 * np.cos(2 * np.pi * (np.arange(T) - s) / 7)
        gmv = 1000 * week + 2.0 * np.r_[0, ads[:-1]] + rng.normal(0, 30, T)
        rows.append(pd.DataFrame({"shop": f"s{s}", "time": days, "ads": ads, "gmv": gmv}))
    return MarketingMixData.from_frame(pd.concat(rows), target="gmv", spend=["ads"])


@pytest.mark.parametrize("mode", ["off", "slow", "all"])
def test_fitted_preparation_reads_the_chosen_columns(mode):
    """``prepare`` hands the guide the calendar columns of the mode, and the edge
    probabilities and evidence come from them (daily data: trend and weekly columns; 120
    days: yearly too)."""
    data = _daily_panel()
    mmm = CausalMMM(ModelConfig(hidden=4, evidence_calendar=mode))
    mmm.prepare(data)
    names = mmm.calendar.names()
    expect = {"off": 0, "slow": sum("weekly" not in n for n in names), "all": len(names)}
    assert len(mmm.guide.exog_cols) == expect[mode]
    p = mmm.edge_probability_array(data)
    assert p.shape == (4, 2, 2) and np.isfinite(p).all()
    assert p[:, 0, 1].min() > 0.5  # ads -> gmv is a strong real edge in every mode
    assert np.isfinite(mmm.edge_evidence_array(data)).all()
