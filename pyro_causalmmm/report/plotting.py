"""Figures an analyst reads, drawn from an ``InferenceData`` only (schema in
:mod:`pyro_causalmmm.posterior.inference_data`): learned graphs, edge heatmaps, fit-and-forecast fan
charts, posterior predictive checks, Hill S-curves and training curves.

Every function takes ``idata`` (plus options) and returns a new
:class:`matplotlib.figure.Figure`. Figures are built without :mod:`matplotlib.pyplot`, so
no backend is selected or switched and nothing is kept in pyplot's figure registry: they
render headless (Agg) through :meth:`Figure.savefig` or :func:`figure_to_png_base64`, and a
notebook displays a returned figure as usual.

User labels (shops, nodes) are drawn as plain text (``parse_math=False``), so a ``$`` in a
name is never read as TeX. Intervals are highest-density intervals
(:func:`pyro_causalmmm.posterior.stats.hdi`); edge decisions use the thresholds of
:mod:`pyro_causalmmm.posterior.summaries` (present ``p >= 0.8``, absent ``p <= 0.2`` by default).

This module is the public face of the figures; they live in `style`, `graphs` and
`predictive`.
"""

from __future__ import annotations

from pyro_causalmmm.report.graphs import plot_edge_heatmap, plot_graph, plot_pooled_graph
from pyro_causalmmm.report.predictive import (
    plot_fit_forecast,
    plot_pit,
    plot_ppc,
    plot_s_curve,
    plot_training,
)
from pyro_causalmmm.report.style import (
    CHANNEL_COLOR,
    FAN_PROBS,
    FIT_COLOR,
    FORECAST_COLOR,
    PLAIN,
    PRESENT_COLOR,
    TARGET_COLOR,
    UNCERTAIN_COLOR,
    figure_to_png_base64,
)

__all__ = [
    "CHANNEL_COLOR",
    "FAN_PROBS",
    "FIT_COLOR",
    "FORECAST_COLOR",
    "PLAIN",
    "PRESENT_COLOR",
    "TARGET_COLOR",
    "UNCERTAIN_COLOR",
    "figure_to_png_base64",
    "plot_edge_heatmap",
    "plot_fit_forecast",
    "plot_graph",
    "plot_pit",
    "plot_pooled_graph",
    "plot_ppc",
    "plot_s_curve",
    "plot_training",
]
