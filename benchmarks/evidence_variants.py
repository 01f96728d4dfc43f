"""Variant table of the edge evidence on every data family, without training.

With the default ``correction_bound = 0`` the fitted model's edge probabilities are the
calibrated evidence itself (``guides.amortized``: the empirical-Bayes curve of the lag-test
z-scores, fitted across the shops before SVI), so a variant of the evidence can be scored
on the whole family matrix in seconds per draw: the same ``CausalMMM.fit`` preparation
(inputs resolved from the data, networks built, curve fitted), then
``edge_probability_array``. The numbers equal the matrix rows of ``robustness.py`` for the
same configuration (no SVI step changes them).

    python benchmarks/evidence_variants.py --seeds 0 1 2
    python benchmarks/evidence_variants.py --variants default,no_even --families lorenz_f10

Writes ``benchmarks/evidence_variants.md`` and ``evidence_variants.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import code_version, one_thread, write_variant_table  # noqa: E402
from robustness import draw, families  # noqa: E402

# name -> (ModelConfig overrides, what it tests)
VARIANTS = {
    "default": ({}, "the library's defaults"),
    "effect_rates": (
        {"edge_rates": "effect"},
        "one edge rate per effect node in the two-group model (0.5; the default learns one "
        "per (cause, effect) pair across shops, shrunk to its effect node's)",
    ),
    "lagged_only": ({"same_period": "off"}, "no same-period columns (weekly data)"),
    "spends_only": (
        {"same_period": "on"},
        "same-period columns from spends only, none along the funnel (weekly data)",
    ),
    "funnel": (
        {"same_period": "funnel"},
        "same-period columns from spends and along the column order at every step (daily "
        "data too; the weekly default)",
    ),
    "no_ranks": ({"evidence_ranks": False}, "raw-value tests only"),
    "no_even": ({"evidence_even": False}, "without the even test (lags and folded scores)"),
    "no_products": ({"evidence_products": False}, "without the product test (pairwise products)"),
    "no_even_no_products": (
        {"evidence_even": False, "evidence_products": False},
        "linear and rank tests only",
    ),
    "shared_alternative": (
        {"evidence_alternative": "shared"},
        "one alternative density for every effect node in the two-group model (before 0.10)",
    ),
    "slow_calendar": (
        {"evidence_calendar": "slow"},
        "trend, yearly seasonality and controls in the evidence, not the weekly harmonics",
    ),
    "no_calendar": (
        {"evidence_calendar": "off"},
        "without the model's baseline columns (calendar, controls) in the evidence (before 0.10)",
    ),
    "c2": ({"evidence_components": 2}, "two Gaussians in the alternative density"),
}


def evidence_row(spec, seed: int, quick: bool, overrides: dict) -> dict:
    from pyro_causalmmm import CausalMMM, ModelConfig
    from pyro_causalmmm.evaluation.calibration import calibration_summary, ranking_metrics

    data, truth, _ = draw(spec, seed, quick)
    mmm = CausalMMM(ModelConfig(no_saturation=bool(spec.no_saturation), **overrides))
    t0 = time.perf_counter()
    mmm.prepare(data)
    p = mmm.edge_probability_array(data)
    seconds = time.perf_counter() - t0
    cal = calibration_summary(p, truth)
    return {
        **ranking_metrics(p, truth),
        "ece": cal["ece"],
        "present_real": cal["decision"].get("present_real"),
        "absent_absent": cal["decision"].get("absent_absent"),
        "seconds": seconds,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--families", default=None, help="comma-separated (default: all)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(HERE / "evidence_variants"))
    args = ap.parse_args(argv)
    one_thread()
    specs, _ = families()
    names = args.families.split(",") if args.families else list(specs)
    variants = args.variants.split(",")
    rows = []
    for fam in names:
        for seed in args.seeds:
            for v in variants:
                row = evidence_row(specs[fam], seed, args.quick, VARIANTS[v][0])
                rows.append({"family": fam, "seed": seed, "variant": v, **row})
                print(fam, seed, v, f"AUROC {row['auroc_per_shop_mean']:.3f}",
                      f"ECE {row['ece']:.3f}", flush=True)
    table = {}
    for r in rows:
        table.setdefault((r["family"], r["variant"]), []).append(r)
    lines = [
        "# Edge evidence variants (no training; equal to the fitted model's edge posterior)",
        "",
        f"Code version {code_version()}; seeds {args.seeds}; {'quick' if args.quick else 'full'}"
        " sizes. Per-shop AUROC mean (ECE) over seeds.",
        "",
        "| family | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for fam in names:
        cells = []
        for v in variants:
            got = table.get((fam, v), [])
            a = np.mean([g["auroc_per_shop_mean"] for g in got])
            e = np.mean([g["ece"] for g in got])
            cells.append(f"{a:.3f} ({e:.3f})")
        lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    write_variant_table(lines, VARIANTS, variants, rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
