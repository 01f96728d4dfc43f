"""PyMC-Marketing side of ``benchmarks/effects.py``: fit one panel, write its channel
contributions per posterior draw.

    .venv-pymc/bin/python benchmarks/effects_pymc.py IN.npz OUT.npz

Runs in its own interpreter (pymc-marketing 1.3 needs Python >= 3.12; the library's
venv may be older): it imports numpy, pandas and pymc_marketing only, never
pyro_causalmmm. ``IN.npz`` holds ``spend`` (shop, time, channel), ``gmv`` (shop, time),
``dates`` (ISO strings), ``shops``, ``channels`` and the settings ``l_max``,
``yearly_seasonality`` (0: none), ``dow_controls`` (day-of-week dummies as controls),
``chains``, ``draws``, ``tune``, ``seed``, ``cores``.

The model: ``pymc_marketing.mmm.multidimensional.MMM`` with ``dims=("geo",)`` (every
parameter per shop, the library's default priors), ``GeometricAdstock(l_max)``,
``LogisticSaturation()``, the default max-abs scaling, NUTS. A channel's contribution
is the library's own counterfactual decomposition,
``compute_counterfactual_contributions_dataset(period="all_time")`` (identity link:
``channel_contribution * target_scale`` summed over the dates, i.e. the fitted GMV minus
the GMV with the channel removed on every date), per (chain, draw). As a units check the
same sum is recomputed from the posterior ``channel_contribution`` and the stored
``target_scale`` and the largest relative difference is written too.

``OUT.npz``: ``total`` (draw, shop, channel) in the target's units, ``fit_seconds``,
``scale_check`` (max relative difference of the two routes), ``divergences``,
``max_rhat`` (split R-hat of the per-pair totals), ``min_ess_ratio`` (crude), ``mu_fit``
(correlation of the posterior-mean fitted GMV with the data).
"""

from __future__ import annotations

import os
import sys
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def split_rhat(x: np.ndarray) -> np.ndarray:
    """Split R-hat over ``(chain, draw, ...)``."""
    c, n = x.shape[:2]
    half = n // 2
    parts = np.concatenate([x[:, :half], x[:, half : 2 * half]], axis=0)  # (2c, half, ...)
    mean = parts.mean(1)
    w = parts.var(1, ddof=1).mean(0)
    b = half * mean.var(0, ddof=1)
    var = (half - 1) / half * w + b / half
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(var / w)


def frames(inp) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    spend, gmv = inp["spend"], inp["gmv"]
    n, t, c = spend.shape
    channels = [str(x) for x in inp["channels"]]
    dates = pd.to_datetime([str(d) for d in inp["dates"]])
    shops = [str(s) for s in inp["shops"]]
    x = pd.DataFrame({
        "date": np.tile(dates.to_numpy(), n),
        "geo": np.repeat(np.asarray(shops, dtype=object), t),
    })
    for k, name in enumerate(channels):
        x[name] = spend[:, :, k].reshape(-1)
    controls = []
    if bool(inp["dow_controls"]):
        dow = np.tile(dates.day_of_week.to_numpy(), n)
        for d in range(1, 7):
            x[f"dow_{d}"] = (dow == d).astype(float)
            controls.append(f"dow_{d}")
    y = pd.Series(gmv.reshape(-1), name="y")
    return x, y, controls


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    inp = dict(np.load(args[0], allow_pickle=False))
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pymc_marketing.mmm.multidimensional import MMM

    x, y, controls = frames(inp)
    channels = [str(c) for c in inp["channels"]]
    ys = int(inp["yearly_seasonality"])
    mmm = MMM(
        date_column="date",
        target_column="y",
        channel_columns=channels,
        control_columns=controls or None,
        dims=("geo",),
        adstock=GeometricAdstock(l_max=int(inp["l_max"])),
        saturation=LogisticSaturation(),
        yearly_seasonality=ys if ys > 0 else None,
    )
    t0 = time.perf_counter()
    mmm.fit(
        x, y, chains=int(inp["chains"]), draws=int(inp["draws"]), tune=int(inp["tune"]),
        cores=int(inp["cores"]), random_seed=int(inp["seed"]), progressbar=False,
    )
    fit_seconds = time.perf_counter() - t0
    ds = mmm.compute_counterfactual_contributions_dataset(period="all_time")
    shops = [str(s) for s in inp["shops"]]
    parts = []
    for name in channels:
        da = ds[name].transpose("chain", "draw", "geo").sel(geo=shops)
        parts.append(da.values)  # (chain, draw, shop)
    total_cd = np.stack(parts, axis=-1)  # (chain, draw, shop, channel)

    post = mmm.idata["posterior"]
    cc = post["channel_contribution"].transpose("chain", "draw", "date", "geo", "channel")
    cc = cc.sel(geo=shops, channel=channels).values
    scale = mmm.idata["constant_data"]["target_scale"].squeeze(drop=True)
    scale = np.broadcast_to(scale.sel(geo=shops).values if "geo" in scale.dims
                            else scale.values, (len(shops),))
    again = cc.sum(2) * scale[None, None, :, None]
    denom = np.maximum(np.abs(total_cd).max(), 1e-12)
    scale_check = float(np.abs(again - total_cd).max() / denom)

    try:
        divergences = int(np.asarray(mmm.idata["sample_stats"]["diverging"]).sum())
    except (KeyError, TypeError):
        divergences = -1
    rhat = split_rhat(total_cd)
    chains, draws = total_cd.shape[:2]
    # crude ESS ratio: between-draw variance vs lag-1 autocorrelation
    z = total_cd - total_cd.mean(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (z[:, 1:] * z[:, :-1]).mean((0, 1)) / (z**2).mean((0, 1))
        ess_ratio = np.nanmin((1 - rho) / (1 + rho))
    mu = post["mu"].transpose("chain", "draw", "date", "geo").sel(geo=shops).values
    mu_mean = mu.mean((0, 1)) * scale[None, :]  # (date, shop)
    fit_corr = float(np.corrcoef(mu_mean.T.reshape(-1), inp["gmv"].reshape(-1))[0, 1])
    np.savez(
        args[1],
        total=total_cd.reshape(chains * draws, len(shops), len(channels)),
        fit_seconds=fit_seconds,
        scale_check=scale_check,
        divergences=divergences,
        max_rhat=float(np.nanmax(rhat)),
        min_ess_ratio=float(ess_ratio),
        mu_fit=fit_corr,
        target_scale=scale,
    )
    print(f"pymc-marketing fit {fit_seconds:.0f} s, scale check {scale_check:.2e}, "
          f"divergences {divergences}, max R-hat {np.nanmax(rhat):.3f}, fit corr {fit_corr:.3f}",
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
