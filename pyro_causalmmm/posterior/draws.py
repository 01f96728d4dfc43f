"""Posterior draws of a fitted model as ``InferenceData``: edges, S-curves, one-step
posterior predictive replicates and (optionally) forecasts past the data.

Draws come from ``pyro.infer.Predictive`` running the amortized guide q(z | X, y) and
the predictive program :func:`pyro_causalmmm.models.predictive.predictive_model`,
vectorized over draws and chunked over shops (memory stays bounded: a chunk holds about
``draws * shop_chunk`` shop-draws).

Decisions:

* **Draws:** 100 by default (one chain: amortized VI has no chains). Each draw of 100
  shops x 120 steps x 11 nodes costs about 0.5 s on one core (the GRU over draws
  dominates), so 100 draws roughly double a demo-size fit; ``--draws`` changes it.
* **Future context:** held at each shop's last observed value unless the caller passes
  ``future_context`` ``(shop, horizon, context)`` in user units.
* **Future channel spend:** forecast by the model like every other node (it is
  predicted from its own and its parents' history); interventions on spend belong to
  the budget tools.
* **Plausible band:** simulated values stay within each series' observed range widened
  by half its width on each side, and never below 0 for a series that never is (spend,
  GMV). Without it, a few draws with explosive sampled lag coefficients grew to 1e7
  over a 30-step forecast and dragged the forecast mean with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyro
import torch
from pyro.infer import Predictive

from pyro_causalmmm import __version__
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError
from pyro_causalmmm.models import to_adjacency
from pyro_causalmmm.models.predictive import predictive_model
from pyro_causalmmm.posterior import inference_data as idata_io
from pyro_causalmmm.posterior.summaries import DRAWS

SHOP_DRAWS_PER_CHUNK = 2000
SITES = ("z", "replicate", "forecast", "hill_shape", "hill_inflexion", "hill_drive")


def _future_context(
    data: MarketingMixData, horizon: int, future_context: np.ndarray | None
) -> np.ndarray:
    """``(shop, horizon, context)`` in user units: the given one, or each shop's last
    observed context held constant."""
    n_ctx = data.n_context
    if future_context is not None:
        fc = np.asarray(future_context, dtype=np.float64)
        if fc.shape != (data.n_shops, horizon, n_ctx):
            raise ConfigError(
                f"future_context must be (shop, horizon, context) = "
                f"{(data.n_shops, horizon, n_ctx)}, got {fc.shape}"
            )
        if not np.isfinite(fc).all():
            raise ConfigError("future_context has NaN or infinite values")
        return fc
    last = data.context[np.arange(data.n_shops), data.lengths - 1]  # (shop, context)
    return np.repeat(last[:, None, :], horizon, axis=1)


def _floors(data: MarketingMixData) -> np.ndarray:
    """``(shop, node)`` scaled value of 0 for series never negative in the data (spend,
    GMV...), ``-inf`` for the others: simulated values stay above it."""
    observed = np.where(data.mask[..., None], data.values, np.inf)
    never_negative = observed.min(axis=1) >= 0
    zero = (0.0 - data.scaling.loc) / data.scaling.scale
    return np.where(never_negative, zero, -np.inf)


def sample(
    mmm,
    data: MarketingMixData,
    draws: int = DRAWS,
    seed: int = 0,
    horizon: int = 0,
    future_context: np.ndarray | None = None,
    future_values: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Raw posterior draws in the model's scaled units.

    ``future_values`` ``(shop, horizon, node)`` in the user's units, NaN where not
    planned (:func:`pyro_causalmmm.posterior.plan.read_plan`), fixes planned nodes in
    the forecast.

    Returns ``edge`` ``(S, shop, cause, effect)``, ``replicate`` ``(S, shop, time,
    node)``, ``forecast`` ``(S, shop, horizon, node)``, ``hill_shape``,
    ``hill_inflexion`` ``(shop, time)``, ``hill_drive`` ``(S, shop, time)``, and the
    ``future_context`` used ``(shop, horizon, context)`` in user units.
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise ConfigError(f"draws must be an integer >= 2, got {draws!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 0:
        raise ConfigError(f"horizon must be an integer >= 0, got {horizon!r}")
    mmm._check_fitted()
    mmm._check_columns(data)
    values, mask, ctx = mmm.tensors(data)
    fc_user = _future_context(data, horizon, future_context)
    fc = mmm.future_context_tensor(data, fc_user.reshape(data.n_shops, horizon, data.n_context))
    floor = torch.tensor(_floors(data), dtype=torch.float32)
    fv = np.full((data.n_shops, horizon, data.n_nodes), np.nan)
    if future_values is not None:
        fv = np.asarray(future_values, dtype=np.float64)
        if fv.shape != (data.n_shops, horizon, data.n_nodes):
            raise ConfigError(
                f"future_values must be (shop, horizon, node) = "
                f"{(data.n_shops, horizon, data.n_nodes)}, got {fv.shape}"
            )
        fv = data.scaling.transform(fv)  # NaN stays NaN
    fvals = torch.tensor(fv, dtype=torch.float32)
    model, guide = mmm.model, mmm.guide
    model.eval()
    guide.eval()

    def program(v, m, c, fctx, fl, fv):
        predictive_model(model, v, m, c, horizon, fctx, fl, fv)

    def guide_program(v, m, c, fctx, fl, fv):
        guide.guide(v, m, c)

    predictive = Predictive(
        program, guide=guide_program, num_samples=draws, parallel=True, return_sites=SITES
    )
    chunk = max(1, SHOP_DRAWS_PER_CHUNK // draws)
    pyro.set_rng_seed(seed)
    n, t_len = data.n_nodes, data.n_time
    shapes = {  # per chunk of nb shops; Predictive pads vectorized sites with unit dims
        "z": lambda nb: (draws, nb, n * (n - 1)),
        "replicate": lambda nb: (draws, nb, t_len, n),
        "forecast": lambda nb: (draws, nb, horizon, n),
        "hill_drive": lambda nb: (draws, nb, t_len),
        "hill_shape": lambda nb: (-1, nb, t_len),
        "hill_inflexion": lambda nb: (-1, nb, t_len),
    }
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SITES}
    with torch.no_grad():
        for start in range(0, data.n_shops, chunk):
            sl = slice(start, start + chunk)
            nb = len(range(data.n_shops)[sl])
            out = predictive(values[sl], mask[sl], ctx[sl], fc[sl], floor[sl], fvals[sl])
            for key in SITES:
                parts[key].append(out[key].double().reshape(shapes[key](nb)).numpy())
    res = {k: np.concatenate(v, axis=1) for k, v in parts.items()}
    res["edge"] = to_adjacency(torch.from_numpy(res.pop("z")), n).numpy()
    res["hill_shape"] = res["hill_shape"][0]
    res["hill_inflexion"] = res["hill_inflexion"][0]
    res["future_context"] = fc_user
    return res


def _replicate_window(data: MarketingMixData, max_lag: int) -> np.ndarray:
    """``(shop, time)`` True on the scored observed steps (``t >= max_lag``)."""
    scored = data.mask.copy()
    scored[:, :max_lag] = False
    return scored


def build(
    mmm,
    data: MarketingMixData,
    draws: int = DRAWS,
    seed: int = 0,
    horizon: int = 0,
    future_context: np.ndarray | None = None,
    train_loss: Sequence[float] | None = None,
    val_loss: Sequence[float] = (),
    future_values: np.ndarray | None = None,
) -> idata_io.InferenceData:
    """Posterior ``InferenceData`` of ``data`` (schema in
    :mod:`pyro_causalmmm.posterior.inference_data`), with a ``predictions`` group when
    ``horizon > 0``. Values are in the user's units. ``train_loss``/``val_loss`` fill
    the ``fit_log`` group (default: the losses of ``mmm.fit``, if it ran here);
    ``future_values`` fixes planned nodes of the forecast (see :func:`sample`)."""
    res = sample(mmm, data, draws, seed, horizon, future_context, future_values)
    scaling = data.scaling
    scored = _replicate_window(data, mmm.config.max_lag)
    replicate = scaling.inverse(res["replicate"])
    replicate[:, ~scored] = np.nan
    observed = np.where(data.mask[..., None], data.values, np.nan)
    time_axis = idata_io.TimeAxis.from_shop_times(data.times, data.n_time)
    if train_loss is None:  # default: this session's fit, if any
        fr = mmm.fit_result
        train_loss, val_loss = (fr.train_losses, fr.val_losses) if fr else ((), ())
    idata = idata_io.build_inference_data(
        shop_ids=data.shop_ids,
        node_names=data.node_names,
        context_names=data.context_names,
        time_axis=time_axis,
        edge=res["edge"],
        edge_probability=mmm.edge_probability_array(data),
        hill_shape=np.broadcast_to(res["hill_shape"], res["hill_drive"].shape),
        hill_inflexion=np.broadcast_to(res["hill_inflexion"], res["hill_drive"].shape),
        hill_drive=res["hill_drive"],
        replicate=replicate,
        observed=observed,
        context=data.context,
        mask=data.mask,
        train_loss=train_loss,
        val_loss=val_loss,
        attrs={
            "package_version": __version__,
            "target_name": data.target_name,
            "channel_names": list(data.channel_names),
            "model_config": mmm.config.to_dict(),
            "max_lag": int(mmm.config.max_lag),
            "n_draws": int(draws),
            "seed": int(seed),
            "freq": str(data.freq),
        },
    )
    if horizon > 0:
        future = [data.future_times(s, horizon) for s in range(data.n_shops)]
        idata_io.add_predictions(
            idata,
            time_axis=idata_io.TimeAxis.from_shop_times(future, horizon),
            forecast=scaling.inverse(res["forecast"]),
            context=res["future_context"],
            horizon=horizon,
        )
    return idata
