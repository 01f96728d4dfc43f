"""Graph-usefulness diagnostic: does the decoder's fit need the graph?

DESIGN.md ("Measured risk") asks to check the decoder before the edges: trained with
the *true* graph, its held-out one-step error must clearly beat the same model trained
with *no* edges, and approach a per-shop ridge VAR. Edges cannot be learned from a
likelihood that does not need them.

:func:`graph_usefulness` trains the same :class:`~pyro_causalmmm.models.CausalMMMModel`
three times, each with the graph site ``z`` fixed (true graph, no edges, every
off-diagonal edge), and scores one-step-ahead predictions on the last ``holdout``
steps of every shop next to a per-shop ridge VAR (:func:`ridge_var_one_step`) and the
last-value forecast. All errors are in the model's scaled units
(``MarketingMixData.scaled_values``: channels z-scored per shop, target min-max to
[0.1, 0.9] per shop; the scaling is computed on the whole series, the same for every
method).

Fixing the graph. The model is wrapped as
``poutine.block(poutine.condition(model, {"z": edges}), hide=["z"])``: ``condition``
sets ``z`` to the exact 0/1 edges (the decoder and the gated linear term see the exact
graph in training and prediction) and ``block`` keeps the site out of the ELBO. Its
prior log-density does not depend on any parameter, so dropping it changes no gradient;
at exact 0/1 the relaxed-Bernoulli density is a large clamped constant (about
``lam * 5e4`` per shop at lambda 100), which would only swamp the reported loss. The
guide has no sample site: it only opens the ``shops`` plate.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pyro
import torch
from pyro import poutine

from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError, DataValidationError
from pyro_causalmmm.inference.training import TrainConfig, fit
from pyro_causalmmm.models import CausalMMMModel, ModelConfig, from_adjacency

__all__ = [
    "GRAPHS",
    "GraphUsefulness",
    "graph_usefulness",
    "holdout_masks",
    "last_value_one_step",
    "ridge_var_one_step",
]

#: The fixed graphs compared, in report order.
GRAPHS = ("true_graph", "no_edges", "full_graph")
#: Every forecaster in the report, in table order.
METHODS = (*GRAPHS, "ridge_var", "last_value")


@dataclass(frozen=True)
class GraphUsefulness:
    """Held-out one-step MSE of the decoder with fixed graphs, next to linear baselines.

    Attributes:
        mse_true_graph, mse_no_edges, mse_full_graph: the model trained and predicting
            with the true graph, with no edges, with every off-diagonal edge; mean squared
            one-step error over shop, held-out step and node (scaled units).
        mse_ridge_var: per-shop ridge VAR (:func:`ridge_var_one_step`) on the same cells.
        mse_last_value: last-value forecast ``x^t = x^{t-1}`` on the same cells.
        target_mse: the same five errors on the target node only, keyed by
            ``true_graph, no_edges, full_graph, ridge_var, last_value``.
        per_node: per method (same keys), node name -> MSE.
        seconds: wall time of the whole diagnostic (three fits plus baselines).
        fit_seconds: training wall time per fixed graph.
        n_shops: shops scored. holdout: held-out steps per shop.
        node_names: node order (channels, then the target).
    """

    mse_true_graph: float
    mse_no_edges: float
    mse_full_graph: float
    mse_ridge_var: float
    mse_last_value: float
    target_mse: dict[str, float]
    per_node: dict[str, dict[str, float]]
    seconds: float
    fit_seconds: dict[str, float]
    n_shops: int
    holdout: int
    node_names: tuple[str, ...] = field(default=())

    @property
    def true_graph_gain(self) -> float:
        """``(mse_no_edges - mse_true_graph) / mse_no_edges``: share of the no-edge error
        the true graph removes (> 0: the graph helps)."""
        return (self.mse_no_edges - self.mse_true_graph) / self.mse_no_edges

    @property
    def target_true_graph_gain(self) -> float:
        """:attr:`true_graph_gain` on the target node only."""
        no_edges = self.target_mse["no_edges"]
        return (no_edges - self.target_mse["true_graph"]) / no_edges

    def mse(self, method: str) -> float:
        """All-node MSE of ``method`` (one of ``METHODS``)."""
        return float(getattr(self, f"mse_{method}"))

    def verdict(self) -> str:
        """One line: whether the true graph helps, with both errors and the gain."""
        helps = "helps" if self.true_graph_gain > 0 else "does NOT help"
        return (
            f"true graph {helps}: MSE {self.mse_true_graph:.4f} vs {self.mse_no_edges:.4f} "
            f"with no edges (gain {100 * self.true_graph_gain:.1f}%)"
        )

    def table(self) -> str:
        """Plain-text table: method, held-out one-step MSE (all nodes), target MSE."""
        labels = {
            "true_graph": "true graph",
            "no_edges": "no edges",
            "full_graph": "full graph",
            "ridge_var": "ridge VAR (per shop)",
            "last_value": "last value",
        }
        lines = [f"{'graph':<22}{'MSE all nodes':>15}{'MSE target':>13}"]
        for method in METHODS:
            lines.append(
                f"{labels[method]:<22}{self.mse(method):>15.4f}{self.target_mse[method]:>13.4f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready dict of every field plus ``true_graph_gain`` and the target gain."""
        out = dataclasses.asdict(self)
        out["node_names"] = list(self.node_names)
        out["true_graph_gain"] = self.true_graph_gain
        out["target_true_graph_gain"] = self.target_true_graph_gain
        return out


