"""Decisions over an ensemble of fits: the posterior draws split across the members.

A fitted model's decoder weights are point estimates, so its intervals leave out their
uncertainty, and that part is large: on the daily funnel the decoder carries a median
60% of each estimated contribution, and fits of the same data with different training
seeds differ by more than one fit's intervals say (``benchmarks/notes.md``, stop 24).
An ensemble of ``K`` fits (``pyro_causalmmm.ensemble.fit_ensemble``; seeds differ, data
and configuration the same) is a crude but honest approximation of that posterior (a
"deep ensemble"): the decision functions accept a list of fitted models wherever they
accept one, give member ``k`` its share of ``config.draws`` (as equal as possible, the
first members one more) with its own seed, and pool the draws, so an ensemble costs
about what one model costs at the same number of draws.

The members differ in their decoders only: at the default settings the edges do not
depend on the training seed (the calibrated evidence fixes them before SVI).

    >>> models = fit_ensemble(data, n_members=4)                             # doctest: +SKIP
    >>> contributions(models, data)   # the draws split across the members  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pyro_causalmmm.api import CausalMMM, TrainConfig  # TrainConfig as the API has it
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models import ModelConfig

#: Seed offset between members' decision draws (member 0 keeps ``config.seed``, so an
#: ensemble of one gives exactly the single model's draws).
MEMBER_SEED_STEP = 7919


def members(mmm) -> list:
    """The fitted models of ``mmm``: a list or tuple of them, or one model (``[mmm]``)."""
    if isinstance(mmm, Sequence) and not isinstance(mmm, str):
        models = list(mmm)
        if not models:
            raise ConfigError("the ensemble is empty: pass at least one fitted model")
        return models
    return [mmm]


def member_configs(config, n_members: int) -> list:
    """``config`` for each of ``n_members`` members: draws split as equally as possible
    (the first ``draws % n`` members one more), member ``k`` seeded ``seed + k * step``."""
    if config.draws < n_members:
        raise ConfigError(
            f"draws={config.draws} is fewer than the ensemble's {n_members} members: give "
            f"each member at least one draw (draws >= {n_members})"
        )
    base, extra = divmod(config.draws, n_members)
    return [
        dataclasses.replace(
            config, draws=base + (k < extra), seed=config.seed + k * MEMBER_SEED_STEP
        )
        for k in range(n_members)
    ]


#: Seed offset between members' training (member 0 trains with ``train_config.seed``).
TRAIN_SEED_STEP = 1000


def fit_ensemble(
    data: MarketingMixData,
    n_members: int = 4,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
) -> list[CausalMMM]:
    """``members`` models fitted on ``data``, member ``k`` with training seed
    ``train_config.seed + k * TRAIN_SEED_STEP`` (member 0 is the single fit)."""
    if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 1:
        raise ConfigError(f"n_members must be an integer >= 1, got {n_members!r}")
    train_config = train_config or TrainConfig()
    out = []
    for k in range(n_members):
        mmm = CausalMMM(model_config or ModelConfig())
        seed = train_config.seed + k * TRAIN_SEED_STEP
        mmm.fit(data, dataclasses.replace(train_config, seed=seed))
        out.append(mmm)
    return out
