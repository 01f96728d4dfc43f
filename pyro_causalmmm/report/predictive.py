"""Fit and check figures: fit-and-forecast fan charts, posterior predictive density,
PIT histograms, per-shop Hill S-curves and training curves.
"""


from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from pyro_causalmmm.posterior import summaries
from pyro_causalmmm.posterior.stats import hdi, pit
from pyro_causalmmm.report.style import (
    CHANNEL_COLOR,
    FAN_PROBS,
    FIT_COLOR,
    FORECAST_COLOR,
    PLAIN,
    _draws,
    _is_datetime,
    _node,
    _shop,
)


def _fan(ax, x, draws: np.ndarray, color: str, name: str) -> None:
    """Mean line and 90%/50% HDI bands of ``draws`` ``(draw, time)`` over ``x``."""
    for prob, alpha in zip(FAN_PROBS, (0.18, 0.35), strict=True):
        low, high = hdi(draws, prob)
        ax.fill_between(
            x, low, high, color=color, alpha=alpha, lw=0, label=f"{name} {prob:.0%} HDI"
        )
    ax.plot(x, draws.mean(0), color=color, lw=1.5, label=f"{name} mean")


def plot_fit_forecast(idata, shop, node: str | None = None) -> Figure:
    """Fan chart of ``node`` (default: the target) over time for one shop.

    Draws the observed series (black), the posterior-predictive mean with 50% and 90% HDI
    bands on the observed window (``posterior_predictive/obs``: one-step-ahead replicates,
    so the first ``max_lag`` steps have none), and, when a ``predictions`` group exists,
    the forecast mean with its 50%/90% bands after the data (orange) and a dotted
    vertical line at the forecast origin (the shop's last observed step). Works with
    date or integer time coordinates.
    """
    label = _shop(idata, shop)
    node = _node(idata, node)
    fig = Figure(figsize=(9.0, 4.2))
    ax = fig.add_subplot()
    obs = idata.observed_data["obs"].sel(shop=label, node=node)
    times = obs["time"].values
    y = np.asarray(obs.values, dtype=float)
    seen = np.isfinite(y)
    rep = _draws(idata.posterior_predictive["obs"].sel(shop=label, node=node))
    cols = np.isfinite(rep).all(0)
    if cols.any():
        _fan(ax, times[cols], rep[:, cols], FIT_COLOR, "fit")
    ax.plot(times[seen], y[seen], color="black", lw=1.1, label="observed")
    is_dates = _is_datetime(times)
    if "predictions" in idata.groups():
        pred = idata.predictions["obs"].sel(shop=label, node=node)
        fut = _draws(pred)
        keep = np.isfinite(fut).all(0)
        if keep.any():
            _fan(ax, pred["time"].values[keep], fut[:, keep], FORECAST_COLOR, "forecast")
            if seen.any():
                ax.axvline(times[seen][-1], color="black", ls=":", lw=1, label="forecast origin")
        is_dates = is_dates or _is_datetime(pred["time"].values)
    ax.set_title(f"{node}, shop {label}: fit and forecast", **PLAIN)
    ax.set_ylabel(node, **PLAIN)
    ax.set_xlabel("time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if is_dates:
        fig.autofmt_xdate()
    return fig


# ---------------------------------------------------------------------------- checks


def _scored(idata, node: str, draws=None) -> tuple[np.ndarray, np.ndarray]:
    """Observed ``node`` values on the scored cells and the replicate draws there:
    ``(n_cells,)`` and ``(S, n_cells)``; ``draws`` picks replicate draws (flat index)."""
    obs = np.asarray(idata.observed_data["obs"].sel(node=node).values, dtype=float)
    rep = _draws(idata.posterior_predictive["obs"].sel(node=node))  # (S, shop, time)
    if draws is not None:
        rep = rep[draws]
    cells = np.isfinite(obs) & np.isfinite(rep).all(0)
    return obs[cells], rep[:, cells]


def _density(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``values`` on the even ``grid`` (binned, Silverman's
    bandwidth): a histogram on the grid convolved with the kernel, O(n + len(grid))."""
    values = values[np.isfinite(values)]
    step = grid[1] - grid[0]
    if values.size < 2:
        return np.zeros_like(grid)
    q75, q25 = np.percentile(values, [75, 25])
    spread = min(values.std(), (q75 - q25) / 1.34) or values.std()
    bw = max(0.9 * spread * values.size ** (-0.2), step)
    edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
    counts, _ = np.histogram(values, bins=edges)
    k = int(min(np.ceil(4 * bw / step), len(grid)))
    kernel = np.exp(-0.5 * (np.arange(-k, k + 1) * step / bw) ** 2)
    smooth = np.convolve(counts, kernel, mode="full")[k : k + len(grid)]
    total = smooth.sum() * step
    return smooth / total if total > 0 else smooth


def plot_ppc(idata, node: str | None = None, n_replicates: int = 40) -> Figure:
    """Posterior predictive check of ``node`` (default: the target), all shops pooled.

    Kernel densities of the observed values (black) and of ``n_replicates`` replicate
    draws from ``posterior_predictive/obs`` (thin blue lines), each over the same scored
    cells (observed, with a one-step-ahead replicate). A calibrated model's replicates
    scatter around the observed density.
    """
    node = _node(idata, node)
    n_draws = int(np.prod(idata.posterior_predictive["obs"].shape[:2]))
    pick = np.unique(np.linspace(0, n_draws - 1, min(n_replicates, n_draws)).astype(int))
    obs, rep = _scored(idata, node, pick)
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    if obs.size:
        lo = min(obs.min(), rep.min())
        hi = max(obs.max(), rep.max())
        pad = 0.05 * (hi - lo) or 1.0
        grid = np.linspace(lo - pad, hi + pad, 256)
        for k, draw in enumerate(rep):
            ax.plot(
                grid,
                _density(draw, grid),
                color=FIT_COLOR,
                alpha=0.25,
                lw=0.8,
                label=f"replicates ({len(rep)} draws)" if k == 0 else None,
            )
        ax.plot(grid, _density(obs, grid), color="black", lw=2, label="observed")
        ax.legend(fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no scored cells", ha="center", transform=ax.transAxes)
    ax.set_xlabel(node, **PLAIN)
    ax.set_ylabel("density")
    ax.set_title(f"Posterior predictive check of {node} ({obs.size} cells)", **PLAIN)
    ax.grid(alpha=0.3)
    return fig


def plot_pit(idata, node: str | None = None, bins: int = 10) -> Figure:
    """PIT histogram of ``node`` (default: the target), all shops pooled.

    The probability integral transform of each scored observation (share of replicate
    draws below it, :func:`stats.pit`) as a density histogram, with the uniform reference
    line at 1 and a grey 90% band for a uniform PIT of this many cells. A U shape means
    intervals too narrow, a hump too wide, a slope bias. The title gives the 50% and 90%
    HDI coverage (:func:`summaries.ppc_coverage`).
    """
    node = _node(idata, node)
    obs, rep = _scored(idata, node)
    values = pit(obs, rep)
    cover = summaries.ppc_coverage(idata, node=node)
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    ax.hist(
        values,
        bins=np.linspace(0, 1, bins + 1),
        density=True,
        color=CHANNEL_COLOR,
        edgecolor="white",
        label="PIT",
    )
    if values.size:
        p = 1.0 / bins
        half = 1.645 * np.sqrt(values.size * p * (1 - p)) / (values.size * p)
        ax.axhspan(
            max(0.0, 1 - half),
            1 + half,
            color="grey",
            alpha=0.2,
            lw=0,
            label="90% band if uniform",
        )
    ax.axhline(1.0, color="black", ls="--", lw=1.2, label="uniform (calibrated)")
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT (share of replicate draws below the observation)")
    ax.set_ylabel("density")
    text = ", ".join(f"{p:.0%} HDI covers {c:.1%}" for p, c in cover.items())
    ax.set_title(f"PIT of {node} ({values.size} cells): {text}", fontsize=10, **PLAIN)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    return fig


# ---------------------------------------------------------------------------- S-curve


def _hill(u, a, g):
    ua = np.power(np.maximum(u, 0.0), a)
    return ua / (ua + g)


def plot_s_curve(
    idata, shop, band: tuple[float, float] = (0.05, 0.95), max_curves: int = 4000
) -> Figure:
    """The Hill S-curve ``y = u^a / (u^a + g)`` of the target for one shop.

    ``a = posterior/hill_shape`` and ``g = posterior/hill_inflexion`` ``(chain, draw, shop,
    time)`` are outputs of small networks of the context, i.e. point estimates that change
    with context (time), not parameters with a posterior. So the band is the variation of
    the curve across the shop's context (time steps, and draws where the drive's inputs
    differ), not parameter uncertainty: on a ``u`` grid from 0 to 1.1 x the largest drive,
    the median curve (line) and the ``band`` quantiles (default 5%-95%) of the curves of
    all (draw, time) pairs (at most ``max_curves``, a fixed random subset). Points: for each
    time step, the posterior-mean drive ``u_t`` (``posterior/hill_drive``) on that step's
    curve, ``y_t = hill(u_t, mean a_t, mean g_t)``. The dotted line is the median
    half-saturation drive ``g^(1/a)``. ``y`` is in the model's scaled target units (0 to 1).
    """
    label = _shop(idata, shop)
    post = idata.posterior
    a = _draws(post["hill_shape"].sel(shop=label))  # (S, time)
    g = _draws(post["hill_inflexion"].sel(shop=label))
    u = _draws(post["hill_drive"].sel(shop=label))
    cols = (np.isfinite(a) & np.isfinite(g) & np.isfinite(u)).all(0)
    a, g, u = a[:, cols], g[:, cols], u[:, cols]
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot()
    ax.set_title(
        f"Hill S-curve, shop {label}\nband: {band[0]:.0%}-{band[1]:.0%} of the curve across "
        "context (time steps), not parameter uncertainty",
        fontsize=10,
        **PLAIN,
    )
    ax.set_xlabel("drive u (S-curve input)")
    ax.set_ylabel("response u^a / (u^a + g)")
    if not cols.any():
        ax.text(0.5, 0.5, "no S-curve values for this shop", ha="center", transform=ax.transAxes)
        return fig
    flat_a, flat_g = a.reshape(-1), g.reshape(-1)
    if flat_a.size > max_curves:
        idx = np.random.default_rng(0).choice(flat_a.size, max_curves, replace=False)
        flat_a, flat_g = flat_a[idx], flat_g[idx]
    grid = np.linspace(0.0, 1.1 * max(float(u.max()), 1e-6), 200)
    curves = _hill(grid[None], flat_a[:, None], flat_g[:, None])  # (curves, grid)
    low, mid, high = np.quantile(curves, [band[0], 0.5, band[1]], axis=0)
    ax.fill_between(
        grid,
        low,
        high,
        color=FIT_COLOR,
        alpha=0.25,
        lw=0,
        label=f"{band[0]:.0%}-{band[1]:.0%} across context",
    )
    ax.plot(grid, mid, color=FIT_COLOR, lw=2, label="median curve")
    u_t = u.mean(0)
    ax.scatter(
        u_t,
        _hill(u_t, a.mean(0), g.mean(0)),
        s=12,
        color=FORECAST_COLOR,
        alpha=0.7,
        zorder=3,
        label="posterior-mean drive per time step",
    )
    half = float(np.median(np.power(flat_g, 1.0 / flat_a)))
    if half <= grid[-1]:
        ax.axvline(half, color="black", ls=":", lw=1, label=f"median half-saturation u={half:.3g}")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


# ---------------------------------------------------------------------------- training


def plot_training(idata) -> Figure:
    """Training curve from the ``fit_log`` group: ``train_loss`` (-ELBO per shop) per
    epoch, and ``val_loss`` when any epoch has one."""
    fig = Figure(figsize=(7.0, 3.8))
    ax = fig.add_subplot()
    ax.set_title("Training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("-ELBO per shop")
    if "fit_log" not in idata.groups() or idata["fit_log"].sizes.get("epoch", 0) == 0:
        ax.text(0.5, 0.5, "no training log", ha="center", transform=ax.transAxes)
        return fig
    log = idata["fit_log"]
    epoch = log["epoch"].values
    ax.plot(epoch, log["train_loss"].values, color=FIT_COLOR, lw=1.5, label="train")
    if "val_loss" in log and np.isfinite(log["val_loss"].values).any():
        val = np.asarray(log["val_loss"].values, dtype=float)
        ok = np.isfinite(val)
        ax.plot(epoch[ok], val[ok], color=FORECAST_COLOR, lw=1.5, label="validation")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig
