"""Command line interface: ``causalmmm <command> ...``.

Each command is one ``_add_<command>_parser(subparsers)`` function that declares
its arguments and sets ``func=_cmd_<command>``, plus the ``_cmd_<command>(args) -> int``
that runs it. To add a command, write both and call the first from `build_parser`.
Heavy modules (torch, pyro, the simulator) are imported inside the commands, so
``causalmmm --help`` and ``causalmmm validate`` stay fast.

Errors: a `CausalMMMError` (bad data or settings) or an `OSError` (a file cannot be
read or written) prints one line ``error: <message>`` on stderr and exits 2, without a
traceback; argparse usage errors also exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pyro_causalmmm.errors import CausalMMMError, TrainingInterrupted

EXIT_OK = 0
EXIT_ERROR = 2


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data-loading options shared by every command that reads a CSV (see `load_data`)."""
    from pyro_causalmmm.data import FILL_METHODS

    parser.add_argument("data", help="long CSV: one row per (shop, time)")
    parser.add_argument("--shop", default="shop", metavar="COL", help="shop id column (shop)")
    parser.add_argument("--time", default="time", metavar="COL", help="time column (time)")
    parser.add_argument("--target", default="gmv", metavar="COL", help="target column (gmv)")
    parser.add_argument(
        "--channels",
        nargs="+",
        metavar="COL",
        help="channel columns in node order (default: every other numeric column)",
    )
    parser.add_argument("--context", nargs="+", default=None, metavar="COL", help="context columns")
    parser.add_argument(
        "--spend",
        nargs="*",
        metavar="COL",
        help="channels that are spend, checked >= 0 (default: names containing "
        "'spend' or 'cost'; give the flag alone for none)",
    )
    parser.add_argument(
        "--fill", choices=FILL_METHODS, default=None, help="fill gaps in the time grid"
    )
    parser.add_argument(
        "--min-length",
        type=_positive_int,
        default=10,
        metavar="N",
        help="fewest time steps a shop may have (10)",
    )


def load_data(args: argparse.Namespace):
    """`MarketingMixData` from the options added by `add_data_arguments`."""
    from pyro_causalmmm.data import MarketingMixData

    return MarketingMixData.from_csv(
        args.data,
        shop=args.shop,
        time=args.time,
        target=args.target,
        channels=args.channels,
        context=args.context,
        spend=args.spend,
        fill=args.fill,
        min_length=args.min_length,
    )


# ----------------------------------------------------------------------------- validate


def _add_validate_parser(subparsers: argparse._SubParsersAction) -> None:
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


def _add_simulate_parser(subparsers: argparse._SubParsersAction) -> None:
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


# ----------------------------------------------------------------------------- entry point


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one ``error:`` line (exit 2), like ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``causalmmm`` parser with one subparser per command."""
    parser = _Parser(
        prog="causalmmm",
        description="CausalMMM in Pyro: per-shop causal graphs over marketing channels "
        "and target forecasts with uncertainty.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    _add_validate_parser(subparsers)
    _add_simulate_parser(subparsers)
    from pyro_causalmmm.cli.decisions import add_decision_parsers
    from pyro_causalmmm.cli.diagnostics import add_diagnose_parser
    from pyro_causalmmm.cli.model import add_demo_parser, add_fit_parser
    from pyro_causalmmm.cli.posterior import add_posterior_parsers

    add_fit_parser(subparsers, add_data_arguments)
    add_posterior_parsers(subparsers, add_data_arguments)
    add_demo_parser(subparsers)
    add_diagnose_parser(subparsers)
    add_decision_parsers(subparsers, add_data_arguments)
    return parser


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``causalmmm`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    args.argv = argv  # the command as given (a distributed fit re-runs it under torchrun)
    try:
        return int(args.func(args))
    except TrainingInterrupted as exc:  # SIGINT/SIGTERM: checkpoint saved, exit 128 + signal
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 128 + exc.signum
    except CausalMMMError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {_one_line(exc.strerror or exc)}{where}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
