"""Neural Granger causality baseline: the component-wise MLP (cMLP) with a group-lasso
first layer (Tank, Covert, Foti, Shojaie, Fox, "Neural Granger Causality", IEEE TPAMI
2021).

    scores = cmlp_granger(values)                  # (shop, cause, effect), diagonal 0
    python benchmarks/cmlp.py --family lorenz96_f10 --seed 0 --lam 0.01 0.02

Model (the paper's section 3.1, written from the paper). For every shop ``n`` and target
series ``j`` one MLP ``g_nj`` predicts ``x_j^t`` from the last ``K`` lags of all ``p``
series::

    h^1 = ReLU( sum_{i, k} W1[:, i, k] x_i^{t-k} + b1 )     W1: (hidden, p, K), k = 1..K
    h^l = ReLU( W_l h^{l-1} + b_l )                          (further hidden layers, if any)
    x_j^t ~ w_out . h^L + b_out

trained by proximal gradient descent (ISTA) on::

    MSE_nj + lam * sum_i || W1[:, i, :] ||_2 + lam_ridge * sum_{l > 1} || W_l ||_F^2

(the paper's group-lasso "GL" penalty; ``penalty="H"`` is its hierarchical penalty,
``lam * sum_i sum_k || W1[:, i, k:] ||_2`` with nested groups of the ``K - k + 1``
most distant lags, so that higher lags are dropped first). One step is a gradient step
on ``MSE + ridge`` at learning rate ``lr`` followed by the proximal map of the group
penalty, the group soft-threshold ``W1[:, i, :] <- W1[:, i, :] (1 - lr lam /
||W1[:, i, :]||)_+``, which sets a whole input series' weights exactly to 0 (for "H",
the nested groups are thresholded from the most distant lag's group up to the whole
series, the order that gives the exact proximal map of a tree of groups). The
Granger score of ``i -> j`` in shop ``n`` is ``|| W1^{(nj)}[:, i, :] ||_2``: 0 when
the penalty pruned series ``i`` from ``j``'s network, larger the more ``j``'s network
uses it (a continuous score for AUROC; no lambda path). Self-lags are inputs as in the
paper; the diagonal of the returned scores is set to 0.

Vectorized: the ``shop x target`` networks of a call are one set of batched tensors
(``W1`` shaped ``(shop, target, hidden, p, K)``), trained together with batched matrix
products and full-batch steps (each network's loss is its own mean over its rows, and
the networks share no parameter, so one backward pass of the sum gives each network its
own gradient): no Python loop over shops, targets or edges. Each series is standardized
per shop over its observed steps first; rows whose target step or any lagged step is
masked (or not finite) are left out; a shop without a usable row gets all-zero scores.
Weights start as PyTorch's default for linear layers (uniform, +-1/sqrt(fan_in)) from
``seed``; float32.

Defaults (``lags=5, hidden=32, lam=0.05, lam_ridge=0.01, lr=0.1, epochs=1000,
penalty="GL"``) were picked on Lorenz-96 F = 10 seed 0 (``FAMILIES["lorenz96_f10"]`` at
its quick size: 16 shops, 10 nodes, T = 250) and then checked on F = 40 and the
nonmonotone family (quick size, seed 0) with ``python benchmarks/cmlp.py --family F
--lr L --epochs E --lam ...``. Per-shop AUROC measured (hidden 32, lags 5):

====================  ==========================================  ======  ======  ======
draw (seed 0, quick)  steps                                       lam .03 lam .05 lam .1
====================  ==========================================  ======  ======  ======
lorenz96_f10          lr 0.05, 1000 epochs (lam .003: 0.957,      0.992   --      0.960
                      .01: 0.970)
lorenz96_f10          lr 0.05, 2000 epochs (lam .02: 0.993)       0.997   0.997   --
lorenz96_f10          lr 0.1, 1000 epochs                         0.998   0.998   0.950
lorenz96_f40          lr 0.1, 1000 epochs                         0.798   0.826   0.864
nonmonotone           lr 0.1, 1000 epochs                         0.815   0.830   0.847
====================  ==========================================  ======  ======  ======

Why: ``lags = 5`` follows the paper's Lorenz-96 experiments; ``lr = 0.1`` with 1000
full-batch steps reaches what ``lr = 0.05`` reaches in 2000 (half the cost; it did not
diverge on any draw tried) and fewer steps were worse (500 steps at lr 0.05: 0.959 -
0.990); ``lam = 0.05`` ties 0.03 on the tuning draw (AUPRC 0.997 against 0.995) and
beats 0.1 there (a larger ``lam`` shrinks real inputs too), and the checks on F = 40
and nonmonotone (which prefer a larger ``lam``, 0.1 best of the three) hold with it: it
is better there than 0.03, so the tie was broken toward it. The hidden width is
smaller than the paper's 100 because the series are short (T = 100-250 against the
paper's 1000) and a call fits every shop's ``p`` networks on 1 CPU thread (about 0.5-1
s of fit per 10-node shop at T = 250 on an idle core). Not tuned: ``lam_ridge``,
``hidden``, the "H" penalty, other families. With few steps the group norms are rarely
exactly 0 (ISTA at a fixed step size approaches the sparse solution slowly), so the
score ranks by how much each input is used rather than by a lambda path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import standardize_masked

__all__ = ["cmlp_granger", "fit_cmlp", "group_soft_threshold", "hierarchical_prox",
           "lag_windows", "standardize"]

DEFAULTS = dict(lags=5, hidden=32, lam=0.05, lam_ridge=0.01, lr=0.1, epochs=1000,
                penalty="GL")
"""The settings :func:`cmlp_granger` and the robustness matrix use (why: module docstring)."""


# ------------------------------------------------------------------------------- data

# standardize: ``(z, m)`` each (shop, series) z-scored over its observed steps (common.py)
standardize = standardize_masked


def lag_windows(z: np.ndarray, m: np.ndarray, lags: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(inputs, target, keep)`` for ``t = lags..T-1``: ``inputs`` ``(shop, row, node,
    lag)`` with ``inputs[..., i, k-1] = z_i^{t-k}``, ``target`` ``(shop, row, node) =
    z^t``, ``keep`` bool ``(shop, row)``: the target step and every lag observed."""
    n_time = z.shape[1]
    inputs = np.stack([z[:, lags - k:n_time - k] for k in range(1, lags + 1)], axis=3)
    keep = m[:, lags:].copy()
    for k in range(1, lags + 1):
        keep &= m[:, lags - k:n_time - k]
    return inputs, z[:, lags:], keep


