"""CLI commands that train models: ``causalmmm fit`` and ``causalmmm demo``.

Registered by :func:`pyro_causalmmm.cli.main.build_parser`. torch and pyro are imported
inside the commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK = 0

_MODEL_FLAGS = {
    # flag: (ModelConfig field, type, help)
    "--hidden": ("hidden", int, "hidden width of every network (64)"),
    "--tau": ("tau", float, "relaxed-Bernoulli temperature (0.5)"),
    "--lam": ("lam", float, "weight lambda of KL(q(z) || p(z)) (100)"),
    "--prior-edge-prob": ("prior_edge_prob", float, "prior probability of an edge (0.5)"),
    "--message-window": ("message_window", int, "sender values each message sees (3)"),
    "--linear-lags": ("linear_lags", int, "lags of the z-gated linear term; 0 = off (3)"),
    "--pred-steps": ("pred_steps", int, "final steps trained by feeding predictions back (1)"),
}
_MODEL_SWITCHES = {
    "--full-graph": ("full_graph", "ablation CM-FULL: z = 1 on every edge"),
    "--markov": ("markov", "ablation CM-MARKOV: no recurrent state"),
    "--no-saturation": ("no_saturation", "ablation CM-RW: no Hill S-curve on the target"),
}


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


def add_fit_parser(subparsers, add_data_arguments) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="learn per-shop causal graphs",
        description="Fit CausalMMM; writes DIR/model/, DIR/edges.csv and DIR/fit.json.",
    )
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_model_arguments(parser)
    from pyro_causalmmm.cli.main import _non_negative_int
    from pyro_causalmmm.cli.posterior import add_edge_thresholds
    from pyro_causalmmm.posterior.summaries import DRAWS

    post = parser.add_argument_group("posterior")
    post.add_argument(
        "--draws",
        type=_non_negative_int,
        default=DRAWS,
        help=f"posterior draws for posterior.nc and edges.csv; 0 = none ({DRAWS})",
    )
    post.add_argument(
        "--holdout",
        type=_non_negative_int,
        default=0,
        metavar="M",
        help="train without each shop's last M steps (for `forecast --backtest`) (0)",
    )
    add_edge_thresholds(post)
    scale = parser.add_argument_group("scale out")
    scale.add_argument(
        "--nproc",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="data-parallel processes on this machine via torchrun (gloo on CPU, NCCL on "
        "CUDA); the global --batch-size is split across them (1)",
    )
    scale.add_argument(
        "--device",
        default=None,
        choices=("cpu", "cuda", "auto"),
        help="where training runs; auto = CUDA when present (cpu)",
    )
    ck = parser.add_argument_group("checkpoints")
    ck.add_argument(
        "--checkpoint-every",
        type=_non_negative_int,
        default=1,
        metavar="K",
        help="save DIR/checkpoint/state.pt every K epochs and at the end; 0 = never (1)",
    )
    ck.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted fit from DIR/checkpoint (same data and flags)",
    )
    parser.set_defaults(func=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    from pyro_causalmmm.inference import parallel

    if args.nproc > 1 and not parallel.launched_by_torchrun():
        from pyro_causalmmm.inference.launch import run_torchrun

        _, train_cfg = configs_from_args(args)  # bad settings fail before any process starts
        parallel.check_batch(train_cfg.batch_size, parallel.Layout(0, args.nproc))
        return run_torchrun(args.nproc, Path(args.out), args.argv)
    if parallel.launched_by_torchrun():
        return _fit_worker(args)
    return _fit(args)


def _fit_worker(args: argparse.Namespace) -> int:
    """One torchrun process: join the group, train on its shard; rank 0 writes outputs
    and prints, the others stay quiet."""
    import contextlib
    import io

    from pyro_causalmmm.inference import parallel
    from pyro_causalmmm.inference.training import resolve_device

    lay = parallel.init_from_env(resolve_device(args.device or "cpu"))
    try:
        if lay.is_main:
            return _fit(args)
        args.quiet = True
        with contextlib.redirect_stdout(io.StringIO()):
            return _fit(args)
    finally:
        parallel.shutdown()


def _fit(args: argparse.Namespace) -> int:
    from pyro_causalmmm.cli.main import load_data
    from pyro_causalmmm.workflow import PosteriorOptions, check_output_dir, run_fit

    model_cfg, train_cfg = configs_from_args(args)
    options = PosteriorOptions(args.draws, args.seed, args.present, args.absent)
    out = Path(args.out)
    check_output_dir(out)
    data = load_data(args)
    mmm, report = run_fit(
        data,
        model_cfg,
        train_cfg,
        out,
        options,
        holdout=args.holdout,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
    )
    if report is None:  # a non-zero rank of a distributed fit: rank 0 writes everything
        return EXIT_OK
    fit = report["fit"]
    files = ["model/", "fit.json", "edges.csv"]
    if args.draws:
        files += ["edges_pooled.csv", "posterior.nc"]
        cov = report["posterior"]["ppc_coverage"]
        print(
            f"posterior predictive check ({data.target_name}, one step ahead, in sample): "
            f"50% interval covers {100 * cov[0.5]:.1f}%, 90% covers {100 * cov[0.9]:.1f}%"
        )
    print(
        f"fitted {data.n_shops} shops x {data.n_nodes} nodes in {fit['seconds']:.0f} s "
        f"({fit['epochs_run']} epochs); wrote " + ", ".join(str(out / f) for f in files)
    )
    return EXIT_OK


def add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="simulate, fit and score against the true graphs",
        description="Simulation 2 (100 shops, 10 channels, 120 steps): fit, then print edge "
        "AUROC/ACC against the true graphs and held-out one-step GMV MSE.",
    )
    parser.add_argument("--out", default="demo_output", metavar="DIR", help="(demo_output)")
    parser.add_argument(
        "--mechanisms",
        choices=("per_shop", "shared"),
        default="per_shop",
        help="mechanism weights per shop (paper) or shared (per_shop)",
    )
    parser.add_argument("--shops", type=int, default=None, help="number of shops (100)")
    add_model_arguments(parser)
    parser.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from pyro_causalmmm.workflow import run_demo

    model_cfg, train_cfg = configs_from_args(args)
    size = {"n_shops": args.shops} if args.shops else None
    run_demo(
        Path(args.out),
        model_cfg,
        train_cfg,
        seed=args.seed,
        mechanisms=args.mechanisms,
        size=size,
    )
    return EXIT_OK
