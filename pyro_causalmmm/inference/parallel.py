"""Data-parallel training on ``torch.distributed`` and process-layout-free randomness.

Launch: ``causalmmm fit ... --nproc N`` runs ``torchrun --standalone --nproc-per-node N``
on this machine; on a cluster run torchrun yourself on every node, e.g.::

    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29500 -m pyro_causalmmm.cli.main fit data.csv --out run/

Every rank reads the data, builds the same modules from the same seed (rank 0's weights
are broadcast to be sure), and takes its share of every global mini-batch of shops
(``batch[rank::world]``). After each rank's backward pass, one ``all_reduce`` sums the
gradients weighted by ``n_rank / n_batch`` (and the loss), so every rank applies the
same update: the parameters stay identical, and equal those of a 1-process run with the
same global batch. Backend: gloo on CPU, NCCL on CUDA. Rank 0 writes outputs and logs.

Randomness does not depend on the process layout: the uniforms behind the relaxed
Bernoulli edge sample of every shop in a global batch are drawn from one generator seeded
by the training seed (:class:`SharedNoise`), and each rank uses its shops' rows.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from pyro.poutine.messenger import Messenger

from pyro_causalmmm.errors import ConfigError

TIMEOUT_S = float(os.environ.get("CAUSALMMM_DIST_TIMEOUT", "120"))


@dataclass(frozen=True)
class Layout:
    """This process's place: ``rank`` of ``world`` processes (1 = no distribution)."""

    rank: int = 0
    world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def layout() -> Layout:
    """The current layout (from an initialised process group, else a single process)."""
    if tdist.is_available() and tdist.is_initialized():
        return Layout(tdist.get_rank(), tdist.get_world_size())
    return Layout()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ


def init_from_env(device: torch.device) -> Layout:
    """Join the process group torchrun describes (env ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``...), gloo on CPU and NCCL on CUDA, with a timeout so a dead peer
    ends the job instead of hanging it."""
    if not launched_by_torchrun():
        return Layout()
    if not tdist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        tdist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
    return layout()


def shutdown() -> None:
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()


def local_rows(batch_size: int, lay: Layout, device=None) -> torch.Tensor:
    """Positions of this rank's shops within a global batch of ``batch_size``."""
    return torch.arange(lay.rank, batch_size, lay.world, device=device)


def check_batch(batch_size: int, lay: Layout) -> None:
    if batch_size < lay.world:
        raise ConfigError(
            f"batch_size {batch_size} is smaller than the {lay.world} processes: every "
            "process needs at least one shop per step; raise --batch-size or lower --nproc"
        )


class SharedNoise(Messenger):
    """Supply the relaxed-Bernoulli sample of site ``name`` from given uniforms.

    ``uniforms`` ``(batch, edge)`` are this rank's rows of the global batch's draw;
    the value is ``clipped_sigmoid((logit(u) + logits) / tau)``, exactly torch's
    ``RelaxedBernoulli.rsample`` with ``u`` in place of its ``torch.rand`` call, so it is
    reparameterised (gradients reach the encoder's logits).
    """

    def __init__(self, uniforms: torch.Tensor, name: str = "z"):
        super().__init__()
        self.uniforms = uniforms
        self.name = name

    def _pyro_sample(self, msg) -> None:
        if msg["name"] != self.name or msg["is_observed"] or msg["value"] is not None:
            return
        fn = msg["fn"]
        while hasattr(fn, "base_dist"):
            fn = fn.base_dist
        logits, tau = fn.logits, fn.temperature
        eps = torch.finfo(logits.dtype)
        u = self.uniforms.to(logits.dtype).clamp(eps.tiny, 1 - eps.eps)
        probs = torch.sigmoid(logits).clamp(eps.tiny, 1 - eps.eps)
        x = (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / tau
        msg["value"] = torch.clamp(torch.sigmoid(x), min=eps.tiny, max=1.0 - eps.eps)


def allreduce_sum(flat: torch.Tensor) -> torch.Tensor:
    """Sum ``flat`` over ranks in place (no-op in a single process)."""
    if layout().distributed:
        tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
    return flat


def broadcast_modules(*modules) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not layout().distributed:
        return
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            tdist.broadcast(tensor.data, src=0)
