"""The one module that calls ArviZ: posterior draws -> ``arviz.InferenceData`` and back.

Moving to ArviZ 1.x (``xarray.DataTree``) should touch this file only; everything else
(plots, report, CLI) reads the groups below as ``xarray`` datasets.

Schema (``DIR/posterior.nc``; every label is the user's):

================================  ==========================================  ===========
group / variable                  dims                                        units
================================  ==========================================  ===========
posterior / edge                  chain, draw, shop, cause, effect            z in [0, 1]
posterior / hill_shape            chain, draw, shop, time                     a of u^a/(u^a+g)
posterior / hill_inflexion        chain, draw, shop, time                     g
posterior / hill_drive            chain, draw, shop, time                     u (S-curve input)
posterior_predictive / obs        chain, draw, shop, time, node               user units
observed_data / obs               shop, time, node                            user units
constant_data / context_value     shop, time, context                         user units
constant_data / observed          shop, time                                  1 = observed
predictions / obs                 chain, draw, shop, time, node (future)      user units
predictions_constant_data / context_value  shop, time, context (future)       user units
edges / edge_probability          shop, cause, effect                         P(edge | data)
fit_log / train_loss, val_loss    epoch                                       -ELBO per shop
================================  ==========================================  ===========

* ``edge`` holds relaxed-Bernoulli draws of the edge weights the decoder uses, drawn from
  the amortized guide q(z | X, y) by ``pyro.infer.Predictive``; ``edges/edge_probability``
  is the guide's Bernoulli probability itself (the ``p_edge`` of ``edges.csv``).
* ``time`` is the union of all shops' time labels (dates or integer steps); a shop's
  cells outside its own window are NaN (``constant_data/observed`` says which are its).
* ``posterior_predictive/obs`` is the one-step-ahead replicate on the observed window
  (teacher forced: step t is drawn given the observed steps < t), NaN on each shop's
  first ``attrs["max_lag"]`` steps, which have no lag history and are not scored.
* ``predictions`` (present after a forecast) holds ancestral-sampling forecasts past each
  shop's last step; its ``time`` coordinate is the union of the shops' future labels.
* There is one chain: the guide is amortized variational inference, not MCMC.

Root attributes: ``package_version``, ``target_name``, ``channel_names`` (JSON list),
``model_config`` (JSON), ``max_lag``, ``n_draws``, ``seed``, ``freq``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pyro_causalmmm.errors import ModelFileError
from pyro_causalmmm.io import atomic_write

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # ArviZ 0.2x announces its 1.x refactor
    import arviz as az

InferenceData = az.InferenceData

POSTERIOR_FILE = "posterior.nc"
TARGET_VAR = "obs"


@dataclass(frozen=True)
class TimeAxis:
    """The union time grid of a set of shops and each shop's cells on it.

    ``labels`` (union, sorted), ``position`` ``(shop, time)`` int index into ``labels`` of
    shop s's padded step t (-1 on padding).
    """

    labels: pd.Index
    position: np.ndarray

    @classmethod
    def from_shop_times(cls, times: Sequence[pd.Index], n_time: int) -> TimeAxis:
        """``times[s]`` are shop s's labels for its first ``len(times[s])`` padded steps."""
        lengths = np.array([len(t) for t in times], dtype=np.int64)
        flat = times[0].append(list(times[1:])) if len(times) > 1 else times[0]
        labels = pd.Index(flat).unique().sort_values()
        pos = np.full((len(times), n_time), -1, dtype=np.int64)
        rows = np.repeat(np.arange(len(times)), lengths)
        cols = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else []
        pos[rows, cols] = labels.get_indexer(flat)
        return cls(labels, pos)

    def place(self, array: np.ndarray, time_axis: int) -> np.ndarray:
        """Scatter ``array`` whose axis ``time_axis`` is the padded step (and whose axis
        ``time_axis - 1`` is the shop) onto the union grid; NaN where a shop has no cell."""
        a = np.moveaxis(np.asarray(array, dtype=np.float64), (time_axis - 1, time_axis), (0, 1))
        out = np.full((a.shape[0], len(self.labels), *a.shape[2:]), np.nan)
        s, t = np.nonzero(self.position >= 0)
        out[s, self.position[s, t]] = a[s, t]
        return np.moveaxis(out, (0, 1), (time_axis - 1, time_axis))


def _coords(shops, nodes, context=None) -> dict:
    coords = {"shop": [str(s) for s in shops], "node": list(nodes)}
    coords["cause"] = list(nodes)
    coords["effect"] = list(nodes)
    if context is not None:
        coords["context"] = list(context)
    return coords


