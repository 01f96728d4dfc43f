"""``causalmmm validate`` and ``causalmmm simulate``: check a data file; draw synthetic
data with known graphs.
"""


from __future__ import annotations

import argparse
from pathlib import Path

from pyro_causalmmm.cli.common import (
    EXIT_OK,
    _non_negative_int,
    _positive_int,
    add_data_arguments,
    load_data,
)

# ----------------------------------------------------------------------------- validate


def add_validate_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a data file and summarize it",
        description="Check a long CSV against every data rule and print a summary.",
    )
    add_data_arguments(parser)
    parser.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    data = load_data(args)
    print(data.summary())
    return EXIT_OK


# ----------------------------------------------------------------------------- simulate


def add_simulate_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="draw synthetic data with a known causal graph",
        description="Draw a panel from the paper's synthetic generator (appendix A.2.1); "
        "unset options take the simulator's defaults.",
    )
    parser.add_argument("--scenario", choices=("sim1", "sim2"), help="sim1: y = u; sim2: S-curve")
    parser.add_argument("--shops", type=_positive_int, metavar="N", help="number of shops")
    parser.add_argument("--channels", type=_positive_int, metavar="D", help="number of channels")
    parser.add_argument("--length", type=_positive_int, metavar="T", help="time steps per shop")
    parser.add_argument("--graphs", type=_positive_int, metavar="R", help="distinct graphs")
    parser.add_argument("--lag", type=_positive_int, metavar="K", help="mechanism lag")
    parser.add_argument("--seed", type=_non_negative_int, metavar="S", help="random seed")
    parser.add_argument(
        "--mechanisms",
        choices=("per_shop", "shared"),
        help="mechanism weights drawn per shop (as in the paper) or shared by all shops",
    )
    parser.add_argument("--out", required=True, metavar="CSV", help="data file to write")
    parser.add_argument(
        "--truth", required=True, metavar="NPZ", help="true graphs (adjacency, names) to write"
    )
    parser.set_defaults(func=_cmd_simulate)


_SIMULATE_OPTIONS = {
    "scenario": "scenario",
    "shops": "n_shops",
    "channels": "n_channels",
    "length": "length",
    "graphs": "n_graphs",
    "lag": "lag",
    "seed": "seed",
    "mechanisms": "mechanisms",
}


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from pyro_causalmmm.io import atomic_write
    from pyro_causalmmm.simulate import simulate

    settings = {
        name: getattr(args, option)
        for option, name in _SIMULATE_OPTIONS.items()
        if getattr(args, option) is not None
    }
    sim = simulate(**settings)
    out, truth = Path(args.out), Path(args.truth)

    def write_truth(path: Path) -> None:
        with open(path, "wb") as handle:  # a handle: np.savez would append ".npz" to a name
            np.savez(
                handle,
                adjacency=np.asarray(sim.adjacency),
                node_names=np.array(list(sim.node_names)),
                shop_ids=np.array(list(sim.shop_ids)),
            )

    atomic_write(out, lambda path: sim.frame.to_csv(path, index=False))
    atomic_write(truth, write_truth)
    n_shops, n_nodes = len(sim.shop_ids), len(sim.node_names)
    print(
        f"wrote {out} ({len(sim.frame)} rows, {n_shops} shops, {n_nodes} nodes) "
        f"and {truth} (adjacency (shop, cause, effect))"
    )
    return EXIT_OK

