"""The linear term's column layout (models.design) and the calendar baseline
(models.baseline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyro_causalmmm.models.baseline import CalendarBasis, default_periods, fit_calendar
from pyro_causalmmm.models.design import DesignLayout, design_gates, design_matrix


def test_design_columns_in_documented_order():
    torch.manual_seed(0)
    B, T, D, L, K = 2, 6, 3, 2, 2
    layout = DesignLayout(D, L, same=(0,), n_exog=K)
    x = torch.randn(B, T, D)
    exog = torch.randn(B, T, K)
    X = design_matrix(x, exog, layout)
    assert X.shape == (B, T, D * L + 1 + K + 1) == (B, T, layout.width)
    t = 4
    assert torch.equal(X[:, t, 1 * L + 1], x[:, t - 2, 1])  # node 1, lag 2
    assert torch.equal(X[:, t, layout.same_slice], x[:, t, [0]])  # spend 0 now
    assert torch.equal(X[:, t, layout.exog_slice], exog[:, t])
    assert torch.equal(X[..., -1], torch.ones(B, T))
    assert torch.equal(X[:, 0, : D * L], torch.zeros(B, D * L))  # nothing before t = 0


def test_gates_follow_the_graph_and_spare_the_baseline():
    D, L = 3, 2
    layout = DesignLayout(D, L, same=(0, 1), n_exog=3)
    adj = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])[None]
    g = design_gates(adj, layout)[0]  # (effect, P)
    assert torch.equal(g[2, : D * L], torch.tensor([1.0, 1, 0, 0, 1, 1]))  # 0 -> 2, own
    assert torch.equal(g[2, layout.same_slice], torch.tensor([1.0, 0.0]))  # 0 -> 2 now
    assert torch.equal(g[1, layout.same_slice], torch.zeros(2))  # spends: no same-period parent
    assert torch.equal(g[:, layout.exog_slice], torch.ones(D, 3))
    assert torch.equal(g[:, -1], torch.ones(D))


@pytest.mark.parametrize("same", [(1, 0), (0, 0), (5,)])
def test_layout_rejects_bad_same_period_nodes(same):
    with pytest.raises(ValueError):
        DesignLayout(3, 2, same=same)


def test_design_refuses_missing_baseline_columns():
    layout = DesignLayout(2, 1, n_exog=2)
    with pytest.raises(ValueError, match="2 baseline columns"):
        design_matrix(torch.zeros(1, 4, 2), None, layout)


def test_calendar_periods_follow_the_step():
    assert default_periods(1.0, 182.0, 2) == ((7.0, 3), (365.25, 2))
    assert default_periods(1.0, 60.0, 2) == ((7.0, 3),)  # too short for a yearly cycle
    assert default_periods(7.0, 1092.0, 2) == ((365.25, 2),)  # weekly data: no weekly cycle
    assert default_periods(None, 500.0, 2) == ()  # integer time: no calendar
    assert default_periods(1.0, 400.0, 0) == ()


def test_calendar_columns_and_round_trip():
    day = np.arange(0.0, 730.0, 7.0)[None]
    observed = np.ones_like(day, dtype=bool)
    basis = fit_calendar(day, observed, 7.0, 2, True)
    cols = basis.columns(day)
    assert cols.shape == (1, day.shape[1], 5) and basis.width == 5
    assert basis.names() == ["trend", "yearly_cos1", "yearly_sin1", "yearly_cos2", "yearly_sin2"]
    assert cols[0, 0, 0] == -1.0 and cols[0, -1, 0] == 1.0  # trend spans -1 .. 1
    np.testing.assert_allclose(cols[0, :, 1], np.cos(2 * np.pi * day[0] / 365.25))
    assert CalendarBasis.from_dict(basis.to_dict()) == basis
    assert fit_calendar(day, observed, None, 2, False) is None  # no column at all
    with pytest.raises(ValueError):
        CalendarBasis(0.0, 0.0, True)


def test_trend_is_held_outside_the_training_span():
    basis = CalendarBasis(origin=0.0, span=100.0, trend=True)
    cols = basis.columns(np.array([-50.0, 0.0, 50.0, 100.0, 130.0, 400.0]))
    np.testing.assert_allclose(cols[:, 0], [-1.0, -1.0, 0.0, 1.0, 1.0, 1.0])


def test_funnel_rank_orders_responders_after_spends():
    from pyro_causalmmm.models.design import funnel_rank

    names = ["tv", "views", "search", "clicks", "gmv"]
    assert funnel_rank(names, {"tv", "search"}) == [0, 1, 0, 2, 3]


def test_funnel_gates_let_a_responder_reach_only_later_responders():
    """Nodes 0 spend (rank 0), 1 and 2 responders (ranks 1, 2), 3 the target (rank 3):
    node 1's current value may enter 2 and 3, node 2's only 3, nothing enters node 0 or
    goes backwards in the order; a missing edge still closes its column."""
    D, L = 4, 2
    layout = DesignLayout(D, L, same=(0, 1, 2), rank=(0, 1, 2, 3))
    assert layout.depth == 3
    allowed = layout.same_allowed()
    assert allowed.tolist() == [
        [False, True, True, True],
        [False, False, True, True],
        [False, False, False, True],
    ]
    adj = torch.ones(1, D, D) * (1 - torch.eye(D))
    g = design_gates(adj, layout)[0][:, layout.same_slice]  # (effect, n_same)
    assert torch.equal(g, allowed.T.float())
    adj[0, 1, 3] = 0.0
    g = design_gates(adj, layout)[0][:, layout.same_slice]
    assert g[3].tolist() == [1.0, 0.0, 1.0]
    # without a rank: the spends-only rule (one pass)
    assert DesignLayout(D, L, same=(0,)).depth == 1
    assert DesignLayout(D, L, same=(0,)).ranks == (0, 1, 1, 1)


@pytest.mark.parametrize("rank", [(0, 1), (0, -1, 2)])
def test_layout_rejects_bad_ranks(rank):
    with pytest.raises(ValueError):
        DesignLayout(3, 2, same=(0,), rank=rank)