def build_inference_data(
    *,
    shop_ids: Sequence,
    node_names: Sequence[str],
    context_names: Sequence[str],
    time_axis: TimeAxis,
    edge: np.ndarray,
    edge_probability: np.ndarray,
    hill_shape: np.ndarray,
    hill_inflexion: np.ndarray,
    hill_drive: np.ndarray,
    replicate: np.ndarray,
    observed: np.ndarray,
    context: np.ndarray,
    mask: np.ndarray,
    train_loss: Sequence[float] = (),
    val_loss: Sequence[float] = (),
    attrs: dict | None = None,
) -> az.InferenceData:
    """Assemble the groups of the module docstring from plain arrays.

    Shapes (S draws, padded steps T): ``edge`` ``(S, shop, cause, effect)``,
    ``edge_probability`` ``(shop, cause, effect)``, ``hill_*`` ``(S, shop, T)``,
    ``replicate`` ``(S, shop, T, node)`` and ``observed`` ``(shop, T, node)`` in user
    units, ``context`` ``(shop, T, context)`` in user units, ``mask`` ``(shop, T)``.
    Padded steps become NaN cells on the union ``time`` grid.
    """
    coords = _coords(shop_ids, node_names, context_names)
    coords["time"] = time_axis.labels
    place = time_axis.place
    cd = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "edge": ((*cd, "shop", "cause", "effect"), np.asarray(edge, np.float32)[None]),
            "hill_shape": ((*cd, "shop", "time"), place(hill_shape, 2)[None]),
            "hill_inflexion": ((*cd, "shop", "time"), place(hill_inflexion, 2)[None]),
            "hill_drive": ((*cd, "shop", "time"), place(hill_drive, 2)[None]),
        },
        coords={**coords, "chain": [0], "draw": np.arange(np.shape(edge)[0])},
    )
    ppc = xr.Dataset(
        {TARGET_VAR: ((*cd, "shop", "time", "node"), place(replicate, 2)[None])},
        coords={**coords, "chain": [0], "draw": np.arange(np.shape(replicate)[0])},
    )
    observed_ds = xr.Dataset(
        {TARGET_VAR: (("shop", "time", "node"), place(observed, 1))}, coords=coords
    )
    const = xr.Dataset(
        {
            "context_value": (("shop", "time", "context"), place(context, 1)),
            "observed": (("shop", "time"), np.nan_to_num(place(mask, 1)).astype(np.int8)),
        },
        coords=coords,
    )
    edges = xr.Dataset(
        {"edge_probability": (("shop", "cause", "effect"), np.asarray(edge_probability))},
        coords=coords,
    )
    n_epochs = len(train_loss)
    val = np.full(n_epochs, np.nan)
    val[: len(val_loss)] = np.asarray(val_loss, dtype=np.float64)[:n_epochs]
    fit_log = xr.Dataset(
        {
            "train_loss": (("epoch",), np.asarray(train_loss, dtype=np.float64)),
            "val_loss": (("epoch",), val),
        },
        coords={"epoch": np.arange(1, n_epochs + 1)},
    )
    idata = az.InferenceData(
        posterior=posterior,
        posterior_predictive=ppc,
        observed_data=observed_ds,
        constant_data=const,
        edges=edges,
        fit_log=fit_log,
    )
    for key, value in (attrs or {}).items():
        _set_attr(idata, key, value)
    return idata


def add_predictions(
    idata: az.InferenceData,
    *,
    time_axis: TimeAxis,
    forecast: np.ndarray,
    context: np.ndarray,
    horizon: int,
) -> az.InferenceData:
    """Add ``predictions`` ``(chain, draw, shop, time, node)`` and the future context
    ``(shop, time, context)`` (``forecast`` ``(S, shop, horizon, node)``, user units)."""
    coords = {
        "shop": idata.observed_data["shop"].values,
        "node": idata.observed_data["node"].values,
        "context": idata.constant_data["context"].values,
        "time": time_axis.labels,
    }
    pred = xr.Dataset(
        {
            TARGET_VAR: (
                ("chain", "draw", "shop", "time", "node"),
                time_axis.place(forecast, 2)[None],
            )
        },
        coords={**coords, "chain": [0], "draw": np.arange(forecast.shape[0])},
    )
    const = xr.Dataset(
        {"context_value": (("shop", "time", "context"), time_axis.place(context, 1))}, coords=coords
    )
    for name in ("predictions", "predictions_constant_data"):
        if name in idata.groups():
            del idata[name]
    idata.add_groups(predictions=pred, predictions_constant_data=const)
    _set_attr(idata, "horizon", int(horizon))
    return idata


def _set_attr(idata: az.InferenceData, key: str, value) -> None:
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value)
    idata.attrs[key] = value


def attr(idata: az.InferenceData, key: str, default=None):
    """A root attribute, JSON lists/dicts decoded."""
    value = idata.attrs.get(key, default)
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def save(idata: az.InferenceData, path: str | Path) -> Path:
    """Write ``idata`` to netCDF atomically (temporary name, then rename)."""
    path = Path(path)
    atomic_write(path, lambda p: idata.to_netcdf(str(p), engine="h5netcdf"))
    return path


def load(path: str | Path) -> az.InferenceData:
    """Read a ``posterior.nc`` written by :func:`save` (``az.from_netcdf`` underneath)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"{path} not found: run `causalmmm fit` (it writes posterior.nc) or "
            "`causalmmm posterior DIR --data ...`"
        )
    try:
        return az.from_netcdf(str(path), engine="h5netcdf")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ModelFileError(f"cannot read {path} as InferenceData: {exc!r}") from exc
