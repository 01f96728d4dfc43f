"""Robustness matrix: CausalMMM at its defaults against the baselines on every data family.

    python benchmarks/robustness.py --quick               # 1 seed, quick sizes (~10-15 min)
    python benchmarks/robustness.py --full                # 3 seeds, full sizes
    python benchmarks/robustness.py --quick --families paper,marketing
    python benchmarks/robustness.py --aggregate-only      # rebuild the matrix from the rows

Every family of ``pyro_causalmmm.simulate.families.FAMILIES`` (until that module exists:
the paper's Simulation 2 alone) x every method x ``--seeds``, all methods on the same
draw (``spec.make(seed, quick)``). Methods:

* ``causalmmm``: ``CausalMMM(ModelConfig(no_saturation=spec.no_saturation))`` fitted with
  ``TrainConfig(seed=seed)``, every other setting default (what a user gets: training is
  never shortened, not even with ``--quick``); scored by ``edge_probability_array``. Its
  row also has the untrained evidence (``edge_evidence_array``) AUROC, calibration (ECE
  over 10 bins, reliability table, Brier and base-rate Brier, decision shares at
  0.8 / 0.2), fit wall and CPU seconds and edge-inference milliseconds per shop.
* ``var_f_bic``: VAR Granger F-test (``baselines.var_ftest_granger``) at the lag BIC picks
  per shop among 1..6 (:func:`bic_lags`, statsmodels' ``select_order`` criterion).
* ``var_f_best_lag``: the same F-test at whichever of lags 1, 3, 5 has the best per-shop
  mean AUROC on that draw. An ORACLE: it picks its lag with the true graphs.
* ``varlingam``, ``ridge_var``: ``baselines.varlingam`` and ``baselines.ridge_var_granger``
  at their defaults (3 lags).
* ``pcmci``: ``baselines.pcmci_parcorr`` at its defaults, only when the time of one shop
  times the number of shops fits ``--pcmci-budget-min`` per draw; otherwise the row says
  "not run: est. X min".
* ``cmlp``: neural Granger causality, the group-lasso cMLP of Tank et al. (TPAMI 2021),
  ``benchmarks/cmlp.py``'s ``fit_cmlp`` at its ``DEFAULTS`` with ``seed=seed``, every
  shop's networks trained together; its row also has the fit wall and CPU seconds per
  shop and a digest of ``cmlp.py``.

One JSON line per (family, seed, method) is appended to
``benchmarks/parts/robustness/<family>.jsonl`` (``parts_quick/`` with ``--quick``) as it
finishes; a rerun skips the jobs that already have a row for the current
``common.code_version()`` (``--fresh`` moves the old files to ``superseded/`` first).
The rows of the current code version are then aggregated into
``benchmarks/robustness_results.json`` and ``benchmarks/robustness.md``
(``robustness_quick*`` with ``--quick``); ``report.py`` puts the matrix at the top of
``results.md``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: one BLAS thread per process

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402
    code_version,
    json_default,
    machine_info,
    one_thread,
    read_jsonl,
    source_digest,
    standardize_masked,
)

METHODS = ("causalmmm", "var_f_bic", "var_f_best_lag", "varlingam", "pcmci", "ridge_var",
           "cmlp")
BASELINE_METHODS = METHODS[1:]
ORACLE_METHODS = ("var_f_best_lag",)
LABELS = {
    "causalmmm": "CausalMMM", "var_f_bic": "VAR-F (BIC lag)",
    "var_f_best_lag": "VAR-F (best lag, oracle)", "varlingam": "VARLiNGAM",
    "pcmci": "PCMCI", "ridge_var": "ridge VAR", "cmlp": "cMLP",
}
SEEDS = (0, 1, 2)
BIC_MAX_LAG = 6
ORACLE_LAGS = (1, 3, 5)
PCMCI_BUDGET_MIN = {"quick": 1.0, "full": 10.0}
TARGETS = {"auroc_margin": 0.03, "ece": 0.05, "brier_ratio": 0.6, "present_real": 0.90,
           "absent_absent": 0.98}


# ----------------------------------------------------------------------------- families

def families() -> tuple[dict, str]:
    """``(name -> FamilySpec, source)``: the registry of ``simulate/families.py``, or, while
    that module does not exist, the paper's Simulation 2 behind the same interface."""
    try:
        from pyro_causalmmm.simulate.families import FAMILIES
    except ModuleNotFoundError as exc:
        if exc.name != "pyro_causalmmm.simulate.families":
            raise
        from pyro_causalmmm.simulate import simulate

        def make(seed, quick=False):
            return simulate(scenario="sim2", seed=seed, n_shops=30 if quick else 100)

        spec = SimpleNamespace(
            name="paper", no_saturation=False, make=make,
            description="paper Simulation 2 (stand-in: simulate/families.py not found)",
        )
        return {"paper": spec}, "fallback: pyro_causalmmm.simulate.simulate (sim2)"
    return dict(FAMILIES), "pyro_causalmmm.simulate.families.FAMILIES"


def draw(spec, seed: int, quick: bool):
    """``(MarketingMixData, truth (shop, cause, effect) in the data's shop order, sim)``."""
    from pyro_causalmmm import MarketingMixData

    sim = spec.make(seed, quick=quick)
    data = MarketingMixData.from_frame(
        sim.frame, target=sim.node_names[-1], channels=list(sim.node_names[:-1]),
        context=list(sim.context_names) or None,
        spend=list(getattr(sim, "spend_names", ())) or [],
    )
    if list(data.node_names) != list(sim.node_names):
        raise RuntimeError(f"node order {data.node_names} != simulation's {sim.node_names}")
    truth = np.asarray(sim.adjacency)
    ids = list(getattr(sim, "shop_ids", None) or dict.fromkeys(sim.frame["shop"]))
    truth = truth[[ids.index(s) for s in data.shop_ids]]
    return data, truth, sim


