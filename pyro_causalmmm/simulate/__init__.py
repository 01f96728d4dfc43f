"""Simulated panels with known causal graphs: one module per data family, plus the
do()-ground truth of the paper's family.

May import: `pyro_causalmmm.errors` and numpy/pandas. Never torch, models, guides or the
inference code (a simulator must not know the model it tests).
"""

from pyro_causalmmm.simulate.base import Simulation, hill, random_dags
from pyro_causalmmm.simulate.paper import MECHANISMS, SCENARIOS, SimulationConfig, simulate
from pyro_causalmmm.simulate.truth import (
    mediated_paths,
    true_contributions,
    true_counterfactual,
    true_intervention,
)

__all__ = [
    "MECHANISMS",
    "SCENARIOS",
    "Simulation",
    "SimulationConfig",
    "hill",
    "mediated_paths",
    "random_dags",
    "simulate",
    "true_contributions",
    "true_counterfactual",
    "true_intervention",
]
