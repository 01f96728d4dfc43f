"""Generate (and optionally execute) the three user notebooks.

The notebooks' cells live here, so that they can be reviewed as plain text; the
``.ipynb`` files are generated from them. ``tests/test_notebooks.py`` checks that the
committed notebooks hold exactly these cells.

    .venv/bin/python notebooks/_build.py              # write the notebooks, no outputs
    .venv/bin/python notebooks/_build.py --execute    # write and run them at full size
    .venv/bin/python notebooks/_build.py --execute 02_posterior_predictive_checks

``--execute`` runs one notebook at a time in a fresh ``python3`` kernel (working
directory: a temporary folder, so nothing lands in the repository) and saves it with its
outputs. The size comes from ``CAUSALMMM_NOTEBOOK_SMALL`` as in the notebooks; commit
full-size outputs (the variable unset).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
KERNEL = "python3"


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip("\n"))


# ------------------------------------------------------------------------------ shared

SIZES = '''
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
'''

SIZES_PRINT = '''
print(
    f"{'small' if SMALL else 'full-size'} run: {N_SHOPS} shops, {N_CHANNELS} channels, "
    f"{LENGTH} days, {EPOCHS} epochs, {DRAWS} posterior draws, seed {SEED}"
)
'''

SIMULATE = '''
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
'''

SIM2_TEXT = '''
## The data: Simulation 2

We simulate the paper's *Simulation 2* so that the true causal graphs are known. Each
shop has daily series for the channels `spend_1 … spend_d` and the target `gmv`, plus
two context variables `ctx_1`, `ctx_2` (think shop size or category). Each shop's graph
is one of a few random funnels (for example `spend_3 → spend_7 → gmv`), and every shop
has its own strengths and delays on those edges. GMV responds to its drivers through an
S-curve (diminishing returns) whose shape depends on the shop's context.

With your own data you would start from a CSV instead:
`MarketingMixData.from_csv("data.csv", shop="shop", time="time", target="gmv", context=[...])`.
'''


# ------------------------------------------------------------------------------ 01

NB01 = [
    md('''
    # 1 · Training CausalMMM with SVI

    CausalMMM learns, **for every shop**, which marketing channels drive which others and
    GMV (a *Granger-causal graph*: "past values of the cause help predict the effect"),
    and forecasts GMV from that graph. This notebook:

    1. simulates data whose true graphs are known,
    2. trains the model with stochastic variational inference (SVI) and shows the loss curve,
    3. checks how well the learned graphs match the true ones (AUROC, accuracy), next to a
       classical baseline (ridge-VAR Granger),
    4. puts one shop's learned graph next to its true edges.

    Everything comes from the `pyro_causalmmm` package; the cells only call it and
    display results. The size of the run is set in the next cell.
    '''),
    code(SIZES + SIZES_PRINT),
    code('''
    %matplotlib inline
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
    '''),
    md(SIM2_TEXT),
    code(SIMULATE),
    code('sim.frame.head()'),
    md('''
    ## Training

    `CausalMMM(ModelConfig())` builds the Bayesian model with its default settings, and
    `fit` trains it with SVI: instead of sampling the posterior (slow), it tunes an
    *encoder* that reads a shop's whole history and outputs, for every possible edge,
    the probability that the edge exists. Training maximises the ELBO (evidence lower
    bound), a number that rewards predicting the data well and penalises straying from
    the prior; the loss shown is **-ELBO per shop**, so lower is better.
    '''),
    code('''
    mmm = CausalMMM(ModelConfig())
    fit_result = mmm.fit(data, TrainConfig(epochs=EPOCHS, seed=SEED))
    losses = fit_result.train_losses
    print(
        f"trained {fit_result.epochs_run} epochs in {fit_result.seconds:.0f} s; "
        f"-ELBO per shop went from {losses[0]:.1f} to {losses[-1]:.1f}"
    )
    '''),
    md('''
    `posterior.build` draws from the fitted posterior (edge weights, S-curves, replicate
    data) and stores everything, including the training log, in an ArviZ
    `InferenceData`; all plots of the package read from it.

    **How to read the loss curve.** Lower is better. The curve should fall and, given
    enough epochs, level off; a jagged or rising curve points to a too-large learning
    rate. With the default 15 epochs the loss of this data set is still falling at the
    last epoch: the one-step-ahead fit would keep improving with more epochs
    (`TrainConfig(epochs=...)`), while the edge ranking scored next levels off after about
    10 epochs in the package's benchmarks (see the repository README).
    '''),
    code('''
    idata = posterior.build(mmm, data, draws=DRAWS, seed=SEED)
    plotting.plot_training(idata)
    '''),
    md('''
    ## Did the model find the true graphs?

    For every shop and every ordered pair of nodes (cause → effect) the model gives
    **P(edge | data)**. We compare it with the true graphs:

    * **AUROC**: the probability that a randomly chosen true edge gets a higher score than
      a randomly chosen non-edge. 0.5 is guessing, 1.0 is a perfect ranking. *Per-shop
      mean* averages the AUROC of each shop's graph (the paper's metric); *pooled* ranks
      all shops' edges together.
    * **ACC**: the share of pairs classified correctly when an edge is called present at
      P(edge) ≥ 0.5. The default KL weight (`lam = 100`) pulls probabilities towards the
      prior 0.5 on purpose (it keeps training exploring and improves the ranking), so
      many non-edges end up slightly above 0.5: expect an ACC well below the AUROC. The
      ranking (AUROC) is the summary to trust; notebook 3 shows which thresholds work.

    The baseline, **ridge-VAR Granger**, fits a linear autoregression per shop and scores
    each edge by the size of its lag coefficients. Its scores are not probabilities, so
    it has no accuracy.
    '''),
    code('''
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
    '''),
    md('''
    ## One shop up close

    How does a typical shop look? We pick the shop whose own AUROC is closest to the
    median over shops.

    **How to read the graph.** Nodes sit on a circle with GMV (orange) on the right. An
    arrow cause → effect is **solid** when the edge is *present* (P(edge) ≥ 0.8) and
    **dashed** when it is uncertain; thicker arrows are more probable, and each arrow is
    labelled with its P(edge). By default `plot_graph` draws every edge with P > 0.2, but
    with the tempered probabilities many non-edges sit in the middle (0.3 to 0.8), which
    would fill the circle with dashed arrows; `absent=0.7` hides those below 0.7.
    '''),
    code('''
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
    plotting.plot_graph(idata, SHOP, absent=0.7)  # edges with P(edge) <= 0.7 are not drawn
    '''),
    md('''
    Next to each other: the shop's **true** graph (left, a dark cell is a true edge) and
    the **learned** P(edge) (right, true edges outlined in orange). Rows are causes,
    columns effects. A good fit shows dark cells inside the orange boxes and light cells
    elsewhere.
    '''),
    code('''
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
    '''),
    md('''
    The same shop as a ranking: edges sorted by P(edge). A perfect ranking (AUROC = 1)
    lists every true edge before any non-edge. Confident false edges usually join two
    nodes driven by the same channel: their histories move together, so one seems to
    predict the other (the usual limit of Granger causality when the common driver's
    effect is delayed differently).
    '''),
    code('''
    names = np.asarray(data.node_names, dtype=object)
    cause, effect = np.nonzero(~np.eye(len(names), dtype=bool))
    ranking = pd.DataFrame({
        "cause": names[cause],
        "effect": names[effect],
        "P(edge)": p_edge[s][cause, effect].round(3),
        "true edge": truth[s][cause, effect].astype(bool),
    }).sort_values("P(edge)", ascending=False, ignore_index=True)
    ranking.head(int(truth[s].sum()) + 5)
    '''),
    md('''
    ## Takeaways

    * At full size CausalMMM ranks true edges far above non-edges (edge AUROC near
      0.98) and clearly beats the linear Granger baseline (about 0.84); the paper's
      benchmark numbers are in `benchmarks/results.md`.
    * Its probabilities are deliberately tempered: rank edges by P(edge), or use the
      present/uncertain/absent decisions of notebook 3, rather than cutting at 0.5.
    * The loss is still falling after 15 epochs; train longer if the forecasts matter
      more than the graph.
    * Notebook 2 checks whether the model's *predictions* are calibrated, notebook 3 turns
      the posterior into decisions (which edges are present, absent or uncertain) and a
      shareable HTML report.
    '''),
]


# ------------------------------------------------------------------------------ 02

NB02 = [
    md('''
    # 2 · Posterior predictive checks and an honest backtest

    A model that finds plausible graphs is only useful if its predictions and their
    uncertainty can be trusted. This notebook:

    1. trains on each shop's history **without its last days** (held out for later),
    2. checks the fit on the training period with *posterior predictive checks* (PPC):
       does data simulated by the model look like the real data, and do its 50% / 90%
       intervals contain about 50% / 90% of the observations?
    3. forecasts the held-out days and scores them (a *backtest*): error and interval
       coverage 1, 7 and 30 days ahead.
    '''),
    code(SIZES + '''
HOLDOUT = 30 if LENGTH >= 100 else 7  # days held out per shop for the backtest
''' + SIZES_PRINT + '''
print(f"backtest: the last {HOLDOUT} days of every shop are held out")
'''),
    code('''
    %matplotlib inline
    import warnings

    # the progress-bar library (tqdm) asks for ipywidgets, which these notebooks do not need
    warnings.filterwarnings("ignore", message="IProgress not found")

    import pandas as pd

    from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
    from pyro_causalmmm import simulate
    from pyro_causalmmm.posterior import forecasting
    from pyro_causalmmm.report import plotting
    from pyro_causalmmm.posterior import draws as posterior
    from pyro_causalmmm.posterior import summaries

    pd.set_option("display.precision", 3)
    '''),
    md(SIM2_TEXT),
    code(SIMULATE),
    md('''
    ## Train without the held-out days

    `data.drop_last(HOLDOUT)` removes each shop's last `HOLDOUT` days (and refits the
    internal scaling on what remains, so nothing of the future leaks in). The model never
    sees those days: that makes the backtest below *honest*.
    '''),
    code('''
    train = data.drop_last(HOLDOUT)
    mmm = CausalMMM(ModelConfig())
    fit_result = mmm.fit(train, TrainConfig(epochs=EPOCHS, seed=SEED))
    print(f"trained on {int(train.lengths.max())} days per shop in {fit_result.seconds:.0f} s")
    idata = posterior.build(mmm, train, draws=DRAWS, seed=SEED)
    SHOP = data.shop_ids[0]
    '''),
    md('''
    ## Posterior predictive check (training period)

    For every shop and day the model produces `DRAWS` one-day-ahead *replicates*: what GMV
    could have been, given everything observed up to the day before. (The first three
    days of each shop have no history to predict from and are not scored.)

    **Density plot.** The black line is the distribution of observed GMV over all shops
    and days; each thin blue line is the same for one set of replicates. If the blue
    lines scatter around the black one, the model reproduces the data's overall shape.
    Watch the left tail: GMV is never negative, but the model's noise is Gaussian, so
    replicates of shops whose GMV runs close to zero can dip below it. Read a negative
    lower interval bound as "close to zero".
    '''),
    code('plotting.plot_ppc(idata)'),
    md('''
    **PIT histogram.** For each observation, the *probability integral transform* is the
    share of replicates below it. If the predictive distributions are calibrated, these
    values are uniform: the bars hover around the dashed line at 1 (within the grey band
    that chance allows).

    * **U shape** (tall at both ends): observations often fall outside the predictive
      range, intervals are **too narrow** (over-confident).
    * **Hump** in the middle: intervals are **too wide** (under-confident).
    * **Slope**: the predictions are **biased** (too high when the left side is tall).
    '''),
    code('plotting.plot_pit(idata)'),
    md('''
    **Coverage.** The share of observations inside the 50% and 90% highest-density
    intervals (HDI: the narrowest range holding that share of the replicates). A
    calibrated model gives about 50% and 90%. The model predicts every node, so the
    table lists the channels too, not only GMV.
    '''),
    code('''
    cover = summaries.ppc_coverage(idata)
    print(
        f"in-sample coverage of gmv: 50% HDI covers {cover[0.5]:.1%}, "
        f"90% HDI covers {cover[0.9]:.1%}"
    )
    by_node = pd.DataFrame(
        {node: summaries.ppc_coverage(idata, node=node) for node in data.node_names}
    ).T
    by_node.columns = ["50% HDI covers (%)", "90% HDI covers (%)"]
    (100 * by_node).round(1)
    '''),
    md('''
    **Fit of one shop.** Black: observed GMV. Blue: the model's one-day-ahead prediction
    (line: mean; dark band: 50% HDI; light band: 90% HDI). About half of the black line
    should run inside the dark band and nearly all of it inside the light band.
    '''),
    code('plotting.plot_fit_forecast(idata, SHOP)'),
    md('''
    ## Backtest: forecasting the held-out days

    `forecasting.backtest` conditions on each shop's history before the held-out days
    and forecasts them all at once (no peeking: day 7 is forecast without knowing days
    1-6), then compares with what actually happened:

    * **MSE** on the model's per-shop scale (GMV mapped to [0.1, 0.9] per shop, so large
      and small shops count equally);
    * **MAPE**: mean absolute percentage error of the forecast mean, in GMV's own units;
    * **coverage**: share of actual values inside the 50% / 90% forecast intervals.

    Each score is computed over the first 1, 7 and (when at least 30 days are held out)
    30 forecast days. Errors grow with the horizon; intervals should widen to match, so
    that coverage stays near 50% / 90%.
    '''),
    code('''
    bt_idata, bt_table, bt_scores = forecasting.backtest(
        mmm, data, HOLDOUT, draws=DRAWS, seed=SEED
    )
    print("\\n".join(forecasting.format_scores(bt_scores, honest=True)))
    scores = pd.DataFrame(bt_scores).T.rename_axis("first k days")
    pd.DataFrame({
        "MSE (scaled)": scores["mse_scaled"].map("{:.4f}".format),
        "MAPE (%)": scores["mape"].round(1),
        "50% interval covers (%)": (100 * scores["coverage_50"]).round(1),
        "90% interval covers (%)": (100 * scores["coverage_90"]).round(1),
        "cells": scores["cells"].astype(int),
    })
    '''),
    md('''
    **Reading the errors.** MSE and MAPE score the forecast *mean* and are sensitive to a
    few large misses. MAPE explodes on days whose GMV is close to zero (missing by 10 on
    a GMV of 20 is a 50% error), and one large miss moves the mean a lot. The **median**
    absolute percentage error (APE) is robust to both. (Simulated values are kept inside
    each series' observed range widened by half its width, and above zero for GMV and
    spend, so no draw can run away over a long horizon.) For scale, the table also scores a naive forecast that predicts
    every held-out day as the shop's mean GMV over its last 7 training days.
    '''),
    code('''
    bt_table["day"] = bt_table.groupby("shop").cumcount() + 1
    last7 = pd.Series(
        {str(s): float(train.values[i, n - 7 : n, train.target_index].mean())
         for i, (s, n) in enumerate(zip(train.shop_ids, train.lengths))}
    )
    naive = bt_table["shop"].map(last7)
    ape = pd.DataFrame({
        "CausalMMM": (bt_table["target_mean"] - bt_table["observed"]).abs(),
        "naive (last-7-day mean)": (naive - bt_table["observed"]).abs(),
    }).div(bt_table["observed"].abs(), axis=0) * 100
    errors = {}
    for k in bt_scores:
        first_k = ape[bt_table["day"] <= k]
        errors[f"MAPE (%), first {k}"] = first_k.mean()
        errors[f"median APE (%), first {k}"] = first_k.median()
    pd.DataFrame(errors).round(1)
    '''),
    md('''
    The shops with the largest errors over all held-out days: usually shops whose GMV
    comes close to zero in the held-out window, where percentage errors are large.
    '''),
    code('''
    per_shop = ape.groupby(bt_table["shop"]).mean()
    print(
        f"MAPE over the {HOLDOUT} held-out days: median shop "
        f"{per_shop['CausalMMM'].median():.1f}% (naive {per_shop.iloc[:, 1].median():.1f}%)"
    )
    per_shop.nlargest(5, "CausalMMM").round(1)
    '''),
    md('''
    **Fan chart of the backtest.** The training period (black, with the blue one-day-ahead
    fit) is followed by the forecast of the held-out days (orange: mean, 50% and 90%
    HDIs) from the dotted line on; the black dots are what actually happened. The fan
    widens with the horizon: the further ahead, the less certain.
    '''),
    code('''
    fig = plotting.plot_fit_forecast(bt_idata, SHOP)
    ax = fig.axes[0]
    held = bt_table[bt_table["shop"] == str(SHOP)]
    ax.plot(held["time"], held["observed"], "o", color="black", ms=3.5, label="held out (actual)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig
    '''),
    code('''
    bt_table[bt_table["shop"] == str(SHOP)].head(10)
    '''),
    md('''
    ## Takeaways

    At full size (100 shops, 30 held-out days):

    * In the training period the intervals are somewhat too wide: the 50% / 90% HDIs of
      GMV cover about 59% / 96% of the days and the PIT histogram has a hump. The model
      errs on the side of caution, not over-confidence.
    * Out of sample, the forecast intervals roughly hold: over the first 1, 7 and 30 days
      the 90% interval covers close to 90%, the 50% interval somewhat less than half
      (in the mid-40s).
      One day ahead, the typical (median) error is a fraction of the naive forecast's.
    * Over 30 days the typical (median) error is only a little better than the naive
      forecast's: the value of the model there is in its intervals and in the channels
      it conditions on, not in a sharper point forecast.
    * With your own data: `causalmmm fit data.csv ... --holdout 30 --out run/`, then
      `causalmmm forecast run/ data.csv --horizon 30 --backtest --out backtest.csv`
      (see `causalmmm forecast --help`), or this notebook's calls on your
      `MarketingMixData`.
    '''),
]


# ------------------------------------------------------------------------------ 03

NB03 = [
    md('''
    # 3 · Uncertainty report: edges, S-curves and GMV forecasts

    A Bayesian model answers "how sure are we?". This notebook turns the posterior into
    what an analyst acts on:

    1. **edge decisions**: for every shop and edge, *present*, *absent* or *uncertain*;
    2. the **pooled graph**: which edges hold across many shops;
    3. one shop's **edge heatmap** with intervals, and its **S-curve** (diminishing returns);
    4. **GMV forecasts** with 50% / 90% intervals;
    5. a self-contained **HTML report** with all of it, to share.
    '''),
    code(SIZES + '''
HORIZON = 14  # days to forecast past the data
# folder for the HTML report: CAUSALMMM_NOTEBOOK_OUTPUT if set, else a new temporary one
OUTPUT_DIR = os.environ.get("CAUSALMMM_NOTEBOOK_OUTPUT") or None
''' + SIZES_PRINT),
    code('''
    %matplotlib inline
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
    '''),
    md(SIM2_TEXT),
    code(SIMULATE),
    md('''
    ## Fit and forecast

    We train on all days, then `forecasting.forecast` draws the posterior and forecasts
    `HORIZON` days past each shop's last day. Future context is held at its last value;
    future channel spend is forecast by the model like every other series.
    '''),
    code('''
    mmm = CausalMMM(ModelConfig())
    fit_result = mmm.fit(data, TrainConfig(epochs=EPOCHS, seed=SEED))
    print(f"trained in {fit_result.seconds:.0f} s")
    idata, forecasts = forecasting.forecast(mmm, data, HORIZON, draws=DRAWS, seed=SEED)
    SHOP = data.shop_ids[0]
    '''),
    md('''
    ## Edge uncertainty

    `summaries.edge_table` has one row per shop and edge:

    * `p_edge`: the posterior probability that the edge exists;
    * `weight_mean`, `weight_hdi_low/high`: mean and 90% HDI of the edge's weight (between
      0 and 1) as the model uses it; a wide interval means the data leave the edge open;
    * `decision`: **present** when `p_edge ≥ 0.8`, **absent** when `p_edge ≤ 0.2`,
      **uncertain** in between (the thresholds are arguments of `edge_table`);
    * `shops_present`: in how many shops this edge is present.

    The edges of one shop, most probable first:
    '''),
    code('''
    edges = summaries.edge_table(idata)
    shop_edges = edges[edges["shop"] == str(SHOP)].sort_values("p_edge", ascending=False)
    shop_edges.head(15)
    '''),
    md('''
    **How far can the decisions be trusted?** In a simulation we know the truth, so we can
    check: of the edges called *present*, how many are real? And of the *uncertain* and
    *absent* ones?

    At full size, about four in five *present* edges are real, while *uncertain* edges
    are almost never real. That is the default KL weight (`lam = 100`) at work: it keeps
    the probabilities of edges the data do not support near the prior 0.5 instead of
    pushing them to 0. So with the default settings, treat *uncertain* as "probably
    absent", act on *present*, and rank by `p_edge` when you need a shortlist. On your
    own data there is no truth to check against; an experiment (a holdout or a spend
    test) on the edges that matter most is the way to confirm them.
    '''),
    code('''
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
    '''),
    md('''
    ## The pooled graph

    Which edges hold across shops? `summaries.pooled_edges` counts, per edge, the shops
    where it is present, uncertain or absent, sorted by the mean `p_edge` over shops.
    An edge present in many shops is a robust, general pattern; one present in a few is
    shop-specific. In the simulation, the shops' graphs come from 5 random funnels, so
    only a few edges are shared widely.

    `plotting.plot_pooled_graph` draws this on a circle (the HTML report below includes
    it); with many shops nearly every edge is present in at least one shop and the
    drawing gets crowded, so here a ranked bar chart shows the most widely shared edges.
    The orange ticks (and the `share_true` column) give the share of shops where the edge
    is real, known only because the data are simulated: bars should reach the ticks.
    '''),
    code('''
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
    '''),
    md('''
    ## One shop: edge heatmap with intervals

    Rows are causes, columns effects. Each cell shows P(edge) (its colour) and, in
    brackets, the 90% HDI of the edge weight. A cell with P(edge) near 1 and a narrow
    interval near 1 is a confident edge; a wide interval such as [0.00, 1.00] says the
    data do not settle it.
    '''),
    code('plotting.plot_edge_heatmap(idata, SHOP)'),
    md('''
    ## S-curves: diminishing returns

    GMV responds to its combined marketing drive `u` through a Hill curve
    `u^a / (u^a + g)`, which saturates: past some point, more drive buys less GMV. Its
    shape `a` and inflexion `g` come from the shop's context, so shops differ. Below, the
    two shops with the lowest and the highest `ctx_1`, which sets the simulated curve's
    shape: a low `ctx_1` gives a concave curve (diminishing returns from the start), a
    high one an S shape (a slow start, then a steep stretch, then saturation).

    **How to read it.** The line is the median curve; the band shows how the curve moves
    with the context over time (not parameter uncertainty; the context here is static per
    shop, so the band is thin); the dots are the drive reached on each day; the dotted
    line, when inside the plot, marks half saturation. Days to the right of it are in the
    flat part, where extra spend buys less. The dots cover only the stretch of the curve
    the shop actually operated in: the curve away from them is extrapolation. The
    vertical axis is GMV on the model's internal 0-1 scale, and the model adds a linear
    term of recent values on top of the curve, so the curve is one part of the GMV
    prediction, not all of it.
    '''),
    code('''
    ctx = sim.frame.groupby("shop")[list(sim.context_names)].first()
    for shop in (ctx["ctx_1"].idxmin(), ctx["ctx_1"].idxmax()):
        print(f"{shop}: ctx_1 = {ctx.loc[shop, 'ctx_1']:+.2f}")
        display(plotting.plot_s_curve(idata, shop))
    '''),
    md('''
    ## GMV forecasts with intervals

    `summaries.forecast_table` (also returned by `forecasting.forecast`) has one row per
    shop and future day: the forecast mean and the 50% and 90% HDIs, in GMV's units. Plan
    with the interval, not just the mean: there is a 90% chance (if the model is
    calibrated, see notebook 2) that GMV lands inside `hdi_90_low … hdi_90_high`. For
    horizons of several weeks, check notebook 2's backtest first: a few forecast draws
    can run away late in a long horizon and pull the mean with them.
    '''),
    code('''
    table = summaries.forecast_table(idata)
    table[table["shop"] == str(SHOP)]
    '''),
    md('''
    The fan chart: observed GMV (black), the one-day-ahead fit (blue), then the forecast
    (orange) with its 50% and 90% bands widening with the horizon.
    '''),
    code('plotting.plot_fit_forecast(idata, SHOP)'),
    md('''
    How fast does uncertainty grow? The median width of the 90% interval, relative to
    the forecast mean, per forecast day over all shops:
    '''),
    code('''
    table["day"] = table.groupby("shop").cumcount() + 1
    width = (table["hdi_90_high"] - table["hdi_90_low"]) / table["target_mean"].abs()
    growth = width.groupby(table["day"]).median().rename("90% interval width / mean")
    growth.to_frame().T.round(2)
    '''),
    md('''
    ## The HTML report

    `report.write_report` writes one self-contained HTML file (figures embedded, no
    internet needed) with the data summary, training curve, pooled graph, a block per
    selected shop (graph, heatmap, fan chart, S-curve, edge table), the forecast table and
    the posterior predictive check. Open it in a browser or send it around. The
    command-line equivalent is `causalmmm report`.
    '''),
    code('''
    out_dir = Path(OUTPUT_DIR or tempfile.mkdtemp(prefix="causalmmm_report_"))
    path = report.write_report(
        idata,
        out_dir / "causalmmm_report.html",
        shops=[str(SHOP)],
        data_summary=data.summary(),
    )
    print(f"HTML report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    '''),
]


# ------------------------------------------------------------------------------ 04

NB04 = [
    md('''
    # 4 · Budget decisions through the learned graph

    Most marketing-mix tools add channels up independently. CausalMMM learns, for every
    shop, *which channels drive which* (brand ads → page views → GMV), so the fitted model is
    a simulator of each shop and can answer "what if" questions, funnel effects included.
    This notebook:

    1. measures each channel's **contribution** to GMV (what would have been lost without
       its spend), split into a **direct** part (its own edge into GMV) and an **indirect**
       part (through other channels), with **ROAS** and **marginal ROAS**;
    2. checks those numbers against the simulator's **ground truth**;
    3. draws **response curves** (GMV as each channel's spend is scaled from 0 to 2×);
    4. finds the **budget plan** that maximises expected GMV over the next weeks, and how
       much of its lift travels through indirect paths;
    5. adds all of it to the HTML report.

    Every answer is computed over posterior graph draws, so each comes with an interval.
    '''),
    code(SIZES + '''
DECISION_DRAWS = 8 if SMALL else 20  # posterior graph draws behind every decision
WINDOW_DAYS = 20 if SMALL else 30  # contributions and response curves: each shop's last days
HORIZON = 14 if SMALL else 30  # days the budget plan covers
# folder for the HTML report: CAUSALMMM_NOTEBOOK_OUTPUT if set, else a new temporary one
OUTPUT_DIR = os.environ.get("CAUSALMMM_NOTEBOOK_OUTPUT") or None
''' + SIZES_PRINT),
    code('''
    %matplotlib inline
    import tempfile
    import warnings
    from pathlib import Path

    # the progress-bar library (tqdm) asks for ipywidgets, which these notebooks do not need
    warnings.filterwarnings("ignore", message="IProgress not found")

    import numpy as np
    import pandas as pd
    from IPython.display import display
    from matplotlib.figure import Figure

    from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
    from pyro_causalmmm.decisions import contributions as decisions
    from pyro_causalmmm import report, simulate
    from pyro_causalmmm.decisions import optimizer
    from pyro_causalmmm.report import plotting_decisions
    from pyro_causalmmm.posterior import draws as posterior

    pd.set_option("display.precision", 2)
    '''),
    md(SIM2_TEXT),
    code(SIMULATE),
    md('''
    ## Train

    The same model and settings as in notebook 1. Everything below reuses this one fit.
    '''),
    code('''
    mmm = CausalMMM(ModelConfig())
    fit_result = mmm.fit(data, TrainConfig(epochs=EPOCHS, seed=SEED))
    print(f"trained in {fit_result.seconds:.0f} s")
    SHOP = data.shop_ids[0]
    '''),
    md('''
    ## Contributions, ROAS and marginal ROAS

    For every shop and channel, over each shop's last `WINDOW_DAYS` days:

    * **contribution** = observed GMV − GMV had the channel's spend been 0 on those days.
      The model replays the shop with that one change: channels with learned parents react
      (a funnel step), channels without parents keep what was observed, and each day's
      unexplained part of GMV (its residual) stays as observed. So "no change" reproduces
      the data exactly, and the difference is the channel's effect alone.
    * **direct** = the same, with every other channel held at its observed values: only the
      channel's own edge into GMV carries the change. **indirect** = contribution − direct.
    * **ROAS** = contribution / spend; **marginal ROAS (mroas)** = extra GMV per extra unit
      of spend when the spend is raised by 1%: what the *next* dollar buys.

    Each number is averaged over `DECISION_DRAWS` graphs drawn from the posterior (an edge
    with P(edge) = 0.7 is present in about 70% of them); `contribution_hdi_low/high` is the
    90% highest-density interval over those draws.

    From the command line: `causalmmm contributions run/ data.csv --context ctx_1 ctx_2
    --window 2023-04-01:2023-04-30 --out contributions.csv`.
    '''),
    code('''
    window = (data.times[0][-WINDOW_DAYS], None)  # (first day, open end): the last days
    config = decisions.DecisionConfig(draws=DECISION_DRAWS, seed=SEED)
    contrib = decisions.contributions(mmm, data, window=window, config=config)
    contrib.table[contrib.table["shop"] == str(SHOP)]
    '''),
    md('''
    **How to read the waterfall.** Channels are sorted by contribution, each bar stacked on
    the previous ones: dark blue is the direct part, orange the indirect part (a negative
    part points down). The last bar is the sum over channels. Whiskers are 90% HDIs.
    First summed over all shops, then for one shop.
    '''),
    code('''
    display(plotting_decisions.plot_contributions(contrib.table, draws=contrib.draws))
    plotting_decisions.plot_contributions(contrib.table, shop=SHOP)
    '''),
    md('''
    ## Checked against the truth

    The simulator can replay its own equations under the same intervention with the same
    random noise (`simulate.true_contributions`), so here we know the true effects. The
    **Spearman rank correlation** says whether the model orders (shop, channel) pairs like
    the truth (1 = the same order): what matters for deciding where money works best.
    Indirect effects should be near zero for channels whose true graph has no path through
    another channel, and clearly non-zero where it has one.
    '''),
    code('''
    truth = simulate.true_contributions(sim, window=contrib.window)
    scores = decisions.compare_with_truth(contrib.table, truth)
    print(
        f"Spearman rank correlation of estimated vs true total effects: "
        f"{scores['spearman_total']:.3f} over all (shop, channel) pairs, "
        f"{scores['spearman_total_per_shop']:.3f} within shops (mean)"
    )
    print(
        f"mean |indirect effect|: {scores['indirect_mediated']:.0f} where the true graph has a "
        f"path through another channel (true: {scores['true_indirect_mediated']:.0f}), "
        f"{scores['indirect_unmediated']:.0f} where it has none (true: 0)"
    )
    '''),
    code('''
    both = contrib.table.merge(truth, on=["shop", "channel"], suffixes=("", "_true"))
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.scatter(both["total"], both["contribution"], s=10, alpha=0.6)
    lim = np.abs(both[["total", "contribution"]].to_numpy()).max()
    left.plot([-lim, lim], [-lim, lim], color="grey", ls=":")
    left.set_xlabel("true contribution")
    left.set_ylabel("estimated contribution")
    left.set_title("total effect per (shop, channel)")
    colors = np.where(both["mediated"], "#f28e2b", "#1b4f8a")
    right.scatter(both["indirect_true"], both["indirect"], s=10, alpha=0.6, c=colors)
    right.set_xlabel("true indirect part")
    right.set_ylabel("estimated indirect part")
    right.set_title("indirect part (orange: a true path through another channel)")
    fig
    '''),
    md('''
    The model ranks channels well; the sizes are rougher. Switching a channel off takes its
    spend far below anything observed, where the model's linear lag term extrapolates while
    the simulated response saturates (the decision tools keep GMV inside the model's S-curve
    range, which limits, but does not remove, the overshoot). Lean on the ranking and on the
    marginal ROAS (small changes, inside the data) more than on the size of a switch-off.

    ## Response curves

    How does GMV respond as one channel's spend is scaled, the others reacting through the
    graph? Below for a few shops (each curve costs a replay of the shops per multiplier).
    **How to read it.** One line per channel: the change in GMV over the window against the
    spend multiplier (1 = what was spent, so every line passes through 0 there), with 90% HDI
    bands. The slope at 1 is the marginal return; a flattening line means diminishing returns.

    From the command line: `causalmmm response run/ data.csv --context ctx_1 ctx_2
    --grid 0,0.5,1,1.5,2 --out response.csv --plot response.png`.
    '''),
    code('''
    few = data.subset(range(3))
    curves = decisions.response_curves(
        mmm, few, grid=[0, 0.5, 1, 1.5, 2], window=window, config=config
    )
    display(plotting_decisions.plot_response_curves(curves.draws))
    plotting_decisions.plot_response_curves(curves.draws, shop=SHOP)
    '''),
    md('''
    ## A budget plan

    `optimizer.optimize_budget` looks for the spend per day, per shop and channel, over the
    next `HORIZON` days that maximises expected GMV, for a total budget and bounds on each
    channel:

    * **current spend** is each shop's mean daily spend on the channel over its last
      `HORIZON` days; bounds are multipliers of it (default 0.5× to 1.5×: the model is
      trusted near the spend it has seen);
    * the budget here is the current total (`relative=True, budget=1.0`): the plan only moves
      money between channels and shops;
    * the future follows the model's mean path from each shop's last day, context held at
      its last value; the lift is against keeping current spend, per graph draw.

    From the command line: `causalmmm optimize run/ data.csv --context ctx_1 ctx_2
    --budget 1.0x --horizon 30 --bounds '*=0.5:1.5' --out plan.csv` (add `--per-shop` to keep
    every shop's total).
    '''),
    code('''
    plan = optimizer.optimize_budget(
        mmm,
        data,
        optimizer.BudgetConfig(
            budget=1.0, relative=True, horizon=HORIZON, draws=DECISION_DRAWS, seed=SEED
        ),
    )
    s = plan.summary
    print(
        f"budget {s['budget']:,.0f} over {HORIZON} days (= current spend), found in "
        f"{s['seconds']:.0f} s"
    )
    print(
        f"expected GMV lift {s['lift']:,.0f} (90% HDI {s['lift_hdi_low']:,.0f} to "
        f"{s['lift_hdi_high']:,.0f}) on {s['current_gmv']:,.0f} expected at current spend"
    )
    plan.shops.head()
    '''),
    md('''
    **How to read the plan.** Grey: current daily spend per channel; blue: the plan, with
    its bounds as whiskers. Summed over shops, then for one shop.
    '''),
    code('''
    display(plotting_decisions.plot_plan(plan.table))
    plotting_decisions.plot_plan(plan.table, shop=SHOP)
    '''),
    md('''
    ## Levers and mediators

    Above, every channel is a budget lever, so the plan sets them all and no other node is
    left to carry an effect: the lift is direct by construction. In practice some series
    are not bought directly (organic search, page views) but respond to the ones that are.
    Declaring only the first half of the channels as spend (`spend=[...]`) makes the others
    mediators: they now react to the plan through the learned graph, and part of the lift
    travels through them.
    '''),
    code('''
    levers = [f"spend_{k + 1}" for k in range(N_CHANNELS // 2)]
    data_levers = MarketingMixData.from_frame(
        sim.frame, target="gmv", context=list(sim.context_names), spend=levers
    )
    plan_levers = optimizer.optimize_budget(
        mmm,
        data_levers,
        optimizer.BudgetConfig(
            budget=1.0, relative=True, horizon=HORIZON, draws=DECISION_DRAWS, seed=SEED
        ),
    )
    s = plan_levers.summary
    print(
        f"levers {', '.join(levers)}: expected GMV lift {s['lift']:,.0f} "
        f"(90% HDI {s['lift_hdi_low']:,.0f} to {s['lift_hdi_high']:,.0f}), of which "
        f"{s['indirect']:,.0f} ({100 * s['indirect_share']:.0f}%) through indirect paths"
    )
    '''),
    md('''
    ## Into the report

    `plotting_decisions.decision_sections` turns these results into sections for the HTML
    report of notebook 3 (`report.write_report(..., extra_sections=...)`), figures embedded.
    '''),
    code('''
    idata = posterior.build(mmm, data, draws=DRAWS, seed=SEED)
    sections = plotting_decisions.decision_sections(
        contributions=contrib, response=curves, plan=plan, shop=SHOP
    )
    out_dir = Path(OUTPUT_DIR or tempfile.mkdtemp(prefix="causalmmm_report_"))
    path = report.write_report(
        idata,
        out_dir / "causalmmm_decisions.html",
        shops=[str(SHOP)],
        data_summary=data.summary(),
        extra_sections=sections,
    )
    print(f"HTML report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    '''),
    md('''
    ## Takeaways

    * Contributions through the graph rank channels like the truth and separate direct from
      funnel (indirect) effects; the sizes of full switch-offs are overstated, so lean on
      rankings and marginal ROAS.
    * The optimizer keeps every plan within the budget and the bounds and reports the lift
      with its uncertainty; with mediators in the data it also says how much of the lift
      depends on them.
    * Every number here is a statement about the model: check its graphs (notebooks 1 and
      3) and its predictions (notebook 2) before acting on them.
    '''),
]


NOTEBOOKS = {
    "01_svi_training": NB01,
    "02_posterior_predictive_checks": NB02,
    "03_uncertainty_report": NB03,
    "04_budget_decisions": NB04,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](source) for kind, source in NOTEBOOKS[name]]
    for k, cell in enumerate(nb.cells):  # stable ids: regenerating changes no diff
        cell["id"] = f"{name[:2]}-{k:02d}"
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 1200) -> nbformat.NotebookNode:
    """Run ``nb`` in place in a fresh kernel whose working directory is a temporary one."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=KERNEL,
            record_timing=False,
            resources={"metadata": {"path": tmp}},
        ).execute()
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"notebooks (default all): {list(NOTEBOOKS)}")
    parser.add_argument("--execute", action="store_true", help="run and save with outputs")
    args = parser.parse_args(argv)
    for name in args.names or NOTEBOOKS:
        name = Path(name).stem
        nb = build(name)
        if args.execute:
            start = time.perf_counter()
            execute(nb)
            print(f"{name}: executed in {time.perf_counter() - start:.0f} s", flush=True)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
