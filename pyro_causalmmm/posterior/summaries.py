"""Tables an analyst reads, computed from an ``InferenceData`` (schema in
:mod:`pyro_causalmmm.posterior.inference_data`): edge uncertainty, the pooled graph, GMV forecasts
and posterior-predictive coverage. Pure functions of the data: no model, no plotting.

Edge decisions (documented thresholds, overridable):

* ``present``   when ``p_edge >= present`` (default 0.8): the posterior puts at least 80%
  on the edge;
* ``absent``    when ``p_edge <= absent`` (default 0.2);
* ``uncertain`` otherwise. The data do not settle the edge; the README explains that
  ranking by ``p_edge`` is more reliable than any one threshold (the default KL weight
  lambda = 100 tempers probabilities towards the prior 0.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.posterior.stats import coverage, hdi

DRAWS = 100
"""Default number of posterior draws (kept here, a torch-free module, so the CLI's
parser can show it without importing torch)."""
PRESENT = 0.8
ABSENT = 0.2
EDGE_HDI = 0.9
FORECAST_PROBS = (0.5, 0.9)


def _names(idata, dim: str) -> np.ndarray:
    return np.asarray(
        idata.observed_data[dim].values
        if dim in idata.observed_data.coords
        else idata.posterior[dim].values,
        dtype=object,
    )


def target_name(idata) -> str:
    """The target node's label (the last node)."""
    return str(idata.attrs.get("target_name", idata.observed_data["node"].values[-1]))


def decide(p_edge: np.ndarray, present: float = PRESENT, absent: float = ABSENT) -> np.ndarray:
    """``present`` / ``absent`` / ``uncertain`` labels for edge probabilities."""
    if not 0 <= absent < present <= 1:
        raise ValueError(f"need 0 <= absent < present <= 1, got absent={absent} present={present}")
    p = np.asarray(p_edge, dtype=np.float64)
    return np.where(p >= present, "present", np.where(p <= absent, "absent", "uncertain"))


def edge_table(
    idata, present: float = PRESENT, absent: float = ABSENT, hdi_prob: float = EDGE_HDI
) -> pd.DataFrame:
    """One row per shop and off-diagonal edge.

    Columns: ``shop, cause, effect, p_edge`` (posterior edge probability), ``weight_mean``
    and ``weight_hdi_low/high`` (posterior mean and ``hdi_prob`` HDI of the relaxed edge
    weight z the decoder uses), ``decision`` (see module docstring), ``shops_present``
    (how many shops have this edge ``present``, the pooled view).
    """
    p = idata["edges"]["edge_probability"].values  # (shop, cause, effect)
    draws = idata.posterior["edge"].values  # (chain, draw, shop, cause, effect)
    draws = draws.reshape(-1, *draws.shape[2:])
    low, high = hdi(draws, hdi_prob)
    n_shops, d, _ = p.shape
    cause, effect = np.nonzero(~np.eye(d, dtype=bool))
    shops = np.asarray(idata["edges"]["shop"].values, dtype=object)
    nodes = np.asarray(idata["edges"]["cause"].values, dtype=object)
    pe = p[:, cause, effect]
    decision = decide(pe, present, absent)
    shared = (decision == "present").sum(0)
    return pd.DataFrame(
        {
            "shop": np.repeat(shops, len(cause)),
            "cause": np.tile(nodes[cause], n_shops),
            "effect": np.tile(nodes[effect], n_shops),
            "p_edge": pe.reshape(-1),
            "weight_mean": draws.mean(0)[:, cause, effect].reshape(-1),
            "weight_hdi_low": low[:, cause, effect].reshape(-1),
            "weight_hdi_high": high[:, cause, effect].reshape(-1),
            "decision": decision.reshape(-1),
            "shops_present": np.tile(shared, n_shops),
        }
    )


def pooled_edges(table: pd.DataFrame) -> pd.DataFrame:
    """Per edge across shops: ``cause, effect, mean_p_edge, present, uncertain, absent,
    share_present``, sorted by ``mean_p_edge`` (strongest first)."""
    counts = pd.crosstab([table["cause"], table["effect"]], table["decision"])
    for col in ("present", "uncertain", "absent"):
        if col not in counts:
            counts[col] = 0
    mean_p = table.groupby(["cause", "effect"], sort=False)["p_edge"].mean()
    out = counts[["present", "uncertain", "absent"]].join(mean_p.rename("mean_p_edge"))
    out["share_present"] = out["present"] / out[["present", "uncertain", "absent"]].sum(axis=1)
    out = out.reset_index()[
        ["cause", "effect", "mean_p_edge", "present", "uncertain", "absent", "share_present"]
    ]
    return out.sort_values("mean_p_edge", ascending=False, kind="stable").reset_index(drop=True)


def ppc_coverage(idata, probs=FORECAST_PROBS, node: str | None = None) -> dict[float, float]:
    """Share of observed ``node`` values (default: the target) inside the posterior
    predictive ``prob`` HDI, over the scored observed cells. Calibrated: about ``prob``."""
    node = node or target_name(idata)
    obs = idata.observed_data["obs"].sel(node=node).values  # (shop, time)
    rep = idata.posterior_predictive["obs"].sel(node=node).values
    rep = rep.reshape(-1, *rep.shape[2:])
    return {float(p): coverage(obs, rep, p) for p in probs}


def forecast_table(idata, node: str | None = None, probs=FORECAST_PROBS) -> pd.DataFrame:
    """The ``predictions`` group as ``shop,time,target_mean,hdi_50_low,hdi_50_high,
    hdi_90_low,hdi_90_high`` (user units and labels), one row per shop and future step."""
    if "predictions" not in idata.groups():
        raise ValueError("this InferenceData has no forecast: run `causalmmm forecast` first")
    node = node or target_name(idata)
    da = idata.predictions["obs"].sel(node=node)
    draws = da.values.reshape(-1, *da.shape[2:])  # (S, shop, time)
    cols = {"target_mean": draws.mean(0)}
    for prob in probs:
        low, high = hdi(draws, prob)
        tag = int(round(prob * 100))
        cols[f"hdi_{tag}_low"], cols[f"hdi_{tag}_high"] = low, high
    shops = np.asarray(da["shop"].values, dtype=object)
    times = pd.Index(da["time"].values)
    s, t = np.nonzero(np.isfinite(cols["target_mean"]))
    frame = pd.DataFrame({"shop": shops[s], "time": times[t]})
    for name, value in cols.items():
        frame[name] = value[s, t]
    return frame
