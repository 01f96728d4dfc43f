"""CLI commands for marketing decisions through the learned graph.

* ``causalmmm contributions DIR DATA [--window START:END] --out contributions.csv``
  per shop and spend channel: spend, contribution (with HDI), direct, indirect, ROAS and
  marginal ROAS (:mod:`pyro_causalmmm.decisions.contributions`).
* ``causalmmm response DIR DATA [--grid 0,0.5,1,1.5,2] --out response.csv [--plot PNG]``
  GMV change as each channel's spend is scaled by each multiplier.
* ``causalmmm optimize DIR DATA --budget TOTAL --horizon M [--bounds CH=LOW:HIGH ...]
  [--per-shop] --out plan.csv`` the spend plan maximising expected GMV
  (:mod:`pyro_causalmmm.decisions.optimizer`).

``DIR`` is the output directory of ``causalmmm fit`` (the model in ``DIR/model``); ``DATA``
takes the same data options as ``fit``. Spend channels are the data's (``--spend``).
Registered by :func:`pyro_causalmmm.cli.main.build_parser`; heavy imports inside the commands.
Every output file is written atomically after all computing is done.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

EXIT_OK = 0


def _float_list(text: str) -> list[float]:
    """argparse type: comma-separated numbers >= 0 (a response grid)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,0.5,1, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers >= 0, got {text!r}")
    return values


