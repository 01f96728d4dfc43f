"""Figures and report sections for marketing decisions, drawn from data objects only.

Inputs are the tables and ``xarray`` objects of :mod:`pyro_causalmmm.decisions.contributions` and
:mod:`pyro_causalmmm.decisions.optimizer` (``Contributions.table`` / ``.draws``,
``ResponseCurves.draws``, ``BudgetPlan.table`` / ``.shops`` / ``.summary``), never the
model, so a plot can be tested on a hand-made table. Figures are built without
``matplotlib.pyplot`` (as in :mod:`pyro_causalmmm.report.plotting`); user labels are plain text.

* :func:`plot_contributions` a waterfall of channel contributions, each bar split into its
  direct and indirect part, for one shop or summed over shops;
* :func:`plot_response_curves` GMV change against the spend multiplier, one line and 90%
  HDI band per channel;
* :func:`plot_plan` current against planned spend per channel, with the bounds;
* :func:`decision_sections` ``(heading, html)`` pairs for
  :func:`pyro_causalmmm.report.write_report`'s ``extra_sections`` (figures embedded as
  base64 PNG, tables escaped).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pyro_causalmmm.posterior.stats import hdi
from pyro_causalmmm.report.style import PLAIN, figure_to_png_base64

DIRECT_COLOR = "#1b4f8a"
INDIRECT_COLOR = "#f28e2b"
NEGATIVE_COLOR = "#b2182b"
CURRENT_COLOR = "#a6a6a6"
PLAN_COLOR = "#1b4f8a"
TABLE_ROWS = 40

__all__ = [
    "plot_contributions",
    "plot_response_curves",
    "plot_plan",
    "decision_sections",
]


def _select(table: pd.DataFrame, shop) -> tuple[pd.DataFrame, str]:
    """Rows of ``shop`` (a label), or every shop summed per channel when ``shop`` is None."""
    t = table.assign(shop=table["shop"].astype(str))
    if shop is None:
        numeric = t.drop(columns=["shop"]).groupby("channel", sort=False).sum(numeric_only=True)
        return numeric.reset_index(), f"all {t['shop'].nunique()} shops"
    label = str(shop)
    rows = t[t["shop"] == label]
    if rows.empty:
        shops = ", ".join(t["shop"].unique()[:10])
        raise ValueError(f"unknown shop {shop!r}; the table has shops: {shops}")
    return rows.reset_index(drop=True), f"shop {label}"


def plot_contributions(table: pd.DataFrame, shop=None, draws=None, target: str = "GMV") -> Figure:
    """Waterfall of channel contributions (largest first), each step split into its direct
    part (through the channel's own edge into GMV) and indirect part (through other nodes).

    ``table`` has ``shop, channel, contribution, direct, indirect`` (and optionally
    ``contribution_hdi_low/high``, drawn as whiskers for one shop). With ``shop`` None the
    shops are summed; pass the ``draws`` ``xarray.Dataset`` (``total (draw, shop,
    channel)``) to get whiskers for the sum as well. The last bar is the total.
    """
    rows, what = _select(table, shop)
    if shop is None:  # summed bounds are not the bounds of the sum
        rows = rows.drop(columns=["contribution_hdi_low", "contribution_hdi_high"], errors="ignore")
    if shop is None and draws is not None:
        summed = np.asarray(draws["total"].sum("shop").values, dtype=float)  # (draw, channel)
        low, high = hdi(summed, 0.9)
        order = [list(draws["channel"].values).index(c) for c in rows["channel"]]
        rows = rows.assign(contribution_hdi_low=low[order], contribution_hdi_high=high[order])
    rows = rows.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)
    n = len(rows)
    fig = Figure(figsize=(max(6.0, 0.75 * n + 3.0), 4.4))
    ax = fig.add_subplot()
    level = 0.0
    for k, r in rows.iterrows():
        parts = [(float(r["direct"]), DIRECT_COLOR), (float(r["indirect"]), INDIRECT_COLOR)]
        for value, color in parts:
            ax.bar(k, value, bottom=level, color=color, width=0.7, edgecolor="white", lw=0.5)
            level += value
        if "contribution_hdi_low" in rows and np.isfinite(r.get("contribution_hdi_low", np.nan)):
            start = level - float(r["contribution"])
            ax.vlines(
                k,
                start + float(r["contribution_hdi_low"]),
                start + float(r["contribution_hdi_high"]),
                color="black",
                lw=1,
            )
    total = float(rows["contribution"].sum())
    ax.bar(n, total, color=np.where(total >= 0, "#4d4d4d", NEGATIVE_COLOR).item(), width=0.7)
    ax.axhline(0, color="black", lw=0.8)
    labels = [str(c) for c in rows["channel"]] + ["total"]
    ax.set_xticks(range(n + 1), labels=labels, rotation=45, ha="right", **PLAIN)
    ax.set_ylabel(f"{target} contribution", **PLAIN)
    ax.set_title(f"Channel contributions to {target}, {what}", **PLAIN)
    ax.legend(
        handles=[
            Patch(color=DIRECT_COLOR, label="direct (own edge into GMV)"),
            Patch(color=INDIRECT_COLOR, label="indirect (through other nodes)"),
        ],
        fontsize=8,
        frameon=False,
        loc="best",
    )
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_response_curves(draws, shop=None, prob: float = 0.9) -> Figure:
    """GMV change against the spend multiplier for every channel: mean line and ``prob``
    HDI band over graph draws. ``draws`` is ``ResponseCurves.draws`` (``gmv_change``
    ``(draw, shop, channel, multiplier)``); ``shop`` None sums over shops per draw."""
    if shop is None:
        da = draws.sum("shop")
        what = f"all {draws.sizes['shop']} shops"
    else:
        labels = [str(s) for s in draws["shop"].values]
        if str(shop) not in labels:
            raise ValueError(f"unknown shop {shop!r}; shops: {', '.join(labels[:10])}")
        da = draws.isel(shop=labels.index(str(shop)))
        what = f"shop {shop}"
    grid = np.asarray(draws["multiplier"].values, dtype=float)
    fig = Figure(figsize=(8.0, 4.6))
    ax = fig.add_subplot()
    colors = _colors(draws.sizes["channel"])
    for k, channel in enumerate(draws["channel"].values):
        vals = np.asarray(da.sel(channel=channel).values, dtype=float)  # (draw, multiplier)
        low, high = hdi(vals, prob)
        ax.fill_between(grid, low, high, color=colors[k], alpha=0.15, lw=0)
        ax.plot(grid, vals.mean(0), color=colors[k], lw=1.6, marker="o", ms=3, label=str(channel))
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(1, color="black", lw=0.8, ls=":")
    target = draws.attrs.get("target", "GMV")
    ax.set_xlabel("spend multiplier (1 = observed spend)")
    ax.set_ylabel(f"change in {target} over the window", **PLAIN)
    ax.set_title(f"Response curves, {what} ({prob:.0%} HDI bands)", **PLAIN)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return fig


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


def plot_plan(table: pd.DataFrame, shop=None) -> Figure:
    """Current against planned spend per step for each channel (summed over shops when
    ``shop`` is None), with the bounds as whiskers. ``table`` is ``BudgetPlan.table``."""
    rows, what = _select(table, shop)
    n = len(rows)
    x = np.arange(n)
    fig = Figure(figsize=(max(6.0, 0.7 * n + 3.0), 4.2))
    ax = fig.add_subplot()
    ax.bar(x - 0.2, rows["current_spend"], width=0.4, color=CURRENT_COLOR, label="current")
    ax.bar(x + 0.2, rows["planned_spend"], width=0.4, color=PLAN_COLOR, label="plan")
    ax.vlines(x + 0.2, rows["low"], rows["high"], color="black", lw=1, label="bounds")
    ax.set_xticks(x, labels=[str(c) for c in rows["channel"]], rotation=45, ha="right", **PLAIN)
    ax.set_ylabel("spend per step")
    ax.set_title(f"Budget plan against current spend, {what}", **PLAIN)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return fig


# ---------------------------------------------------------------------------- report


def _img(fig: Figure, alt: str) -> str:
    data = figure_to_png_base64(fig)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></figure>'


def _howto(text: str) -> str:
    return f'<p class="howto"><b>How to read this.</b> {text}</p>'


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, float_format=lambda v: f"{v:,.3f}", border=0)


def decision_sections(
    contributions=None, response=None, plan=None, shop=None
) -> list[tuple[str, str]]:
    """``(heading, html)`` sections for ``write_report(..., extra_sections=...)`` from
    whichever results are given (``Contributions``, ``ResponseCurves``, ``BudgetPlan``
    objects, or anything with the same ``table`` / ``draws`` / ``shops`` / ``summary``
    attributes). ``shop`` adds that shop's waterfall and plan next to the pooled ones (where
    the result has that shop)."""
    sections = []
    if contributions is not None:
        table = contributions.table
        figs = _img(plot_contributions(table, draws=contributions.draws), "contributions")
        if shop is not None and str(shop) in set(table["shop"].astype(str)):
            figs += _img(plot_contributions(table, shop=shop), f"contributions of {shop}")
        pooled = _select(table, None)[0][["channel", "spend", "contribution", "direct"]]
        pooled = pooled.assign(indirect=pooled["contribution"] - pooled["direct"])
        pooled["roas"] = pooled["contribution"] / pooled["spend"].where(pooled["spend"] != 0)
        body = (
            _howto(
                "A channel's <b>contribution</b> is the GMV that would not have happened without "
                "its spend over the window: observed GMV minus GMV with the channel switched "
                "off, every other node responding through the learned graph. The "
                "<b>direct</b> part travels over the channel's own edge into GMV; the "
                "<b>indirect</b> part through other nodes (e.g. brand ads raise page views, "
                "which raise GMV). ROAS = contribution / spend. Whiskers are 90% HDIs over "
                "posterior graph draws."
            )
            + f'<div class="figures">{figs}</div>'
            + "<p>Summed over shops:</p>"
            + _table_html(pooled)
        )
        sections.append(("Channel contributions", body))
    if response is not None:
        body = (
            _howto(
                "Each curve is the change in GMV over the window when one channel's spend is "
                "multiplied by the value on the x-axis (1 = what was spent); bands are 90% HDIs. "
                "A flattening curve means diminishing returns; the slope at 1 is the marginal "
                "return of the next unit of spend."
            )
            + f'<div class="figures">{_img(plot_response_curves(response.draws), "response")}</div>'
        )
        sections.append(("Response curves", body))
    if plan is not None:
        s = plan.summary
        share = 100 * s["indirect_share"]
        text = (
            f"<p>Budget {s['budget']:,.2f} over {s['horizon']} steps (current spend "
            f"{s['current_total']:,.2f}). Expected GMV lift {s['lift']:,.2f} (90% HDI "
            f"{s['lift_hdi_low']:,.2f} to {s['lift_hdi_high']:,.2f}), of which "
            f"{s['indirect']:,.2f} ({share:.0f}%) through indirect paths.</p>"
        )
        figs = _img(plot_plan(plan.table), "plan")
        if shop is not None and str(shop) in set(plan.table["shop"].astype(str)):
            figs += _img(plot_plan(plan.table, shop=shop), f"plan of {shop}")
        body = (
            _howto(
                "The plan re-allocates the budget across channels (and shops, unless each shop "
                "keeps its share) to maximise expected GMV over the horizon, each channel "
                "within its bounds (whiskers). Current spend is each shop's mean over its "
                "last steps; the lift is against keeping it."
            )
            + text  # numbers only: nothing to escape
            + f'<div class="figures">{figs}</div>'
            + _table_html(plan.shops.head(TABLE_ROWS))
        )
        sections.append(("Budget plan", body))
    return sections
