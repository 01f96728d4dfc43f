"""Public API: ``CausalMMM(config).fit(data, train_config)``.

The class wires a :class:`MarketingMixData` to the Pyro model (``pyro_causalmmm.models``)
and the amortized guide (``pyro_causalmmm.guides``), trains them with
:func:`pyro_causalmmm.inference.training.fit`, and answers questions in the user's labels.
Nothing is trained in the constructor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyro
import torch

from pyro_causalmmm import __version__
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError, DataValidationError, ModelFileError
from pyro_causalmmm.guides import AmortizedGraphGuide
from pyro_causalmmm.inference.checkpoint import Checkpointing
from pyro_causalmmm.inference.training import FitResult, TrainConfig, fit
from pyro_causalmmm.io import atomic_write
from pyro_causalmmm.models import CausalMMMModel, ModelConfig, to_adjacency

WEIGHTS_FILE = "weights.pt"
META_FILE = "model.json"


class CausalMMM:
    """Per-shop causal graphs and forecasts for marketing-mix data.

    >>> mmm = CausalMMM(ModelConfig())                        # doctest: +SKIP
    >>> result = mmm.fit(data, TrainConfig(epochs=20))        # doctest: +SKIP
    >>> mmm.edge_probabilities(data)      # DataFrame shop, cause, effect, p_edge
    """

    def __init__(self, config: ModelConfig | None = None):
        self.config = config or ModelConfig()
        self.model: CausalMMMModel | None = None
        self.guide: AmortizedGraphGuide | None = None
        self.node_names: list[str] = []
        self.context_names: list[str] = []
        self.context_loc: np.ndarray | None = None
        self.context_scale: np.ndarray | None = None
        self.fit_result: FitResult | None = None
        self.edge_calibration: dict | None = None

    # ------------------------------------------------------------------ training

    def _build(self, n_nodes: int, n_context: int) -> None:
        self.model = CausalMMMModel(self.config, n_nodes, n_context)
        self.guide = AmortizedGraphGuide(self.config, n_nodes)

    def fit(
        self,
        data: MarketingMixData,
        train_config: TrainConfig | None = None,
        checkpointing: Checkpointing | None = None,
    ) -> FitResult:
        """Train on every shop of ``data`` (a validation split is taken from them if
        ``train_config.val_fraction > 0``); returns the :class:`FitResult`.
        ``checkpointing`` saves (and with ``resume`` restores) the training state, see
        :func:`pyro_causalmmm.inference.training.fit`."""
        cfg = train_config or TrainConfig()
        if data.n_time <= self.config.max_lag:
            raise DataValidationError(
                f"the longest shop has {data.n_time} steps; the model needs more than "
                f"{self.config.max_lag} (its lag window: --linear-lags "
                f"{self.config.linear_lags}, --message-window {self.config.message_window}). "
                "Use longer series or smaller lags"
            )
        pyro.clear_param_store()
        pyro.set_rng_seed(cfg.seed)
        self.node_names = list(data.node_names)
        self.context_names = list(data.context_names)
        self.context_loc = np.asarray(data.scaling.context_loc, dtype=np.float64)
        self.context_scale = np.asarray(data.scaling.context_scale, dtype=np.float64)
        self._build(data.n_nodes, data.n_context)
        tensors = self.tensors(data)
        if self.config.calibrate_edges and not self.config.full_graph:
            # empirical Bayes before SVI: the guide's evidence curve and the model's
            # graph prior (edge rate per effect node) from every shop's edges (no labels)
            self.edge_calibration = self.guide.calibrate(tensors[0], tensors[1])
            self.model.set_edge_rates(self.guide.edge_rate)
        self.fit_result = fit(self.model, self.guide, tensors, cfg, checkpointing=checkpointing)
        # inference and files run on the CPU; training may have used a GPU
        self.model.cpu()
        self.guide.cpu()
        # sigma by EM after SVI (see CausalMMMModel.calibrate_noise for why)
        adj = torch.tensor(self.edge_probability_array(data), dtype=torch.float32)
        self.model.calibrate_noise(*tensors, adj)
        return self.fit_result

    # ------------------------------------------------------------------ data

    def _check_fitted(self) -> None:
        if self.model is None:
            raise ModelFileError("the model is not fitted: call fit(data) or CausalMMM.load(dir)")

    def _check_columns(self, data: MarketingMixData) -> None:
        """Data must have the model's nodes and context, in the same order."""
        for what, have, want in (
            ("node", list(data.node_names), self.node_names),
            ("context", list(data.context_names), self.context_names),
        ):
            if have == want:
                continue
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            if missing or extra:
                diff = "; ".join(
                    part
                    for part in (
                        f"missing {missing}" if missing else "",
                        f"not in the model {extra}" if extra else "",
                    )
                    if part
                )
            else:
                diff = f"same columns in another order: model {want}, data {have}"
            raise ModelFileError(
                f"data columns differ from the model's {what} columns: {diff}. Pass the same "
                "--channels/--target/--context as when fitting"
            )

    def tensors(self, data: MarketingMixData) -> tuple[torch.Tensor, ...]:
        """``(values, mask, context)`` for the model: per-shop scaled values
        ``(shop, time, node)``, mask ``(shop, time)``, context ``(shop, time, context)``
        scaled with the *training* context scaling (so a new shop's context means the same)."""
        values = torch.tensor(data.scaled_values, dtype=torch.float32)
        mask = torch.tensor(data.mask, dtype=torch.bool)
        ctx = (data.context - self.context_loc) / self.context_scale
        ctx = ctx * data.mask[..., None]
        return values, mask, torch.tensor(ctx, dtype=torch.float32)

    # ------------------------------------------------------------------ inference

    def edge_probability_array(self, data: MarketingMixData, chunk_size: int = 16) -> np.ndarray:
        """Posterior edge probabilities ``(shop, cause, effect)`` (zero diagonal), one
        encoder pass per chunk of shops (no retraining for new shops). Small chunks are
        fastest per shop: the per-edge Bayes-factor tensors of a chunk stay in cache
        (measured on one core: 3.8 ms/shop at 8, 5.9 at 32, 16 at 512)."""
        self._check_fitted()
        self._check_columns(data)
        values, mask, _ = self.tensors(data)
        n = data.n_nodes
        if self.config.full_graph:
            return np.broadcast_to(1 - np.eye(n), (data.n_shops, n, n)).copy()
        out = []
        self.guide.eval()
        with torch.no_grad():
            for x, m in zip(values.split(chunk_size), mask.split(chunk_size), strict=True):
                # sigmoid in float64: float32 rounds logits above ~17 to exactly 1.0, which
                # would tie confident edges and blur their ranking
                logits = self.guide.edge_logits(x, m).double()
                out.append(to_adjacency(torch.sigmoid(logits), n))
        return torch.cat(out).numpy()

    def edge_evidence_array(self, data: MarketingMixData, chunk_size: int = 16) -> np.ndarray:
        """The guide's untrained edge evidence ``(shop, cause, effect)`` (zero diagonal): the
        closed-form statistic its logits start from, before any learned correction. Higher
        means more evidence for the edge; only its ranking is meaningful (benchmarks check
        that training never ranks edges below it)."""
        self._check_fitted()
        self._check_columns(data)
        values, mask, _ = self.tensors(data)
        n = data.n_nodes
        out = []
        with torch.no_grad():
            for x, m in zip(values.split(chunk_size), mask.split(chunk_size), strict=True):
                out.append(self.guide.edge_evidence(x, m).double() * (1 - torch.eye(n)))
        return torch.cat(out).numpy()

    def iter_edge_probabilities(self, data: MarketingMixData, chunk_size: int = 512):
        """Yield the long table of :meth:`edge_probabilities` chunk by chunk of shops (one
        encoder pass each), so memory stays bounded by ``chunk_size`` shops."""
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        for start in range(0, data.n_shops, chunk_size):
            idx = list(range(start, min(start + chunk_size, data.n_shops)))
            yield self.edge_probabilities(data.subset(idx))

    def edge_probabilities(self, data: MarketingMixData) -> pd.DataFrame:
        """Long table ``shop, cause, effect, p_edge`` (off-diagonal only, the user's labels);
        ``p_edge`` is the posterior probability that ``cause`` Granger-causes ``effect``."""
        p = self.edge_probability_array(data)
        n = data.n_nodes
        cause, effect = np.nonzero(~np.eye(n, dtype=bool))
        names = np.asarray(self.node_names, dtype=object)
        return pd.DataFrame(
            {
                "shop": np.repeat(np.asarray(data.shop_ids, dtype=object), len(cause)),
                "cause": np.tile(names[cause], data.n_shops),
                "effect": np.tile(names[effect], data.n_shops),
                "p_edge": p[:, cause, effect].reshape(-1),
            }
        )

    def predict_one_step(
        self, data: MarketingMixData, fit_mask: np.ndarray | None = None
    ) -> np.ndarray:
        """One-step-ahead posterior-mean predictions ``(shop, time, node)`` in the model's
        scaled units (use ``data.scaling.inverse`` for the user's), with the graph at its
        posterior edge probabilities. The linear term's coefficients are the posterior
        mean given the steps where ``fit_mask`` ``(shop, time)`` is true (default: all
        observed steps), so held-out steps can be scored honestly."""
        self._check_fitted()
        self._check_columns(data)
        values, mask, ctx = self.tensors(data)
        fit_rows = None if fit_mask is None else torch.as_tensor(fit_mask, dtype=torch.bool)
        adj = torch.tensor(self.edge_probability_array(data), dtype=torch.float32)
        self.model.eval()
        with torch.no_grad():
            pred = self.model.predict_mean(values, mask, ctx, adj, fit_rows)
        return pred.double().numpy()

    # ------------------------------------------------------------------ files

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/weights.pt`` (tensors only) and ``directory/model.json``
        (package version, config, node and context names, context scaling)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            **{f"model.{k}": v for k, v in self.model.state_dict().items()},
            **{f"guide.{k}": v for k, v in self.guide.state_dict().items()},
        }
        atomic_write(directory / WEIGHTS_FILE, lambda p: torch.save(state, p))
        meta = {
            "package": "pyro_causalmmm",
            "version": __version__,
            "config": self.config.to_dict(),
            "node_names": self.node_names,
            "context_names": self.context_names,
            "context_loc": self.context_loc.tolist(),
            "context_scale": self.context_scale.tolist(),
        }
        atomic_write(directory / META_FILE, lambda p: p.write_text(json.dumps(meta, indent=2)))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CausalMMM:
        """Load a model written by :meth:`save`. Weights are read with
        ``torch.load(weights_only=True)``, so a crafted file cannot run code."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text())
            state = torch.load(directory / WEIGHTS_FILE, weights_only=True)
            self = cls(ModelConfig.from_dict(meta["config"]))
            self.node_names = list(meta["node_names"])
            self.context_names = list(meta["context_names"])
            self.context_loc = np.asarray(meta["context_loc"], dtype=np.float64)
            self.context_scale = np.asarray(meta["context_scale"], dtype=np.float64)
        except FileNotFoundError as exc:
            raise ModelFileError(
                f"{directory} is not a saved model: {exc.filename} is missing"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise ModelFileError(f"cannot load model from {directory}: {exc!r}") from exc
        self._build(len(self.node_names), len(self.context_names))
        model_state = {k[6:]: v for k, v in state.items() if k.startswith("model.")}
        # a 0.1 model has no learned graph prior: its prior was the fixed prior_edge_prob
        model_state.setdefault("prior_logits", self.model.prior_logits.clone())
        try:
            self.model.load_state_dict(model_state)
            self.guide.load_state_dict(
                {k[6:]: v for k, v in state.items() if k.startswith("guide.")}
            )
        except RuntimeError as exc:  # shapes or names differ: another version's networks
            raise ModelFileError(
                f"cannot load model from {directory}: it was saved by pyro_causalmmm "
                f"{meta.get('version', '?')}, whose networks differ from this version "
                f"({__version__}); refit it with `causalmmm fit`"
            ) from exc
        return self