# ------------------------------------------------------------------------- VAR lag order

def bic_lags(values: np.ndarray, mask: np.ndarray | None = None,
             max_lag: int = BIC_MAX_LAG) -> np.ndarray:
    """VAR lag order per shop by BIC, int ``(shop,)`` in ``1..max_lag``.

    For each shop and ``p = 1..max_lag``, a VAR(p) with intercept is fitted by least
    squares on the same rows ``t = max_lag..T-1`` (those whose target and ``max_lag`` lags
    are observed), and (statsmodels' ``VAR.select_order``)::

        BIC(p) = log det(Sigma_p) + log(n) / n * (p K^2 + K),   Sigma_p = RSS_p / n

    with ``K`` nodes and ``n`` rows. Orders with ``n <= p K + 1 + K`` rows are not
    considered (lag 1 if none is). Series are standardized per shop first (BIC
    differences do not depend on the scale).
    """
    n_shops, n_time, k = np.shape(values)
    z, m = standardize_masked(values, mask)
    pmax = int(max_lag)
    keep = m[:, pmax:].copy()
    for lag in range(1, pmax + 1):
        keep &= m[:, pmax - lag:n_time - lag]
    kw = keep[:, :, None].astype(float)
    target = z[:, pmax:] * kw
    n = keep.sum(1).astype(float)
    bic = np.full((n_shops, pmax), np.inf)
    for p in range(1, pmax + 1):
        lagged = [z[:, pmax - lag:n_time - lag] for lag in range(1, p + 1)]
        design = np.concatenate([*lagged, np.ones((n_shops, n_time - pmax, 1))], axis=2) * kw
        gram = np.einsum("nrp,nrq->npq", design, design) + 1e-10 * np.eye(design.shape[2])
        coef = np.linalg.solve(gram, np.einsum("nrp,nrj->npj", design, target))
        resid = target - design @ coef
        sigma = np.einsum("nri,nrj->nij", resid, resid) / np.maximum(n, 1)[:, None, None]
        _, logdet = np.linalg.slogdet(sigma + 1e-12 * np.eye(k))
        ok = n > p * k + 1 + k
        free = p * k * k + k
        bic[:, p - 1] = np.where(ok, logdet + np.log(np.maximum(n, 2)) / np.maximum(n, 1) * free,
                                 np.inf)
    lags = np.argmin(bic, axis=1) + 1
    lags[~np.isfinite(bic).any(axis=1)] = 1
    return lags


def var_f_at(values, mask, lags) -> np.ndarray:
    """VAR F-test scores with a lag per shop (``lags`` int ``(shop,)``)."""
    from pyro_causalmmm.evaluation.baselines import var_ftest_granger

    out = np.zeros((values.shape[0], values.shape[2], values.shape[2]))
    for lag in np.unique(lags):
        idx = np.flatnonzero(lags == lag)
        out[idx] = var_ftest_granger(values[idx], lags=int(lag), mask=mask[idx])
    return out


# ----------------------------------------------------------------------------- methods

def _ranking(scores, truth) -> dict:
    from pyro_causalmmm.evaluation.calibration import ranking_metrics

    return ranking_metrics(scores, truth)


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_causalmmm(spec, seed, data, truth) -> dict:
    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig
    from pyro_causalmmm.evaluation.calibration import calibration_summary

    mmm = CausalMMM(ModelConfig(no_saturation=bool(spec.no_saturation)))
    fit, wall, cpu = _timed(lambda: mmm.fit(data, TrainConfig(seed=seed)))
    p, e_wall, e_cpu = _timed(lambda: mmm.edge_probability_array(data))
    evidence = mmm.edge_evidence_array(data)
    one = data.subset([0])
    singles = []
    for _ in range(5):
        _, w1, c1 = _timed(lambda: mmm.edge_probability_array(one))
        singles.append((w1, c1))
    ev = _ranking(evidence, truth)
    return {
        **_ranking(p, truth), **calibration_summary(p, truth),
        "evidence_auroc_per_shop_mean": ev["auroc_per_shop_mean"],
        "evidence_auprc_per_shop_mean": ev["auprc_per_shop_mean"],
        "fit_wall_s": wall, "fit_cpu_s": cpu, "seconds": wall, "cpu_seconds": cpu,
        "edge_ms_per_shop": 1e3 * e_wall / data.n_shops,
        "edge_cpu_ms_per_shop": 1e3 * e_cpu / data.n_shops,
        "edge_one_shop_ms": 1e3 * float(np.median([s[0] for s in singles])),
        "edge_one_shop_cpu_ms": 1e3 * float(np.median([s[1] for s in singles])),
        "final_loss": float(fit.train_losses[-1]), "epochs_run": int(fit.epochs_run),
        "model_config": mmm.config.to_dict(), "train_config": TrainConfig(seed=seed).to_dict(),
    }


def run_baseline(method, seed, data, truth, budget_min) -> dict:
    from pyro_causalmmm.evaluation.baselines import (
        pcmci_parcorr,
        ridge_var_granger,
        var_ftest_granger,
        varlingam,
    )

    x, m = data.values, data.mask
    extra: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "var_f_bic":
        lags = bic_lags(x, m)
        scores = var_f_at(x, m, lags)
        vals, counts = np.unique(lags, return_counts=True)
        extra = {"bic_lag_mean": float(lags.mean()),
                 "bic_lag_counts": {int(k): int(v) for k, v in zip(vals, counts, strict=True)}}
    elif method == "var_f_best_lag":
        by_lag = {lag: var_ftest_granger(x, lags=lag, mask=m) for lag in ORACLE_LAGS}
        aurocs = {lag: _ranking(s, truth)["auroc_per_shop_mean"] for lag, s in by_lag.items()}
        best = max(ORACLE_LAGS, key=lambda lag: np.nan_to_num(aurocs[lag], nan=-1.0))
        scores = by_lag[best]
        extra = {"oracle": True, "best_lag": best,
                 "auroc_by_lag": {str(k): v for k, v in aurocs.items()}}
    elif method == "varlingam":
        scores = varlingam(x, mask=m)
    elif method == "ridge_var":
        scores = ridge_var_granger(x, mask=m)
    elif method == "cmlp":
        from cmlp import DEFAULTS, fit_cmlp

        fit = fit_cmlp(x, m, seed=seed, **DEFAULTS)
        scores = fit["scores"]
        cpu = time.process_time() - c0
        extra = {"fit_s_per_shop": fit["seconds_per_shop"],
                 "fit_cpu_s_per_shop": cpu / data.n_shops, "cmlp_settings": dict(DEFAULTS),
                 "cmlp_digest": _file_digest(HERE / "cmlp.py"),
                 "final_mse": fit["loss"][-1], "active_share": fit["active_share"]}
    elif method == "pcmci":
        k = min(2, data.n_shops)
        first, w1, _ = _timed(lambda: pcmci_parcorr(x[:k], mask=m[:k]))
        est_min = w1 / k * data.n_shops / 60.0
        extra = {"est_min": est_min, "budget_min": budget_min}
        if est_min > budget_min:
            return {"status": "skipped", "note": f"not run: est. {est_min:.1f} min", **extra}
        rest = pcmci_parcorr(x[k:], mask=m[k:]) if data.n_shops > k else first[:0]
        scores = np.concatenate([first, rest])
    else:
        raise ValueError(f"unknown method {method!r}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {**_ranking(scores, truth), "seconds": wall, "cpu_seconds": cpu, **extra}


def draw_digest(data, truth) -> str:
    """sha1 of a draw's values, mask and true graphs (the same draw for every method)."""
    h = hashlib.sha1()
    for a in (np.nan_to_num(data.values), data.mask, truth):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:12]


def _file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, default=json_default) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write per row: whole lines even with several workers
    finally:
        os.close(fd)


