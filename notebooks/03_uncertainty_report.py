# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Uncertainty report: edges, S-curves and GMV forecasts
#
# A Bayesian model answers "how sure are we?". This notebook turns the posterior into
# what an analyst acts on:
#
# 1. **edge decisions**: for every shop and edge, *present*, *absent* or *uncertain*;
# 2. the **pooled graph**: which edges hold across many shops;
# 3. one shop's **edge heatmap** with intervals, and its **S-curve** (diminishing returns);
# 4. **GMV forecasts** with 50% / 90% intervals;
# 5. a self-contained **HTML report** with all of it, to share.

# %%
import os

# Size of the run. Unset (the default): the paper's Simulation 2 at full size, a few
# minutes on one CPU core. CAUSALMMM_NOTEBOOK_SMALL=1: a small version that runs in
# seconds (the test suite uses it); its numbers are noisier.
SMALL = os.environ.get("CAUSALMMM_NOTEBOOK_SMALL", "0") not in ("", "0")

if SMALL:
    N_SHOPS, N_CHANNELS, LENGTH = 12, 4, 60  # shops, marketing channels, days per shop
    EPOCHS, DRAWS = 2, 20  # training passes over the shops, posterior draws
else:
    N_SHOPS, N_CHANNELS, LENGTH = 100, 10, 120
    EPOCHS, DRAWS = 15, 100  # 15 = TrainConfig's default
N_GRAPHS = 5  # the shops' true graphs are drawn from this many random graphs
SEED = 0  # one seed for the simulation, the training and the posterior draws

HORIZON = 14  # days to forecast past the data
# folder for the HTML report: CAUSALMMM_NOTEBOOK_OUTPUT if set, else a new temporary one
OUTPUT_DIR = os.environ.get("CAUSALMMM_NOTEBOOK_OUTPUT") or None

print(
    f"{'small' if SMALL else 'full-size'} run: {N_SHOPS} shops, {N_CHANNELS} channels, "
    f"{LENGTH} days, {EPOCHS} epochs, {DRAWS} posterior draws, seed {SEED}"
)

# %%
# %matplotlib inline
import warnings

# the progress-bar library (tqdm) asks for ipywidgets, which these notebooks do not need
warnings.filterwarnings("ignore", message="IProgress not found")

import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm import report, simulate
from pyro_causalmmm.posterior import forecasting
from pyro_causalmmm.report import plotting
from pyro_causalmmm.posterior import summaries

pd.set_option("display.precision", 3)

# %% [markdown]
# ## The data: Simulation 2
#
# We simulate the paper's *Simulation 2* so that the true causal graphs are known. Each
# shop has daily series for the channels `spend_1 … spend_d` and the target `gmv`, plus
# two context variables `ctx_1`, `ctx_2` (think shop size or category). Each shop's graph
# is one of a few random funnels (for example `spend_3 → spend_7 → gmv`), and every shop
# has its own strengths and delays on those edges. GMV responds to its drivers through an
# S-curve (diminishing returns) whose shape depends on the shop's context.
#
# With your own data you would start from a CSV instead:
# `MarketingMixData.from_csv("data.csv", shop="shop", time="time", target="gmv", context=[...])`.

# %%
sim = simulate.simulate(
    "sim2",
    n_shops=N_SHOPS,
    n_channels=N_CHANNELS,
    length=LENGTH,
    n_graphs=N_GRAPHS,
    seed=SEED,
    mechanisms="per_shop",
)
data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))

# the simulator's true graphs (shop, cause, effect), in the data's shop and node order
assert list(data.node_names) == list(sim.node_names)
truth = sim.adjacency[[list(sim.shop_ids).index(s) for s in data.shop_ids]]
print(data.summary())

# %% [markdown]
# ## Fit and forecast
#
# We train on all days, then `forecasting.forecast` draws the posterior and forecasts
# `HORIZON` days past each shop's last day. Future context is held at its last value;
# future channel spend is forecast by the model like every other series.

# %%
mmm = CausalMMM(ModelConfig())
fit_result = mmm.fit(data, TrainConfig(epochs=EPOCHS, seed=SEED))
print(f"trained in {fit_result.seconds:.0f} s")
idata, forecasts = forecasting.forecast(mmm, data, HORIZON, draws=DRAWS, seed=SEED)
SHOP = data.shop_ids[0]

# %% [markdown]
# ## Edge uncertainty
#
# `summaries.edge_table` has one row per shop and edge:
#
# * `p_edge`: the posterior probability that the edge exists;
# * `weight_mean`, `weight_hdi_low/high`: mean and 90% HDI of the edge's weight (between
#   0 and 1) as the model uses it; a wide interval means the data leave the edge open;
# * `decision`: **present** when `p_edge ≥ 0.8`, **absent** when `p_edge ≤ 0.2`,
#   **uncertain** in between (the thresholds are arguments of `edge_table`);
# * `shops_present`: in how many shops this edge is present.
#
# The edges of one shop, most probable first:

# %%
edges = summaries.edge_table(idata)
shop_edges = edges[edges["shop"] == str(SHOP)].sort_values("p_edge", ascending=False)
shop_edges.head(15)

# %% [markdown]
# **How far can the decisions be trusted?** In a simulation we know the truth, so we can
# check: of the edges called *present*, how many are real? And of the *uncertain* and
# *absent* ones?
#
# At full size, about 91% of the *present* edges are real and under 1% of the
# *absent* ones. Only about 1 edge in 50 is left *uncertain*, and about a fifth of
# those are real. The probabilities are calibrated: an edge the data do not support
# goes close to 0 instead of staying near the prior 0.5 (with the previous guide and its
# KL weight `lam = 100`, 89% of the *present* edges were real, but four in five edges
# were *uncertain* and almost none of those real). Calibrated is not perfect. The *present* edges have a mean `p_edge` of
# 0.994 but only 92% of them are real, so the top of the scale is somewhat
# over-confident: about one *present* edge in 13 is false. And about 2.5% of the real
# edges are called *absent*: edges that one shop's data do not show. So act on *present*,
# treat *absent* as absent, look at the few *uncertain* edges one by one, and rank by
# `p_edge` when you need a shortlist. On your own data there is no truth to check
# against; an experiment (a holdout or a spend test) on the edges that matter most is
# the way to confirm them.

# %%
index = {str(s): i for i, s in enumerate(data.shop_ids)}
node = {str(n): i for i, n in enumerate(data.node_names)}
edges["true edge"] = truth[
    edges["shop"].map(index), edges["cause"].map(node), edges["effect"].map(node)
].astype(bool)
check = edges.groupby("decision").agg(
    edges=("p_edge", "size"), mean_p_edge=("p_edge", "mean"), share_real=("true edge", "mean")
).reindex(["present", "uncertain", "absent"])
print(f"edges called present: {check.loc['present', 'share_real']:.1%} are real; "
      f"called absent: {check.loc['absent', 'share_real']:.1%} are real")
check

# %% [markdown]
# ## The pooled graph
#
# Which edges hold across shops? `summaries.pooled_edges` counts, per edge, the shops
# where it is present, uncertain or absent, sorted by the mean `p_edge` over shops.
# An edge present in many shops is a robust, general pattern; one present in a few is
# shop-specific. In the simulation, the shops' graphs come from 5 random funnels, so
# only a few edges are shared widely.
#
# `plotting.plot_pooled_graph` draws this on a circle (the HTML report below includes
# it); with 100 shops the drawing gets crowded, so here a ranked bar chart shows the
# most widely shared edges. The orange ticks (and the `share_true` column) give the
# share of shops where the edge is real, known only because the data are simulated:
# bars should reach the ticks. A bar that stops short means the edge is missed in some
# shops where it is real; one that runs past its tick means false edges.

# %%
pooled = summaries.pooled_edges(edges)
true_share = edges.groupby(["cause", "effect"])["true edge"].mean().rename("share_true")
pooled = pooled.join(true_share, on=["cause", "effect"])
display(pooled.head(15))


