"""Registry of the simulated data families: ``FAMILIES[name].make(seed, quick)``.

Each entry draws a :class:`~pyro_causalmmm.simulate.base.Simulation` at the family's
full size, or with ``quick=True`` at a small size (12-20 shops, shorter series where the
family allows it) for a fast benchmark run. ``no_saturation`` is True where the target is
not a GMV-like S-curve quantity (Lorenz-96, non-monotone coupling), so a saturating
target model does not fit it by design.

======================  =================================================================
name                    recipe (full size; quick size)
======================  =================================================================
``paper``               paper's A.2.1 recipe, ``sim1`` (no S-curve): 60 shops, d = 8,
                        T = 120, 4 graphs (16 shops, T = 80)
``paper_scurve``        the same with the context S-curve, ``sim2``
``population``          300 shops, 3 graphs, one mechanism, lags 1..6 (16 shops)
``marketing``           60 shops, 5 flighted spends + gmv, T = 150 (16 shops, T = 100)
``funnel_daily``        60 shops, funnel of 7 nodes, 182 days (16 shops, 120 days)
``funnel_weekly``       40 shops, 156 weeks summed from days, seasonal budgets
                        (12 shops, 104 weeks)
``lorenz96_f10``        Lorenz-96, p = 10, F = 10, 60 shops, T = 250 (16 shops)
``lorenz96_f40``        the same with F = 40
``nonmonotone``         60 shops, d = 6, even (fold) coupling, T = 200 (16 shops, T = 120)
======================  =================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from pyro_causalmmm.simulate.base import Simulation
from pyro_causalmmm.simulate.funnel import simulate_funnel_daily, simulate_funnel_weekly
from pyro_causalmmm.simulate.lorenz import simulate_lorenz96
from pyro_causalmmm.simulate.marketing import simulate_marketing
from pyro_causalmmm.simulate.nonmonotone import simulate_nonmonotone
from pyro_causalmmm.simulate.paper import simulate
from pyro_causalmmm.simulate.population import simulate_population


@dataclass(frozen=True)
class FamilySpec:
    """One simulated family.

    Attributes:
        name: registry key.
        description: one line.
        make: ``make(seed, quick=False) -> Simulation``.
        no_saturation: True where the target is not a GMV-like S-curve quantity.
    """

    name: str
    description: str
    make: Callable[..., Simulation]
    no_saturation: bool = False


def _paper(scenario: str) -> Callable[..., Simulation]:
    def make(seed: int, quick: bool = False) -> Simulation:
        sim = simulate(
            scenario,
            n_shops=16 if quick else 60,
            n_channels=8,
            length=80 if quick else 120,
            n_graphs=4,
            seed=seed,
        )
        # spend = 10 (x - min + 1) > 0: the channels are spend
        return dataclasses.replace(sim, spend_names=sim.node_names[:-1])

    return make


def _population(seed: int, quick: bool = False) -> Simulation:
    return simulate_population(n_shops=16 if quick else 300, seed=seed)


def _marketing(seed: int, quick: bool = False) -> Simulation:
    return simulate_marketing(n_shops=16 if quick else 60, length=100 if quick else 150, seed=seed)


def _funnel_daily(seed: int, quick: bool = False) -> Simulation:
    return simulate_funnel_daily(
        n_shops=16 if quick else 60, length=120 if quick else 182, seed=seed
    )


def _funnel_weekly(seed: int, quick: bool = False) -> Simulation:
    return simulate_funnel_weekly(
        n_shops=12 if quick else 40, length=104 if quick else 156, seed=seed
    )


def _lorenz(forcing: float) -> Callable[..., Simulation]:
    def make(seed: int, quick: bool = False) -> Simulation:
        # T stays 250 when quick: a 10-node VAR needs the length
        return simulate_lorenz96(n_shops=16 if quick else 60, forcing=forcing, seed=seed)

    return make


def _nonmonotone(seed: int, quick: bool = False) -> Simulation:
    return simulate_nonmonotone(
        n_shops=16 if quick else 60, length=120 if quick else 200, seed=seed
    )


FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec
    for spec in (
        FamilySpec(
            "paper",
            "paper A.2.1 recipe, sim1 (no S-curve): NARMA sources, tanh lag mechanisms per shop",
            _paper("sim1"),
        ),
        FamilySpec(
            "paper_scurve",
            "paper A.2.1 recipe, sim2: GMV through a Hill S-curve set by two context variables",
            _paper("sim2"),
        ),
        FamilySpec(
            "population",
            "300 shops sharing 3 graphs and one linear mechanism, carryover over lags 1..6",
            _population,
        ),
        FamilySpec(
            "marketing",
            "flighted, bursty spend with adstock and Hill on every edge, reactive budgets",
            _marketing,
        ),
        FamilySpec(
            "funnel_daily",
            "daily funnel spends -> page views -> search clicks -> gmv, adstock + Hill",
            _funnel_daily,
        ),
        FamilySpec(
            "funnel_weekly",
            "the daily funnel summed to weeks, budgets following seasonal demand",
            _funnel_weekly,
        ),
        FamilySpec(
            "lorenz96_f10",
            "Lorenz-96 ring, p = 10, F = 10, per-shop node permutation",
            _lorenz(10.0),
            no_saturation=True,
        ),
        FamilySpec(
            "lorenz96_f40",
            "Lorenz-96 ring, p = 10, F = 40 (strongly chaotic), per-shop node permutation",
            _lorenz(40.0),
            no_saturation=True,
        ),
        FamilySpec(
            "nonmonotone",
            "even (non-monotone) lagged coupling a linear VAR cannot detect",
            _nonmonotone,
            no_saturation=True,
        ),
    )
}