# ----------------------------------------------------------------------------- baselines


def holdout_masks(mask: np.ndarray, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit_mask, eval_mask)`` ``(shop, time)``: each shop's last ``holdout`` observed
    steps are held out (``eval_mask``), its earlier observed steps are for fitting."""
    m = np.asarray(mask, dtype=bool)
    rank = np.cumsum(m, axis=1) - 1  # index of each observed step within its shop
    n_obs = m.sum(axis=1, keepdims=True)
    fit_mask = m & (rank < n_obs - holdout)
    return fit_mask, m & ~fit_mask


def _lag_stack(x: np.ndarray, mask: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Lagged design ``(shop, time, lags * node)`` (block ``l-1`` holds ``x^{t-l}``) and
    ``(shop, time)``: whether all ``lags`` previous steps are observed."""
    n_shops, n_time, n_nodes = x.shape
    design = np.zeros((n_shops, n_time, lags * n_nodes))
    complete = np.zeros((n_shops, n_time), dtype=bool)
    complete[:, lags:] = True
    for lag in range(1, lags + 1):
        design[:, lag:, (lag - 1) * n_nodes : lag * n_nodes] = x[:, : n_time - lag]
        complete[:, lag:] &= mask[:, : n_time - lag]
    return design, complete


def ridge_var_one_step(
    values: np.ndarray,
    fit_mask: np.ndarray,
    mask: np.ndarray | None = None,
    lags: int = 3,
    alpha: float = 1.0,
) -> np.ndarray:
    """One-step-ahead predictions of a per-shop ridge VAR, float ``(shop, time, node)``.

    For each shop, values are centred by their mean ``m`` over the fitting steps and

        x^t - m = sum_{l=1..L} B_l^T (x^{t-l} - m) + e,
        B = (X^T X + alpha I)^{-1} X^T Y      (rows: fitting steps t with L observed lags)

    is solved for all shops at once (batched normal equations). ``pred[:, t]`` predicts
    ``x[:, t]`` from the observed ``x[:, t-L:t]`` (teacher forcing); it is ``nan`` where
    a lag is missing (``t < L`` or masked).

    Args:
        values: float ``(shop, time, node)``, e.g. ``MarketingMixData.scaled_values``.
        fit_mask: bool ``(shop, time)``, steps whose rows fit the coefficients.
        mask: bool ``(shop, time)``, observed steps (default: all).
        lags: ``L`` (>= 1, < time). alpha: ridge penalty (>= 0).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 3:
        raise DataValidationError(f"values must be (shop, time, node), got shape {x.shape}")
    m = np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    fm = np.asarray(fit_mask, dtype=bool)
    if m.shape != x.shape[:2] or fm.shape != x.shape[:2]:
        raise DataValidationError(
            f"mask and fit_mask must be (shop, time) = {x.shape[:2]}, got {m.shape}, {fm.shape}"
        )
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ConfigError(f"lags must be an integer >= 1, got {lags!r}")
    if lags >= x.shape[1]:
        raise ConfigError(f"lags must be < time = {x.shape[1]}, got {lags}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ConfigError(f"alpha must be a finite number >= 0, got {alpha!r}")
    m = m & np.all(np.isfinite(x), axis=2)
    fm = fm & m
    w = fm[:, :, None].astype(float)
    count = np.maximum(w.sum(1, keepdims=True), 1.0)
    centre = np.where(w > 0, x, 0.0).sum(1, keepdims=True) / count
    xc = np.where(m[:, :, None], x - centre, 0.0)
    design, complete = _lag_stack(xc, m, lags)
    rows = (fm & complete)[:, :, None].astype(float)
    n_coef = design.shape[-1]
    gram = np.einsum("ntp,ntq->npq", design * rows, design) + (alpha + 1e-8) * np.eye(n_coef)
    rhs = np.einsum("ntp,ntj->npj", design * rows, xc)
    coef = np.linalg.solve(gram, rhs)  # (shop, lags * node, node)
    pred = centre + np.einsum("ntp,npj->ntj", design, coef)
    return np.where(complete[:, :, None], pred, np.nan)


def last_value_one_step(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Naive forecast ``pred[:, t] = x[:, t-1]`` ``(shop, time, node)``; ``nan`` at
    ``t = 0`` and where the previous step is not observed."""
    x = np.asarray(values, dtype=float)
    m = np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    pred = np.full_like(x, np.nan)
    pred[:, 1:] = np.where(m[:, :-1, None], x[:, :-1], np.nan)
    return pred


