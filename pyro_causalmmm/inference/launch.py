"""Start a data-parallel fit on this machine: ``causalmmm fit ... --nproc N`` re-runs the
same command under ``torchrun --standalone --nproc-per-node N`` (see
:mod:`pyro_causalmmm.inference.parallel`).

torchrun's own messages and the workers' stderr go to ``DIR/torchrun.log``; rank 0's
stdout reaches the terminal. When a rank fails, torchrun stops the others (a peer that
hangs is cut by the process group's timeout) and this prints one ``error:`` line naming
the failure and the log, exit code 2.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pyro_causalmmm.errors import TrainingError

LOG_FILE = "torchrun.log"


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--max-restarts=0",
        "--module",
        "pyro_causalmmm.cli.main",
        *strip_nproc(argv),
    ]


def _failure(log: str) -> str:
    """The most telling line of a failed run's log: a worker's own ``error:`` line, else
    the first rank's exception (the root cause; the others then lose their peer)."""
    prefix = r"^(?:\[rank(\d+)\]:\s*)?"
    ours = re.findall(prefix + r"error: (.+)$", log, flags=re.M)
    if ours:
        rank, text = ours[0]
        return f"rank {rank}: {text}" if rank else text
    exc = re.findall(prefix + r"(\w*(?:Error|Exception)\w*: .+)$", log, flags=re.M)
    if exc:
        rank, text = exc[0]
        return f"rank {rank}: {text}" if rank else text
    return "see the log"


def run_torchrun(nproc: int, out: Path, argv: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_FILE
    with open(log_path, "w") as log:
        code = subprocess.run(torchrun_command(nproc, argv), stderr=log).returncode
    if code != 0:
        raise TrainingError(
            f"distributed fit with {nproc} processes failed (exit {code}): "
            f"{_failure(log_path.read_text(errors='replace'))}; full log: {log_path}"
        )
    return 0
