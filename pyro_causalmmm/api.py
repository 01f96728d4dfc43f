"""Public API: ``CausalMMM(config).fit(data, train_config)``.

The class wires a :class:`MarketingMixData` to the Pyro model (``pyro_causalmmm.models``)
and the amortized guide (``pyro_causalmmm.guides``), trains them with
:func:`pyro_causalmmm.inference.training.fit`, and answers questions in the user's labels.
Nothing is trained in the constructor.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyro
import torch

from pyro_causalmmm import __version__
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.data.calendar import calendar_days, future_days, step_days
from pyro_causalmmm.errors import ConfigError, DataValidationError, ModelFileError
from pyro_causalmmm.guides import AmortizedGraphGuide
from pyro_causalmmm.inference.checkpoint import Checkpointing
from pyro_causalmmm.inference.training import FitResult, TrainConfig, fit
from pyro_causalmmm.io import atomic_write
from pyro_causalmmm.models import CausalMMMModel, ModelConfig, to_adjacency
from pyro_causalmmm.models.baseline import CalendarBasis, evidence_columns, fit_calendar
from pyro_causalmmm.models.design import same_period_columns
from pyro_causalmmm.models.pooling import set_effect_priors
from pyro_causalmmm.models.response import fit_response_shapes, spend_cv

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
        self.calendar: CalendarBasis | None = None
        self.same_period_nodes: list[int] = []
        self.same_period_rank: list[int] = []
        self.response_nodes: list[int] = []
        self.response_shapes: dict = {}

    # ------------------------------------------------------------------ training

    def _build(self, n_nodes: int, n_context: int) -> None:
        """Networks for ``n_nodes`` nodes and ``n_context`` context columns, of which the
        ``config.controls`` are baseline controls (with the calendar columns)."""
        n_ctrl = len(self.config.controls)
        n_cal = 0 if self.calendar is None else self.calendar.width
        same = tuple(self.same_period_nodes)
        resp = tuple(self.response_nodes)
        rank = tuple(self.same_period_rank)
        self.model = CausalMMMModel(
            self.config, n_nodes, n_context - n_ctrl, n_ctrl + n_cal, same, resp, rank
        )
        exog = evidence_columns(self.config.evidence_calendar, n_context, n_ctrl, self.calendar)
        self.guide = AmortizedGraphGuide(self.config, n_nodes, same, rank, exog)

    def prepare(self, data: MarketingMixData) -> tuple[torch.Tensor, ...]:
        """Everything ``fit`` does before SVI: names and scaling taken from ``data``, the
        inputs resolved (:meth:`_resolve_inputs`), fresh networks, and with calibrated
        edges the empirical-Bayes evidence curve and edge rates. With the default
        ``correction_bound = 0`` the edge probabilities are final after this step (SVI
        fits the decoder and the linear term). Returns the model's tensors."""
        self.node_names = list(data.node_names)
        self.context_names = list(data.context_names)
        self.context_loc = np.asarray(data.scaling.context_loc, dtype=np.float64)
        self.context_scale = np.asarray(data.scaling.context_scale, dtype=np.float64)
        self._resolve_inputs(data)
        self._build(data.n_nodes, data.n_context)
        tensors = self.tensors(data)
        if self.config.calibrate_edges and not self.config.full_graph:
            # empirical Bayes before SVI: the guide's evidence curve and the model's
            # graph prior (edge rate per effect node) from every shop's edges (no labels)
            self.edge_calibration = self.guide.calibrate(*tensors[:3])
            self.model.set_edge_rates(self.guide.edge_rate)
        if self.model.layout.n_resp:  # the spends' response shapes, before SVI
            p_edge = torch.tensor(self.edge_probability_array(data), dtype=torch.float32)
            self.response_shapes = fit_response_shapes(self.model, *tensors, p_edge)
        return tensors

    def _resolve_inputs(self, data: MarketingMixData) -> None:
        """Controls checked, ``same_period`` resolved from the data's step ("auto":
        "funnel" for a step of 7 days or more, else "off"), the calendar columns fitted to
        the training panel."""
        cfg = self.config
        if not cfg.controls and data.control_names:  # the data's controls (its roles)
            cfg = dataclasses.replace(cfg, controls=tuple(data.control_names))
        missing = [c for c in cfg.controls if c not in data.context_names]
        if missing:
            raise DataValidationError(
                f"control column(s) {missing} are not among the data's context columns "
                f"{list(data.context_names)}; pass them with --controls (which reads them)"
            )
        days = step_days(data.freq)
        if cfg.same_period == "auto":  # benchmarks/notes.md: "funnel" won on weekly data
            on = days is not None and days >= 7 - 1e-9
            cfg = dataclasses.replace(cfg, same_period="funnel" if on else "off")
        self.config = cfg
        spend = set(data.spend_names)
        mode = cfg.same_period if cfg.linear_lags > 0 else "off"
        self.same_period_nodes, self.same_period_rank = same_period_columns(
            list(data.node_names), spend, mode
        )
        hill = cfg.response == "hill" and cfg.linear_lags > 0
        self.response_nodes = [i for i, n in enumerate(data.node_names) if hill and n in spend]
        self.calendar = None
        if cfg.linear_lags > 0:
            day = calendar_days(data)
            self.calendar = fit_calendar(day, data.mask, days, cfg.seasonality, cfg.trend)

    def _context_order(self) -> list[int]:
        """Context columns as the model reads them: S-curve columns, then controls."""
        names = self.context_names
        ctrl = set(self.config.controls)
        keep = [i for i, n in enumerate(names) if n not in ctrl]
        return keep + [names.index(c) for c in self.config.controls]

    def _model_context(
        self, ctx_user: np.ndarray, day: np.ndarray, mask: np.ndarray, data: MarketingMixData
    ):
        """``(shop, time, n_context + n_exog [+ node])`` float32 model context from
        user-unit context ``(shop, time, context)`` and calendar positions ``day``
        ``(shop, time)``; with the saturating response, each node's coefficient of
        variation in ``data`` per shop last (:func:`models.response.spend_cv`)."""
        ctx = (ctx_user - self.context_loc) / self.context_scale
        ctx = ctx[..., self._context_order()] * mask[..., None]
        if self.calendar is not None:
            cal = self.calendar.columns(day) * mask[..., None]
            ctx = np.concatenate([ctx, cal], axis=-1)
        if self.model is not None and self.model.layout.n_resp:
            cv = np.broadcast_to(spend_cv(data)[:, None, :], (*ctx.shape[:2], data.n_nodes))
            ctx = np.concatenate([ctx, cv], axis=-1)
        return torch.tensor(ctx, dtype=torch.float32)

    def future_context_tensor(
        self, data: MarketingMixData, future_context_user: np.ndarray
    ) -> torch.Tensor:
        """Model context of the steps after each shop's last one: ``future_context_user``
        ``(shop, horizon, context)`` in user units plus the calendar columns of the future
        dates (the trend extrapolated, seasonality repeated)."""
        horizon = future_context_user.shape[1]
        day = future_days(data, horizon)
        return self._model_context(
            future_context_user, day, np.ones(day.shape, dtype=bool), data
        )

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
        tensors = self.prepare(data)
        self.fit_result = fit(self.model, self.guide, tensors, cfg, checkpointing=checkpointing)
        # inference and files run on the CPU; training may have used a GPU
        self.model.cpu()
        self.guide.cpu()
        # sigma by EM after SVI (see CausalMMMModel.calibrate_noise for why)
        adj = torch.tensor(self.edge_probability_array(data), dtype=torch.float32)
        self.model.calibrate_noise(*tensors, adj)
        spends = [self.node_names.index(c) for c in data.spend_names]
        set_effect_priors(self.model, *tensors, adj, spends)  # models.pooling
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
            parts = [f"missing {missing}"] * bool(missing)
            parts += [f"not in the model {extra}"] * bool(extra)
            diff = "; ".join(parts) or f"same columns in another order: model {want}, data {have}"
            raise ModelFileError(
                f"data columns differ from the model's {what} columns: {diff}. Pass the same "
                "--channels/--target/--context as when fitting"
            )

    def tensors(self, data: MarketingMixData) -> tuple[torch.Tensor, ...]:
        """``(values, mask, context)``: per-shop scaled values ``(shop, time, node)``, mask
        ``(shop, time)``, context ``(shop, time, context)`` in the *training* scaling."""
        values, mask = self._values_mask(data)
        day = calendar_days(data) if self.calendar is not None else None
        return values, mask, self._model_context(data.context, day, data.mask, data)

    @staticmethod
    def _values_mask(data: MarketingMixData) -> tuple[torch.Tensor, torch.Tensor]:
        """The first two of :meth:`tensors`."""
        return torch.tensor(data.scaled_values, dtype=torch.float32), torch.tensor(data.mask)

    # ------------------------------------------------------------------ inference

    def edge_probability_array(self, data: MarketingMixData, chunk_size: int = 16) -> np.ndarray:
        """Posterior edge probabilities ``(shop, cause, effect)`` (zero diagonal), one
        encoder pass per chunk of shops (no retraining for new shops). Small chunks are
        fastest per shop: the per-edge Bayes-factor tensors of a chunk stay in cache
        (measured on one core: 3.8 ms/shop at 8, 5.9 at 32, 16 at 512)."""
        self._check_fitted()
        self._check_columns(data)
        n = data.n_nodes
        if self.config.full_graph:
            return np.broadcast_to(1 - np.eye(n), (data.n_shops, n, n)).copy()
        out = []
        if self.guide.training:
            self.guide.eval()
        with torch.no_grad():
            for x, m, c in self._evidence_chunks(data, chunk_size):
                # sigmoid in float64: float32 rounds logits above ~17 to exactly 1.0, which
                # would tie confident edges and blur their ranking
                logits = self.guide.edge_logits(x, m, c).double()
                out.append(to_adjacency(torch.sigmoid(logits), n))
        return torch.cat(out).numpy()

    def edge_evidence_array(self, data: MarketingMixData, chunk_size: int = 16) -> np.ndarray:
        """The guide's untrained edge evidence ``(shop, cause, effect)`` (zero diagonal): the
        closed-form statistic its logits start from (higher: more evidence; ranking only)."""
        self._check_fitted()
        self._check_columns(data)
        n = data.n_nodes
        out = []
        with torch.no_grad():
            for x, m, c in self._evidence_chunks(data, chunk_size):
                out.append(self.guide.edge_evidence(x, m, c).double() * (1 - torch.eye(n)))
        return torch.cat(out).numpy()

    def _evidence_chunks(self, data: MarketingMixData, chunk_size: int):
        """``(values, mask, context)`` chunks of shops for the guide (context None unless
        its evidence reads the model's baseline columns)."""
        if self.guide.exog_cols:
            values, mask, ctx = self.tensors(data)
            yield from zip(*(t.split(chunk_size) for t in (values, mask, ctx)), strict=True)
        else:
            values, mask = self._values_mask(data)
            for x, m in zip(values.split(chunk_size), mask.split(chunk_size), strict=True):
                yield x, m, None

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
            "calendar": None if self.calendar is None else self.calendar.to_dict(),
            "same_period_nodes": list(self.same_period_nodes),
            "same_period_rank": list(self.same_period_rank),
            "response_nodes": list(self.response_nodes),
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
            cal = meta.get("calendar")  # models saved before 0.3 have no baseline
            self.calendar = None if cal is None else CalendarBasis.from_dict(cal)
            self.same_period_nodes = [int(i) for i in meta.get("same_period_nodes", [])]
            self.same_period_rank = [int(i) for i in meta.get("same_period_rank", [])]
            self.response_nodes = [int(i) for i in meta.get("response_nodes", [])]
        except FileNotFoundError as exc:
            raise ModelFileError(
                f"{directory} is not a saved model: {exc.filename} is missing"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise ModelFileError(f"cannot load model from {directory}: {exc!r}") from exc
        self._build(len(self.node_names), len(self.context_names))
        model_state = {k[6:]: v for k, v in state.items() if k.startswith("model.")}
        # older models: no learned graph prior (0.1), no per-pair edge_offset (before 0.6)
        model_state.setdefault("prior_logits", self.model.prior_logits.clone())
        # before 0.7: N(0, s^2), not pooled; before 0.9: no media pairs ("auto" is "free")
        for name in ("coef_mean", "coef_prec", "media_pairs"):
            model_state.setdefault(name, getattr(self.model, name).clone())
        guide_state = {k: v for k, v in self.guide.state_dict().items() if k == "edge_offset"}
        guide_state.update({k[6:]: v for k, v in state.items() if k.startswith("guide.")})
        try:
            self.model.load_state_dict(model_state)
            self.guide.load_state_dict(guide_state)
        except RuntimeError as exc:  # shapes or names differ: another version's networks
            raise ModelFileError(
                f"cannot load model from {directory}: it was saved by pyro_causalmmm "
                f"{meta.get('version', '?')}, whose networks differ from this version "
                f"({__version__}); refit it with `causalmmm fit`"
            ) from exc
        return self
