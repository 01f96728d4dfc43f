"""Variant table of the channel effects: CausalMMM response models on the effects draws.

    python benchmarks/effects_variants.py                    # seeds 0 1 2, both funnels
    python benchmarks/effects_variants.py --variants linear,hill --funnels daily --seeds 0

The same draws, truth and scores as ``benchmarks/effects.py`` (full sizes: daily 60 shops
x 182 days, weekly 12 shops x 156 weeks; every shop scored), CausalMMM fitted with
``TrainConfig(seed=seed)`` and ``ModelConfig(**overrides)`` of each variant, then
``contributions`` at its defaults. It exists to choose the defaults of the response model
(``ModelConfig.response``), of the same-period edges (``ModelConfig.same_period``) and
of the decision draws (``DecisionConfig.spend_effects``, ``coefficient_covariance``; the
model is refitted for these too, with the same seed, so the fit is the default's) on
both funnels at once. Writes ``benchmarks/effects_variants.md`` and
``effects_variants.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import code_version, write_variant_table  # noqa: E402
from effects import make_sim, run_causalmmm, score, truth_table  # noqa: E402

# name -> (ModelConfig overrides, what it is[, DecisionConfig overrides])
VARIANTS = {
    "linear": ({"response": "linear"}, "spend lags enter the linear term as they are"),
    "hill": (
        {"response": "hill"},
        "one adstock + Hill column per spend into the other nodes (shapes pooled)",
    ),
    "funnel": (
        {"same_period": "funnel"},
        "same-period edges from spends and along the responders' order (weekly default)",
    ),
    "spends_only": ({"same_period": "on"}, "same-period edges from spends only"),
    "lagged_only": ({"same_period": "off"}, "no same-period edges (daily default)"),
    "shared_alternative": (
        {"evidence_alternative": "shared"},
        "one alternative density for every effect node in the edge evidence (before 0.10)",
    ),
    "slow_calendar": (
        {"evidence_calendar": "slow"},
        "trend, yearly seasonality and controls in the edge evidence, not the weekly harmonics",
    ),
    "no_calendar": (
        {"evidence_calendar": "off"},
        "no baseline columns in the edge evidence (before 0.10)",
    ),
    "unpooled": (
        {"effect_pooling": "none"},
        "each shop's coefficients from its own data alone (no pooled prior; 0.6)",
    ),
    "positive": (
        {},
        "the default model, contributions with DecisionConfig(spend_effects='positive'): >= 0 "
        "on every spend's direct gain (the default 'auto': on the pairs found media-like)",
        {"spend_effects": "positive"},
    ),
    "free": (
        {},
        "the default model, contributions with DecisionConfig(spend_effects='free'): either "
        "sign on every spend's direct gain (the default before 0.9)",
        {"spend_effects": "free"},
    ),
    "draws80": (
        {},
        "the default model, contributions with DecisionConfig(draws=80) (4x the default 20)",
        {"draws": 80},
    ),
    "positive80": (
        {},
        "the default model, contributions with DecisionConfig(spend_effects='positive', "
        "draws=80): the README's settings for reported media figures before 0.9",
        {"spend_effects": "positive", "draws": 80},
    ),
    "model_covariance": (
        {},
        "the default model, contributions with DecisionConfig(coefficient_covariance='model')"
        " (the intervals of 0.5)",
        {"coefficient_covariance": "model"},
    ),
}
# what ``same_period="auto"`` resolves to on each funnel: a variant that only sets it is the
# default model there, so its row is the "linear" row (not fitted twice)
AUTO_SAME = {"daily": "off", "weekly": "funnel"}
SCORES = (
    ("spearman", "Spearman est vs true", "{:.3f}"),
    ("median_ratio", "median est / true", "{:.2f}"),
    ("median_abs_log_ratio", "median abs(log(est / true))", "{:.2f}"),
    ("coverage", "90% HDI coverage", "{:.0%}"),
    ("median_abs_log_ratio_roas", "median abs(log(est / true)), true ROAS > 0.5", "{:.2f}"),
    ("coverage_roas", "90% HDI coverage, true ROAS > 0.5", "{:.0%}"),
    ("sign_errors", "sign errors", "{:.1f}"),
    ("sign_errors_roas", "sign errors where true ROAS > 0.5", "{:.1f}"),
    ("null_hdi_has_0", "no-effect HDI has 0", "{:.0%}"),
    ("indirect_share_est", "indirect share (est)", "{:.0%}"),
    ("indirect_share_true", "indirect share (true)", "{:.0%}"),
    ("seconds", "fit + contributions s", "{:.0f}"),
)


def run(funnel: str, seed: int, overrides: dict, decision: dict | None = None) -> dict:
    """Scores of one draw: ``effects.run_causalmmm`` with the variant's overrides."""
    sim = make_sim(funnel, seed, "full")
    row = run_causalmmm(sim, seed, overrides, decision)
    out = score(pd.DataFrame(row["pairs"]), truth_table(sim), row["shops_fitted"])
    seconds = row["fit_wall_s"] + row["contributions_s"]
    return {**out, "seconds": seconds, "shapes": row["response_shapes"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--funnels", default="daily,weekly")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=str(HERE / "effects_variants"))
    ap.add_argument("--rows-from", default=None,
                    help="rebuild the table from the rows of a previous run's JSON (no fits)")
    ap.add_argument("--rows-version", default=None,
                    help="code version of --rows-from rows that do not carry one")
    args = ap.parse_args(argv)
    funnels, variants = args.funnels.split(","), args.variants.split(",")
    rows = json.loads(Path(args.rows_from).read_text()) if args.rows_from else []
    for funnel in funnels if not args.rows_from else ():
        for seed in args.seeds:
            done = {}
            for v in variants:
                over, decision = VARIANTS[v][0], (VARIANTS[v][2:] or ({},))[0]
                if over == {"same_period": AUTO_SAME[funnel]} and not decision and (
                        "linear" in done):
                    r = done["linear"]  # the same configuration as the default
                else:
                    r = run(funnel, seed, over, decision)
                done[v] = r
                rows.append({"funnel": funnel, "seed": seed, "variant": v,
                             "code_version": code_version(), **r})
                print(funnel, seed, v, {k: r[k] for k, _, _ in SCORES if k in r}, flush=True)
    versions = ", ".join(sorted({r.get("code_version") or args.rows_version or "unknown"
                                 for r in rows}))
    lines = [
        "# Channel effects by response model (CausalMMM variants)",
        "",
        f"Code version {versions}; seeds {args.seeds}; the draws, truth and scores of "
        "`benchmarks/effects.py` (full sizes, every shop scored; real pairs for the effect "
        "sizes). Mean over seeds. Command: `python benchmarks/effects_variants.py "
        + " ".join(argv or sys.argv[1:]) + "`.",
        "",
    ]
    for funnel in funnels:
        lines += [f"## {funnel}", "", "| score | " + " | ".join(variants) + " |",
                  "|---|" + "---|" * len(variants)]
        for key, label, fmt in SCORES:
            cells = []
            for v in variants:
                vals = [r[key] for r in rows if r["funnel"] == funnel and r["variant"] == v]
                cells.append(fmt.format(float(np.nanmean(vals))) if vals else "—")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        shapes = [r["shapes"] for r in rows if r["funnel"] == funnel and r["shapes"]]
        if shapes:
            lines += ["", "Response shapes chosen (decay, half-saturation) per seed: "
                      + "; ".join(json.dumps(s) for s in shapes)]
        lines.append("")
    write_variant_table(lines, VARIANTS, variants, rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
