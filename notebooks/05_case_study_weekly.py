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
# # 5 · Case study: the weekly files marketing teams have
#
# Notebooks 1-4 use the package's own simulators. This one starts from the two public
# sample files MMM users know, as a new user would:
#
# * **Robyn's `dt_simulated_weekly.csv`**: one brand, 208 weeks, Robyn's column suffixes
#   (`_S` spend, `_I` impressions, `_P` clicks, `_B` baseline), a text `events` column;
# * **Meridian's geo panel** (`geo_all_channels.csv`): 40 geos x 156 weeks, a
#   `conversions` target with `revenue_per_conversion`, `_spend`, `_impression` and
#   `_control` columns and a `population`.
#
# For each: validate (every column's role), fit, a posterior predictive check, the edges
# with their probabilities, contributions and ROAS with HDIs, response curves, a plan for
# the next 8 weeks under the same budget, and the HTML report. Each step says how to read
# it; the last section says what these data cannot tell.
#
# The same from the command line, for the Robyn file:
#
# ```
# causalmmm validate robyn_dt_simulated_weekly.csv --time DATE --target revenue
# causalmmm fit robyn_dt_simulated_weekly.csv --time DATE --target revenue --out run/
# causalmmm contributions run/ robyn_dt_simulated_weekly.csv --time DATE --target revenue --out c.csv
# ```

# %%
import os

# Size of the run. Unset (the default): both files at full size, about ten minutes on one
# CPU core. CAUSALMMM_NOTEBOOK_SMALL=1: the last 60 weeks of the Robyn file and 6 geos of the
# Meridian file, 2 epochs (the test suite runs it; its numbers mean little).
SMALL = os.environ.get("CAUSALMMM_NOTEBOOK_SMALL", "0") not in ("", "0")
EPOCHS = 2 if SMALL else 15  # 15 = TrainConfig's default
DRAWS = 20 if SMALL else 100  # posterior draws for the predictive check and the report
DECISION_DRAWS = 8 if SMALL else 40  # graph and coefficient draws behind every decision
HORIZON = 8  # weeks the budget plan covers
SEED = 0
# folder for the HTML reports: CAUSALMMM_NOTEBOOK_OUTPUT if set, else a new temporary one
OUTPUT_DIR = os.environ.get("CAUSALMMM_NOTEBOOK_OUTPUT") or None
print(f"{'small' if SMALL else 'full-size'} run: {EPOCHS} epochs, {DRAWS} draws, seed {SEED}")

# %%
# %matplotlib inline
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=FutureWarning)

import numpy as np
import pandas as pd
from IPython.display import display

import pyro_causalmmm
from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig, report
from pyro_causalmmm.decisions import contributions as decisions
from pyro_causalmmm.decisions import optimizer
from pyro_causalmmm.posterior import draws as posterior
from pyro_causalmmm.posterior import forecasting, summaries
from pyro_causalmmm.report import plotting, plotting_decisions


def find_dataset(name: str) -> Path:
    """The shared sample file: ``../shared/datasets`` beside the repository (or
    ``CAUSALMMM_DATASETS``)."""
    here = Path.cwd()
    roots = [os.environ.get("CAUSALMMM_DATASETS", "")]
    roots += [str(p / "shared" / "datasets") for p in (here, *here.parents)]
    repo = Path(pyro_causalmmm.__file__).resolve().parents[1]  # an editable install
    roots.append(str(repo.parent / "shared" / "datasets"))
    for root in roots:
        if root and (Path(root) / name).is_file():
            return Path(root) / name
    raise FileNotFoundError(f"{name} not found; set CAUSALMMM_DATASETS to its folder")


ROBYN = find_dataset("robyn_dt_simulated_weekly.csv")
MERIDIAN = find_dataset("meridian_geo_all_channels.csv")
out_dir = Path(OUTPUT_DIR or tempfile.mkdtemp(prefix="causalmmm_case_"))

# %% [markdown]
# ## Part 1 · One brand, weekly: Robyn's sample
#
# ### Validate: what the importer makes of every column
#
# The file has no shop column, so it is one shop, named after the file. Roles come from
# Robyn's suffixes: `_S` columns are spend (decision variables, checked >= 0), `_I` and
# `_P` are channels that respond (impressions, clicks), `competitor_sales_B` is an additive
# control, and the text column `events` becomes 0/1 indicator controls. **How to read
# it.** One line per column of the file; nothing is dropped without a line.

# %%
robyn_frame = pd.read_csv(ROBYN)
if SMALL:
    robyn_frame = robyn_frame.tail(60).reset_index(drop=True)
robyn = MarketingMixData.from_frame(robyn_frame, time="DATE", target="revenue", one_shop="robyn")
print(robyn.summary())

# %% [markdown]
# ### Fit
#
# Defaults only. Because the data are weekly, the model's lags are weeks, the baseline has a
# trend and yearly Fourier terms (the file spans four years), and effects can land within
# their own week (`same_period="funnel"`): a spend may act on every responding series in
# the same week, and a responding series on every later one in the file's column order
# (revenue last). Spends have no same-period parents and a same-period edge only points
# forward in that order, so the within-week graph stays acyclic; the order is an
# assumption (`same_period="on"` keeps same-period edges from spends only). `mmm.config`
# shows what the fit resolved.

# %%
mmm = CausalMMM(ModelConfig())
fit = mmm.fit(robyn, TrainConfig(epochs=EPOCHS, seed=SEED, quiet=True))
print(f"fitted in {fit.seconds:.0f} s; same-period edges: {mmm.config.same_period}; "
      f"controls: {list(mmm.config.controls)}; calendar columns: "
      f"{mmm.calendar.names() if mmm.calendar else []}")

# %% [markdown]
# ### Posterior predictive check
#
# One-step-ahead replicates of revenue over the 208 weeks. **How to read it.** The observed
# series (black) should sit inside the bands about as often as their level says (50% and
# 90%); a band that is far too wide means the model is unsure, far too narrow means
# overconfident.

# %%
idata = posterior.build(mmm, robyn, draws=DRAWS, seed=SEED)
cover = summaries.ppc_coverage(idata)
print(f"in-sample coverage of revenue: 50% HDI covers {cover[0.5]:.1%}, 90% covers {cover[0.9]:.1%}")
plotting.plot_ppc(idata)

# %% [markdown]
# ### Edges with their probabilities
#
# **How to read it.** `p_edge` is the posterior probability that the cause Granger-causes
# the effect (its past, or for a spend also its current week, changes the effect's
# prediction). Above 0.8 the edge is called present, below 0.2 absent, in between the
# data cannot tell. A spend channel should never be caused by revenue; the check below
# says so if it is.

# %%
edges = mmm.edge_probabilities(robyn).sort_values("p_edge", ascending=False)
display(edges.head(12).round(3))
into_revenue = edges[(edges.effect == "revenue") & (edges.p_edge >= 0.8)]
reverse = edges[(edges.cause == "revenue") & edges.effect.isin(robyn.spend_names)]
print("channels called causes of revenue (p >= 0.8):", ", ".join(into_revenue.cause) or "none")
print(f"largest p(revenue -> spend channel): {reverse.p_edge.max():.3f}")

# %% [markdown]
# ### Contributions and ROAS
#
# Contribution of a spend channel = revenue over the whole file minus revenue had the
# channel been switched off, through the learned graph (direct edge into revenue plus
# paths through impressions or clicks). Every number is a distribution over graph draws
# and the linear coefficients' posterior; the HDI columns are its 90% interval.

# %%
config = decisions.DecisionConfig(draws=DECISION_DRAWS, seed=SEED)
contrib = decisions.contributions(mmm, robyn, config=config)
cols = ["channel", "spend", "contribution", "contribution_hdi_low", "contribution_hdi_high",
        "direct", "indirect", "roas", "mroas", "p_effect"]
display(contrib.table[cols].round(2))

# %% [markdown]
# ### Response curves
#
# Revenue change against each channel's spend multiplier (1 = what was spent). **How to
# read it.** The slope at 1 is the marginal return; a flat line is a channel the model
# cannot credit; wide bands mean the data do not pin the effect down.

# %%
curves = decisions.response_curves(mmm, robyn, grid=[0, 0.5, 1, 1.5, 2], config=config)
plotting_decisions.plot_response_curves(curves.draws)