def _budget(text: str) -> tuple[float, bool]:
    """argparse type: ``TOTAL`` (spend units) or ``Kx`` (K times the current total)."""
    raw = text.strip().lower()
    relative = raw.endswith("x")
    try:
        value = float(raw[:-1] if relative else raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a total like 50000 or a multiple of current spend like 1.1x, got {text!r}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite budget >= 0, got {text!r}")
    return value, relative


def _bound(text: str) -> tuple[str, float, float]:
    """argparse type: ``CHANNEL=LOW:HIGH`` (multipliers of current spend; ``*`` = all)."""
    name, sep, rng = text.partition("=")
    low, sep2, high = rng.partition(":")
    try:
        if not (sep and sep2 and name.strip()):
            raise ValueError
        lo, hi = float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected CHANNEL=LOW:HIGH like tv_spend=0.5:1.5, got {text!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return name.strip(), lo, hi


def _common(parser: argparse.ArgumentParser, draws: int) -> None:
    from pyro_causalmmm.cli.common import _positive_int

    parser.add_argument(
        "--draws", type=_positive_int, default=draws, help=f"posterior graph draws ({draws})"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--coefficient-covariance",
        choices=("robust", "model"),
        default="robust",
        help="covariance of the effect-size draws behind the HDIs: robust (default; the "
        "sandwich of the residuals, wider where they are autocorrelated) or model "
        "(independent errors, the intervals of 0.5)",
    )
    parser.add_argument(
        "--spend-effects",
        choices=("auto", "free", "positive"),
        default="auto",
        help="constraint on each spend's long-run direct effect on the nodes that are not spends: "
        "auto (default; >= 0 on the (spend, node) pairs whose shops mostly estimate a positive "
        "effect, either sign elsewhere), positive (>= 0 everywhere, as PyMC-Marketing, Meridian "
        "and Robyn assume) or free (either sign everywhere)",
    )


def add_decision_parsers(subparsers, add_data_arguments) -> None:
    """Register ``contributions``, ``response`` and ``optimize``."""
    from pyro_causalmmm.cli.common import _positive_int

    draws = 20  # contributions.DRAWS (a literal: `causalmmm --help` imports no torch here)
    c = subparsers.add_parser(
        "contributions",
        help="GMV contributions, ROAS and marginal ROAS of each spend channel",
        description="Per shop and spend channel: GMV attributed to the channel over the window "
        "(observed GMV minus GMV with the channel's spend at 0, other nodes responding through "
        "the learned graph), split into direct and indirect parts, ROAS and marginal ROAS "
        "(+1%% spend), with 90%% HDIs over posterior graph draws.",
    )
    c.add_argument("dir", type=Path, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(c)
    c.add_argument("--window", metavar="START:END", help="time window, inclusive (all data)")
    c.add_argument("--out", required=True, metavar="CSV", help="table to write")
    _common(c, draws)
    c.set_defaults(func=cmd_contributions)

    r = subparsers.add_parser(
        "response",
        help="response curves: GMV change as each channel's spend is scaled",
        description="GMV change over the window when each spend channel's spend is multiplied "
        "by each value of --grid (other nodes respond), with 90%% HDIs.",
    )
    r.add_argument("dir", type=Path, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(r)
    r.add_argument("--window", metavar="START:END", help="time window, inclusive (all data)")
    r.add_argument(
        "--grid",
        type=_float_list,
        default=[0.0, 0.5, 1.0, 1.5, 2.0],
        metavar="K,K,...",
        help="spend multipliers (0,0.5,1,1.5,2)",
    )
    r.add_argument("--out", required=True, metavar="CSV", help="table to write")
    r.add_argument("--plot", metavar="PNG", help="also draw the curves (summed over shops)")
    _common(r, draws)
    r.set_defaults(func=cmd_response)

    o = subparsers.add_parser(
        "optimize",
        help="budget plan that maximises expected GMV over a future horizon",
        description="Spend per step for each shop and spend channel over the next M steps that "
        "maximises expected GMV (mean over graph draws) for a total budget, each channel within "
        "bounds given as multipliers of its current spend (mean of the shop's last M steps).",
    )
    o.add_argument("dir", type=Path, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(o)
    o.add_argument(
        "--budget",
        type=_budget,
        required=True,
        metavar="TOTAL",
        help="total spend over the horizon, all shops and channels (or e.g. 1.1x current)",
    )
    o.add_argument("--horizon", type=_positive_int, required=True, metavar="M", help="steps")
    o.add_argument(
        "--bounds",
        type=_bound,
        nargs="+",
        default=[],
        metavar="CH=LOW:HIGH",
        help="multipliers of current spend per channel (* = every other; default 0.5:1.5)",
    )
    o.add_argument(
        "--per-shop",
        action="store_true",
        help="each shop keeps its share of the budget (default: pooled over shops)",
    )
    o.add_argument("--iterations", type=_positive_int, default=12, help="gradient steps (12)")
    o.add_argument("--out", required=True, metavar="CSV", help="plan to write")
    _common(o, draws)
    o.set_defaults(func=cmd_optimize)


def _prepare(args, outputs):
    """Check the outputs can be written, then load the model and the data."""
    from pyro_causalmmm.api import CausalMMM
    from pyro_causalmmm.cli.common import load_data
    from pyro_causalmmm.workflow import check_output_dir

    for out in outputs:
        if out is not None:
            out = Path(out)
            check_output_dir(out.parent if str(out.parent) else Path("."))
    mmm = CausalMMM.load(args.dir / "model")
    return mmm, load_data(args)


def _draws_note(draws: int, prob: float | None = None) -> None:
    """A note when ``draws`` are too few for a ``prob`` interval (default: the decisions'
    ``HDI_PROB``; fewer than 19 draws for 90%)."""
    from pyro_causalmmm.decisions.scenarios import HDI_PROB
    from pyro_causalmmm.posterior.stats import interval_level

    prob = HDI_PROB if prob is None else prob

    level = interval_level(draws, prob)
    if level < prob - 1e-9:
        need = math.ceil((1 + prob) / (1 - prob) - 1e-9)
        print(
            f"note: {draws} draws cannot make a {prob:.0%} interval: the HDI columns are the "
            f"draws' range, which holds {level:.0%} of a calibrated posterior; use --draws "
            f"{need} or more"
        )


def _sign_note(mmm, data, config) -> None:
    """Which (spend, node) pairs the draws hold >= 0 (``--spend-effects``), one line."""
    import torch

    from pyro_causalmmm.decisions.chunks import positive_pairs, spend_pairs

    every = spend_pairs(data)
    if not every.any():
        return
    held = positive_pairs(mmm.model, data, config)
    held = torch.zeros_like(every) if held is None else held
    names = data.node_names
    free = [f"{names[i]} -> {names[j]}" for i, j in (every & ~held).nonzero().tolist()]
    print(
        f"note: spend effects ({config.spend_effects}): {int(held.sum())} of {int(every.sum())} "
        "(spend, node) pairs held >= 0"
        + (f"; either sign: {', '.join(free)}" if 0 < len(free) <= 6 else "")
    )


def _unstable_note(count: int) -> None:
    if count:
        print(
            f"note: {count} (draw, shop) pairs kept explosive lag dynamics after redrawing; "
            "their answers are unreliable"
        )


def cmd_contributions(args: argparse.Namespace) -> int:
    from pyro_causalmmm.decisions.contributions import DecisionConfig, contributions, parse_window
    from pyro_causalmmm.io import atomic_write

    config = DecisionConfig(
        draws=args.draws,
        seed=args.seed,
        coefficient_covariance=args.coefficient_covariance,
        spend_effects=args.spend_effects,
    )
    mmm, data = _prepare(args, [args.out])
    window = parse_window(args.window, data)
    result = contributions(mmm, data, window=window, config=config)
    table = result.table
    atomic_write(Path(args.out), lambda p: table.to_csv(p, index=False))
    _unstable_note(int(result.draws.attrs.get("unstable", 0)))
    _draws_note(args.draws)
    _sign_note(mmm, data, config)
    total, spend = table["contribution"].sum(), table["spend"].sum()
    print(
        f"wrote {args.out} ({len(table)} rows: {data.n_shops} shops x "
        f"{len(table) // max(data.n_shops, 1)} channels); all channels together: contribution "
        f"{total:.6g} on spend {spend:.6g} (ROAS {total / spend if spend else float('nan'):.3g})"
        + (
            f"; amounts in revenue ({data.target_name} x revenue per unit)"
            if data.revenue_per_unit is not None
            else ""
        )
    )
    return EXIT_OK


def cmd_response(args: argparse.Namespace) -> int:
    from pyro_causalmmm.decisions.contributions import DecisionConfig, parse_window, response_curves
    from pyro_causalmmm.io import atomic_write

    config = DecisionConfig(
        draws=args.draws,
        seed=args.seed,
        coefficient_covariance=args.coefficient_covariance,
        spend_effects=args.spend_effects,
    )
    mmm, data = _prepare(args, [args.out, args.plot])
    window = parse_window(args.window, data)
    result = response_curves(mmm, data, grid=args.grid, window=window, config=config)
    if args.plot:
        from pyro_causalmmm.report.plotting_decisions import plot_response_curves

        fig = plot_response_curves(result.draws)
        atomic_write(Path(args.plot), lambda p: fig.savefig(p, dpi=110, bbox_inches="tight"))
    atomic_write(Path(args.out), lambda p: result.table.to_csv(p, index=False))
    _unstable_note(int(result.draws.attrs.get("unstable", 0)))
    _draws_note(args.draws)
    extra = f" and {args.plot}" if args.plot else ""
    print(f"wrote {args.out} ({len(result.table)} rows){extra}")
    return EXIT_OK


def cmd_optimize(args: argparse.Namespace) -> int:
    from pyro_causalmmm.decisions.optimizer import BudgetConfig, optimize_budget
    from pyro_causalmmm.errors import ConfigError
    from pyro_causalmmm.io import atomic_write

    bounds = {}
    for name, low, high in args.bounds:
        if name in bounds:
            raise ConfigError(f"--bounds names {name!r} twice")
        bounds[name] = (low, high)
    budget, relative = args.budget
    config = BudgetConfig(
        budget=budget,
        relative=relative,
        horizon=args.horizon,
        bounds=bounds,
        per_shop=args.per_shop,
        draws=args.draws,
        iterations=args.iterations,
        seed=args.seed,
        coefficient_covariance=args.coefficient_covariance,
        spend_effects=args.spend_effects,
    )
    mmm, data = _prepare(args, [args.out])
    plan = optimize_budget(mmm, data, config)
    shops = plan.shops.rename(columns={c: f"shop_{c}" for c in plan.shops.columns if c != "shop"})
    table = plan.table.merge(shops, on="shop", how="left")
    atomic_write(Path(args.out), lambda p: table.to_csv(p, index=False))
    s = plan.summary
    _unstable_note(int(s["unstable"]))
    _draws_note(args.draws)
    print(
        f"plan: budget {s['budget']:.6g} over {s['horizon']} steps (current spend "
        f"{s['current_total']:.6g}, {'per shop' if s['per_shop'] else 'pooled over shops'}); "
        f"expected GMV {s['planned_gmv']:.6g} vs {s['current_gmv']:.6g} at current spend"
    )
    share = 100 * s["indirect_share"]
    print(
        f"expected GMV lift {s['lift']:.6g} (90% HDI {s['lift_hdi_low']:.6g} to "
        f"{s['lift_hdi_high']:.6g}), of which {s['indirect']:.6g} ({share:.0f}%) through "
        f"indirect paths; found in {s['seconds']:.1f} s"
    )
    print(f"wrote {args.out} ({len(table)} rows)")
    return EXIT_OK
