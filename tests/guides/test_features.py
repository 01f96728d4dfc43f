"""The block-update Bayes factors of the encoder's features against their definition."""

from __future__ import annotations

import torch


def _direct_log_bf(gtg, gtr, rtr, n, gate, lags, prior_scale):
    """Reference: one evidence per edge and model (the definition, O(P^3) per edge)."""
    from pyro_causalmmm.models.linear import evidence_from_moments

    D, P = gtr.shape[1], gtr.shape[-1]
    eye = torch.eye(D, dtype=gtg.dtype)
    col_cause = torch.arange(P) // lags
    g = torch.cat([gate * (1 - eye) + eye, torch.ones_like(gate[:, :1])], dim=1)
    gc = g[:, col_cause, :].transpose(1, 2)
    gg = gtg * gc[..., :, None] * gc[..., None, :]
    sigma0 = (rtr / n).sqrt().clamp_min(1e-3)
    _, beta = evidence_from_moments(gg, gtr * gc, rtr, n, sigma0, prior_scale)
    rss = (
        rtr
        - 2 * (beta * gtr * gc).sum(-1)
        + (beta[..., None, :] @ gg @ beta[..., :, None])[..., 0, 0]
    )
    sigma = (rss.clamp_min(1e-6) / n).sqrt().clamp_min(1e-3)
    own = (col_cause[None, :] == torch.arange(D)[:, None]).to(gtg.dtype)
    on = gc[:, None] * (1 - own[None, :, None, :]) + own[None, :, None, :]
    off = gc[:, None] * (1 - own[None, :, None, :])

    def log_ev(cols):
        return evidence_from_moments(
            gtg[:, None] * cols[..., :, None] * cols[..., None, :],
            gtr[:, None] * cols,
            rtr[:, None],
            n[:, None],
            sigma[:, None],
            prior_scale,
        )[0]

    return (log_ev(on) - log_ev(off)) * (1 - eye)


def test_block_update_bayes_factors_equal_the_direct_definition():
    from pyro_causalmmm.guides.features import _gated_log_bf, _lag_moments

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 60, 5, generator=g, dtype=torch.float64)
    x[:, 1:, 3] += 0.8 * x[:, :-1, 1]
    mask = torch.ones(6, 60, dtype=torch.bool)
    mask[2, 45:] = False
    moments = _lag_moments(x, mask, 3)
    for gate in (
        torch.ones(6, 5, 5, dtype=torch.float64),
        torch.rand(6, 5, 5, generator=g, dtype=torch.float64),
    ):
        fast = _gated_log_bf(*moments, gate, 3, 0.5)
        direct = _direct_log_bf(*moments, gate, 3, 0.5)
        torch.testing.assert_close(fast, direct, rtol=1e-9, atol=1e-9)
    assert fast[:, 1, 3].min() > 2  # the planted edge is supported in every shop


def test_same_period_evidence_sees_an_effect_within_the_step():
    """y_t = 2 s_t + noise with s white noise: no lag of s predicts y, its current value
    does. The advanced design (lags 0..L-1 of the spend) finds the edge; the lagged one
    cannot; edges into the spend itself are left to the lagged design."""
    from pyro_causalmmm.guides.evidence import edge_evidence_stats

    torch.manual_seed(0)
    B, T = 8, 80
    s = torch.randn(B, T)
    other = torch.randn(B, T)
    y = 2 * s + 0.5 * torch.randn(B, T)
    x = torch.stack([s, other, y], dim=-1)
    mask = torch.ones(B, T, dtype=torch.bool)
    _, _, z_lag = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True)
    _, _, z_now = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, advance=(0,))
    assert z_now[:, 0, 2].min() > 5, z_now[:, 0, 2]
    assert z_lag[:, 0, 2].max() < 2.5, z_lag[:, 0, 2]  # no evidence from the lags
    assert z_now[:, 1, 2].abs().median() < 2  # the unrelated series stays null


