"""CLI command ``causalmmm diagnose``: the graph-usefulness diagnostic on simulated data.

Registered by :func:`pyro_causalmmm.cli.main.build_parser`. torch and pyro are imported
inside the command. See :mod:`pyro_causalmmm.posterior.diagnostics`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

EXIT_OK = 0

#: Default size: the demo's Simulation 2 panel, 10 epochs per fit.
DIAGNOSE_DEFAULTS = {
    "scenario": "sim2",
    "mechanisms": "per_shop",
    "shops": 100,
    "channels": 10,
    "length": 120,
    "epochs": 10,
    "holdout": 20,
}


def add_diagnose_parser(subparsers) -> None:
    from pyro_causalmmm.cli.common import _positive_int, add_model_arguments

    parser = subparsers.add_parser(
        "diagnose",
        help="does the decoder need the graph? (true vs no vs full graph)",
        description="Simulate a panel, train the model three times with the graph fixed "
        "(true graph, no edges, full graph) on all but the last HOLDOUT steps, and print "
        "the held-out one-step MSE (scaled units) next to a per-shop ridge VAR and the "
        "last-value forecast.",
    )
    d = DIAGNOSE_DEFAULTS
    parser.add_argument(
        "--scenario", choices=("sim1", "sim2"), default=d["scenario"], help="(sim2)"
    )
    parser.add_argument(
        "--mechanisms",
        choices=("per_shop", "shared"),
        default=d["mechanisms"],
        help="mechanism weights per shop (paper) or shared by all shops (per_shop)",
    )
    parser.add_argument("--shops", type=_positive_int, default=d["shops"], help="(100)")
    parser.add_argument("--channels", type=_positive_int, default=d["channels"], help="(10)")
    parser.add_argument(
        "--length", type=_positive_int, default=d["length"], metavar="T", help="(120)"
    )
    parser.add_argument(
        "--holdout",
        type=_positive_int,
        default=d["holdout"],
        metavar="H",
        help="last steps of each shop scored, never trained on (20)",
    )
    parser.add_argument("--out", default=None, metavar="JSON", help="write the report here")
    add_model_arguments(parser)
    parser.set_defaults(func=cmd_diagnose, epochs=d["epochs"])


def cmd_diagnose(args: argparse.Namespace) -> int:
    from pyro_causalmmm.cli.common import configs_from_args
    from pyro_causalmmm.io import atomic_write
    from pyro_causalmmm.posterior.diagnostics import graph_usefulness
    from pyro_causalmmm.simulate import simulate

    model_cfg, train_cfg = configs_from_args(args)
    sim = simulate(
        args.scenario,
        n_shops=args.shops,
        n_channels=args.channels,
        length=args.length,
        seed=args.seed,
        mechanisms=args.mechanisms,
    )
    print(
        f"diagnose: {args.scenario} ({args.mechanisms} mechanisms), {args.shops} shops, "
        f"{args.channels + 1} nodes, {args.length - args.holdout} training steps + "
        f"{args.holdout} held out; {train_cfg.epochs} epochs per graph"
    )
    report = graph_usefulness(sim, model_cfg, train_cfg, holdout=args.holdout)
    print("held-out one-step MSE (scaled units):")
    print(report.table())
    print(report.verdict())
    print(f"{report.seconds:.0f} s")
    if args.out:
        payload = {
            **report.to_dict(),
            "simulation": dataclasses.asdict(sim.config),
            "model_config": model_cfg.to_dict(),
            "train_config": train_cfg.to_dict(),
        }
        out = Path(args.out)
        atomic_write(out, lambda p: p.write_text(json.dumps(payload, indent=2)))
        print(f"wrote {out}")
    return EXIT_OK
