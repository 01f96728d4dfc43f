"""Shared look of every figure: colours, fan-chart levels, plain-text labels, the
lookups of shops and nodes in an ``InferenceData``, and PNG encoding for the report.
"""


from __future__ import annotations

import base64
import io
import sys

import numpy as np
from matplotlib.figure import Figure

from pyro_causalmmm.posterior import summaries

PRESENT_COLOR = "#1b4f8a"
UNCERTAIN_COLOR = "#8c8c8c"
CHANNEL_COLOR = "#a6c8ea"
TARGET_COLOR = "#f28e2b"
FIT_COLOR = "#1f77b4"
FORECAST_COLOR = "#d95f02"
FAN_PROBS = (0.9, 0.5)
PLAIN = {"parse_math": False}  # user labels are text, never TeX


# ---------------------------------------------------------------------------- helpers


def _shop(idata, shop) -> str:
    """The shop's label as stored (a string); ValueError naming the shops otherwise."""
    labels = [str(s) for s in idata.observed_data["shop"].values]
    if str(shop) in labels:
        return str(shop)
    shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
    raise ValueError(f"unknown shop {shop!r}; this InferenceData has shops: {shown}")


def _nodes(idata) -> list[str]:
    return [str(n) for n in idata.observed_data["node"].values]


def _node(idata, node: str | None) -> str:
    node = summaries.target_name(idata) if node is None else str(node)
    if node not in _nodes(idata):
        raise ValueError(f"unknown node {node!r}; nodes are {', '.join(_nodes(idata))}")
    return node


def _draws(da) -> np.ndarray:
    """``(chain, draw, ...)`` values as ``(chain * draw, ...)`` float64."""
    values = np.asarray(da.values, dtype=np.float64)
    return values.reshape(-1, *values.shape[2:])


def _is_datetime(values: np.ndarray) -> bool:
    return np.issubdtype(np.asarray(values).dtype, np.datetime64)


def figure_to_png_base64(fig: Figure, dpi: int = 96) -> str:
    """PNG bytes of ``fig`` (tight bounding box) as base64 ASCII; closes ``fig``.

    Embed as ``<img src="data:image/png;base64,{...}">``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    if "matplotlib.pyplot" in sys.modules:  # a pyplot-managed figure: drop it from pyplot
        sys.modules["matplotlib.pyplot"].close(fig)
    fig.clear()
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------------------- graphs


