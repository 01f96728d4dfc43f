"""One simulated long CSV for CLI tests (``causalmmm simulate`` through the real entry point)."""

from __future__ import annotations

from pathlib import Path

from pyro_causalmmm.cli.main import main


def write_sim_csv(directory: Path, shops: int, channels: int, length: int, seed: int = 0) -> Path:
    """Simulation 2 data in ``directory/d.csv`` (truth beside it); returns the CSV path."""
    data = Path(directory) / "d.csv"
    args = [
        "simulate",
        "--shops",
        str(shops),
        "--channels",
        str(channels),
        "--length",
        str(length),
        "--seed",
        str(seed),
        "--out",
        str(data),
        "--truth",
        str(Path(directory) / "t.npz"),
    ]
    assert main(args) == 0
    return data
