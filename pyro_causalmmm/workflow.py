"""End-to-end jobs behind the CLI: fit a data set and write its outputs; the demo.

Outputs of ``run_fit`` in ``DIR``:

* ``DIR/model/``   the saved model (``CausalMMM.load(DIR / "model")``)
* ``DIR/posterior.nc`` the posterior as ArviZ ``InferenceData`` (``az.from_netcdf``)
* ``DIR/edges.csv`` ``shop,cause,effect,p_edge`` then ``weight_mean, weight_hdi_low,
  weight_hdi_high, decision, shops_present`` (off-diagonal, the user's labels)
* ``DIR/edges_pooled.csv`` per edge across shops: how many shops have it
* ``DIR/checkpoint/state.pt`` the training state (``fit --resume`` continues from it)
* ``DIR/fit.json``  model and training config, per-epoch losses, seconds, package
  version, PPC coverage

Every file is written atomically (temporary name, then rename).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyro_causalmmm import __version__
from pyro_causalmmm.api import CausalMMM
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.inference import parallel
from pyro_causalmmm.inference.checkpoint import Checkpointing
from pyro_causalmmm.inference.training import TrainConfig
from pyro_causalmmm.io import atomic_write
from pyro_causalmmm.models import ModelConfig
from pyro_causalmmm.posterior import draws as posterior
from pyro_causalmmm.posterior import inference_data as idata_io
from pyro_causalmmm.posterior import summaries
from pyro_causalmmm.posterior.draws import DRAWS


def check_output_dir(out: Path, need_bytes: int = 0) -> None:
    """Fail before training when ``out`` cannot be created or written, or when its file
    system has less than ``need_bytes`` free."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        # a probe per process: the ranks of a distributed fit check the same directory at
        # once, and a shared probe name let one rank unlink the file another was writing
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write_test_"):
            pass
    except OSError as exc:
        raise ConfigError(f"output directory {out} is not writable: {exc.strerror or exc}") from exc
    free = shutil.disk_usage(out).free
    if free < need_bytes:
        raise ConfigError(
            f"output directory {out} has {free / 1e6:.0f} MB free, about "
            f"{need_bytes / 1e6:.0f} MB are needed; free space or choose another --out"
        )


def output_bytes(data: MarketingMixData, draws: int, hidden: int = 64) -> int:
    """Rough size of what ``fit`` writes: ``posterior.nc`` (float64 draws of edges, the
    S-curve and the predictive, per shop) plus weights and a checkpoint, with 2x slack."""
    d, t = data.n_nodes, data.n_time
    per_draw = data.n_shops * (d * d + t * (d + 3)) * 8
    weights = 40 * hidden * hidden * 4 * 3  # model, guide, Adam moments (order of magnitude)
    return 2 * (draws * per_draw + weights) + 10_000_000


@dataclass(frozen=True)
class PosteriorOptions:
    """How ``fit``/``posterior`` summarise the posterior: ``draws`` (0 = no
    ``posterior.nc``; ``edges.csv`` then has ``p_edge`` and ``decision`` only), ``seed``,
    and the ``present``/``absent`` edge-decision thresholds (:mod:`summaries`)."""

    draws: int = DRAWS
    seed: int = 0
    present: float = summaries.PRESENT
    absent: float = summaries.ABSENT

    def __post_init__(self) -> None:
        if self.draws != 0 and self.draws < 2:
            raise ConfigError(f"draws must be 0 (no posterior) or >= 2, got {self.draws}")
        if not 0 <= self.absent < self.present <= 1:
            raise ConfigError(
                f"need 0 <= absent < present <= 1, got absent={self.absent} present={self.present}"
            )