# %% [markdown]
# ### A plan for the next 8 weeks under the same budget
#
# The optimizer moves money between channels (bounds 0.5x to 1.5x of current weekly spend,
# total unchanged) to maximise expected revenue; then the forecast under that plan.

# %%
plan = optimizer.optimize_budget(
    mmm,
    robyn,
    optimizer.BudgetConfig(budget=1.0, relative=True, horizon=HORIZON, draws=DECISION_DRAWS,
                           seed=SEED),
)
s = plan.summary
print(f"expected revenue lift {s['lift']:,.0f} (90% HDI {s['lift_hdi_low']:,.0f} to "
      f"{s['lift_hdi_high']:,.0f}) on {s['current_gmv']:,.0f} at current spend")
display(plan.table.round(1))
_, fc_table = forecasting.forecast(
    mmm, robyn, horizon=HORIZON, draws=DRAWS, seed=SEED, plan=plan.table
)
display(fc_table.round({c: 0 for c in fc_table.columns if c.startswith(("target", "hdi"))}))

# %% [markdown]
# ### The HTML report

# %%
sections = plotting_decisions.decision_sections(contributions=contrib, response=curves,
                                                plan=plan)
path = report.write_report(idata, out_dir / "robyn_report.html", data_summary=robyn.summary(),
                           extra_sections=sections)
print(f"HTML report written to {path}")

# %% [markdown]
# ## Part 2 · Many geos: Meridian's sample, target conversions
#
# 40 geos x 156 weeks. The target is `conversions`; `revenue_per_conversion` turns every
# contribution, ROAS and plan into revenue (the summary says so); `population` is not a
# node (each geo is scaled on its own); the `_control` columns are additive controls.

# %%
meridian_frame = pd.read_csv(MERIDIAN)
if SMALL:
    keep = sorted(meridian_frame["geo"].unique())[:6]
    meridian_frame = meridian_frame[meridian_frame["geo"].isin(keep)]
geo = MarketingMixData.from_frame(meridian_frame, shop="geo", time="time", target="conversions")
print(geo.summary())

# %%
mmm_geo = CausalMMM(ModelConfig())
fit_geo = mmm_geo.fit(geo, TrainConfig(epochs=EPOCHS, seed=SEED, quiet=True))
print(f"fitted {geo.n_shops} geos in {fit_geo.seconds:.0f} s")
idata_geo = posterior.build(mmm_geo, geo, draws=DRAWS, seed=SEED)
cover = summaries.ppc_coverage(idata_geo)
print(f"in-sample coverage of conversions: 50% HDI covers {cover[0.5]:.1%}, "
      f"90% covers {cover[0.9]:.1%}")

# %% [markdown]
# **Edges pooled over geos.** `share_present` is the share of geos whose edge is called
# present; a funnel (spend -> impressions -> conversions) shows as spend -> impression
# edges next to impression -> conversions edges.

# %%
e = mmm_geo.edge_probabilities(geo)
pooled = (e.assign(present=e.p_edge >= 0.8).groupby(["cause", "effect"])
          .agg(p_edge_mean=("p_edge", "mean"), share_present=("present", "mean"))
          .sort_values("p_edge_mean", ascending=False))
display(pooled.head(12).round(3))
rev = e[(e.cause == "conversions") & e.effect.isin(geo.spend_names)]
print(f"geos x spend channels with p(conversions -> spend) >= 0.8: "
      f"{int((rev.p_edge >= 0.8).sum())} of {len(rev)}")

# %% [markdown]
# **Contributions and ROAS in revenue**, summed over geos, with the 90% HDI of the total
# over geos from the same draws.

# %%
contrib_geo = decisions.contributions(mmm_geo, geo, config=config)
tot = contrib_geo.draws["total"].sum("shop")
spend = contrib_geo.draws["spend"].sum("shop")
summary = pd.DataFrame({
    "spend": spend.values,
    "contribution (revenue)": tot.mean("draw").values,
    "hdi_low": tot.quantile(0.05, "draw").values,
    "hdi_high": tot.quantile(0.95, "draw").values,
}, index=tot["channel"].values)
summary["roas"] = summary["contribution (revenue)"] / summary["spend"]
display(summary.round(2))

