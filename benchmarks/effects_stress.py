"""Channel effects on funnels written to break the model (CausalMMM defaults, do()-truth).

    python benchmarks/effects_stress.py                       # every family, seeds 0 1 2
    python benchmarks/effects_stress.py --families daily_long_carryover --seeds 0

`benchmarks/effects.py` scores the two funnels every default was chosen on. The issue's
held-out funnels were written elsewhere, so a figure counts only if it holds when the
funnel's settings move: longer carryover, short bursts of spend, more noise, strongly
saturating responses, fewer shops, budgets that follow a stronger season, and the held-out
weekly size (40 shops). Each family is ``simulate_funnel_daily`` / ``simulate_funnel_weekly``
with the settings below (the rest at their defaults), fitted with ``ModelConfig()`` and
``TrainConfig(seed=seed)``, contributions with ``DecisionConfig(seed=seed)``, scored by
``effects.score`` on every shop (the truth: GMV minus GMV under do(channel = 0), noise
held). Writes ``benchmarks/effects_stress.md`` and ``effects_stress.json``.
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
from common import code_version, json_default, machine_info  # noqa: E402
from effects import run_causalmmm, score, truth_table  # noqa: E402
from effects_variants import SCORES  # noqa: E402

DAILY = {"n_shops": 60, "length": 182}
WEEKLY = {"n_shops": 12, "length": 156, "weekly": True, "season_amplitude": 0.3}
# name -> (base settings, overrides, what it stresses)
FAMILIES = {
    "daily": (DAILY, {}, "the benchmark's daily funnel (reference)"),
    "daily_long_carryover": (
        DAILY, {"decay_low": 0.7, "decay_high": 0.95},
        "adstock decay 0.7-0.95 a day (half-lives up to 2 weeks; the model has 3 lags)",
    ),
    "daily_bursty": (
        DAILY, {"flight_on_mean": 4.0, "flight_off_mean": 12.0},
        "short bursts: flights of 4 days on, 12 off (most days without spend)",
    ),
    "daily_noisy": (DAILY, {"noise": 0.3}, "log-normal noise 0.3 on every node (0.15)"),
    "daily_saturated": (
        DAILY, {"shape_low": 2.0, "shape_high": 4.0, "half_low": 0.3, "half_high": 0.7},
        "steep Hill curves, half-saturation below the typical spend (strongly concave)",
    ),
    "daily_few_shops": (DAILY | {"n_shops": 15}, {}, "15 shops (60)"),
    "daily_season_budget": (
        DAILY, {"season_amplitude": 0.4, "budget_follow": 1.5},
        "a yearly season that budgets follow (amplitude 0.4, exponent 1.5)",
    ),
    "weekly": (WEEKLY, {}, "the benchmark's weekly funnel (reference)"),
    "weekly_40_shops": (WEEKLY | {"n_shops": 40}, {}, "40 shops, the issue's held-out size"),
    "weekly_strong_season": (
        WEEKLY, {"season_amplitude": 0.6, "budget_follow": 2.0},
        "budgets follow a strong season (amplitude 0.6, exponent 2)",
    ),
    "weekly_long_carryover": (
        WEEKLY, {"decay_low": 0.85, "decay_high": 0.97},
        "adstock decay 0.85-0.97 a day (carryover over several weeks)",
    ),
    "weekly_two_years": (WEEKLY | {"length": 104}, {}, "104 weeks (156)"),
}


def make(name: str, seed: int):
    from pyro_causalmmm.simulate.funnel import FunnelConfig, simulate_funnel

    base, over, _ = FAMILIES[name]
    return simulate_funnel(FunnelConfig(**(base | over), seed=seed))


def run(name: str, seed: int, overrides: dict | None = None) -> dict:
    sim = make(name, seed)
    row = run_causalmmm(sim, seed, overrides)
    out = score(pd.DataFrame(row["pairs"]), truth_table(sim), row["shops_fitted"])
    return {**out, "seconds": row["fit_wall_s"] + row["contributions_s"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--out", default=str(HERE / "effects_stress"))
    ap.add_argument("--config", default="{}",
                    help='ModelConfig overrides as JSON (a variant: \'{"response": "hill"}\')')
    args = ap.parse_args(argv)
    overrides = json.loads(args.config)
    names = args.families.split(",")
    out = Path(args.out)
    # rows of an interrupted run of the same code and overrides are kept (resume)
    saved = out.with_suffix(".json")
    old = json.loads(saved.read_text()) if saved.exists() else []
    rows = [r for r in old if r.get("overrides") == overrides
            and r.get("code_version") == code_version() and r["family"] in names]
    for name in names:
        for seed in args.seeds:
            if any(r["family"] == name and r["seed"] == seed for r in rows):
                continue
            r = run(name, seed, overrides)
            rows.append({"family": name, "seed": seed, "code_version": code_version(),
                         "overrides": overrides, **r})
            print(name, seed, {k: r[k] for k, _, _ in SCORES if k in r}, flush=True)
            out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=json_default))
    rows = [r for r in rows if r["seed"] in args.seeds]
    scores = [*SCORES[:-1], ("direct_rel_error", "direct part rel. error (median)", "{:.2f}"),
              ("indirect_rel_error", "indirect part rel. error (median)", "{:.2f}"), SCORES[-1]]
    lines = [
        "# Channel effects on stressed funnels (CausalMMM defaults, do()-truth)",
        "",
        *([f"ModelConfig overrides: `{overrides}`.", ""] if overrides else []),
        f"Code version {', '.join(sorted({r['code_version'] for r in rows}))}; seeds "
        f"{args.seeds}; every shop scored (real pairs for the sizes). Mean over seeds. "
        "Command: `python benchmarks/effects_stress.py " + " ".join(argv or sys.argv[1:])
        + "`.",
        "",
        "| score | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, label, fmt in scores:
        cells = []
        for name in names:
            vals = [r[key] for r in rows if r["family"] == name and key in r]
            cells.append(fmt.format(float(np.nanmean(vals))) if vals else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Families:"]
    lines += [f"- `{n}`: {FAMILIES[n][2]} {FAMILIES[n][1] or ''}" for n in names]
    lines += ["", f"Machine: {machine_info()}", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=json_default))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
