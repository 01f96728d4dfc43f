"""The worlds a decision runs on, chunk by chunk: the seeds of redrawn graph draws, the
noise behind the coefficient draws, the spends whose effects are held >= 0, and
:func:`world_chunks`, which prepares one :class:`~pyro_causalmmm.decisions.worlds.World`
per chunk of shops (shared by contributions, response curves, `intervene` and the
optimizer).
"""

from __future__ import annotations

import numpy as np
import torch

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.decisions.interventions import graph_draws, prepare_world
from pyro_causalmmm.decisions.worlds import coefficient_noise

PATH_BYTES = 2**29  # largest memory of one chunk's factual decoder states (world_chunks)
# scenarios one counterfactual call runs at once on a chunk of shops: the chunk is sized so
# that ``config.rows`` (scenario x draw x shop) rows hold this many (world_chunks). One
# scenario per call (0.8) paid the per-step overhead of ~30 small ops per scenario; on
# Simulation 2's contributions 2-4 per call were 6-10% faster than 1, 10 slower
# (benchmarks/notes.md, stop 26)
SCENARIOS = 3


def _redraw_seed(seed: int, attempt: int) -> int:
    """Seed of the ``attempt``-th redraw of unstable graph draws (see
    :func:`pyro_causalmmm.decisions.interventions.prepare_world`)."""
    return int(seed) * 7919 + 104729 * (attempt + 1)



def coefficient_noise_source(model, config, draws: int, shops: int):
    """``noise(attempt) -> (draw, shop, node, P)`` for :func:`prepare_world`'s coefficient
    draws over all ``shops`` (None when ``config.coefficient_draws`` is off); seeded from
    ``config.seed`` on a stream of its own (not the graph draws' stream)."""
    if not getattr(config, "coefficient_draws", True) or model.config.linear_lags == 0:
        return None
    first = coefficient_noise(config.seed + 10_000_019, draws, shops, model)

    def noise(attempt: int) -> torch.Tensor:
        if attempt < 0:
            return first
        return coefficient_noise(
            _redraw_seed(config.seed, attempt) + 10_000_019, draws, shops, model
        )

    return noise


def spend_pairs(data: MarketingMixData) -> torch.Tensor:
    """``(cause, effect)`` bool: every spend into every node that is not a spend (the pairs a
    ``spend_effects`` constraint can hold)."""
    spend = torch.tensor([n in data.spend_names for n in data.node_names], dtype=torch.bool)
    return spend[:, None] & ~spend[None, :]


def positive_pairs(model, data: MarketingMixData, config) -> torch.Tensor | None:
    """``(cause, effect)`` bool: the (spend, responder) pairs whose long-run direct gain is
    held >= 0, or None for none. ``config.spend_effects``: "positive" every spend into every
    node that is not a spend; "auto" the pairs the fit found media-like
    (``model.media_pairs``, :func:`models.pooling.media_pairs`); "free" none."""
    if config.spend_effects == "free":
        return None
    pairs = spend_pairs(data)
    if config.spend_effects == "auto":
        pairs = pairs & model.media_pairs.to(torch.bool)
    return pairs if bool(pairs.any()) else None


def world_chunks(
    model, x, mask, ctx, adj, window, floor, ceiling, keep, p_edge, config, positive=None
):
    """Yield ``(shop slice, World)`` for chunks of about ``config.rows / SCENARIOS``
    shop-draws (so that a counterfactual call of :data:`SCENARIOS` scenarios on a chunk
    runs about ``config.rows`` rows), each world prepared from its chunk's first window
    step; unstable graph draws are redrawn with seeds derived from ``config.seed``.
    ``adj`` ``(draw, shop, cause, effect)``, ``window`` ``(shop, time)`` bool. A chunk
    also keeps its factual decoder states (``World.h_path``, ``S x T x D x hidden`` floats
    per shop) under ``PATH_BYTES``, so long daily panels are worked through in fewer shops
    at a time."""
    S, B = adj.shape[0], x.shape[0]
    per_shop = 4 * S * (x.shape[1] + 1) * x.shape[2] * model.decoder.hidden
    shop_chunk = max(1, min(config.rows // (S * SCENARIOS), PATH_BYTES // per_shop))
    noise = coefficient_noise_source(model, config, S, B)
    for lo in range(0, B, shop_chunk):
        sl = slice(lo, min(lo + shop_chunk, B))
        start = int(np.flatnonzero(window[sl].any(0))[0])

        def redraw(attempt: int, sl=sl) -> torch.Tensor:
            return graph_draws(p_edge, S, _redraw_seed(config.seed, attempt))[:, sl]

        yield (
            sl,
            prepare_world(
                model,
                x[sl],
                mask[sl],
                ctx[sl],
                adj[:, sl],
                start=start,
                floor=floor[sl],
                ceiling=ceiling[sl],
                keep=keep,
                redraw=redraw,
                coef_noise=None if noise is None else (lambda a, sl=sl: noise(a)[:, sl]),
                covariance=config.coefficient_covariance,
                positive=positive,
            ),
        )