def share_bars(pooled, top=15):
    """Horizontal bars: the share of shops where each of the top edges is present,
    with the share where it is real as ticks."""
    rows = pooled.nlargest(top, "share_present").iloc[::-1]
    labels = rows["cause"] + " → " + rows["effect"]
    fig = Figure(figsize=(7.5, 0.3 * len(rows) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(labels, 100 * rows["share_present"], color="#1b4f8a", label="present (model)")
    ax.scatter(100 * rows["share_true"], labels, marker="|", s=250, lw=2.5,
               color="#f28e2b", label="real (simulation truth)", zorder=3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("shops where the edge is present (%)")
    ax.set_title(f"The {len(rows)} edges present in the most shops")
    ax.grid(axis="x", alpha=0.3)
    return fig


share_bars(pooled)

# %% [markdown]
# ## One shop: edge heatmap with intervals
#
# Rows are causes, columns effects. Each cell shows P(edge) (its colour) and, in
# brackets, the 90% HDI of the edge weight. A cell with P(edge) near 1 and a narrow
# interval near 1 is a confident edge, one near 0 with a narrow interval near 0 a
# confident non-edge; most cells are one or the other. The few cells in between with a
# wide interval, such as [0.09, 1.00], are the edges the data do not settle.

# %%
plotting.plot_edge_heatmap(idata, SHOP)

# %% [markdown]
# ## S-curves: diminishing returns
#
# GMV responds to its combined marketing drive `u` through a Hill curve
# `u^a / (u^a + g)`, which saturates: past some point, more drive buys less GMV. Its
# shape `a` and inflexion `g` come from the shop's context, so shops differ. Below, the
# two shops with the lowest and the highest `ctx_1`, which sets the simulated curve's
# shape: a low `ctx_1` gives a concave curve (diminishing returns from the start), a
# high one an S shape (a slow start, then a steep stretch, then saturation).
#
# **How to read it.** The line is the median curve; the band shows how the curve moves
# with the context over time (not parameter uncertainty; the context here is static per
# shop, so the band is thin); the dots are the drive reached on each day; the dotted
# line, when inside the plot, marks half saturation. Days to the right of it are in the
# flat part, where extra spend buys less. The dots cover only the stretch of the curve
# the shop actually operated in: the curve away from them is extrapolation. The
# vertical axis is GMV on the model's internal 0-1 scale, and the model adds a linear
# term of recent values on top of the curve, so the curve is one part of the GMV
# prediction, not all of it.

# %%
ctx = sim.frame.groupby("shop")[list(sim.context_names)].first()
for shop in (ctx["ctx_1"].idxmin(), ctx["ctx_1"].idxmax()):
    print(f"{shop}: ctx_1 = {ctx.loc[shop, 'ctx_1']:+.2f}")
    display(plotting.plot_s_curve(idata, shop))

# %% [markdown]
# ## GMV forecasts with intervals
#
# `summaries.forecast_table` (also returned by `forecasting.forecast`) has one row per
# shop and future day: the forecast mean and the 50% and 90% HDIs, in GMV's units. Plan
# with the interval, not just the mean: there is a 90% chance (if the model is
# calibrated, see notebook 2) that GMV lands inside `hdi_90_low … hdi_90_high`. For
# horizons beyond a few days, check notebook 2's backtest first: at full size its 90%
# intervals covered about 81% of the first 7 held-out days and about 80% of the first
# 30, so the bands get too narrow as the horizon grows. A few forecast draws can also
# run away late in a long horizon and pull the mean with them.

# %%
table = summaries.forecast_table(idata)
table[table["shop"] == str(SHOP)]

# %% [markdown]
# The fan chart: observed GMV (black), the one-day-ahead fit (blue), then the forecast
# (orange) with its 50% and 90% bands widening with the horizon.

# %%
plotting.plot_fit_forecast(idata, SHOP)

# %% [markdown]
# How fast does uncertainty grow? The median width of the 90% interval, relative to
# the forecast mean, per forecast day over all shops:

# %%
table["day"] = table.groupby("shop").cumcount() + 1
width = (table["hdi_90_high"] - table["hdi_90_low"]) / table["target_mean"].abs()
growth = width.groupby(table["day"]).median().rename("90% interval width / mean")
growth.to_frame().T.round(2)

# %% [markdown]
# ## The HTML report
#
# `report.write_report` writes one self-contained HTML file (figures embedded, no
# internet needed) with the data summary, training curve, pooled graph, a block per
# selected shop (graph, heatmap, fan chart, S-curve, edge table), the forecast table and
# the posterior predictive check. Open it in a browser or send it around. The
# command-line equivalent is `causalmmm report`.

# %%
out_dir = Path(OUTPUT_DIR or tempfile.mkdtemp(prefix="causalmmm_report_"))
path = report.write_report(
    idata,
    out_dir / "causalmmm_report.html",
    shops=[str(SHOP)],
    data_summary=data.summary(),
)
print(f"HTML report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
