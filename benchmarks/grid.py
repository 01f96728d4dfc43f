"""The benchmark grid, in one place, with why it is this size.

Budget (2-core machine, 1 thread per worker, 2 workers): a default CausalMMM fit at
N = 100, d = 10, T = 120 takes about 65 s; its cost grows about linearly in N and T
and faster in d (edges grow as d^2). PCMCI takes about 410 s per 100 shops at d = 10,
T = 120 and VARLiNGAM about 45 s; ridge-VAR and the VAR F-test take well under a
second. ``make bench`` should finish in about an hour and a half on 2 cores (recovery
about 45 min, forecasting 15, speed 20 with the N = 2000 run), hence:

* the default setting (Simulation 1 and 2, d = 10, T = 120, R = 5, N = 100, per-shop
  mechanisms, seeds 0-2) runs every method, ablations included;
* PCMCI is not recomputed: its rows for Simulation 2 at the default setting (same
  simulator, seeds and size: identical draws) are read from ``pcmci_results.json``;
  elsewhere it is marked "not run: est. X min" (estimate from its measured s/shop);
* the sweeps over d, T, R and N (paper Tables 4-6, Figure 4) run on Simulation 2 with
  N = 50 shops (half the default) and 3 seeds, for CausalMMM and the three fast
  baselines; the centre cell (d = 10, T = 120, R = 5, N = 50) is shared by every sweep;
* the two expensive cells (d = 20: 420 edges; T = 720: 6x the steps) train for the
  default 15 epochs like every other cell (they had 8 to save time; see BIG_EPOCHS);
* jobs run in priority order (default setting first, expensive cells last), and each
  row is appended to a JSONL file as it finishes, so a run stopped early keeps what it
  measured and a rerun resumes where it stopped.

``--quick`` shrinks everything (1 seed, fewer shops and epochs) to check the pipeline in
minutes; its figures are not results.
"""

from __future__ import annotations

MECHANISMS = "per_shop"  # the paper's: weights drawn per shop
EPOCHS = 15  # TrainConfig default
BIG_EPOCHS = EPOCHS
"""Epochs of the d = 20 and T = 720 cells: the default since the 0.1.0 benchmark of
2026-11-29 (8 before, to save time; T = 720 then trailed the F-test by 0.016, and the
issue asks for CausalMMM's default configuration)."""
SEEDS = (0, 1, 2)

DEFAULT = dict(n_shops=100, n_channels=10, length=120, n_graphs=5)
"""The paper's default setting (d = 10, T = 120, R = 5) with N = 100 shops."""

CM_METHODS = ("causalmmm", "cm_full", "cm_markov", "cm_rw")
"""CausalMMM (default ModelConfig) and its ablations, as ModelConfig overrides below."""
CM_FLAGS = {
    "causalmmm": {},
    "cm_full": {"full_graph": True},
    "cm_markov": {"markov": True},
    "cm_rw": {"no_saturation": True},
}
FAST_BASELINES = ("ridge_var_granger", "var_ftest_granger")
"""Vectorized baselines: run together in one job per draw."""
SLOW_BASELINES = ("varlingam", "pcmci_parcorr")
ALL_METHODS = CM_METHODS + FAST_BASELINES + SLOW_BASELINES
LABELS = {
    "causalmmm": "CausalMMM",
    "cm_full": "CM-FULL",
    "cm_markov": "CM-MARKOV",
    "cm_rw": "CM-RW",
    "ridge_var_granger": "ridge-VAR Granger",
    "var_ftest_granger": "VAR F-test Granger",
    "varlingam": "VARLiNGAM",
    "pcmci_parcorr": "PCMCI (ParCorr)",
}
# measured seconds per shop at d = 10, T = 120 on this machine (1 thread), for the
# "not run: est." notes; cost assumed ~ T * d^2 (tests per pair x conditioning sets)
SECONDS_PER_SHOP = {"pcmci_parcorr": 4.1, "varlingam": 0.45}