# ----------------------------------------------------------------------------- decoder


def _empty_guide(values, mask, context, subsample=None) -> None:
    """Guide with no latent site: the graph is fixed, only the plate is opened."""
    with pyro.plate("shops", values.shape[0], subsample=subsample):
        pass


def _fixed_graph_model(model: CausalMMMModel, edges: torch.Tensor):
    """``model.model`` with ``z`` fixed to ``edges`` ``(shop, edge)`` (the mini-batch's
    rows) and left out of the ELBO (see the module docstring)."""

    def fixed(values, mask, context, subsample=None):
        z = edges if subsample is None else edges[subsample]
        with poutine.block(hide=["z"]), poutine.condition(data={"z": z}):
            model.model(values, mask, context, subsample)

    return fixed


def _fit_fixed_graph(
    adjacency: np.ndarray,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    full: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    fit_rows: torch.Tensor,
    model_config: ModelConfig,
    train_config: TrainConfig,
) -> tuple[np.ndarray, float]:
    """Train a fresh model with the graph fixed to ``adjacency`` on ``tensors`` (the
    fitting steps); return its one-step predictions on ``full`` and the fit seconds."""
    values, mask, context = full
    pyro.clear_param_store()
    pyro.set_rng_seed(train_config.seed)  # same initial weights for every graph
    model = CausalMMMModel(model_config, values.shape[-1], context.shape[-1])
    adj = torch.tensor(adjacency, dtype=torch.float32)
    fixed = _fixed_graph_model(model, from_adjacency(adj))
    result = fit(fixed, _empty_guide, tensors, train_config)
    model.eval()
    with torch.no_grad():
        pred = model.predict_mean(values, mask, context, adj, fit_rows)
    return pred.double().numpy(), result.seconds


def _as_data(source) -> tuple[MarketingMixData, np.ndarray]:
    from pyro_causalmmm.simulate import Simulation

    if isinstance(source, Simulation):
        data = MarketingMixData.from_frame(
            source.frame, target="gmv", context=list(source.context_names)
        )
        return data, np.asarray(source.adjacency)
    raise DataValidationError(
        "graph_usefulness needs a Simulation, or MarketingMixData with adjacency=..., got "
        f"{type(source).__name__}"
    )


