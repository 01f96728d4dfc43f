"""Graph figures: one shop's learned graph next to its edge probabilities, the pooled
graph across shops, and the edge heatmap with intervals.
"""


from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from pyro_causalmmm.posterior import summaries
from pyro_causalmmm.posterior.stats import hdi
from pyro_causalmmm.report.style import (
    CHANNEL_COLOR,
    PLAIN,
    PRESENT_COLOR,
    TARGET_COLOR,
    UNCERTAIN_COLOR,
    _draws,
    _shop,
)


def _circle_layout(nodes: list[str], target: str) -> dict[str, np.ndarray]:
    """Nodes evenly on the unit circle, the target at angle 0 (the right-hand side)."""
    order = [target] + [n for n in nodes if n != target] if target in nodes else list(nodes)
    angles = 2 * np.pi * np.arange(len(order)) / max(len(order), 1)
    return {n: np.array([np.cos(t), np.sin(t)]) for n, t in zip(order, angles, strict=True)}


def _draw_graph(
    fig: Figure,
    nodes: list[str],
    target: str,
    edges: list[tuple[str, str, float, str, str]],
    title: str,
    width_note: str,
    present: float,
    absent: float,
) -> Figure:
    """Draw ``edges`` ``(cause, effect, width in [0, 1], decision, label)`` on a circle.

    Each edge is a :class:`FancyArrowPatch` with ``gid`` ``"edge:cause->effect"``, solid
    for ``present`` and dashed for ``uncertain``; its line width is ``0.6 + 5 * width``.
    """
    ax = fig.add_subplot()
    pos = _circle_layout(nodes, target)
    node_size = 900.0  # points^2 of the node markers
    shrink = np.sqrt(node_size) / 2 + 3  # arrows stop at the marker's rim (points)
    rad = 0.12  # arcs, so that a->b and b->a do not overlap
    for cause, effect, width, decision, label in edges:
        a, b = pos[cause], pos[effect]
        dashed = decision != "present"
        lw = 0.6 + 5.0 * float(np.clip(width, 0, 1))
        arrow = FancyArrowPatch(
            a,
            b,
            arrowstyle="-|>",
            mutation_scale=10 + 2 * lw,
            linewidth=lw,
            linestyle="--" if dashed else "-",
            color=UNCERTAIN_COLOR if dashed else PRESENT_COLOR,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=shrink,
            shrinkB=shrink,
            alpha=0.9,
            zorder=1,
        )
        arrow.set_gid(f"edge:{cause}->{effect}")
        ax.add_patch(arrow)
        if label:
            # midpoint of matplotlib's arc3 quadratic Bezier: mid + rad/2 * (dy, -dx)
            d = b - a
            mid = (a + b) / 2 + 0.5 * rad * np.array([d[1], -d[0]])
            ax.text(
                *mid,
                label,
                fontsize=7,
                ha="center",
                va="center",
                color=UNCERTAIN_COLOR if dashed else PRESENT_COLOR,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=3,
            )
    for name, xy in pos.items():
        is_target = name == target
        ax.scatter(
            *xy,
            s=node_size * (1.3 if is_target else 1.0),
            c=TARGET_COLOR if is_target else CHANNEL_COLOR,
            edgecolors="black",
            linewidths=1.5 if is_target else 0.8,
            zorder=2,
        )
        ha = "left" if xy[0] > 0.3 else "right" if xy[0] < -0.3 else "center"
        va = "bottom" if xy[1] > 0.3 else "top" if xy[1] < -0.3 else "center"
        ax.text(
            *(xy * 1.2),
            name + (" (target)" if is_target else ""),
            ha=ha,
            va=va,
            fontsize=10,
            fontweight="bold" if is_target else "normal",
            gid=f"node:{name}",
            **PLAIN,
        )
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, **PLAIN)
    handles = [
        Line2D([], [], color=PRESENT_COLOR, lw=2.5, ls="-", label=f"present (p ≥ {present:g})"),
        Line2D(
            [],
            [],
            color=UNCERTAIN_COLOR,
            lw=1.5,
            ls="--",
            label=f"uncertain ({absent:g} < p < {present:g})",
        ),
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        frameon=False,
        fontsize=8,
        title=f"{width_note}; absent edges (p ≤ {absent:g}) are not drawn",
        title_fontsize=8,
    )
    return fig


