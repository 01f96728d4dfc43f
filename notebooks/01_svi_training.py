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
# # 1 · Training CausalMMM with SVI
#
# CausalMMM learns, **for every shop**, which marketing channels drive which others and
# GMV (a *Granger-causal graph*: "past values of the cause help predict the effect"),
# and forecasts GMV from that graph. This notebook:
#
# 1. simulates data whose true graphs are known,
# 2. trains the model with stochastic variational inference (SVI) and shows the loss curve,
# 3. checks how well the learned graphs match the true ones (AUROC, accuracy), next to a
#    classical baseline (ridge-VAR Granger),
# 4. puts one shop's learned graph next to its true edges.
#
# Everything comes from the `pyro_causalmmm` package; the cells only call it and
# display results. The size of the run is set in the next cell.

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

print(
    f"{'small' if SMALL else 'full-size'} run: {N_SHOPS} shops, {N_CHANNELS} channels, "
    f"{LENGTH} days, {EPOCHS} epochs, {DRAWS} posterior draws, seed {SEED}"
)

# %%
# %matplotlib inline
import warnings

# the progress-bar library (tqdm) asks for ipywidgets, which these notebooks do not need
warnings.filterwarnings("ignore", message="IProgress not found")

import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm import simulate
from pyro_causalmmm.evaluation import baselines
from pyro_causalmmm.evaluation import metrics
from pyro_causalmmm.report import plotting
from pyro_causalmmm.posterior import draws as posterior

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

# %%
sim.frame.head()

# %% [markdown]
# ## Training
#
# `CausalMMM(ModelConfig())` builds the Bayesian model with its default settings, and
# `fit` trains it with SVI: instead of sampling the posterior (slow), it tunes an
# *encoder* that reads a shop's whole history and outputs, for every possible edge,
# the probability that the edge exists. Training maximises the ELBO (evidence lower
# bound), a number that rewards predicting the data well and penalises straying from
# the prior; the loss shown is **-ELBO per shop**, so lower is better.

# %%
mmm = CausalMMM(ModelConfig())
fit_result = mmm.fit(data, TrainConfig(epochs=EPOCHS, seed=SEED))
losses = fit_result.train_losses
print(
    f"trained {fit_result.epochs_run} epochs in {fit_result.seconds:.0f} s; "
    f"-ELBO per shop went from {losses[0]:.1f} to {losses[-1]:.1f}"
)

# %% [markdown]
# `posterior.build` draws from the fitted posterior (edge weights, S-curves, replicate
# data) and stores everything, including the training log, in an ArviZ
# `InferenceData`; all plots of the package read from it.
#
# **How to read the loss curve.** Lower is better. The curve should fall and, given
# enough epochs, level off; a jagged or rising curve points to a too-large learning
# rate. With the default 15 epochs the loss of this data set is still falling at the
# last epoch: the one-step-ahead fit would keep improving with more epochs
# (`TrainConfig(epochs=...)`), while the edge ranking scored next levels off after about
# 10 epochs in the package's benchmarks (see the repository README). The size of the
# numbers depends on the KL weight `lam`: at the default `lam = 1` the loss is mostly the
# one-step prediction error, so compare curves only between fits with the same `lam`.

# %%
idata = posterior.build(mmm, data, draws=DRAWS, seed=SEED)
plotting.plot_training(idata)

# %% [markdown]
# ## Did the model find the true graphs?
#
# For every shop and every ordered pair of nodes (cause → effect) the model gives
# **P(edge | data)**. We compare it with the true graphs:
#
# * **AUROC**: the probability that a randomly chosen true edge gets a higher score than
#   a randomly chosen non-edge. 0.5 is guessing, 1.0 is a perfect ranking. *Per-shop
#   mean* averages the AUROC of each shop's graph (the paper's metric); *pooled* ranks
#   all shops' edges together.
# * **ACC**: the share of pairs classified correctly when an edge is called present at
#   P(edge) ≥ 0.5. The guide's probabilities are *calibrated*: each edge starts from
#   the empirical-Bayes posterior of its lag tests (with an edge rate learned per effect
#   node from all shops), and training may move it by at most ±1 in log-odds. So 0.5 is
#   a meaningful cut and the ACC should come close to the AUROC. Read it against the
#   base rate, though: most pairs are non-edges (about 7 in 8 here), so calling every
#   edge absent would already score about 0.87. Notebook 3 checks how often the
#   present / uncertain / absent decisions are right.
#
# The baseline, **ridge-VAR Granger**, fits a linear autoregression per shop and scores
# each edge by the size of its lag coefficients. Its scores are not probabilities, so
# it has no accuracy.

# %%
p_edge = mmm.edge_probability_array(data)  # (shop, cause, effect)
ridge = baselines.ridge_var_granger(data.values, mask=data.mask)

results = {"CausalMMM": metrics.edge_metrics(p_edge, truth),
           "ridge-VAR Granger": metrics.edge_metrics(ridge, truth)}
results["ridge-VAR Granger"]["acc"] = float("nan")  # scores, not probabilities
table = pd.DataFrame(results).T[["auroc_per_shop_mean", "auroc_pooled", "acc"]]
table.columns = ["AUROC (per-shop mean)", "AUROC (pooled)", "ACC at P >= 0.5"]
display(table.astype(float))
for name, row in table.iterrows():
    print(f"{name}: edge AUROC {row.iloc[0]:.3f} per-shop mean, {row.iloc[1]:.3f} pooled")