def graph_usefulness(
    source,
    model_config: ModelConfig,
    train_config: TrainConfig,
    holdout: int = 20,
    adjacency: np.ndarray | None = None,
) -> GraphUsefulness:
    """Held-out one-step MSE of the decoder with the true graph, no edges and the full
    graph, next to a per-shop ridge VAR and the last-value forecast.

    Args:
        source: a :class:`~pyro_causalmmm.simulate.Simulation` (its true graphs are
            used), or a :class:`MarketingMixData` together with ``adjacency``.
        model_config: the configuration diagnosed (``full_graph`` is ignored: the graph
            is fixed here).
        train_config: training settings of each of the three fits; ``seed`` seeds them
            all (same initial weights for every graph).
        holdout: last observed steps of each shop that are scored, never trained on.
        adjacency: ``(shop, cause, effect)`` 0/1 true graphs, only with MarketingMixData.

    Each model trains on the fitting steps only (held-out values are zeroed and masked,
    so nothing leaks); the prediction is teacher-forced, with the linear term's
    coefficients fit on the fitting steps (``CausalMMMModel.predict_mean``). Scored
    cells: every node at every held-out step.
    """
    t0 = time.perf_counter()
    if isinstance(source, MarketingMixData):
        if adjacency is None:
            raise DataValidationError("graph_usefulness(MarketingMixData) needs adjacency=...")
        data, truth = source, np.asarray(adjacency)
    else:
        data, truth = _as_data(source)
    n_nodes = data.n_nodes
    if truth.shape != (data.n_shops, n_nodes, n_nodes):
        raise DataValidationError(
            f"adjacency must be (shop, cause, effect) = {(data.n_shops, n_nodes, n_nodes)}, "
            f"got {truth.shape}"
        )
    model_config = dataclasses.replace(model_config, full_graph=False)
    lags = model_config.linear_lags or 3
    min_fit = max(model_config.max_lag, lags) + 2
    n_obs = data.mask.sum(axis=1)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, np.integer)) or holdout < 1:
        raise ConfigError(f"holdout must be an integer >= 1, got {holdout!r}")
    if int(n_obs.min()) - holdout < min_fit:
        raise ConfigError(
            f"holdout={holdout} leaves the shortest shop ({int(n_obs.min())} steps) fewer "
            f"than {min_fit} fitting steps; lower holdout"
        )
    fit_mask, eval_mask = holdout_masks(data.mask, holdout)

    x = np.asarray(data.scaled_values, dtype=float)
    ctx = (data.context - data.scaling.context_loc) / data.scaling.context_scale
    ctx = ctx * data.mask[..., None]
    full = (
        torch.tensor(x, dtype=torch.float32),
        torch.tensor(data.mask, dtype=torch.bool),
        torch.tensor(ctx, dtype=torch.float32),
    )
    n_train = int(np.flatnonzero(fit_mask.any(axis=0)).max()) + 1
    fm = torch.tensor(fit_mask)
    train = (
        (full[0] * fm[..., None])[:, :n_train],
        fm[:, :n_train],
        (full[2] * fm[..., None])[:, :n_train],
    )

    off = 1 - np.eye(n_nodes)
    graphs = {
        "true_graph": truth * off,
        "no_edges": np.zeros_like(truth, dtype=float),
        "full_graph": np.broadcast_to(off, truth.shape).copy(),
    }
    preds, fit_seconds = {}, {}
    for name in GRAPHS:
        preds[name], fit_seconds[name] = _fit_fixed_graph(
            graphs[name], train, full, fm, model_config, train_config
        )
    preds["ridge_var"] = ridge_var_one_step(x, fit_mask, data.mask, lags=lags, alpha=1.0)
    preds["last_value"] = last_value_one_step(x, data.mask)

    sq = {name: (p - x) ** 2 for name, p in preds.items()}
    cells = eval_mask[:, :, None] & np.ones(n_nodes, dtype=bool)
    for name, err in sq.items():
        if not np.all(np.isfinite(err[cells])):
            raise DataValidationError(f"{name} predictions are not finite on held-out steps")
    node_names = tuple(data.node_names)
    target = data.target_index
    per_node = {
        name: {node: float(err[:, :, j][eval_mask].mean()) for j, node in enumerate(node_names)}
        for name, err in sq.items()
    }
    overall = {name: float(err[cells].mean()) for name, err in sq.items()}
    return GraphUsefulness(
        mse_true_graph=overall["true_graph"],
        mse_no_edges=overall["no_edges"],
        mse_full_graph=overall["full_graph"],
        mse_ridge_var=overall["ridge_var"],
        mse_last_value=overall["last_value"],
        target_mse={name: float(sq[name][:, :, target][eval_mask].mean()) for name in METHODS},
        per_node=per_node,
        seconds=time.perf_counter() - t0,
        fit_seconds=fit_seconds,
        n_shops=data.n_shops,
        holdout=holdout,
        node_names=node_names,
    )
