"""What every benchmark script shares: the simulated draws and the machine record."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

SIZE = dict(n_shops=100, n_channels=10, length=120, n_graphs=5)
"""Simulation size of the paper's default setting (d = 10, T = 120, R = 5)."""


def simulated_draw(spec: dict):
    """``(MarketingMixData, true adjacency (shop, cause, effect))`` for a job ``spec`` with
    keys scenario, mechanisms, seed, size: the same draw for every method."""
    from pyro_causalmmm import MarketingMixData
    from pyro_causalmmm.simulate import simulate

    sim = simulate(
        scenario=spec["scenario"], mechanisms=spec["mechanisms"], seed=spec["seed"],
        **spec["size"],
    )
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    return data, np.asarray(sim.adjacency)


def machine_info(**extra) -> dict:
    """Platform, Python, torch and CPU count, plus any ``extra`` versions."""
    import torch

    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        **extra,
    }
