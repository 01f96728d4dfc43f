"""A small synthetic ``InferenceData`` with the schema of
:mod:`pyro_causalmmm.posterior.inference_data`, for tests of plots and reports that should not
pay for a fit. Shops have different lengths so the NaN cells are exercised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pyro_causalmmm.posterior.inference_data import TimeAxis, add_predictions, build_inference_data


def fake_inference_data(
    n_shops: int = 3,
    n_channels: int = 3,
    n_time: int = 40,
    n_draws: int = 50,
    horizon: int = 7,
    seed: int = 0,
    with_predictions: bool = True,
):
    rng = np.random.default_rng(seed)
    nodes = [f"spend_{i + 1}" for i in range(n_channels)] + ["gmv"]
    d = len(nodes)
    shops = [f"shop_{s}" for s in range(n_shops)]
    lengths = np.full(n_shops, n_time)
    lengths[-1] = n_time - 5
    start = pd.Timestamp("2024-01-01")
    times = [pd.date_range(start, periods=int(n), freq="D") for n in lengths]
    mask = np.arange(n_time)[None] < lengths[:, None]
    p = rng.uniform(size=(n_shops, d, d)) * (1 - np.eye(d))
    edge = (rng.uniform(size=(n_draws, n_shops, d, d)) < p).astype(float) * 0.9 + 0.05
    edge *= 1 - np.eye(d)
    observed = 100 + 10 * rng.standard_normal((n_shops, n_time, d)).cumsum(1) / 5
    observed[~mask] = np.nan
    replicate = observed[None] + 5 * rng.standard_normal((n_draws, n_shops, n_time, d))
    replicate[:, :, :3] = np.nan
    a = np.full((n_draws, n_shops, n_time), 1.5)
    g = np.full((n_draws, n_shops, n_time), 0.4)
    u = rng.uniform(0.2, 1.5, size=(n_draws, n_shops, n_time))
    context = rng.standard_normal((n_shops, n_time, 2))
    losses = list(np.linspace(50, 10, 12) + rng.uniform(0, 1, 12))
    idata = build_inference_data(
        shop_ids=shops,
        node_names=nodes,
        context_names=["ctx_1", "ctx_2"],
        time_axis=TimeAxis.from_shop_times(times, n_time),
        edge=edge,
        edge_probability=p,
        hill_shape=a,
        hill_inflexion=g,
        hill_drive=u,
        replicate=replicate,
        observed=observed,
        context=context,
        mask=mask,
        train_loss=losses,
        attrs={
            "target_name": "gmv",
            "channel_names": nodes[:-1],
            "max_lag": 3,
            "n_draws": n_draws,
            "package_version": "test",
            "freq": "D",
        },
    )
    if with_predictions:
        fut = [
            pd.date_range(t[-1] + pd.Timedelta(days=1), periods=horizon, freq="D") for t in times
        ]
        last = np.array([observed[s, lengths[s] - 1] for s in range(n_shops)])
        fc = last[None, :, None, :] + 3 * rng.standard_normal(
            (n_draws, n_shops, horizon, d)
        ).cumsum(2)
        add_predictions(
            idata,
            time_axis=TimeAxis.from_shop_times(fut, horizon),
            forecast=fc,
            context=np.repeat(context[:, -1:], horizon, 1),
            horizon=horizon,
        )
    return idata