# ------------------------------------------------------------------------- prox maps

def group_soft_threshold(w, thresh: float, dims=(-3, -1)):
    """Proximal map of ``thresh * sum_groups ||w_group||_2`` (torch): every group (the
    entries sharing the indices outside ``dims``) is scaled by ``(1 - thresh / ||w_g||)_+``,
    so a group with norm ``<= thresh`` becomes exactly 0."""
    import torch

    norm = torch.linalg.vector_norm(w, dim=dims, keepdim=True)
    scale = torch.clamp(norm - thresh, min=0.0) / torch.clamp(norm, min=1e-30)
    return w * scale


def hierarchical_prox(w, thresh: float):
    """Proximal map of the hierarchical penalty on ``W1`` ``(..., hidden, p, K)``:
    ``thresh * sum_i sum_k ||W1[..., :, i, k:]||_2`` (nested groups, lag ``k+1..K``),
    applied from the smallest group (lag ``K`` alone) to the whole series (a loop over
    the ``K`` lags only)."""
    import torch

    n_lags = w.shape[-1]
    out = w.clone()
    for k in range(n_lags - 1, -1, -1):
        out = torch.cat([out[..., :k], group_soft_threshold(out[..., k:], thresh)], dim=-1)
    return out


# ---------------------------------------------------------------------------- fitting

def fit_cmlp(values: np.ndarray, mask: np.ndarray | None = None, *, lags: int = 5,
             hidden: int | tuple[int, ...] = 32, lam: float = 0.05, lam_ridge: float = 0.01,
             lr: float = 0.1, epochs: int = 1000, penalty: str = "GL", seed: int = 0,
             record_every: int = 100) -> dict:
    """Fit every shop's ``p`` cMLPs together (see the module docstring); returns a dict
    with ``scores`` ``(shop, cause, effect)`` (diagonal 0), ``W1`` ``(shop, target,
    hidden, cause, lag)``, ``loss`` (mean MSE over networks every ``record_every``
    epochs and at the end), ``mse`` ``(shop, target)`` at the end, ``seconds`` (wall),
    ``seconds_per_shop`` and ``active_share`` (share of off-diagonal groups not 0)."""
    import torch

    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ValueError(f"lags must be an integer >= 1, got {lags!r}")
    if penalty not in ("GL", "H"):
        raise ValueError(f"penalty must be 'GL' or 'H', got {penalty!r}")
    for name, v in (("lam", lam), ("lam_ridge", lam_ridge)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    widths = (int(hidden),) if np.isscalar(hidden) else tuple(int(h) for h in hidden)
    if not widths or min(widths) < 1:
        raise ValueError(f"hidden must be a positive width or tuple of widths, got {hidden!r}")
    t0 = time.perf_counter()
    z, m = standardize(values, mask)
    n_shops, n_time, p = z.shape
    if n_time <= lags:
        raise ValueError(f"lags must be < time = {n_time}, got {lags}")
    inputs, target, keep = lag_windows(z, m, lags)
    n_rows = inputs.shape[1]
    kw = keep.astype(float)
    count = keep.sum(1)
    dt = torch.float32
    x = torch.as_tensor((inputs * kw[:, :, None, None]).reshape(n_shops, n_rows, p * lags),
                        dtype=dt)  # (shop, row, cause * lag)
    y = torch.as_tensor(target * kw[:, :, None], dtype=dt)  # (shop, row, target)
    wrow = torch.as_tensor(kw / np.maximum(count, 1)[:, None], dtype=dt)  # mean over rows

    gen = torch.Generator().manual_seed(int(seed))

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return ((torch.rand(shape, generator=gen, dtype=dt) * 2 - 1) * bound).requires_grad_()

    h1 = widths[0]
    w1 = uniform((n_shops, p, h1, p, lags), p * lags)  # (shop, target, hidden, cause, lag)
    b1 = uniform((n_shops, p, h1), p * lags)
    mids = []  # further hidden layers: (shop, target, out, in)
    for h_in, h_out in zip(widths, widths[1:], strict=False):
        mids.append((uniform((n_shops, p, h_out, h_in), h_in), uniform((n_shops, p, h_out), h_in)))
    w_out = uniform((n_shops, p, widths[-1]), widths[-1])
    b_out = uniform((n_shops, p), widths[-1])
    smooth_params = [b1, *[t for layer in mids for t in layer], w_out, b_out]
    ridge_params = [w for w, _ in mids] + [w_out]

    def mse_per_net():
        w1_flat = w1.reshape(n_shops, p * h1, p * lags).transpose(1, 2)
        h = torch.relu(torch.bmm(x, w1_flat).reshape(n_shops, n_rows, p, h1) + b1[:, None])
        for w, b in mids:
            h = torch.relu(torch.einsum("srjh,sjoh->srjo", h, w) + b[:, None])
        out = torch.einsum("srjh,sjh->srj", h, w_out) + b_out[:, None]
        return (((out - y) ** 2) * wrow[:, :, None]).sum(1)  # (shop, target)

    prox = group_soft_threshold if penalty == "GL" else hierarchical_prox
    losses = []
    for epoch in range(int(epochs)):
        mse = mse_per_net()
        ridge = sum((w**2).sum() for w in ridge_params)
        total = mse.sum() + lam_ridge * ridge
        grads = torch.autograd.grad(total, [w1, *smooth_params])
        with torch.no_grad():
            for param, g in zip([w1, *smooth_params], grads, strict=True):
                param -= lr * g
            w1.copy_(prox(w1, lr * lam))
        if record_every and epoch % record_every == 0:
            losses.append(float(mse.detach().mean()))
    with torch.no_grad():
        mse = mse_per_net()
        losses.append(float(mse.mean()))
        norms = torch.linalg.vector_norm(w1, dim=(2, 4)).numpy().astype(float)
    scores = np.ascontiguousarray(norms.transpose(0, 2, 1))  # (shop, cause, effect)
    scores[count == 0] = 0.0
    off = ~np.eye(p, dtype=bool)
    active = float((scores[:, off] > 0).mean()) if p > 1 else 0.0
    scores[:, np.arange(p), np.arange(p)] = 0.0
    wall = time.perf_counter() - t0
    return {"scores": scores, "W1": w1.detach().numpy(), "loss": losses,
            "mse": mse.numpy().astype(float), "seconds": wall,
            "seconds_per_shop": wall / max(n_shops, 1), "active_share": active}


def cmlp_granger(values: np.ndarray, lags: int = DEFAULTS["lags"],
                 hidden: int | tuple[int, ...] = DEFAULTS["hidden"],
                 lam: float = DEFAULTS["lam"], epochs: int = DEFAULTS["epochs"],
                 seed: int = 0, mask: np.ndarray | None = None,
                 lr: float = DEFAULTS["lr"], lam_ridge: float = DEFAULTS["lam_ridge"],
                 penalty: str = DEFAULTS["penalty"]) -> np.ndarray:
    """cMLP Granger scores per shop, float ``(shop, cause, effect)``, diagonal 0: the
    group norms ``||W1^{(j)}[:, i, :]||_2`` of every shop's networks (module docstring).

    Args:
        values: float ``(shop, time, node)``.
        lags: number of lags ``K`` (>= 1, < time).
        hidden: width of the hidden layer, or a tuple of widths for several.
        lam: group-lasso weight on the first layer.
        epochs: full-batch proximal gradient steps.
        seed: seed of the weight initialisation.
        mask: bool ``(shop, time)``, True = observed; default all observed.
        lr: step size of the proximal gradient steps.
        lam_ridge: ridge weight on the layers after the first.
        penalty: ``"GL"`` (group lasso) or ``"H"`` (hierarchical over lags).
    """
    return fit_cmlp(values, mask, lags=lags, hidden=hidden, lam=lam, lam_ridge=lam_ridge,
                    lr=lr, epochs=epochs, penalty=penalty, seed=seed)["scores"]


# ------------------------------------------------------------------------------- tuning

def main(argv=None) -> int:
    """Per-shop AUROC of a grid of settings on one family draw (how DEFAULTS were picked)."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--family", default="lorenz96_f10")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="full size (default: quick size)")
    ap.add_argument("--lam", type=float, nargs="+", default=[DEFAULTS["lam"]])
    ap.add_argument("--lr", type=float, nargs="+", default=[DEFAULTS["lr"]])
    ap.add_argument("--hidden", type=int, nargs="+", default=[DEFAULTS["hidden"]])
    ap.add_argument("--epochs", type=int, nargs="+", default=[DEFAULTS["epochs"]])
    ap.add_argument("--lags", type=int, nargs="+", default=[DEFAULTS["lags"]])
    ap.add_argument("--lam-ridge", type=float, nargs="+", default=[DEFAULTS["lam_ridge"]])
    ap.add_argument("--penalty", nargs="+", default=[DEFAULTS["penalty"]])
    args = ap.parse_args(argv)
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from common import one_thread
    from robustness import draw, families

    from pyro_causalmmm.evaluation.calibration import ranking_metrics

    one_thread()
    spec = families()[0][args.family]
    data, truth, _ = draw(spec, args.seed, quick=not args.full)
    print(f"{args.family} seed {args.seed}: {data.n_shops} shops x {data.n_nodes} nodes x "
          f"{data.n_time} steps", flush=True)
    for pen in args.penalty:
        for lags in args.lags:
            for hidden in args.hidden:
                for lr in args.lr:
                    for lr_ in args.lam_ridge:
                        for epochs in args.epochs:
                            for lam in args.lam:
                                fit = fit_cmlp(data.values, data.mask, lags=lags, hidden=hidden,
                                               lam=lam, lam_ridge=lr_, lr=lr, epochs=epochs,
                                               penalty=pen, seed=args.seed)
                                r = ranking_metrics(fit["scores"], truth)
                                print(f"penalty={pen} lags={lags} hidden={hidden} lr={lr} "
                                      f"lam_ridge={lr_} epochs={epochs} lam={lam}: AUROC "
                                      f"{r['auroc_per_shop_mean']:.3f} AUPRC "
                                      f"{r['auprc_per_shop_mean']:.3f} active "
                                      f"{fit['active_share']:.2f} mse {fit['loss'][-1]:.3f} "
                                      f"({fit['seconds_per_shop']:.2f} s/shop)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