# %% [markdown]
# ## One shop up close
#
# How does a typical shop look? We pick the shop whose own AUROC is closest to the
# median over shops.
#
# **How to read the graph.** Nodes sit on a circle with GMV (orange) on the right. An
# arrow cause → effect is **solid** when the edge is *present* (P(edge) ≥ 0.8) and
# **dashed** when it is uncertain; thicker arrows are more probable, and each arrow is
# labelled with its P(edge). `plot_graph` draws the edges with P > 0.5, more likely
# than not (its `draw_above` argument; edges at or below `absent` = 0.2 are never
# drawn). With calibrated probabilities nearly every pair is close to 0 or 1, so the
# drawing shows the edges the model believes in and few dashed ones.

# %%
per_shop_auroc = np.array([
    metrics.auroc(metrics.off_diagonal(p_edge[s]), metrics.off_diagonal(truth[s]))
    for s in range(data.n_shops)
])
median = np.nanmedian(per_shop_auroc)
s = int(np.nanargmin(np.abs(per_shop_auroc - median)))
SHOP = data.shop_ids[s]
print(
    f"per-shop AUROC: min {np.nanmin(per_shop_auroc):.3f}, median {median:.3f}, "
    f"max {np.nanmax(per_shop_auroc):.3f}; showing {SHOP} (AUROC {per_shop_auroc[s]:.3f})"
)
plotting.plot_graph(idata, SHOP)  # edges with P(edge) <= 0.5 are not drawn


# %% [markdown]
# Next to each other: the shop's **true** graph (left, a dark cell is a true edge) and
# the **learned** P(edge) (right, true edges outlined in orange). Rows are causes,
# columns effects. A good fit shows dark cells inside the orange boxes and light cells
# elsewhere.

# %%
def true_vs_learned(s):
    """Two heatmaps (cause x effect): the true graph and the learned P(edge)."""
    names = list(data.node_names)
    d = len(names)
    off = ~np.eye(d, dtype=bool)
    fig = Figure(figsize=(12, 5.4), layout="constrained")
    panels = [(truth[s], "true graph"), (p_edge[s], "learned P(edge | data)")]
    for ax, (matrix, title) in zip(fig.subplots(1, 2), panels):
        image = ax.imshow(np.where(off, matrix, np.nan), cmap="Blues", vmin=0, vmax=1)
        for i, j in zip(*np.nonzero(truth[s])):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#f28e2b", lw=2))
        ax.set_xticks(range(d), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(d), labels=names)
        ax.set_xlabel("effect")
        ax.set_ylabel("cause")
        ax.set_title(f"{title}, {data.shop_ids[s]}")
    fig.colorbar(image, ax=fig.axes, shrink=0.8, label="true edge (0/1) or P(edge)")
    return fig

true_vs_learned(s)

# %% [markdown]
# The same shop as a ranking: edges sorted by P(edge). A perfect ranking (AUROC = 1)
# lists every true edge before any non-edge. Confident false edges usually join two
# nodes driven by the same channel: their histories move together, so one seems to
# predict the other (the usual limit of Granger causality when the common driver's
# effect is delayed differently). In the full-size run shown, the one confident false
# edge is `gmv → spend_6`, the reverse of the true `spend_6 → gmv`, and `spend_9`
# drives both. Missed edges (a true edge with a low P(edge)) are often edges into a node
# with many parents, each of which explains only a small share of its movement: here
# the two missed edges both point into `spend_10`, which has four. With calibrated
# probabilities such an edge is reported as probably absent, not as a middling score.

# %%
names = np.asarray(data.node_names, dtype=object)
cause, effect = np.nonzero(~np.eye(len(names), dtype=bool))
ranking = pd.DataFrame({
    "cause": names[cause],
    "effect": names[effect],
    "P(edge)": p_edge[s][cause, effect].round(3),
    "true edge": truth[s][cause, effect].astype(bool),
}).sort_values("P(edge)", ascending=False, ignore_index=True)
ranking.head(int(truth[s].sum()) + 5)

# %% [markdown]
# ## Takeaways
#
# * At full size CausalMMM ranks true edges far above non-edges (edge AUROC about
#   0.995) and clearly beats the ridge-VAR Granger baseline shown here (about 0.84).
#   Against stronger per-shop tests (the VAR F-test, PCMCI) the margin is much smaller;
#   the benchmark numbers are in `benchmarks/results.md`.
# * Its probabilities are calibrated, not tempered: cutting at 0.5 classifies about 98%
#   of the pairs correctly (against about 87% for "no edges at all"), and the
#   present / uncertain / absent decisions of notebook 3 can be read at face value.
#   Ranking by P(edge) still works for a shortlist.
# * The loss is still falling after 15 epochs; train longer if the forecasts matter
#   more than the graph.
# * Notebook 2 checks whether the model's *predictions* are calibrated, notebook 3 turns
#   the posterior into decisions (which edges are present, absent or uncertain) and a
#   shareable HTML report.
