"""Simulated panels with known causal graphs: one module per data family, plus the
do()-ground truth of the paper's and the funnel families and a registry of all families
(`FAMILIES`).

May import: `pyro_causalmmm.errors` and numpy/pandas. Never torch, models, guides or the
inference code (a simulator must not know the model it tests).
"""

from pyro_causalmmm.simulate.base import Simulation, hill, random_dags
from pyro_causalmmm.simulate.families import FAMILIES, FamilySpec
from pyro_causalmmm.simulate.funnel import (
    FunnelConfig,
    simulate_funnel,
    simulate_funnel_daily,
    simulate_funnel_weekly,
)
from pyro_causalmmm.simulate.funnel_truth import funnel_counterfactual, true_funnel_contributions
from pyro_causalmmm.simulate.lorenz import LorenzConfig, lorenz96_graph, simulate_lorenz96
from pyro_causalmmm.simulate.marketing import MarketingConfig, simulate_marketing
from pyro_causalmmm.simulate.nonmonotone import NonMonotoneConfig, simulate_nonmonotone
from pyro_causalmmm.simulate.paper import MECHANISMS, SCENARIOS, SimulationConfig, simulate
from pyro_causalmmm.simulate.population import PopulationConfig, simulate_population
from pyro_causalmmm.simulate.truth import (
    mediated_paths,
    true_contributions,
    true_counterfactual,
    true_intervention,
)

__all__ = [
    "FAMILIES",
    "MECHANISMS",
    "SCENARIOS",
    "FamilySpec",
    "FunnelConfig",
    "LorenzConfig",
    "MarketingConfig",
    "NonMonotoneConfig",
    "PopulationConfig",
    "Simulation",
    "SimulationConfig",
    "funnel_counterfactual",
    "hill",
    "lorenz96_graph",
    "mediated_paths",
    "random_dags",
    "simulate",
    "simulate_funnel",
    "simulate_funnel_daily",
    "simulate_funnel_weekly",
    "simulate_lorenz96",
    "simulate_marketing",
    "simulate_nonmonotone",
    "simulate_population",
    "true_contributions",
    "true_counterfactual",
    "true_funnel_contributions",
    "true_intervention",
]