def write_posterior(
    mmm: CausalMMM,
    data: MarketingMixData,
    out: Path,
    options: PosteriorOptions,
    train_loss=None,
    val_loss=(),
    idata=None,
):
    """Write ``out/posterior.nc``, ``out/edges.csv`` and ``out/edges_pooled.csv``;
    return the ``InferenceData`` (None when ``options.draws == 0``). A prebuilt
    ``idata`` of the same data (e.g. a backtest's, which has a ``predictions`` group)
    is written instead of drawing again."""
    out = Path(out)
    if idata is None and options.draws == 0:
        edges = mmm.edge_probabilities(data)
        edges["decision"] = summaries.decide(edges["p_edge"], options.present, options.absent)
        atomic_write(out / "edges.csv", lambda p: edges.to_csv(p, index=False))
        return None
    if idata is None:
        idata = posterior.build(
            mmm,
            data,
            draws=options.draws,
            seed=options.seed,
            train_loss=train_loss,
            val_loss=val_loss,
        )
    edges = summaries.edge_table(idata, options.present, options.absent)
    pooled = summaries.pooled_edges(edges)
    idata_io.save(idata, out / idata_io.POSTERIOR_FILE)
    atomic_write(out / "edges.csv", lambda p: edges.to_csv(p, index=False))
    atomic_write(out / "edges_pooled.csv", lambda p: pooled.to_csv(p, index=False))
    return idata


