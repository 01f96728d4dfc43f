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

from pyro_causalmmm.cli.common import EXIT_ERROR, add_data_arguments
from pyro_causalmmm.cli.data import add_simulate_parser, add_validate_parser
from pyro_causalmmm.errors import CausalMMMError, TrainingInterrupted

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
    add_validate_parser(subparsers)
    add_simulate_parser(subparsers)
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
