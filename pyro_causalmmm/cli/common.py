"""Shared pieces of the command line: exit codes, argparse types and the data-loading
arguments every command that reads a CSV takes. Imports no command module.
"""


from __future__ import annotations

import argparse

EXIT_OK = 0
EXIT_ERROR = 2


_MODEL_FLAGS = {
    # flag: (ModelConfig field, type, help)
    "--hidden": ("hidden", int, "hidden width of every network (64)"),
    "--tau": ("tau", float, "relaxed-Bernoulli temperature (0.5)"),
    "--lam": ("lam", float, "weight lambda of KL(q(z) || p(z)) (1)"),
    "--prior-edge-prob": ("prior_edge_prob", float, "prior probability of an edge (0.5)"),
    "--message-window": ("message_window", int, "sender values each message sees (3)"),
    "--linear-lags": ("linear_lags", int, "lags of the z-gated linear term; 0 = off (3)"),
    "--pred-steps": ("pred_steps", int, "final steps trained by feeding predictions back (1)"),
    "--evidence-lags": ("evidence_lags", int, "lags 1..L tested per edge by the evidence (3)"),
    "--correction-bound": (
        "correction_bound",
        float,
        "largest log-odds change the trained encoder may make to an edge; 0 = off (0)",
    ),
}
_MODEL_SWITCHES = {
    "--full-graph": ("full_graph", "ablation CM-FULL: z = 1 on every edge"),
    "--markov": ("markov", "ablation CM-MARKOV: no recurrent state"),
    "--no-saturation": ("no_saturation", "ablation CM-RW: no Hill S-curve on the target"),
}


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
    parser.add_argument(
        "--shop",
        default=None,
        metavar="COL",
        help="shop id column (default: 'shop' if the file has it, else the whole file is one "
        "shop, named after the file)",
    )
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
        "--controls",
        nargs="*",
        metavar="COL",
        help="additive controls in every node's baseline (price, competitors, events; text "
        "columns become 0/1 indicators). Default: Robyn _B / Meridian _control columns and "
        "text columns when channels are inferred; give the flag alone for none",
    )
    parser.add_argument(
        "--revenue-per-unit",
        default=None,
        metavar="COL|NUMBER",
        help="revenue of one target unit (a column or a number) when the target is a count "
        "such as conversions; contributions, ROAS and budgets are then in revenue (default: "
        "the file's revenue_per_conversion column if it has one)",
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
        controls=args.controls,
        revenue_per_unit=args.revenue_per_unit,
    )




def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Model hyperparameter, ablation and training flags (unset = library default)."""
    group = parser.add_argument_group("model")
    for flag, (field, kind, text) in _MODEL_FLAGS.items():
        group.add_argument(flag, dest=field, type=kind, default=None, help=text)
    for flag, (field, text) in _MODEL_SWITCHES.items():
        group.add_argument(flag, dest=field, action="store_true", help=text)
    group.add_argument(
        "--no-lag-features",
        dest="encoder_lag_features",
        action="store_false",
        default=None,
        help="encoder sees raw series only (no per-edge lag statistics)",
    )
    group.add_argument(
        "--uncalibrated-edges",
        dest="calibrate_edges",
        action="store_false",
        default=None,
        help="the previous guide: prior log-odds + Bayes factor + MLP, no empirical Bayes",
    )
    group.add_argument(
        "--no-product-test",
        dest="evidence_products",
        action="store_false",
        default=None,
        help="edge evidence without the pairwise-product test (its regression has about "
        "nodes^2 / 2 columns; "
        "switch it off for panels of many tens of nodes)",
    )
    group.add_argument(
        "--same-period",
        dest="same_period",
        choices=("auto", "on", "off", "funnel"),
        default=None,
        help="same-period edges: 'on' from spends into every other node, 'funnel' also "
        "among the other nodes in node order (the order of --channels, then the target), "
        "'off' lagged only; 'auto' (default): 'funnel' for weekly or coarser data, 'off' "
        "for daily",
    )
    group.add_argument(
        "--evidence-calendar",
        dest="evidence_calendar",
        choices=("off", "slow", "all"),
        default=None,
        help="the model's baseline columns in the edge evidence: 'all' (trend, seasons, "
        "controls), 'slow' (no weekly harmonics) or 'off' (default): fewer edges confounded "
        "by the calendar, but real edges whose signal is seasonal are found less often",
    )
    group.add_argument(
        "--effect-pooling",
        dest="effect_pooling",
        choices=("shops", "none"),
        default=None,
        help="'shops' (default): the effect sizes behind contributions, ROAS, plans and "
        "forecasts get a prior pooled over the panel's shops; 'none': each shop's own data "
        "alone",
    )
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=None, help="training epochs (15)")
    train.add_argument("--batch-size", type=int, default=None, help="shops per SVI step")
    train.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    train.add_argument(
        "--val-fraction", type=float, default=None, help="shops held out for early stopping"
    )
    train.add_argument("--patience", type=int, default=None, help="early-stopping patience")
    train.add_argument("--seed", type=int, default=0, help="random seed (0)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def configs_from_args(args: argparse.Namespace):
    """``(ModelConfig, TrainConfig)`` from parsed flags; unset flags keep the defaults."""
    from pyro_causalmmm.inference.training import TrainConfig
    from pyro_causalmmm.models import ModelConfig

    model_kw = {f: getattr(args, f) for f, _, _ in _MODEL_FLAGS.values()}
    model_kw.update({f: True for f, _ in _MODEL_SWITCHES.values() if getattr(args, f)})
    model_kw["encoder_lag_features"] = args.encoder_lag_features
    model_kw["calibrate_edges"] = getattr(args, "calibrate_edges", None)
    model_kw["evidence_products"] = getattr(args, "evidence_products", None)
    model_kw["same_period"] = getattr(args, "same_period", None)
    model_kw["effect_pooling"] = getattr(args, "effect_pooling", None)
    model_kw["evidence_calendar"] = getattr(args, "evidence_calendar", None)
    train_kw = {
        k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "val_fraction", "patience")
    }
    model_cfg = ModelConfig(**{k: v for k, v in model_kw.items() if v is not None})
    if getattr(args, "device", None):
        train_kw["device"] = args.device
    train_cfg = TrainConfig(
        seed=args.seed, quiet=args.quiet, **{k: v for k, v in train_kw.items() if v is not None}
    )
    return model_cfg, train_cfg


def add_edge_thresholds(parser: argparse.ArgumentParser) -> None:
    from pyro_causalmmm.posterior.summaries import ABSENT, PRESENT

    parser.add_argument(
        "--present", type=float, default=PRESENT, help=f"p_edge labelled present ({PRESENT})"
    )
    parser.add_argument(
        "--absent", type=float, default=ABSENT, help=f"p_edge labelled absent ({ABSENT})"
    )