SWEEP_SHOPS = 50


def sweep_cells(quick: bool = False) -> dict[str, list[dict]]:
    """``{sweep name: [size dicts]}`` for the d, T, R and N sweeps on Simulation 2."""
    base = dict(n_shops=SWEEP_SHOPS, n_channels=10, length=120, n_graphs=5)
    if quick:
        base = dict(n_shops=20, n_channels=5, length=60, n_graphs=5)
        return {
            "d": [{**base, "n_channels": d} for d in (3, 5)],
            "T": [{**base, "length": t} for t in (30, 60)],
            "R": [{**base, "n_graphs": r} for r in (5, 10)],
            "N": [{**base, "n_shops": n} for n in (10, 20)],
        }
    return {
        "d": [{**base, "n_channels": d} for d in (5, 10, 20)],
        "T": [{**base, "length": t} for t in (30, 120, 720)],
        "R": [{**base, "n_graphs": r} for r in (5, 10, 20)],
        "N": [{**base, "n_shops": n} for n in (10, 25, 50)] + [dict(DEFAULT)],
    }


def epochs_for(size: dict, quick: bool = False) -> int:
    if quick:
        return 3
    return BIG_EPOCHS if size["n_channels"] >= 20 or size["length"] >= 720 else EPOCHS


def recovery_specs(quick: bool = False) -> list[dict]:
    """Every recovery job, highest priority first. A job is one method (or the group of
    fast baselines) on one simulated draw (scenario, mechanisms, seed, size)."""
    seeds = (0,) if quick else SEEDS
    default = dict(n_shops=30, n_channels=5, length=60, n_graphs=5) if quick else DEFAULT

    def spec(method, scenario, seed, size):
        return {"method": method, "scenario": scenario, "mechanisms": MECHANISMS,
                "seed": seed, "size": dict(size), "epochs": epochs_for(size, quick)}

    out: list[dict] = []
    # 1-2: the default setting, Simulation 2 then 1: CausalMMM and every baseline
    for scenario in ("sim2", "sim1"):
        for seed in seeds:
            out += [spec("fast_baselines", scenario, seed, default),
                    spec("causalmmm", scenario, seed, default),
                    spec("varlingam", scenario, seed, default)]
    # 3: ablations on Simulation 2, then Simulation 1 (not CM-FULL: its graph is full by
    # construction, AUROC 0.5; it is measured in forecasting only)
    for scenario in ("sim2", "sim1"):
        for seed in seeds:
            out += [spec(m, scenario, seed, default) for m in ("cm_markov", "cm_rw")]
    # 4: sweeps (cheap cells first; the shared centre cell appears once)
    cells = []
    for sizes in sweep_cells(quick).values():
        for size in sizes:
            if size != default and size not in cells:
                cells.append(size)
    cells.sort(key=lambda s: s["n_shops"] * s["length"] * s["n_channels"] ** 2)
    for size in cells:
        for seed in seeds:
            out += [spec("fast_baselines", "sim2", seed, size),
                    spec("causalmmm", "sim2", seed, size),
                    spec("varlingam", "sim2", seed, size)]
    return out


# ---------------------------------------------------------------------------- forecasting

FORECAST = dict(n_shops=100, n_channels=10, length=150, n_graphs=5)
"""Simulation 2 with T = 150: the last 30 steps are held out, 120 remain for training."""
FORECAST_QUICK = dict(n_shops=30, n_channels=5, length=90, n_graphs=5)
HORIZON = 30
FORECAST_METHODS = CM_METHODS + ("var_forecast",)  # var_forecast also does seasonal naive

# ---------------------------------------------------------------------------- speed

# sizes kept small enough for the section to run in ~10 minutes on a shared machine
SPEED_N = (25, 50, 100, 200)  # shops, at T = 120
SPEED_T = (30, 60, 120, 240)  # steps, at N = SPEED_T_SHOPS
SPEED_T_SHOPS = 50
SPEED_EPOCHS = 2