# %%
plan_geo = optimizer.optimize_budget(
    mmm_geo, geo,
    optimizer.BudgetConfig(budget=1.0, relative=True, horizon=HORIZON, draws=DECISION_DRAWS,
                           seed=SEED),
)
s = plan_geo.summary
print(f"8-week plan, same budget: expected revenue lift {s['lift']:,.0f} (90% HDI "
      f"{s['lift_hdi_low']:,.0f} to {s['lift_hdi_high']:,.0f})")
path = report.write_report(idata_geo, out_dir / "meridian_report.html",
                           data_summary=geo.summary(),
                           extra_sections=plotting_decisions.decision_sections(
                               contributions=contrib_geo, plan=plan_geo))
print(f"HTML report written to {path}")

# %% [markdown]
# ## What these data cannot tell
#
# Measured in the full-size run above:
#
# * **Robyn file.** Three edges are called present: `search_S -> search_clicks_P` and
#   `facebook_S -> facebook_I` (p = 1: spend buys clicks and impressions within the week)
#   and `tv_S -> revenue` (p 0.98); no edge from revenue into a spend channel reaches
#   0.01. The next edge, `search_S -> newsletter`, has p 0.05 (it was 0.68 with
#   same-period edges from spends only: with one brand nothing pools the evidence, and a
#   newsletter that follows search campaigns is hard to tell from one driven by them).
#   TV's contribution has a wide HDI (19.9M to 34.8M on 3.1M spend; 13.9M to 35.9M
#   before 0.9, when its gain could take either sign: one brand's 3 positive gains make
#   every spend's direct gain media-like, `spend_effects="auto"`). The other channels'
#   edges into revenue are present in only a few graph draws (p 0.003-0.05; `p_effect`
#   is the share of draws with a path to revenue), so their posterior is a spike at 0
#   with a thin tail: `ooh_S` (a path in 8% of the draws) has an HDI from 0 to 15.2M,
#   `print_S` (2%) an HDI of [0, 0] with a non-zero mean, the others 0.
# * **Meridian file.** Spend -> impression edges are found in every geo (p = 1), but no
#   media edge into `conversions` is: the evidence for them is weak (median z-score about
#   1; spend and conversions are even negatively correlated in several geos once trend and
#   season move both; p about 0.002), so every spend's contribution is a spike at 0 (means
#   of 0-0.3M on 12-88M of spend, HDIs from 0) and the plan's lift is small (9k, HDI
#   -0.8k to 9k). The one edge into `conversions` with evidence is `Promo` (mean p 0.58,
#   above 0.5 in 40% of the geos; 0 before 0.10, whose single alternative density was set
#   by the spend -> impression edges). That reads "these data give no evidence that the
#   channels move conversions beyond the calendar", not "the channels do nothing": a tool
#   that assumes every channel acts (Meridian, PyMC-Marketing) would report positive ROAS
#   here from its priors.
#
# In general:
#
# * **One brand is one sample.** With a single series per column, every edge rests on 208
#   weeks; edges between 0.2 and 0.8 are left uncertain on purpose, and the intervals of
#   contributions are wide. Many geos (part 2) pool the evidence for the calibration of
#   edge probabilities, but each geo's graph is still its own.
# * **Weekly aggregation hides order within a week.** A spend can act within its week, and
#   so can a responding series on a later one, but only in the order the file lists them:
#   the data cannot tell whether impressions drive clicks or clicks impressions within a
#   week. A chain can also read as a direct spend -> revenue edge, so the direct /
#   indirect split is the weakest number here.
# * **Spend that follows demand.** Budgets planned around seasons are confounded with
#   revenue; the trend and yearly Fourier baseline absorbs what is shared with the calendar,
#   not a confounder the file does not contain (a promotion planned with the media).
# * **Linear response near the data.** Effects are linear in each cause's lags around what
#   was observed; the plan stays within 0.5x-1.5x of current spend for that reason, and a
#   channel switched off entirely (contribution) extrapolates the same slope to zero.
# * **Sample files are simulated by their authors**: their true effects are not published
#   with the files, so these numbers cannot be scored here; `benchmarks/effects.md` scores
#   the same pipeline against known do()-truth.
