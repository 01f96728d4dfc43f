"""Training checkpoints: the full state of a fit, written atomically, read safely.

A checkpoint (``DIR/checkpoint/state.pt``) holds everything the training loop needs to
continue exactly where it stopped: the model and guide weights, the Adam state of every
parameter (learning-rate decay included), the torch RNG and the shop-permutation
generator, the position in the epoch (the permutation and the next batch), the losses
so far and the early-stopping counters, plus a fingerprint of the data and the
configuration so that a resume against other data or settings is refused.

Files are written with :func:`pyro_causalmmm.io.atomic_write` (temporary name, then
rename: a crash never leaves a torn checkpoint) and read with
``torch.load(weights_only=True)`` (only tensors and plain containers; a crafted file
cannot run code). A state with a non-finite weight is never written, so the checkpoint
on disk is always the last good one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from pyro_causalmmm.errors import ModelFileError, TrainingError, require
from pyro_causalmmm.io import atomic_write

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often to checkpoint: ``directory`` (None = never), every
    ``every`` epochs and at the end; ``resume`` continues from the checkpoint there."""

    directory: Path | None = None
    every: int = 1
    resume: bool = False

    def __post_init__(self) -> None:
        require(isinstance(self.every, int) and self.every >= 1, "every", self.every, ">= 1")
        if self.resume and self.directory is None:
            raise TrainingError("resume needs a checkpoint directory")

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else Path(self.directory) / STATE_FILE


def fingerprint(tensors: tuple, *configs: dict) -> str:
    """SHA-256 over the training tensors' bytes and shapes and the JSON of ``configs``
    (fields that do not change the result, like ``quiet``, are left out)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes())
    for cfg in configs:
        clean = {k: v for k, v in cfg.items() if k not in ("quiet", "device", "epochs")}
        h.update(json.dumps(clean, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _finite(state: dict) -> bool:
    return all(torch.isfinite(v).all() for v in state.values() if torch.is_floating_point(v))


def save(path: Path, state: dict) -> Path:
    """Write ``state`` atomically; refuse non-finite weights (keep the last good file)."""
    if not (_finite(state["model"]) and _finite(state["guide"])):
        raise TrainingError(
            f"weights became NaN or infinite; the last good checkpoint was kept at {path}"
            if path.exists()
            else "weights became NaN or infinite"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: torch.save(state, p))
    return path


def load(path: Path, expected_fingerprint: str) -> dict:
    """Read a checkpoint written by :func:`save` for the same data and settings."""
    if not path.is_file():
        raise ModelFileError(f"no checkpoint to resume at {path}: run `fit` without --resume")
    try:
        state = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ModelFileError(f"cannot read checkpoint {path}: {exc!r}") from exc
    if state.get("fingerprint") != expected_fingerprint:
        raise ModelFileError(
            f"checkpoint {path} was written for other data or settings; resume with the same "
            "data and flags, or fit again without --resume"
        )
    return state
