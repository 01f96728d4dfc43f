"""Rewrite a saved model as an older version saved it (for the loading-compatibility tests)."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def as_saved_by(directory: Path, version: str, config_keys=(), state_keys=()) -> None:
    """Drop ``config_keys`` from ``model.json``'s config and ``state_keys`` from
    ``weights.pt`` (what ``version`` did not have yet), and stamp ``version``."""
    meta_path = Path(directory) / "model.json"
    meta = json.loads(meta_path.read_text())
    for key in config_keys:
        meta["config"].pop(key)
    meta["version"] = version
    meta_path.write_text(json.dumps(meta))
    weights = Path(directory) / "weights.pt"
    state = torch.load(weights, weights_only=True)
    for key in state_keys:
        state.pop(key)
    torch.save(state, weights)