def run_group(job: dict) -> list[dict]:
    """Every method of ``job["methods"]`` on one draw (family, seed); rows are appended to
    ``job["out"]`` as each finishes."""
    fams, _ = families()
    spec = fams[job["family"]]
    (data, truth, _sim), sim_s, _ = _timed(lambda: draw(spec, job["seed"], job["quick"]))
    off = truth[:, ~np.eye(truth.shape[1], dtype=bool)]
    base = {
        "family": job["family"], "seed": job["seed"], "quick": job["quick"],
        "code_version": job["code_version"], "source_digest": job["source_digest"],
        "families_source": job["families_source"], "draw_digest": draw_digest(data, truth),
        "n_shops": int(data.n_shops), "n_nodes": int(data.n_nodes), "n_time": int(data.n_time),
        "n_context": int(data.n_context), "edge_density": float(off.mean()),
        "no_saturation": bool(spec.no_saturation), "simulate_s": sim_s,
    }
    rows = []
    for method in job["methods"]:
        t0 = time.perf_counter()
        try:
            if method == "causalmmm":
                res = {"status": "ok", **run_causalmmm(spec, job["seed"], data, truth)}
            else:
                res = {"status": "ok", **run_baseline(method, job["seed"], data, truth,
                                                      job["pcmci_budget_min"])}
        except Exception as exc:  # noqa: BLE001 - recorded, the matrix says "failed"
            res = {"status": "failed", "note": f"{type(exc).__name__}: {exc}"}
        row = {**base, "method": method, **res, "job_wall_s": time.perf_counter() - t0,
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        _append(Path(job["out"]), row)
        rows.append(row)
        auroc = row.get("auroc_per_shop_mean")
        what = f"AUROC {auroc:.3f}" if auroc is not None else row.get("note", row["status"])
        print(f"{job['family']} seed {job['seed']} {method}: {what} "
              f"({row['job_wall_s']:.1f} s)", flush=True)
    return rows


# ------------------------------------------------------------------------ resume / rows

def parts_dir(quick: bool) -> Path:
    return HERE / ("parts_quick" if quick else "parts") / "robustness"


def output_stem(quick: bool) -> tuple[Path, Path]:
    """``(results json, markdown)`` paths."""
    if quick:
        return HERE / "robustness_quick_results.json", HERE / "robustness_quick.md"
    return HERE / "robustness_results.json", HERE / "robustness.md"


BASELINES_FROM: tuple[str, ...] = ()  # --baselines-from: versions whose baseline rows count


def load_rows(quick: bool, version: str, fam_source: str) -> dict[tuple, dict]:
    """The last row of each (family, seed, method) of ``version`` (and of the same family
    registry: the stand-in "paper" is another draw) in the parts files; with
    ``--baselines-from V1,V2`` the rows of every method but CausalMMM measured at V1 or V2
    count too (the baselines do not run library model code; the rows keep their own
    version). A row of ``version`` wins over them, and among them the earlier-listed
    version wins (the last row of that version)."""
    rank = {version: 0, **{v: i + 1 for i, v in enumerate(BASELINES_FROM) if v != version}}
    out = {}
    for path in sorted(parts_dir(quick).glob("*.jsonl")):
        for row in read_jsonl(path):
            ver = row.get("code_version")
            ok = ver == version or (ver in rank and row.get("method") != "causalmmm")
            if ok and bool(row.get("quick")) == quick and row.get("families_source") == fam_source:
                key = (row["family"], row["seed"], row["method"])
                if key not in out or rank[ver] <= rank[out[key]["code_version"]]:
                    out[key] = row
    return out


def is_done(row: dict | None, pcmci_budget_min: float) -> bool:
    """A row counts as done if it succeeded, or was skipped and would be skipped again."""
    if row is None or row["status"] == "failed":
        return False
    if row["status"] == "skipped":
        return row.get("est_min", np.inf) > pcmci_budget_min
    return True


# ------------------------------------------------------------------------- aggregation

def _mean_sd(vals) -> tuple[float, float | None, int]:
    v = np.asarray([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return float("nan"), None, 0
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else None), int(v.size)


def _ok(rows, method):
    return {r["seed"]: r for r in rows if r["method"] == method and r["status"] == "ok"}


def aggregate_family(rows: list[dict]) -> dict:
    """Means over seeds of one family's rows (every method) and the targets."""
    cm = _ok(rows, "causalmmm")
    seeds = sorted(cm)
    methods = {}
    for method in METHODS:
        got = _ok(rows, method)
        mean, sd, n = _mean_sd([r["auroc_per_shop_mean"] for r in got.values()])
        ap, ap_sd, _ = _mean_sd([r["auprc_per_shop_mean"] for r in got.values()])
        notes = sorted({r.get("note", "") for r in rows
                        if r["method"] == method and r["status"] != "ok"} - {""})
        methods[method] = {
            "auroc": mean, "auroc_sd": sd, "auprc": ap, "auprc_sd": ap_sd, "n_seeds": n,
            "seeds": sorted(got), "notes": notes,
            "seconds": _mean_sd([r["seconds"] for r in got.values()])[0],
            "cpu_seconds": _mean_sd([r["cpu_seconds"] for r in got.values()])[0],
        }
        if method == "var_f_bic" and got:
            methods[method]["bic_lag_mean"] = _mean_sd(
                [r["bic_lag_mean"] for r in got.values()])[0]
        if method == "var_f_best_lag" and got:
            methods[method]["best_lags"] = [got[s]["best_lag"] for s in sorted(got)]
        if method == "cmlp" and got:
            for k in ("fit_s_per_shop", "fit_cpu_s_per_shop", "final_mse", "active_share"):
                methods[method][k] = _mean_sd([r[k] for r in got.values()])[0]
        methods[method]["code_versions"] = sorted({r["code_version"] for r in got.values()})
    out = {"seeds": seeds, "methods": methods}
    meta = rows[0]
    out["size"] = {k: meta[k] for k in ("n_shops", "n_nodes", "n_time", "n_context",
                                        "edge_density", "no_saturation")}
    per_seed_wall: dict[int, float] = {}
    for r in rows:
        per_seed_wall[r["seed"]] = per_seed_wall.get(r["seed"], r.get("simulate_s", 0.0)) + \
            r.get("job_wall_s", 0.0)
    out["wall_s_per_seed"] = _mean_sd(list(per_seed_wall.values()))[0]
    if not cm:
        return out
    # baselines compared on the draws CausalMMM has (same seeds)
    cmp = {}
    for method in BASELINE_METHODS:
        got = _ok(rows, method)
        common = [s for s in seeds if s in got]
        if common:
            cmp[method] = {
                "theirs": float(np.mean([got[s]["auroc_per_shop_mean"] for s in common])),
                "ours": float(np.mean([cm[s]["auroc_per_shop_mean"] for s in common])),
                "seeds": common,
            }
    out["comparisons"] = cmp

    def best(pool):
        pool = [m for m in pool if m in cmp and np.isfinite(cmp[m]["theirs"])]
        if not pool:
            return None
        m = max(pool, key=lambda k: cmp[k]["theirs"])
        return {"method": m, **cmp[m], "diff": cmp[m]["ours"] - cmp[m]["theirs"]}

    out["best_baseline"] = best(BASELINE_METHODS)
    out["best_non_oracle"] = best([m for m in BASELINE_METHODS if m not in ORACLE_METHODS])
    c = list(cm.values())
    cal = {
        "ece": _mean_sd([r["ece"] for r in c]),
        "brier": _mean_sd([r["brier"] for r in c]),
        "base_rate_brier": _mean_sd([r["base_rate_brier"] for r in c]),
        "evidence_auroc": _mean_sd([r["evidence_auroc_per_shop_mean"] for r in c]),
        "evidence_auprc": _mean_sd([r["evidence_auprc_per_shop_mean"] for r in c]),
        "fit_wall_s": _mean_sd([r["fit_wall_s"] for r in c]),
        "fit_cpu_s": _mean_sd([r["fit_cpu_s"] for r in c]),
        "edge_ms_per_shop": _mean_sd([r["edge_ms_per_shop"] for r in c]),
        "edge_cpu_ms_per_shop": _mean_sd([r["edge_cpu_ms_per_shop"] for r in c]),
        "edge_one_shop_ms": _mean_sd([r["edge_one_shop_ms"] for r in c]),
        "epochs_run": [r["epochs_run"] for r in c],
    }
    cal = {k: (v[0] if isinstance(v, tuple) else v) for k, v in cal.items()}
    cal["ece_sd"] = _mean_sd([r["ece"] for r in c])[1]
    dec = {k: sum(r["decision"][k] for r in c)
           for k in ("n_present", "n_present_real", "n_absent", "n_absent_absent",
                     "n_undecided", "n")}
    dec["present_real"] = dec["n_present_real"] / dec["n_present"] if dec["n_present"] else None
    dec["absent_absent"] = dec["n_absent_absent"] / dec["n_absent"] if dec["n_absent"] else None
    cal["decision"] = dec  # pooled over seeds
    bins = len(c[0]["reliability"])
    rel = []
    for k in range(bins):
        cnt = sum(r["reliability"][k]["count"] for r in c)
        sp = sum(r["reliability"][k]["count"] * np.nan_to_num(r["reliability"][k]["mean_p"])
                 for r in c)
        sy = sum(r["reliability"][k]["count"] * np.nan_to_num(r["reliability"][k]["frequency"])
                 for r in c)
        rel.append({**{x: c[0]["reliability"][k][x] for x in ("bin", "lo", "hi")},
                    "count": int(cnt), "mean_p": sp / cnt if cnt else None,
                    "frequency": sy / cnt if cnt else None})
    cal["reliability"] = rel  # pooled over seeds
    out["causalmmm"] = cal
    out["targets"] = targets_for(methods["causalmmm"]["auroc"], out, cal)
    return out


def targets_for(ours: float, agg: dict, cal: dict) -> list[dict]:
    t = TARGETS
    best, honest = agg["best_baseline"], agg["best_non_oracle"]
    dec = cal["decision"]

    def row(name, measured, ok):
        return {"target": name, "measured": measured, "met": bool(ok) if ok is not None else None}

    out = []
    for b, tag in ((best, "best baseline"), (honest, "best non-oracle baseline")):
        if b is None:
            out.append(row(f"AUROC >= {tag} + {t['auroc_margin']}", "no baseline ran", None))
        else:
            out.append(row(f"AUROC >= {tag} + {t['auroc_margin']}",
                           f"{b['ours']:.3f} vs {LABELS[b['method']]} {b['theirs']:.3f} "
                           f"({b['diff']:+.3f})", b["diff"] >= t["auroc_margin"]))
    ev = cal["evidence_auroc"]
    out.append(row("AUROC >= its untrained evidence", f"{ours:.3f} vs {ev:.3f}", ours >= ev))
    out.append(row(f"ECE <= {t['ece']}", f"{cal['ece']:.3f}", cal["ece"] <= t["ece"]))
    ratio = cal["brier"] / cal["base_rate_brier"] if cal["base_rate_brier"] else float("nan")
    out.append(row(f"Brier <= {t['brier_ratio']} x base-rate Brier",
                   f"{cal['brier']:.3f} / {cal['base_rate_brier']:.3f} = {ratio:.2f}",
                   ratio <= t["brier_ratio"]))
    pr, aa = dec["present_real"], dec["absent_absent"]
    # no edge called: the share is undefined (n/a), neither met nor missed
    out.append(row(f"present (p >= 0.8) real >= {t['present_real']:.0%}",
                   f"{pr:.1%} of {dec['n_present']}" if pr is not None
                   else "no edge called present",
                   None if pr is None else pr >= t["present_real"]))
    out.append(row(f"absent (p <= 0.2) absent >= {t['absent_absent']:.0%}",
                   f"{aa:.1%} of {dec['n_absent']}" if aa is not None
                   else "no edge called absent",
                   None if aa is None else aa >= t["absent_absent"]))
    return out


# ---------------------------------------------------------------------------- markdown

def _f(x, fmt=".3f", none="—") -> str:
    return none if x is None or not np.isfinite(x) else format(x, fmt)


def _auroc_cell(m: dict, n_seeds: int, sd: bool = True) -> str:
    if not m["n_seeds"]:
        return "; ".join(m["notes"]) or "not run"
    out = _f(m["auroc"])
    if sd and m["auroc_sd"] is not None:
        out += f" ± {m['auroc_sd']:.3f}"
    if m["n_seeds"] < n_seeds:
        out += f" ({m['n_seeds']} seed{'s' if m['n_seeds'] > 1 else ''})"
    return out


def matrix_lines(aggs: dict, n_seeds: int) -> list[str]:
    head = ["family", "CausalMMM AUROC", "its evidence", "best baseline", "diff",
            "VAR-F BIC", "VAR-F best lag (oracle)", "VARLiNGAM", "PCMCI", "ridge VAR",
            "cMLP", "CausalMMM AUPRC", "ECE", "Brier / base-rate", "present real", "absent absent"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for fam, a in aggs.items():
        m = a["methods"]
        none = "; ".join(m["causalmmm"]["notes"]) or "not run"
        cm = a.get("causalmmm") or {"evidence_auroc": None, "ece": None, "brier": None,
                                    "base_rate_brier": None, "decision": None}
        b = a.get("best_baseline")
        bic = _auroc_cell(m["var_f_bic"], n_seeds)
        if m["var_f_bic"]["n_seeds"]:
            bic += f" (lag {m['var_f_bic']['bic_lag_mean']:.1f})"
        orc = _auroc_cell(m["var_f_best_lag"], n_seeds)
        if m["var_f_best_lag"]["n_seeds"]:
            orc += " (lag " + "/".join(str(x) for x in m["var_f_best_lag"]["best_lags"]) + ")"
        dec = cm["decision"] or {"present_real": None, "absent_absent": None,
                                 "n_present": 0, "n_absent": 0}
        cells = [
            fam, _auroc_cell(m["causalmmm"], n_seeds) if a.get("causalmmm") else none,
            _f(cm["evidence_auroc"]),
            f"{LABELS[b['method']]} {b['theirs']:.3f}" if b else "—",
            f"{b['diff']:+.3f}" if b else "—",
            bic, orc, _auroc_cell(m["varlingam"], n_seeds), _auroc_cell(m["pcmci"], n_seeds),
            _auroc_cell(m["ridge_var"], n_seeds), _auroc_cell(m["cmlp"], n_seeds),
            _f(m["causalmmm"]["auprc"]), _f(cm["ece"]),
            f"{_f(cm['brier'])} / {_f(cm['base_rate_brier'])}",
            f"{_f(dec['present_real'], '.1%')} (n={dec['n_present']})",
            f"{_f(dec['absent_absent'], '.1%')} (n={dec['n_absent']})",
        ]
        if not a.get("causalmmm"):
            cells[-3:] = ["—"] * 3
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def target_lines(aggs: dict) -> tuple[list[str], dict]:
    names = None
    body = []
    tally: dict[str, list[int]] = {}
    for fam, a in aggs.items():
        if "targets" not in a:
            continue
        ts = a["targets"]
        names = names or [t["target"] for t in ts]
        cells = []
        for t in ts:
            word = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
            cells.append(f"{word} ({t['measured']})")
            tally.setdefault(t["target"], [0, 0, 0])  # met, judged, n/a
            if t["met"] is None:
                tally[t["target"]][2] += 1
            else:
                tally[t["target"]][0] += int(t["met"])
                tally[t["target"]][1] += 1
        body.append(f"| {fam} | " + " | ".join(cells) + " |")
    if not names:
        return ["No family has a CausalMMM row yet."], {}
    lines = ["| family | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|", *body,
             "", "Met on: " + "; ".join(
                 f"{k}: {v[0]} of {v[1]} families" + (f" (n/a on {v[2]})" if v[2] else "")
                 for k, v in tally.items()) + ". n/a: no edge was called (the share is "
             "undefined); a family without a CausalMMM row is not counted."]
    return lines, tally


def write_outputs(quick: bool, version: str, fam_source: str, fams: dict, rows: dict,
                  budget: float, argv: list[str]) -> dict:
    by_fam: dict[str, list[dict]] = {}
    for (fam, _seed, _m), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        by_fam.setdefault(fam, []).append(r)
    order = [f for f in fams if f in by_fam] + [f for f in by_fam if f not in fams]
    aggs = {f: aggregate_family(by_fam[f]) for f in order}
    seeds = sorted({r["seed"] for r in rows.values()})
    n_seeds = len(seeds)
    versions = {}
    try:
        from importlib.metadata import version as pkg_version

        for pkg in ("lingam", "tigramite", "statsmodels", "pyro-ppl"):
            try:
                versions[pkg] = pkg_version(pkg)
            except Exception:  # noqa: BLE001 - not installed
                versions[pkg] = None
    except ImportError:
        pass
    machine = machine_info(**versions, load_average=list(os.getloadavg()))
    digests = sorted({r["source_digest"] for r in rows.values()})
    mode = "--quick" if quick else "--full"
    commands = [f"python benchmarks/robustness.py {mode}",
                "python benchmarks/robustness.py " + " ".join(argv)]
    t_lines, tally = target_lines(aggs)
    title = "# Robustness matrix" + (" (quick: pipeline check at quick sizes, 1 seed)"
                                     if quick else "")
    matrix = matrix_lines(aggs, n_seeds)
    intro = [
        f"Per-shop mean AUROC (over shops whose true graph has edges and non-edges, "
        f"off-diagonal entries), mean ± sd over seeds {seeds}, every method on the same "
        "draws; CausalMMM at its defaults (`TrainConfig(seed=seed)`, training not shortened). "
        "\"its evidence\": the AUROC of the guide's untrained edge evidence "
        "(`edge_evidence_array`). \"best baseline\" includes the VAR-F best-lag ORACLE "
        "(lag of 1/3/5 chosen with the true graphs on each draw); the targets table also "
        "compares with the best non-oracle baseline. cMLP: the neural Granger causality "
        "baseline of Tank et al. (TPAMI 2021, `benchmarks/cmlp.py`; a non-oracle baseline, "
        "counted in both). ECE: 10 equal-width bins; Brier and "
        "base-rate Brier (constant forecast at the draw's edge share) means over seeds; "
        "present real / absent absent: shares of edges with p >= 0.8 that are real and with "
        "p <= 0.2 that are absent, pooled over seeds (n = edges called).",
    ]
    md = [
        title, "",
        f"Code version `{version}` (library source digest {', '.join(digests)}); families "
        f"from {fam_source}."
        + (" Baseline rows (every method but CausalMMM) also from code version"
           f"{'s' if len(BASELINES_FROM) > 1 else ''} "
           + ", ".join(f"`{v}`" for v in BASELINES_FROM)
           + " (same simulators and baselines; only the model changed). Rows per method: "
           + "; ".join(f"{LABELS[k]} at " + ", ".join(f"`{v}`" for v in vs)
                       for k, vs in _versions_by_method(rows).items()) + "."
           if BASELINES_FROM else "") + "  ",
        f"Commands: `{commands[0]}` (`make bench{'-quick' if quick else ''}`; the last "
        f"run: `{commands[1]}`; rows of earlier runs of this code version are kept).  ",
        f"Machine: {machine}", "",
        *intro, "", *matrix, "",
        "## Targets of the issue, per family", "", *t_lines, "",
    ]
    md += _detail_lines(aggs, budget)
    res = {
        "quick": quick, "code_version": version, "source_digests": digests,
        "families_source": fam_source, "seeds": seeds, "machine": machine,
        "commands": commands, "targets": TARGETS, "pcmci_budget_min": budget,
        "families": {f: {"description": getattr(fams.get(f), "description", "")} for f in order},
        "aggregate": aggs, "targets_met": tally,
        "matrix_md": [*intro, "", *matrix, "", *t_lines],
        "rows": list(rows.values()),
    }
    js, mdp = output_stem(quick)
    js.write_text(json.dumps(res, indent=1, default=json_default, allow_nan=True))
    mdp.write_text("\n".join(md) + "\n")
    return res


def _cmlp_defaults() -> dict:
    from cmlp import DEFAULTS

    return dict(DEFAULTS)


def _cmlp_cost(m: dict) -> str:
    if not m["n_seeds"]:
        return "; ".join(m["notes"]) or "not run"
    return f"{m['fit_s_per_shop']:.2f} / {m['fit_cpu_s_per_shop']:.2f}"


def _versions_by_method(rows: dict) -> dict[str, list[str]]:
    out: dict[str, set] = {}
    for (_f, _s, method), r in rows.items():
        out.setdefault(method, set()).add(r["code_version"])
    return {m: sorted(out[m]) for m in METHODS if m in out}


def _detail_lines(aggs: dict, budget: float) -> list[str]:
    lines = ["## AUPRC of every method (per-shop mean, mean over seeds)", "",
             "| family | edge share | " + " | ".join(LABELS[m] for m in METHODS)
             + " | CausalMMM evidence |", "|---" * (len(METHODS) + 3) + "|"]
    for fam, a in aggs.items():
        m = a["methods"]
        ev = a.get("causalmmm", {}).get("evidence_auprc")
        lines.append(f"| {fam} | {a['size']['edge_density']:.3f} | "
                     + " | ".join(_f(m[k]["auprc"]) for k in METHODS) + f" | {_f(ev)} |")
    lines += ["", "A random ranking has AUPRC about the edge share.", "",
              "## Reliability of CausalMMM's edge probabilities (pooled over seeds)", "",
              "Each cell: mean p -> share of real edges (count).", ""]
    nb = 10
    lines += ["| family | " + " | ".join(f"[{k / nb:.1f}, {(k + 1) / nb:.1f})"
                                          for k in range(nb)) + " |", "|---" * (nb + 1) + "|"]
    for fam, a in aggs.items():
        cm = a.get("causalmmm")
        if cm is None:
            continue
        cells = [f"{_f(b['mean_p'], '.2f')} -> {_f(b['frequency'], '.2f')} ({b['count']})"
                 if b["count"] else "(0)" for b in cm["reliability"]]
        lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    lines += ["", "## Cost (1 thread; the machine may be shared: CPU seconds are the firmer "
              "figure)", "",
              "| family | shops x nodes x T | CausalMMM fit wall s | fit CPU s | epochs | edge "
              "inference ms/shop (batch, wall / CPU) | one shop ms | VARLiNGAM s | PCMCI s "
              "| VAR-F BIC s | cMLP fit s/shop (wall / CPU) | wall s per seed (all methods) |",
              "|---" * 12 + "|"]
    for fam, a in aggs.items():
        cm, m, z = a.get("causalmmm"), a["methods"], a["size"]
        if cm is None:
            continue
        pc = _f(m["pcmci"]["seconds"], ".0f") if m["pcmci"]["n_seeds"] else (
            "; ".join(m["pcmci"]["notes"]) or "not run")
        lines.append(
            f"| {fam} | {z['n_shops']} x {z['n_nodes']} x {z['n_time']} | "
            f"{cm['fit_wall_s']:.1f} | {cm['fit_cpu_s']:.1f} | "
            f"{'/'.join(map(str, sorted(set(cm['epochs_run']))))} | "
            f"{cm['edge_ms_per_shop']:.2f} / {cm['edge_cpu_ms_per_shop']:.2f} | "
            f"{cm['edge_one_shop_ms']:.1f} | {_f(m['varlingam']['seconds'], '.1f')} | {pc} | "
            f"{_f(m['var_f_bic']['seconds'], '.2f')} | {_cmlp_cost(m['cmlp'])} | "
            f"{a['wall_s_per_seed']:.0f} |")
    lines += ["", "## Methods", "",
              "- CausalMMM: `CausalMMM(ModelConfig(no_saturation=spec.no_saturation))`, "
              "`TrainConfig(seed=seed)`, all else default; data by `MarketingMixData."
              "from_frame` with the family's target, channels, context and spend columns.",
              f"- VAR-F BIC: `var_ftest_granger` at the per-shop lag of BIC among 1..{BIC_MAX_LAG} "
              "(`robustness.bic_lags`: statsmodels' `select_order` criterion on a common "
              "sample); the cell shows the mean chosen lag.",
              "- VAR-F best lag: `var_ftest_granger` at the one of lags "
              f"{ORACLE_LAGS} with the best per-shop mean AUROC on that draw: an ORACLE (it "
              "looks at the true graphs); the cell shows the chosen lag per seed.",
              "- VARLiNGAM, ridge VAR: `baselines.varlingam`, `baselines.ridge_var_granger` "
              "at their defaults (3 lags).",
              f"- PCMCI: `baselines.pcmci_parcorr` at its defaults, run only when the time of "
              f"the first 2 shops x shops / 2 is at most {budget:g} min per draw "
              "(`--pcmci-budget-min`); otherwise \"not run: est. X min\".",
              "- cMLP: neural Granger causality (Tank et al., TPAMI 2021), "
              "`benchmarks/cmlp.py` `fit_cmlp` at its `DEFAULTS` "
              f"({', '.join(f'{k}={v}' for k, v in _cmlp_defaults().items())}), seed = draw "
              "seed: one MLP per (shop, target) on the last lags of every series, group lasso "
              "on the first layer by proximal gradient steps, score = the group norm of cause "
              "i in effect j's first layer; every shop's networks trained together "
              "(batched, float32, 1 thread).", ""]
    descs = [(f, a["size"]) for f, a in aggs.items()]
    lines += ["## Families at the sizes run", "",
              "| family | shops | nodes | T | context | edge share | no_saturation |",
              "|---|---|---|---|---|---|---|"]
    for f, z in descs:
        lines.append(f"| {f} | {z['n_shops']} | {z['n_nodes']} | {z['n_time']} | "
                     f"{z['n_context']} | {z['edge_density']:.3f} | {z['no_saturation']} |")
    return lines


# --------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="quick sizes (make(seed, quick=True)), 1 seed; training at defaults")
    mode.add_argument("--full", action="store_true", help="full sizes, 3 seeds (default)")
    ap.add_argument("--families", default=None, help="comma-separated families (default all)")
    ap.add_argument("--seeds", nargs="+", type=int, default=None)
    ap.add_argument("--methods", default=None, help=f"comma-separated subset of {METHODS}")
    ap.add_argument("--fresh", action="store_true",
                    help="ignore earlier rows of the selected families (moved to superseded/)")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes, one draw each (1 thread each; default 1)")
    ap.add_argument("--pcmci-budget-min", type=float, default=None,
                    help="run PCMCI on a draw only if its estimate is at most this "
                         f"(default {PCMCI_BUDGET_MIN})")
    ap.add_argument("--aggregate-only", action="store_true", help="run nothing, rebuild outputs")
    ap.add_argument("--baselines-from", metavar="V[,V2...]",
                    help="count the baseline rows (every method but CausalMMM) measured at "
                    "code version V (or any of a comma-separated list; a row of the current "
                    "version wins, then the earlier-listed version): they run no library model "
                    "code, so a change of the model needs only CausalMMM re-run (say so when "
                    "quoting the matrix)")
    ap.add_argument("--code-version", metavar="V",
                    help="use the rows measured at code version V (as recorded in them) "
                    "instead of the current one, e.g. to rebuild the outputs of a run that "
                    "finished before later commits; with --aggregate-only")
    args = ap.parse_args(argv)
    quick = bool(args.quick)
    seeds = args.seeds or ([0] if quick else list(SEEDS))
    budget = args.pcmci_budget_min
    if budget is None:
        budget = PCMCI_BUDGET_MIN["quick" if quick else "full"]
    fams, fam_source = families()
    selected = list(fams) if not args.families else [f.strip() for f in args.families.split(",")]
    unknown = [f for f in selected if f not in fams]
    if unknown:
        ap.error(f"unknown families {unknown}; known: {list(fams)} ({fam_source})")
    methods = list(METHODS) if not args.methods else args.methods.split(",")
    if set(methods) - set(METHODS):
        ap.error(f"unknown methods {sorted(set(methods) - set(METHODS))}; known: {METHODS}")
    one_thread()
    import pyro_causalmmm.api  # noqa: F401 - imported before the digest: the code that runs

    global BASELINES_FROM
    BASELINES_FROM = tuple(v.strip() for v in (args.baselines_from or "").split(",")
                           if v.strip())
    version, digest = args.code_version or code_version(), source_digest()
    pdir = parts_dir(quick)
    if args.fresh and not args.aggregate_only:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for f in selected:
            path = pdir / f"{f}.jsonl"
            if path.exists():
                (pdir / "superseded").mkdir(parents=True, exist_ok=True)
                path.rename(pdir / "superseded" / f"{f}.{stamp}.jsonl")
    done = load_rows(quick, version, fam_source)
    jobs = []
    for fam in selected:
        for seed in seeds:
            todo = [m for m in methods if not is_done(done.get((fam, seed, m)), budget)]
            if todo:
                jobs.append({"family": fam, "seed": seed, "methods": todo, "quick": quick,
                             "code_version": version, "source_digest": digest,
                             "families_source": fam_source,
                             "pcmci_budget_min": budget, "out": str(pdir / f"{fam}.jsonl")})
    n_all = len(selected) * len(seeds) * len(methods)
    n_todo = sum(len(j["methods"]) for j in jobs)
    print(f"robustness ({'quick' if quick else 'full'}, code {version}, families from "
          f"{fam_source}): {n_all - n_todo} of {n_all} jobs done; running {n_todo}", flush=True)
    t0 = time.perf_counter()
    if not args.aggregate_only and jobs:
        if args.workers <= 1:
            for job in jobs:
                run_group(job)
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=args.workers, initializer=one_thread) as pool:
                for _ in pool.map(run_group, jobs):
                    pass
    rows = load_rows(quick, version, fam_source)
    if not rows:
        print("no rows to aggregate", flush=True)
        return 0
    res = write_outputs(quick, version, fam_source, fams, rows, budget, argv)
    js, mdp = output_stem(quick)
    print(f"robustness: {time.perf_counter() - t0:.0f} s; wrote {js.name}, {mdp.name}",
          flush=True)
    print("\n".join(res["matrix_md"][2:]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
