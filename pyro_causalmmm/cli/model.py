"""CLI commands that train models: ``causalmmm fit`` and ``causalmmm demo``.

Registered by :func:`pyro_causalmmm.cli.main.build_parser`. torch and pyro are imported
inside the commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyro_causalmmm.cli.common import add_model_arguments, configs_from_args

EXIT_OK = 0







def add_fit_parser(subparsers, add_data_arguments) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="learn per-shop causal graphs",
        description="Fit CausalMMM; writes DIR/model/, DIR/edges.csv and DIR/fit.json.",
    )
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_model_arguments(parser)
    from pyro_causalmmm.cli.common import _non_negative_int, add_edge_thresholds
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
    from pyro_causalmmm.cli.common import load_data
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
