"""Plots and the self-contained HTML report. Everything here reads `InferenceData` (or
the tables the decisions code returns); nothing here fits or samples a model.

May import: `pyro_causalmmm.posterior` (the `InferenceData` schema, summaries, stats),
`pyro_causalmmm.io`, matplotlib. This is the only subpackage that imports matplotlib.
"""

from pyro_causalmmm.report.html import coverage_sentence, render_report, write_report

__all__ = ["coverage_sentence", "render_report", "write_report"]
