"""CLI commands on a fitted model directory: ``posterior``, ``forecast``, ``report``.

* ``causalmmm posterior DIR DATA``  redraw ``DIR/posterior.nc``, ``edges.csv`` and
  ``edges_pooled.csv`` (e.g. more draws, or new shops: no retraining).
* ``causalmmm forecast DIR DATA --horizon M --out forecast.csv [--backtest | --plan P]``
  forecasts M steps past each shop's end (also writes ``DIR/forecast.nc`` for the
  report); with ``--plan`` planned spend is fixed where given
  (:mod:`pyro_causalmmm.posterior.plan`); with ``--backtest`` it holds out each shop's
  last M steps instead, adds ``observed`` and prints MSE / MAPE / coverage at 1, 7 and
  30 steps.
* ``causalmmm report DIR --out report.html`` one self-contained HTML file from
  ``DIR/forecast.nc`` if present, else ``DIR/posterior.nc``.

Registered by :func:`pyro_causalmmm.cli.main.build_parser`; heavy imports inside commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pyro_causalmmm.cli.common import add_edge_thresholds

EXIT_OK = 0
FORECAST_FILE = "forecast.nc"


def _model_dir(text: str) -> Path:
    return Path(text)


def _add_posterior_options(parser: argparse.ArgumentParser) -> None:
    from pyro_causalmmm.cli.common import _positive_int
    from pyro_causalmmm.posterior.summaries import DRAWS

    parser.add_argument(
        "--draws", type=_positive_int, default=DRAWS, help=f"posterior draws ({DRAWS})"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")


def add_posterior_parsers(subparsers, add_data_arguments) -> None:
    from pyro_causalmmm.cli.common import _positive_int

    p = subparsers.add_parser(
        "posterior",
        help="draw the posterior of a fitted model for a data set",
        description="Write DIR/posterior.nc (ArviZ InferenceData), DIR/edges.csv and "
        "DIR/edges_pooled.csv for DATA using the model in DIR/model (no retraining).",
    )
    p.add_argument("dir", type=_model_dir, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(p)
    _add_posterior_options(p)
    add_edge_thresholds(p)
    p.set_defaults(func=cmd_posterior)

    f = subparsers.add_parser(
        "forecast",
        help="forecast the target with uncertainty (or backtest)",
        description="Forecast M steps past each shop's last step: posterior-predictive mean "
        "and 50%/90% highest-density intervals, in the data's units and dates. Future "
        "context is held at each shop's last value; future spend is forecast by the model, "
        "or taken from --plan where planned.",
    )
    f.add_argument("dir", type=_model_dir, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(f)
    f.add_argument("--horizon", type=_positive_int, required=True, metavar="M", help="steps")
    f.add_argument("--out", required=True, metavar="CSV", help="forecast table to write")
    f.add_argument(
        "--backtest",
        action="store_true",
        help="hold out each shop's last M steps, forecast them and score against the data",
    )
    f.add_argument(
        "--plan",
        metavar="CSV",
        help="planned future spend: the data's shop and time columns plus one column per "
        "planned channel, one row per (shop, date) of the forecast window; channels or "
        "cells left out are forecast by the model",
    )
    _add_posterior_options(f)
    f.set_defaults(func=cmd_forecast)

    e = subparsers.add_parser(
        "edges",
        help="edge probabilities for many shops (batch inference, no retraining)",
        description="Stream the shops of DATA in chunks through the trained encoder and "
        "write shop,cause,effect,p_edge,decision. Memory is bounded by the chunk size "
        "(the data file itself is read once).",
    )
    e.add_argument("dir", type=_model_dir, metavar="DIR", help="output directory of `fit`")
    add_data_arguments(e)
    e.add_argument("--out", required=True, metavar="CSV", help="edge table to write")
    e.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=1024,
        metavar="K",
        help="shops per encoder pass (1024)",
    )
    add_edge_thresholds(e)
    e.set_defaults(func=cmd_edges)

    r = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report",
        description="One HTML file (images embedded) from DIR/forecast.nc or DIR/posterior.nc.",
    )
    r.add_argument("dir", type=_model_dir, metavar="DIR", help="output directory of `fit`")
    r.add_argument("--out", required=True, metavar="HTML", help="report file to write")
    r.add_argument("--shops", nargs="+", default=None, help="shops to show in detail")
    r.add_argument(
        "--max-shops", type=_positive_int, default=3, help="shops shown when --shops is unset"
    )
    r.add_argument(
        "--contributions",
        default=None,
        metavar="CSV",
        help="add the waterfall of a `causalmmm contributions` table (direct vs indirect)",
    )
    r.set_defaults(func=cmd_report)


def _load(args):
    from pyro_causalmmm.api import CausalMMM
    from pyro_causalmmm.cli.common import load_data

    mmm = CausalMMM.load(args.dir / "model")
    data = load_data(args)
    return mmm, data


def _fit_log(directory: Path) -> tuple[dict, list, list]:
    try:
        info = json.loads((directory / "fit.json").read_text())
    except (OSError, ValueError):
        return {}, [], []
    fit = info.get("fit", {})
    return info, fit.get("train_losses", []), fit.get("val_losses", [])


def cmd_posterior(args: argparse.Namespace) -> int:
    from pyro_causalmmm.workflow import PosteriorOptions, check_output_dir, write_posterior

    options = PosteriorOptions(args.draws, args.seed, args.present, args.absent)
    check_output_dir(args.dir)
    mmm, data = _load(args)
    _, train, val = _fit_log(args.dir)
    write_posterior(mmm, data, args.dir, options, train_loss=train, val_loss=val)
    print(
        f"wrote {args.dir / 'posterior.nc'}, {args.dir / 'edges.csv'}, "
        f"{args.dir / 'edges_pooled.csv'} ({args.draws} draws, {data.n_shops} shops)"
    )
    return EXIT_OK


def cmd_forecast(args: argparse.Namespace) -> int:
    from pyro_causalmmm.io import atomic_write
    from pyro_causalmmm.posterior import forecasting
    from pyro_causalmmm.posterior import inference_data as idata_io
    from pyro_causalmmm.workflow import check_output_dir

    out = Path(args.out)
    check_output_dir(out.parent if str(out.parent) else Path("."))
    mmm, data = _load(args)
    info, train, val = _fit_log(args.dir)
    kw = {"train_loss": train, "val_loss": val}
    if args.plan is not None and args.backtest:
        from pyro_causalmmm.errors import ConfigError

        raise ConfigError(
            "--plan and --backtest exclude each other: a backtest scores the spend that happened"
        )
    if args.backtest:
        idata, table, scores = forecasting.backtest(
            mmm, data, args.horizon, draws=args.draws, seed=args.seed
        )
        honest = int(info.get("holdout", 0)) >= args.horizon
        lines = forecasting.format_scores(scores, honest)
    else:
        idata, table = forecasting.forecast(
            mmm,
            data,
            args.horizon,
            draws=args.draws,
            seed=args.seed,
            plan=args.plan,
            plan_shop=args.shop or "shop",
            plan_time=args.time,
            **kw,
        )
        lines = []
    atomic_write(out, lambda p: table.to_csv(p, index=False))
    if not args.backtest:
        idata_io.save(idata, args.dir / FORECAST_FILE)
    for line in lines:
        print(line)
    extra = "" if args.backtest else f" and {args.dir / FORECAST_FILE}"
    print(f"wrote {out} ({len(table)} rows){extra}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from pyro_causalmmm.posterior import inference_data as idata_io
    from pyro_causalmmm.report import write_report

    source = args.dir / FORECAST_FILE
    if not source.is_file():
        source = args.dir / idata_io.POSTERIOR_FILE
    idata = idata_io.load(source)
    info, _, _ = _fit_log(args.dir)
    shops = args.shops
    if shops:
        known = {str(s) for s in idata.observed_data["shop"].values}
        missing = [s for s in shops if s not in known]
        if missing:
            from pyro_causalmmm.errors import ConfigError

            raise ConfigError(f"--shops: unknown shop {missing[0]!r}; the data has {len(known)}")
    extra = _decision_sections(args.contributions) if args.contributions else None
    path = write_report(
        idata,
        Path(args.out),
        shops=shops,
        max_shops=args.max_shops,
        data_summary=info.get("data_summary"),
        extra_sections=extra,
    )
    print(f"wrote {path} (from {source.name})")
    return EXIT_OK


def cmd_edges(args: argparse.Namespace) -> int:
    import time

    from pyro_causalmmm.io import atomic_write
    from pyro_causalmmm.posterior.summaries import decide
    from pyro_causalmmm.workflow import PosteriorOptions

    PosteriorOptions(0, 0, args.present, args.absent)  # validates the thresholds
    mmm, data = _load(args)
    out = Path(args.out)
    start = time.perf_counter()

    def write(path: Path) -> None:
        with open(path, "w", newline="") as handle:
            for i, chunk in enumerate(mmm.iter_edge_probabilities(data, args.chunk_size)):
                chunk["decision"] = decide(chunk["p_edge"], args.present, args.absent)
                chunk.to_csv(handle, index=False, header=i == 0)

    atomic_write(out, write)
    seconds = time.perf_counter() - start
    print(
        f"wrote {out}: {data.n_shops} shops in {seconds:.1f} s "
        f"({data.n_shops / max(seconds, 1e-9):.0f} shops/s, chunks of {args.chunk_size})"
    )
    return EXIT_OK


CONTRIBUTION_COLUMNS = ("shop", "channel", "spend", "contribution", "direct", "indirect")


def _decision_sections(csv: str) -> list:
    """Report sections from a contributions table written by `causalmmm contributions`."""
    import types

    import pandas as pd

    from pyro_causalmmm.errors import DataValidationError
    from pyro_causalmmm.report.plotting_decisions import decision_sections

    table = pd.read_csv(csv)
    missing = [c for c in CONTRIBUTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataValidationError(
            f"--contributions {csv}: missing columns {missing}; pass the CSV written by "
            "`causalmmm contributions`"
        )
    return decision_sections(contributions=types.SimpleNamespace(table=table, draws=None))