def plot_graph(
    idata,
    shop,
    present: float = summaries.PRESENT,
    absent: float = summaries.ABSENT,
    annotate: bool = True,
    draw_above: float = 0.5,
) -> Figure:
    """The learned Granger-causal graph of one shop.

    Nodes (channels and the target, highlighted in orange) lie on a circle, the target on
    the right. An arrow cause -> effect is drawn for each off-diagonal edge with
    ``edges/edge_probability`` ``p > max(absent, draw_above)``: solid when
    ``p >= present``, dashed when uncertain; its width grows with ``p`` and
    (``annotate``) it is labelled with ``p``. ``draw_above`` (0.5: more likely than not)
    keeps a 10-channel graph readable, since many non-edges sit just above ``absent``.
    Reads ``edges/edge_probability (shop, cause, effect)`` only.
    """
    label = _shop(idata, shop)
    nodes = [str(n) for n in idata["edges"]["cause"].values]
    p = np.asarray(idata["edges"]["edge_probability"].sel(shop=label).values, dtype=float)
    decision = summaries.decide(p, present, absent)
    edges = [
        (nodes[i], nodes[j], p[i, j], decision[i, j], f"{p[i, j]:.2f}" if annotate else "")
        for i in range(len(nodes))
        for j in range(len(nodes))
        if i != j and p[i, j] > max(absent, draw_above)
    ]
    return _draw_graph(
        Figure(figsize=(6.4, 6.0)),
        nodes,
        summaries.target_name(idata),
        edges,
        f"Learned graph, shop {label}",
        f"width ∝ P(edge | data), labels: P(edge); edges with P ≤ {max(absent, draw_above):g} "
        "not drawn",
        present,
        absent,
    )


def plot_pooled_graph(
    idata,
    present: float = summaries.PRESENT,
    absent: float = summaries.ABSENT,
    annotate: bool = True,
    min_share: float = 0.25,
) -> Figure:
    """The graph pooled over shops (:func:`summaries.pooled_edges`).

    Same drawing as :func:`plot_graph`, one arrow per edge present in at least
    ``min_share`` of the shops (0.25 keeps a 100-shop graph readable; 0 draws every edge
    present anywhere) or whose mean ``p_edge`` reaches ``present``. Width grows with the share
    of shops where the edge is present; solid when the mean ``p_edge >= present``, dashed
    otherwise; label ``"share present · mean p"``.
    """
    table = summaries.pooled_edges(summaries.edge_table(idata, present, absent))
    nodes = [str(n) for n in idata["edges"]["cause"].values]
    mean_p = table["mean_p_edge"].to_numpy(dtype=float)
    decision = summaries.decide(mean_p, present, absent)
    edges = []
    for row, dec in zip(table.itertuples(index=False), decision, strict=True):
        if (row.present > 0 and row.share_present >= min_share) or row.mean_p_edge >= present:
            text = f"{row.share_present:.0%} · {row.mean_p_edge:.2f}" if annotate else ""
            edges.append((str(row.cause), str(row.effect), row.share_present, dec, text))
    n_shops = idata["edges"].sizes["shop"]
    return _draw_graph(
        Figure(figsize=(6.4, 6.0)),
        nodes,
        summaries.target_name(idata),
        edges,
        f"Pooled graph over {n_shops} shops",
        f"width ∝ share of shops with the edge present (drawn from {min_share:.0%}), "
        "labels: share · mean P(edge)",
        present,
        absent,
    )


def plot_edge_heatmap(idata, shop, hdi_prob: float = summaries.EDGE_HDI) -> Figure:
    """Cause (rows) x effect (columns) heatmap of ``p_edge`` for one shop.

    Each off-diagonal cell is coloured by ``edges/edge_probability`` and annotated
    ``"p\\n[low, high]"``: ``p`` and the ``hdi_prob`` HDI of the relaxed edge weight z
    (``posterior/edge`` draws). The diagonal (self-edges, not modelled) is blank.
    """
    label = _shop(idata, shop)
    nodes = [str(n) for n in idata["edges"]["cause"].values]
    d = len(nodes)
    p = np.array(idata["edges"]["edge_probability"].sel(shop=label).values, dtype=float)
    low, high = hdi(_draws(idata.posterior["edge"].sel(shop=label)), hdi_prob)
    off = ~np.eye(d, dtype=bool)
    p[~off] = np.nan
    size = max(4.5, 0.9 * d + 2.0)
    fig = Figure(figsize=(size + 1.2, size))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_invalid(p), cmap=cmap, vmin=0, vmax=1)
    fontsize = max(5.0, 9.0 - 0.4 * d)
    for i, j in zip(*np.nonzero(off), strict=True):
        ax.text(
            j,
            i,
            f"{p[i, j]:.2f}\n[{low[i, j]:.2f}, {high[i, j]:.2f}]",
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if p[i, j] > 0.6 else "black",
        )
    ax.set_xticks(range(d), labels=nodes, rotation=40, ha="right", **PLAIN)
    ax.set_yticks(range(d), labels=nodes, **PLAIN)
    ax.set_xlabel("effect")
    ax.set_ylabel("cause")
    ax.set_title(
        f"P(edge) and {hdi_prob:.0%} HDI of the edge weight, shop {label}", fontsize=10, **PLAIN
    )
    fig.colorbar(image, ax=ax, label="P(edge | data)", shrink=0.8)
    return fig


# ---------------------------------------------------------------------------- time series


