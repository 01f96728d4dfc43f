"""Training driver: SVI over mini-batches of shops, apart from the model.

``fit(model, guide, tensors, train_config)`` runs stochastic variational inference on
the lambda-weighted ELBO (``TraceMeanField_ELBO`` with the registered Bernoulli KL for
the relaxed graph site) and returns a :class:`FitResult`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.infer import SVI, TraceMeanField_ELBO
from pyro.optim import ClippedAdam

from pyro_causalmmm.errors import TrainingError, TrainingInterrupted, require

from . import checkpoint, parallel
from .checkpoint import Checkpointing, fingerprint


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings, validated on construction.

    epochs: passes over the training shops. batch_size: shops per SVI step.
    lr: Adam learning rate; lr_decay: multiplicative decay of lr per epoch
    (``ClippedAdam``'s ``lrd`` is set to its per-step root). clip: gradient values
    are clipped to [-clip, clip]. val_fraction: share of shops held out to monitor the
    ELBO for early stopping (0 disables; at least one shop is kept for training).
    patience: epochs without a validation improvement before stopping (0 = never stop
    early). seed: reaches torch, numpy and Pyro. quiet: no progress bar. device: where
    training runs (``cpu``, ``cuda``, ``cuda:N``, or ``auto`` = CUDA when present); data
    and modules move there once, and the loss stays on the device until the epoch ends.
    """

    epochs: int = 15
    batch_size: int = 16
    lr: float = 2e-3
    lr_decay: float = 0.88
    clip: float = 10.0
    val_fraction: float = 0.0
    patience: int = 0
    seed: int = 0
    quiet: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs", ">= 1"),
            (self.batch_size >= 1, "batch_size", ">= 1"),
            (self.lr > 0, "lr", "> 0"),
            (0 < self.lr_decay <= 1, "lr_decay", "in (0, 1]"),
            (self.clip > 0, "clip", "> 0"),
            (0 <= self.val_fraction < 1, "val_fraction", "in [0, 1)"),
            (self.patience >= 0, "patience", ">= 0"),
        ]
        for ok, name, allowed in checks:
            require(ok, name, getattr(self, name), allowed)
        dev = self.device
        ok = dev in ("cpu", "cuda", "auto") or (dev.startswith("cuda:") and dev[5:].isdigit())
        require(ok, "device", dev, "cpu, cuda, cuda:N or auto")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """What training returns.

    train_losses / val_losses: per-epoch mean negative ELBO per shop (val empty when no
    validation split). seconds: wall time of training. epochs_run: epochs actually run
    (early stopping may cut them). train_shops / val_shops: shop indices of the split.
    """

    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    epochs_run: int = 0
    train_shops: list[int] = field(default_factory=list)
    val_shops: list[int] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)
    guide: object = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready record (everything but the modules)."""
        skip = {"model", "guide"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; CUDA asked for but absent is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"device {name!r} asked for, but torch sees no CUDA device here")
    return device


def seed_everything(seed: int) -> None:
    """One seed for torch, numpy and Pyro (``pyro.set_rng_seed`` covers all three)."""
    pyro.set_rng_seed(seed)


def split_shops(n_shops: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random split of shop indices into (train, val); val may be empty."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_shops)
    n_val = min(int(round(val_fraction * n_shops)), n_shops - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


@contextlib.contextmanager
def _stop_on_signals():
    """Turn SIGINT/SIGTERM into a flag the loop checks after each step (main thread
    only; elsewhere signals keep their handlers)."""
    flag: dict[str, int | None] = {"signum": None}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):  # noqa: ARG001 - signal API
        flag["signum"] = signum

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def fit(
    model,
    guide,
    tensors: tuple,
    cfg: TrainConfig,
    progress=None,
    callback=None,
    checkpointing: Checkpointing | None = None,
) -> FitResult:
    """Train ``model``/``guide`` (callables with signature ``(values, mask, context,
    subsample)``) on ``tensors = (values, mask, context)``, shapes ``(shop, time, node)``,
    ``(shop, time)``, ``(shop, time, context)``.

    ``callback(epoch, result)``, if given, runs after every epoch (1-based epoch).
    ``checkpointing`` saves the full training state every ``every`` epochs, at the end
    and on SIGINT/SIGTERM (then :class:`TrainingInterrupted` is raised), and with
    ``resume`` continues from it: the result equals an uninterrupted run with the same
    seed (same machine and thread count). Raises :class:`TrainingError` as soon as the
    loss is NaN or infinite (the last good checkpoint stays on disk).
    """
    ckpt = checkpointing or Checkpointing()
    # a stale entry with the same name would be optimised instead of these modules' own
    # parameters (pyro.module returns what the store holds)
    pyro.clear_param_store()
    seed_everything(cfg.seed)
    lay = parallel.layout()
    parallel.check_batch(cfg.batch_size, lay)
    modules = [m for m in (model, guide) if isinstance(m, torch.nn.Module)]
    parallel.broadcast_modules(*modules)
    device = resolve_device(cfg.device)
    for module in modules:
        module.to(device)
    fp_tensors = tensors
    tensors = tuple(t.to(device) for t in tensors)  # once: nothing crosses in the loop
    n_edges = tensors[0].shape[-1] * (tensors[0].shape[-1] - 1)
    # on the training device: the uniforms are drawn where they are used (no per-step
    # host-to-device copy); CPU and CUDA streams differ, any process count on one does not
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
    fail_at = _injected_failure(lay)
    n_shops = tensors[0].shape[0]
    train_idx, val_idx = split_shops(n_shops, cfg.val_fraction, cfg.seed)
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    optim = ClippedAdam(
        {"lr": cfg.lr, "clip_norm": cfg.clip, "lrd": cfg.lr_decay ** (1.0 / steps_per_epoch)}
    )
    elbo = TraceMeanField_ELBO()
    svi = SVI(model, guide, optim, loss=elbo)
    result = FitResult(
        train_shops=train_idx.tolist(),
        val_shops=val_idx.tolist(),
        config=cfg.to_dict(),
        model=model,
        guide=guide,
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    train_t = torch.as_tensor(train_idx)
    val_t = torch.as_tensor(val_idx)
    fp = fingerprint(fp_tensors, cfg.to_dict(), _config_dict(model))
    loop = {"epoch": 0, "batch": 0, "perm": None, "total": 0.0, "best": math.inf, "since": 0}
    elapsed = 0.0
    if ckpt.resume:
        state = checkpoint.load(ckpt.path, fp)
        model.load_state_dict(state["model"])
        guide.load_state_dict(state["guide"])
        optim.set_state(state["optim"])
        torch.set_rng_state(state["torch_rng"])
        gen.set_state(state["gen_rng"])
        noise_gen.set_state(state["noise_rng"])
        loop = dict(state["loop"])
        result.train_losses = list(state["train_losses"])
        result.val_losses = list(state["val_losses"])
        result.epochs_run = int(loop["epoch"])
        elapsed = float(state["seconds"])
    t0 = time.perf_counter()

    def snapshot() -> dict:
        return {
            "fingerprint": fp,
            "model": model.state_dict(),
            "guide": guide.state_dict(),
            "optim": optim.get_state(),
            "torch_rng": torch.get_rng_state(),
            "gen_rng": gen.get_state(),
            "noise_rng": noise_gen.get_state(),
            "loop": dict(loop),
            "train_losses": list(result.train_losses),
            "val_losses": list(result.val_losses),
            "seconds": elapsed + time.perf_counter() - t0,
        }

    bar = _progress(cfg, progress) if lay.is_main else None
    # every rank may read a checkpoint; only rank 0 writes one
    save_to = ckpt if lay.is_main else Checkpointing(None, ckpt.every)
    stopped = False
    with _stop_on_signals() as flag:
        while loop["epoch"] < cfg.epochs and not stopped:
            epoch = loop["epoch"]
            if loop["perm"] is None:
                # one copy per epoch: the batches' shop indices live on the device
                loop["perm"] = train_t[torch.randperm(len(train_t), generator=gen)].to(device)
            batches = loop["perm"].split(cfg.batch_size)
            total = torch.zeros((), device=device)
            while loop["batch"] < len(batches):
                batch = batches[loop["batch"]]
                # relaxed-Bernoulli uniforms for the whole global batch, whatever the layout
                uniforms = torch.rand(len(batch), n_edges, generator=noise_gen, device=device)
                rows = parallel.local_rows(len(batch), lay, device)
                # the plate is told the full shop count, so each step's loss estimates the
                # whole data set; train on the training shops only
                loss = _step(
                    svi,
                    elbo,
                    tensors,
                    batch[rows],
                    uniforms[rows],
                    len(rows) / len(batch),
                    epoch,
                    cfg,
                )
                total = total + loss * len(batch) / n_shops
                loop["batch"] += 1
                if fail_at is not None and loop["batch"] >= fail_at:
                    raise RuntimeError(f"injected failure on rank {lay.rank} (test)")
                if flag["signum"] is not None:
                    loop["total"] += float(total)
                    _interrupt(flag["signum"], save_to, snapshot, epoch)
            loop["total"] += float(total)  # the one device-to-host copy of the epoch
            if not math.isfinite(loop["total"]):
                raise TrainingError(
                    f"loss became {loop['total']} in epoch {epoch + 1}; lower lr (now "
                    f"{cfg.lr}) or check the data for extreme values" + _kept(ckpt)
                )
            train_loss = loop["total"] / max(len(train_t), 1)
            result.train_losses.append(train_loss)
            if len(val_t):
                with torch.no_grad():
                    val = svi.evaluate_loss(*tensors, subsample=val_t) / n_shops
                result.val_losses.append(val)
                if val < loop["best"] - 1e-6:
                    loop["best"], loop["since"] = val, 0
                else:
                    loop["since"] += 1
            loop.update(epoch=epoch + 1, batch=0, perm=None, total=0.0)
            result.epochs_run = epoch + 1
            stopped = bool(cfg.patience and len(val_t) and loop["since"] >= cfg.patience)
            last = loop["epoch"] >= cfg.epochs or stopped
            if save_to.path is not None and ((epoch + 1) % ckpt.every == 0 or last):
                checkpoint.save(save_to.path, snapshot())
            if callback is not None:
                callback(epoch + 1, result)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{train_loss:.3f}")
            if flag["signum"] is not None and not last:
                _interrupt(flag["signum"], save_to, snapshot, epoch + 1)
    if bar is not None:
        bar.close()
    result.seconds = elapsed + time.perf_counter() - t0
    return result


def _injected_failure(lay) -> int | None:
    """Test hook: ``CAUSALMMM_FAIL_RANK=R:STEP`` makes rank R fail after STEP steps."""
    spec = os.environ.get("CAUSALMMM_FAIL_RANK")
    if not spec:
        return None
    rank, step = (int(v) for v in spec.split(":"))
    return step if rank == lay.rank else None


def _config_dict(model) -> dict:
    config = getattr(model, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else {}


def _kept(ckpt: Checkpointing) -> str:
    if ckpt.path is not None and ckpt.path.exists():
        return f"; the last good checkpoint is {ckpt.path}"
    return ""


def _interrupt(signum: int, ckpt: Checkpointing, snapshot, epoch: int) -> None:
    """Save the state at the current position and raise :class:`TrainingInterrupted`."""
    name = signal.Signals(signum).name
    if ckpt.path is None:
        raise TrainingInterrupted(signum, f"training stopped by {name} during epoch {epoch + 1}")
    checkpoint.save(ckpt.path, snapshot())
    raise TrainingInterrupted(
        signum,
        f"training stopped by {name}; checkpoint saved to {ckpt.path}: run the same command "
        "with --resume to continue",
    )


def _step(svi, elbo, tensors, local, uniforms, weight: float, epoch: int, cfg: TrainConfig):
    """One data-parallel SVI step on this rank's shops ``local``; returns the global
    batch's loss as a tensor (no host sync).

    Loss ``weight * L_rank`` is backpropagated (``weight = n_rank / n_batch``), then one
    all-reduce sums gradients and losses over ranks, so every rank applies the update of
    the whole batch (the same as ``SVI.step`` in one process). NaN/inf caught by
    distribution validation becomes a :class:`TrainingError`.
    """
    try:
        with poutine.trace(param_only=True) as capture:
            with parallel.SharedNoise(uniforms):
                loss = elbo.differentiable_loss(svi.model, svi.guide, *tensors, subsample=local)
            if loss.requires_grad:  # as Pyro does: a model without parameters has no grads
                (loss * weight).backward()
    except (ValueError, RuntimeError) as exc:
        text = str(exc).lower()
        if "nan" in text or "inf" in text or "invalid values" in text:
            raise TrainingError(
                f"non-finite values at epoch {epoch + 1} ({str(exc).splitlines()[0]}); lower "
                f"lr (now {cfg.lr}) or check the data for extreme values"
            ) from exc
        raise
    sites = capture.trace.nodes
    params = [sites[name]["value"].unconstrained() for name in sorted(sites)]
    loss = loss.detach() * weight
    if parallel.layout().distributed:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.reshape(1)])
        parallel.allreduce_sum(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n
        loss = flat[-1]
    svi.optim(set(params))
    pyro.infer.util.zero_grads(set(params))
    return loss


def _progress(cfg: TrainConfig, progress):
    if cfg.quiet:
        return None
    if progress is not None:
        return progress
    from tqdm.auto import tqdm

    return tqdm(total=cfg.epochs, desc="fit", unit="epoch")
