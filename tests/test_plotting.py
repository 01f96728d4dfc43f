"""Plots read an InferenceData and return Figures with the expected artists and labels."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

sys.path.insert(0, str(Path(__file__).parent))
from fake_idata import fake_inference_data  # noqa: E402

from pyro_causalmmm.posterior import summaries  # noqa: E402
from pyro_causalmmm.report import plotting

START = np.datetime64("2024-01-01")


def relabel(idata, *, integer_time=False, shops=None, nodes=None):
    """Return ``idata`` with integer time steps (days since the fake's start) and/or new
    shop / node labels (dicts old -> new), every group relabelled alike."""
    for group in idata.groups():
        ds = idata[group]
        coords = {}
        if integer_time and "time" in ds.coords:
            days = (ds["time"].values - START) // np.timedelta64(1, "D")
            coords["time"] = days.astype(np.int64)
        if shops and "shop" in ds.coords:
            coords["shop"] = [shops.get(str(s), str(s)) for s in ds["shop"].values]
        for dim in ("node", "cause", "effect"):
            if nodes and dim in ds.coords:
                coords[dim] = [nodes.get(str(n), str(n)) for n in ds[dim].values]
        if coords:
            setattr(idata, group, ds.assign_coords(coords))
    if nodes:
        idata.attrs["target_name"] = nodes.get("gmv", "gmv")
    return idata


@pytest.fixture(scope="module")
def idata():
    return fake_inference_data(n_draws=30)


@pytest.fixture(scope="module")
def idata_no_pred():
    return fake_inference_data(n_draws=30, with_predictions=False)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _arrows(fig: Figure) -> list[FancyArrowPatch]:
    return [
        p
        for ax in fig.axes
        for p in ax.patches
        if isinstance(p, FancyArrowPatch) and (p.get_gid() or "").startswith("edge:")
    ]


def _legend_labels(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def _edge_ids(nodes: list[str], mask: np.ndarray) -> set[str]:
    rows, cols = np.nonzero(mask)
    return {f"edge:{nodes[i]}->{nodes[j]}" for i, j in zip(rows, cols, strict=True)}


def _png_ok(fig: Figure) -> None:
    data = base64.b64decode(plotting.figure_to_png_base64(fig))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_graph_nodes_edges_and_styles(idata):
    fig = plotting.plot_graph(idata, "shop_0", draw_above=0)
    assert isinstance(fig, Figure)
    nodes = [str(n) for n in idata["edges"]["cause"].values]
    texts = _texts(fig)
    for node in nodes:
        assert any(t.startswith(node) for t in texts), node
    target = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "node:gmv"][0]
    assert target.get_text() == "gmv (target)" and target.get_fontweight() == "bold"

    p = idata["edges"]["edge_probability"].sel(shop="shop_0").values
    off = ~np.eye(len(nodes), dtype=bool)
    arrows = {a.get_gid(): a for a in _arrows(fig)}
    assert set(arrows) == _edge_ids(nodes, off & (p > 0.2))
    uncertain = off & (p > 0.2) & (p < 0.8)
    assert uncertain.any() and (p >= 0.8).any()  # the fake exercises both styles
    dashed = {g for g, a in arrows.items() if a.get_linestyle() == "--"}
    assert dashed == _edge_ids(nodes, uncertain)
    # wider for larger p
    width = {g: a.get_linewidth() for g, a in arrows.items()}
    prob = {f"edge:{nodes[i]}->{nodes[j]}": p[i, j] for i in range(4) for j in range(4)}
    ordered = sorted(width, key=width.get)
    assert [prob[g] for g in ordered] == sorted(prob[g] for g in ordered)
    assert any("uncertain" in t for t in _legend_labels(fig))
    _png_ok(fig)


def test_plot_graph_thresholds_change_the_drawing(idata):
    fig = plotting.plot_graph(idata, "shop_1", present=0.999, absent=0.001, draw_above=0)
    arrows = _arrows(fig)
    assert len(arrows) == 12  # every off-diagonal edge of 4 nodes, all uncertain
    assert all(a.get_linestyle() == "--" for a in arrows)


def test_plot_pooled_graph(idata):
    fig = plotting.plot_pooled_graph(idata, min_share=0)
    table = summaries.pooled_edges(summaries.edge_table(idata))
    expected = table[(table["present"] > 0) | (table["mean_p_edge"] >= 0.8)]
    arrows = _arrows(fig)
    assert len(arrows) == len(expected)
    widest = max(arrows, key=lambda a: a.get_linewidth()).get_gid()
    top = expected.sort_values("share_present", ascending=False).iloc[0]
    assert expected.loc[
        (expected["cause"] + "->" + expected["effect"]) == widest[5:], "share_present"
    ].item() == pytest.approx(top["share_present"])
    assert any("%" in t for t in _texts(fig))
    assert "3 shops" in fig.axes[0].get_title()


def test_plot_edge_heatmap_cells(idata):
    fig = plotting.plot_edge_heatmap(idata, "shop_2")
    cells = [t for t in _texts(fig) if "\n[" in t]
    assert len(cells) == 4 * 3  # off-diagonal only
    row = summaries.edge_table(idata).query("shop == 'shop_2' and cause == 'spend_1'").iloc[0]
    want = f"{row.p_edge:.2f}\n[{row.weight_hdi_low:.2f}, {row.weight_hdi_high:.2f}]"
    assert want in cells
    image = fig.axes[0].images[0].get_array()
    assert np.ma.getmaskarray(image)[np.eye(4, dtype=bool)].all()  # blank diagonal
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["spend_1", "spend_2", "spend_3", "gmv"]


def _bands(fig: Figure) -> int:
    return sum(isinstance(c, PolyCollection) for c in fig.axes[0].collections)


def test_plot_fit_forecast_with_predictions(idata):
    fig = plotting.plot_fit_forecast(idata, "shop_2")
    labels = _legend_labels(fig)
    for label in ("observed", "fit mean", "fit 90% HDI", "forecast 50% HDI", "forecast origin"):
        assert label in labels
    assert _bands(fig) == 4
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    last_obs = lines["observed"].get_xdata()[-1]
    assert lines["forecast origin"].get_xdata()[0] == last_obs
    assert np.all(lines["forecast mean"].get_xdata() > last_obs)
    assert len(lines["forecast mean"].get_xdata()) == 7
    # the shorter shop's forecast starts right after its own last step
    assert lines["observed"].get_xdata().size == 35
    _png_ok(fig)


def test_plot_fit_forecast_without_predictions_and_other_node(idata_no_pred):
    fig = plotting.plot_fit_forecast(idata_no_pred, "shop_0", node="spend_2")
    labels = _legend_labels(fig)
    assert "fit mean" in labels and not any("forecast" in t for t in labels)
    assert _bands(fig) == 2
    assert "spend_2" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="unknown node"):
        plotting.plot_fit_forecast(idata_no_pred, "shop_0", node="nope")
    with pytest.raises(ValueError, match="unknown shop"):
        plotting.plot_fit_forecast(idata_no_pred, "shop_9")


def test_integer_time_coordinates():
    data = relabel(fake_inference_data(n_draws=20, n_time=25), integer_time=True)
    assert np.issubdtype(data.observed_data["time"].dtype, np.integer)
    fig = plotting.plot_fit_forecast(data, "shop_1")
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    x = np.asarray(lines["forecast mean"].get_xdata())
    assert np.issubdtype(x.dtype, np.integer) and x[0] == 25
    assert lines["forecast origin"].get_xdata()[0] == 24
    for figure in (
        fig,
        plotting.plot_s_curve(data, "shop_1"),
        plotting.plot_ppc(data),
        plotting.plot_pit(data),
    ):
        _png_ok(figure)


def test_plot_ppc_overlays_replicates(idata):
    fig = plotting.plot_ppc(idata, n_replicates=12)
    lines = fig.axes[0].lines
    assert len(lines) == 13
    assert "observed" in _legend_labels(fig) and "replicates (12 draws)" in _legend_labels(fig)
    # each density integrates to about 1
    x, y = lines[-1].get_xdata(), lines[-1].get_ydata()
    assert float(np.sum(y) * (x[1] - x[0])) == pytest.approx(1, abs=0.02)


def test_plot_pit_title_has_coverage(idata):
    fig = plotting.plot_pit(idata, bins=8)
    cover = summaries.ppc_coverage(idata)
    title = fig.axes[0].get_title()
    assert f"50% HDI covers {cover[0.5]:.1%}" in title
    assert f"90% HDI covers {cover[0.9]:.1%}" in title
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_label() != "90% band if uniform"]
    assert len([b for b in bars if b.get_width() == pytest.approx(1 / 8)]) == 8
    assert any(np.allclose(ln.get_ydata(), 1.0) for ln in ax.lines)  # uniform reference


def test_plot_s_curve_band_is_over_context(idata):
    data = fake_inference_data(n_draws=10, with_predictions=False)
    shape = data.posterior["hill_shape"]
    data.posterior["hill_shape"] = shape * (1 + 0.5 * np.sin(np.arange(shape.sizes["time"])))
    fig = plotting.plot_s_curve(data, "shop_0")
    ax = fig.axes[0]
    assert "context" in ax.get_title() and "not parameter uncertainty" in ax.get_title()
    assert "not parameter uncertainty" in plotting.plot_s_curve.__doc__
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1
    points = [c for c in ax.collections if isinstance(c, PathCollection)][0]
    assert len(points.get_offsets()) == 40  # one per observed time step of shop_0
    median = [ln for ln in ax.lines if ln.get_label() == "median curve"][0]
    y = median.get_ydata()
    assert y[0] == 0 and np.all(np.diff(y) >= 0) and y[-1] < 1
    assert median.get_xdata()[-1] > points.get_offsets()[:, 0].max()
    # the shorter shop has 35 steps
    fig2 = plotting.plot_s_curve(data, "shop_2")
    pts2 = [c for c in fig2.axes[0].collections if isinstance(c, PathCollection)][0]
    assert len(pts2.get_offsets()) == 35


def test_plot_training_with_and_without_validation(idata_no_pred):
    fig = plotting.plot_training(idata_no_pred)
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["train"]
    data = fake_inference_data(n_draws=5, with_predictions=False)
    log = data["fit_log"]
    log["val_loss"] = log["train_loss"] + 1.0
    fig = plotting.plot_training(data)
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["train", "validation"]
    assert len(fig.axes[0].lines[0].get_xdata()) == 12


def test_user_labels_are_plain_text_not_tex():
    data = relabel(
        fake_inference_data(n_draws=10, n_time=20),
        shops={"shop_0": "$shop"},
        nodes={"spend_1": "tv $ spend", "gmv": "gmv_$"},
    )
    for fig in (
        plotting.plot_graph(data, "$shop"),
        plotting.plot_edge_heatmap(data, "$shop"),
        plotting.plot_fit_forecast(data, "$shop"),
        plotting.plot_pit(data),
    ):
        _png_ok(fig)  # an unbalanced $ would raise in mathtext


def test_figure_to_png_base64_returns_png(idata):
    fig = plotting.plot_training(idata)
    text = plotting.figure_to_png_base64(fig)
    assert isinstance(text, str) and text.isascii()
    assert base64.b64decode(text)[:4] == b"\x89PNG"
    assert not fig.axes  # cleared


def test_dates_are_dates(idata):
    fig = plotting.plot_fit_forecast(idata, "shop_0")
    x = {ln.get_label(): ln for ln in fig.axes[0].lines}["observed"].get_xdata()
    assert pd.api.types.is_datetime64_any_dtype(np.asarray(x))


def test_default_drawing_keeps_only_likely_edges(idata):
    p = idata["edges"]["edge_probability"].sel(shop="shop_0").values
    n_likely = int(((p > 0.5) & ~np.eye(len(p), dtype=bool)).sum())
    assert len(_arrows(plotting.plot_graph(idata, "shop_0"))) == n_likely
    everything = len(_arrows(plotting.plot_pooled_graph(idata, min_share=0)))
    assert len(_arrows(plotting.plot_pooled_graph(idata, min_share=0.9))) <= everything