def test_even_test_sees_a_v_shaped_coupling_the_linear_tests_miss():
    """y_t = |s_{t-1}| (centred) + noise: no linear or monotone signal, all of it in the
    squares. With ``even`` the edge's z-score is large; without it near the null."""
    from pyro_causalmmm.guides.evidence import edge_evidence_stats

    torch.manual_seed(1)
    B, T = 8, 150
    s = torch.randn(B, T)
    other = torch.randn(B, T)
    y = torch.zeros(B, T)
    y[:, 1:] = 1.5 * (s[:, :-1].abs() - 0.8) + 0.5 * torch.randn(B, T - 1)
    x = torch.stack([s, other, y], dim=-1)
    mask = torch.ones(B, T, dtype=torch.bool)
    _, _, z_lin = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True)
    _, _, z_even = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, even=True)
    assert z_even[:, 0, 2].min() > 5, z_even[:, 0, 2]
    assert z_lin[:, 0, 2].median() < 2, z_lin[:, 0, 2]
    assert z_even[:, 1, 2].median() < 2  # the unrelated series stays null


def test_explicit_degrees_of_freedom_match_the_lag_groups():
    from pyro_causalmmm.guides.calibration import lag_test_z

    w = torch.rand(4, 6) * 10
    dof = torch.tensor([1.0, 2, 3, 1, 2, 3])
    assert torch.allclose(lag_test_z(w, 3), lag_test_z(w, dof=dof))


def test_paired_design_blocks_hold_both_series_of_a_node():
    from pyro_causalmmm.guides.nonlinear import even_scores, paired_lag_matrix

    torch.manual_seed(0)
    x = torch.randn(2, 10, 3)
    mask = torch.ones(2, 10, dtype=torch.bool)
    q = even_scores(x, mask)
    assert torch.allclose(q.mean(1), torch.zeros(2, 3), atol=1e-5)
    X = paired_lag_matrix(x, q, 2)
    assert X.shape == (2, 10, 3 * 4 + 1)
    t = 5
    assert torch.equal(
        X[:, t, 4:8],
        torch.stack([x[:, t - 1, 1], x[:, t - 2, 1], q[:, t - 1, 1], q[:, t - 2, 1]], -1),
    )


def test_product_test_sees_a_coupling_through_a_product_of_two_parents():
    """y_t = s_{t-1} u_{t-1} + noise (a Lorenz-96 coupling): no linear, monotone or even
    signal in either parent alone. With ``products`` both parents' z-scores are large;
    without it they stay near the null, and an unrelated series stays null either way."""
    from pyro_causalmmm.guides.evidence import edge_evidence_stats

    torch.manual_seed(2)
    B, T = 8, 200
    s, u, other = torch.randn(3, B, T)
    y = torch.zeros(B, T)
    y[:, 1:] = 1.5 * s[:, :-1] * u[:, :-1] + 0.5 * torch.randn(B, T - 1)
    x = torch.stack([s, u, other, y], dim=-1)
    mask = torch.ones(B, T, dtype=torch.bool)
    _, _, z_off = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, even=True)
    _, _, z_on = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, even=True, products=True)
    assert z_on[:, 0, 3].min() > 5 and z_on[:, 1, 3].min() > 5, z_on[:, :2, 3]
    assert z_off[:, 0, 3].median() < 2 and z_off[:, 1, 3].median() < 2, z_off[:, :2, 3]
    assert z_on[:, 2, 3].median() < 2, z_on[:, 2, 3]


def test_product_wald_is_about_chi_square_without_interactions():
    """Independent noise series: the product statistic of each (cause, effect) has mean
    about its D - 1 degrees of freedom, and the diagonal is 0."""
    from pyro_causalmmm.guides.nonlinear import product_wald

    torch.manual_seed(3)
    B, T, D = 40, 300, 4
    x = torch.randn(B, T, D)
    mask = torch.ones(B, T, dtype=torch.bool)
    stat = product_wald(x, mask, 2, 0.5)
    assert stat.shape == (B, D, D)
    assert torch.equal(torch.diagonal(stat, dim1=1, dim2=2), torch.zeros(B, D))
    off = stat[:, ~torch.eye(D, dtype=torch.bool)]
    assert 0.8 * (D - 1) < off.mean() < 1.25 * (D - 1), off.mean()