def run_fit(
    data: MarketingMixData,
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: Path,
    options: PosteriorOptions | None = None,
    holdout: int = 0,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> tuple[CausalMMM, dict]:
    """Fit ``data`` (without each shop's last ``holdout`` steps, for honest backtests)
    and write ``out/model``, ``out/fit.json`` and the posterior files of
    :func:`write_posterior`."""
    out = Path(out)
    options = options or PosteriorOptions()
    check_output_dir(out, output_bytes(data, options.draws, model_config.hidden))
    train = data.drop_last(holdout) if holdout else data
    mmm = CausalMMM(model_config)
    ckpt = Checkpointing(out / "checkpoint", checkpoint_every or 1, resume)
    result = mmm.fit(train, train_config, ckpt if checkpoint_every or resume else None)
    if not parallel.layout().is_main:
        return mmm, None  # distributed fit: rank 0 writes the outputs
    mmm.save(out / "model")
    idata = write_posterior(mmm, train, out, options)
    report = {
        "package_version": __version__,
        "model_config": model_config.to_dict(),
        "fit": result.to_dict(),
        "n_shops": data.n_shops,
        "holdout": int(holdout),
        "node_names": data.node_names,
        "context_names": data.context_names,
        # the (spend, node) pairs held >= 0 by the decisions' spend_effects="auto"
        "media_pairs": [
            f"{mmm.node_names[i]} -> {mmm.node_names[j]}"
            for i, j in mmm.model.media_pairs.nonzero().tolist()
        ],
        "data_summary": train.summary(),
        "posterior": {
            "draws": options.draws,
            "ppc_coverage": None if idata is None else summaries.ppc_coverage(idata),
        },
    }
    atomic_write(out / "fit.json", lambda p: p.write_text(json.dumps(report, indent=2)))
    return mmm, report


DEMO_SIZE = {"n_shops": 100, "n_channels": 10, "length": 120, "n_graphs": 5}
DEMO_HOLDOUT = 20


def run_demo(
    out: Path,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    seed: int = 0,
    mechanisms: str = "per_shop",
    size: dict | None = None,
    echo=print,
) -> dict:
    """Simulation 2, fit on all but the last ``DEMO_HOLDOUT`` steps, then report edge
    AUROC/ACC against the true graphs (next to ridge-VAR Granger on the same draws),
    one-step GMV MSE on the held-out steps, the in-sample posterior predictive coverage
    and an honest backtest (forecasting the held-out steps from the training window)."""
    from pyro_causalmmm.evaluation.baselines import ridge_var_granger
    from pyro_causalmmm.evaluation.metrics import edge_metrics, mse
    from pyro_causalmmm.simulate import simulate

    out = Path(out)
    check_output_dir(out)
    size = {**DEMO_SIZE, **(size or {})}
    t0 = time.perf_counter()
    sim = simulate(scenario="sim2", seed=seed, mechanisms=mechanisms, **size)
    frame = sim.frame
    atomic_write(out / "demo_data.csv", lambda p: frame.to_csv(p, index=False))
    full = MarketingMixData.from_frame(frame, target="gmv", context=list(sim.context_names))
    train_len = full.n_time - DEMO_HOLDOUT
    train_frame = frame.groupby("shop", sort=False).head(train_len)
    train = MarketingMixData.from_frame(train_frame, target="gmv", context=list(sim.context_names))
    echo(
        f"demo: Simulation 2 ({mechanisms} mechanisms), {train.n_shops} shops, "
        f"{train.n_nodes} nodes, {train_len} training steps + {DEMO_HOLDOUT} held out"
    )
    tc = train_config or TrainConfig(seed=seed)
    # the posterior is drawn once, by the backtest below (it conditions on the same
    # training window), instead of a second time inside run_fit
    mmm, report = run_fit(train, model_config or ModelConfig(), tc, out, PosteriorOptions(0))
    fit_seconds = report["fit"]["seconds"]

    truth = np.asarray(sim.adjacency)
    ours = edge_metrics(mmm.edge_probability_array(train), truth)
    ridge = edge_metrics(ridge_var_granger(train.values, mask=train.mask), truth)

    fit_mask = np.zeros_like(full.mask)
    fit_mask[:, :train_len] = True
    pred = mmm.predict_one_step(full, fit_mask=fit_mask)
    held = slice(train_len, full.n_time)
    target = full.target_index
    gmv_mse = mse(pred[:, held, target], full.scaled_values[:, held, target])
    naive_mse = mse(
        full.scaled_values[:, train_len - 1 : full.n_time - 1, target],
        full.scaled_values[:, held, target],
    )
    from pyro_causalmmm.posterior.forecasting import backtest, format_scores
    from pyro_causalmmm.report import write_report

    idata, bt_table, bt_scores = backtest(mmm, full, DEMO_HOLDOUT, draws=DRAWS, seed=seed)
    write_posterior(mmm, train, out, PosteriorOptions(), idata=idata)
    cov = summaries.ppc_coverage(idata)
    report["posterior"] = {"draws": DRAWS, "ppc_coverage": cov}
    atomic_write(out / "fit.json", lambda p: p.write_text(json.dumps(report, indent=2)))
    atomic_write(out / "backtest.csv", lambda p: bt_table.to_csv(p, index=False))
    write_report(
        idata,
        out / "report.html",
        title="CausalMMM demo: Simulation 2",
        data_summary=train.summary(),
    )
    summary = {
        "ppc_coverage_in_sample": {str(k): v for k, v in cov.items()},
        "backtest": {str(k): v for k, v in bt_scores.items()},
        "auroc_per_shop_mean": ours["auroc_per_shop_mean"],
        "auroc_pooled": ours["auroc_pooled"],
        "acc": ours["acc"],
        "ridge_var_auroc_per_shop_mean": ridge["auroc_per_shop_mean"],
        "ridge_var_auroc_pooled": ridge["auroc_pooled"],
        "gmv_one_step_mse_scaled": gmv_mse,
        "gmv_naive_last_value_mse_scaled": naive_mse,
        "fit_seconds": fit_seconds,
        "total_seconds": time.perf_counter() - t0,
    }
    atomic_write(out / "demo.json", lambda p: p.write_text(json.dumps(summary, indent=2)))
    echo(
        f"edge AUROC per-shop mean {summary['auroc_per_shop_mean']:.3f} "
        f"(pooled {summary['auroc_pooled']:.3f}), ACC {summary['acc']:.3f}; "
        f"ridge-VAR Granger on the same draws: {summary['ridge_var_auroc_per_shop_mean']:.3f} "
        f"(pooled {summary['ridge_var_auroc_pooled']:.3f})"
    )
    echo(
        f"one-step GMV MSE on {DEMO_HOLDOUT} held-out steps (target scaled to [0.1, 0.9] per "
        f"shop): {gmv_mse:.4f} (last-value forecast: {naive_mse:.4f})"
    )
    if cov:
        echo(
            f"posterior predictive check, GMV one step ahead in sample: the 50% interval "
            f"covers {100 * cov[0.5]:.1f}%, the 90% interval {100 * cov[0.9]:.1f}%"
        )
    for line in format_scores(bt_scores, honest=True):
        echo(f"{DEMO_HOLDOUT} held-out steps, {line}")
    echo(f"fit {fit_seconds:.0f} s, total {summary['total_seconds']:.0f} s")
    echo(
        "wrote: "
        + ", ".join(
            str(out / f)
            for f in (
                "demo_data.csv",
                "model/",
                "posterior.nc",
                "edges.csv",
                "edges_pooled.csv",
                "fit.json",
                "backtest.csv",
                "report.html",
                "demo.json",
            )
        )
    )
    return summary
