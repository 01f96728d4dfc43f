"""Training driver: SVI over mini-batches of shops, apart from the model.

``fit(model, guide, tensors, train_config)`` runs stochastic variational inference on
the lambda-weighted ELBO (``TraceMeanField_ELBO`` with the registered Bernoulli KL for
the relaxed graph site) and returns a :class:`FitResult`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pyro
import torch
from pyro.infer import SVI, TraceMeanField_ELBO
from pyro.optim import ClippedAdam

from .errors import TrainingError, require


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings, validated on construction.

    epochs: passes over the training shops. batch_size: shops per SVI step.
    lr: Adam learning rate; lr_decay: multiplicative decay of lr per epoch
    (``ClippedAdam``'s ``lrd`` is set to its per-step root). clip: gradient values
    are clipped to [-clip, clip]. val_fraction: share of shops held out to monitor the
    ELBO for early stopping (0 disables; at least one shop is kept for training).
    patience: epochs without a validation improvement before stopping (0 = never stop
    early). seed: reaches torch, numpy and Pyro. quiet: no progress bar.
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


def seed_everything(seed: int) -> None:
    """One seed for torch, numpy and Pyro (``pyro.set_rng_seed`` covers all three)."""
    pyro.set_rng_seed(seed)


def split_shops(n_shops: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random split of shop indices into (train, val); val may be empty."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_shops)
    n_val = min(int(round(val_fraction * n_shops)), n_shops - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fit(model, guide, tensors: tuple, cfg: TrainConfig, progress=None, callback=None) -> FitResult:
    """Train ``model``/``guide`` (callables with signature ``(values, mask, context,
    subsample)``) on ``tensors = (values, mask, context)``, shapes ``(shop, time, node)``,
    ``(shop, time)``, ``(shop, time, context)``.

    ``callback(epoch, result)``, if given, runs after every epoch (1-based epoch).
    Raises :class:`TrainingError` as soon as the loss is NaN or infinite.
    """
    seed_everything(cfg.seed)
    n_shops = tensors[0].shape[0]
    train_idx, val_idx = split_shops(n_shops, cfg.val_fraction, cfg.seed)
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    optim = ClippedAdam(
        {"lr": cfg.lr, "clip_norm": cfg.clip, "lrd": cfg.lr_decay ** (1.0 / steps_per_epoch)}
    )
    svi = SVI(model, guide, optim, loss=TraceMeanField_ELBO())
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
    best, since_best = math.inf, 0
    bar = _progress(cfg, progress)
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        perm = train_t[torch.randperm(len(train_t), generator=gen)]
        total = torch.zeros(())
        for batch in perm.split(cfg.batch_size):
            # the plate is told the full shop count, so each step's loss estimates the
            # whole data set; train on the training shops only
            loss = _step(svi, tensors, batch, epoch, cfg)
            total += loss * len(batch) / n_shops
            if not math.isfinite(loss):
                raise TrainingError(
                    f"loss became {loss} at epoch {epoch + 1}; lower lr (now {cfg.lr}) or "
                    "check the data for extreme values"
                )
        train_loss = float(total) / max(len(train_t), 1)
        result.train_losses.append(train_loss)
        if len(val_t):
            with torch.no_grad():
                val = svi.evaluate_loss(*tensors, subsample=val_t) / n_shops
            result.val_losses.append(val)
            if val < best - 1e-6:
                best, since_best = val, 0
            else:
                since_best += 1
        result.epochs_run = epoch + 1
        if callback is not None:
            callback(epoch + 1, result)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{train_loss:.3f}")
        if cfg.patience and len(val_t) and since_best >= cfg.patience:
            break
    if bar is not None:
        bar.close()
    result.seconds = time.perf_counter() - t0
    return result


def _step(svi, tensors, batch, epoch: int, cfg: TrainConfig) -> float:
    """One SVI step; NaN/inf caught by distribution validation becomes a TrainingError."""
    try:
        return svi.step(*tensors, subsample=batch)
    except (ValueError, RuntimeError) as exc:
        text = str(exc).lower()
        if "nan" in text or "inf" in text or "invalid values" in text:
            raise TrainingError(
                f"non-finite values at epoch {epoch + 1} ({str(exc).splitlines()[0]}); lower "
                f"lr (now {cfg.lr}) or check the data for extreme values"
            ) from exc
        raise


def _progress(cfg: TrainConfig, progress):
    if cfg.quiet:
        return None
    if progress is not None:
        return progress
    from tqdm.auto import tqdm

    return tqdm(total=cfg.epochs, desc="fit", unit="epoch")