def test_product_wald_ignores_padding():
    """A shop padded at the end gives the statistics of its observed steps alone."""
    from pyro_causalmmm.guides.nonlinear import product_wald

    torch.manual_seed(4)
    x = torch.randn(1, 80, 3)
    mask = torch.ones(1, 80, dtype=torch.bool)
    padded = torch.cat([x, torch.zeros(1, 20, 3)], 1)
    pmask = torch.cat([mask, torch.zeros(1, 20, dtype=torch.bool)], 1)
    a = product_wald(x, mask, 2, 0.5)
    b = product_wald(padded, pmask, 2, 0.5)
    assert torch.allclose(a, b, atol=1e-5)


def test_product_wald_gives_the_same_statistics_in_shop_chunks(monkeypatch):
    from pyro_causalmmm.guides import nonlinear

    torch.manual_seed(5)
    x = torch.randn(5, 60, 4)
    mask = torch.ones(5, 60, dtype=torch.bool)
    whole = nonlinear.product_wald(x, mask, 2, 0.5)
    monkeypatch.setattr(nonlinear, "_CHUNK_DOUBLES", 1)  # one shop per chunk
    assert torch.allclose(nonlinear.product_wald(x, mask, 2, 0.5), whole, atol=1e-6)


def test_product_test_is_left_out_for_shops_too_short_for_its_columns():
    """A panel too short for the product regression (D = 12: 103 columns on 60 rows) gets
    no product statistic (NaN), and the combined z-scores equal those without the test;
    a NaN statistic is left out of the ACAT combination."""
    from pyro_causalmmm.guides.calibration import lag_test_z
    from pyro_causalmmm.guides.evidence import edge_evidence_stats
    from pyro_causalmmm.guides.nonlinear import product_wald

    torch.manual_seed(6)
    x = torch.randn(3, 63, 12)
    mask = torch.ones(3, 63, dtype=torch.bool)
    assert torch.isnan(product_wald(x, mask, 3, 0.5)).all()
    _, _, z_off = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, even=True)
    _, _, z_on = edge_evidence_stats(x, mask, 3, 0.5, 1, 0.0, True, even=True, products=True)
    assert torch.allclose(z_on, z_off)
    w = torch.tensor([[4.0, 1.0, float("nan")]])
    dof = torch.tensor([1.0, 2.0, 9.0])
    assert torch.allclose(lag_test_z(w, dof=dof), lag_test_z(w[:, :2], dof=dof[:2]))


def test_evidence_of_several_designs_in_one_pass_equals_separate_passes():
    """The stacked pass of ``edge_evidence_variants`` (the lagged and the same-period
    design together) gives what ``edge_evidence_stats`` gives for each design alone."""
    from pyro_causalmmm.guides.evidence import edge_evidence_stats, edge_evidence_variants

    torch.manual_seed(7)
    x = torch.randn(4, 90, 5)
    mask = torch.ones(4, 90, dtype=torch.bool)
    mask[1, 70:] = False
    args = (3, 0.5, 1, 0.0, True, 1)
    designs = ((), (0, 1))
    got = edge_evidence_variants(x, mask, *args, designs, True, True)
    for advance, variant in zip(designs, got, strict=True):
        alone = edge_evidence_stats(x, mask, *args, advance, True, True)
        for a, b in zip(alone, variant, strict=True):
            torch.testing.assert_close(a, b)


def test_per_effect_designs_equal_the_edges_picked_from_each_design():
    """``which``: effect j's edges from design ``which[j]`` in one batched pass, the same
    numbers as running every design for every effect and picking (the funnel's ranks)."""
    from pyro_causalmmm.guides.evidence import edge_evidence_variants

    torch.manual_seed(8)
    x = torch.randn(4, 100, 5)
    x[..., 3] += 0.7 * x[..., 2]
    mask = torch.ones(4, 100, dtype=torch.bool)
    mask[2, 80:] = False
    args = (3, 0.5, 1, 0.0, True, 1)
    designs = ((), (0, 1), (0, 1, 2), (0, 1, 2, 3))
    which = torch.tensor([0, 0, 1, 2, 3])
    one = edge_evidence_variants(x, mask, *args, designs, True, True, which=which)
    assert len(one) == 1
    every = edge_evidence_variants(x, mask, *args, designs, True, True)
    for k in range(3):
        for j in range(5):
            torch.testing.assert_close(one[0][k][:, :, j], every[int(which[j])][k][:, :, j])
