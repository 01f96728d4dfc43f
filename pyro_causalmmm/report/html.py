"""One self-contained HTML report of a fitted model, read from its ``InferenceData`` only.

:func:`write_report` writes a single ``.html`` file with no external resources: the CSS is
inline and every figure (from :mod:`pyro_causalmmm.report.plotting`) is embedded as a
``data:image/png;base64,`` image, so the file can be mailed or archived as it is. Every
user string (title, shop and node names, table cells, headings of extra sections) is
HTML-escaped; only the bodies of ``extra_sections`` are inserted as given (trusted HTML
built by the package, e.g. budget plots).

Sections: data summary, training curves, pooled graph and table, one block per shown shop
(graph, edge heatmap, fit-and-forecast fan chart, S-curve, edge table), forecast table
(when the ``predictions`` group exists), posterior predictive check, then the extra
sections. Each section opens with a short "How to read this" note for an analyst.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pyro_causalmmm.io import atomic_write
from pyro_causalmmm.posterior import summaries
from pyro_causalmmm.posterior.inference_data import attr
from pyro_causalmmm.report import plotting

POOLED_ROWS = 20
FORECAST_ROWS = 60
LIST_SHOPS = 20

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1150px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { border-bottom: 3px solid #1b4f8a; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2.2em; color: #1b4f8a; }
h3 { margin-top: 1.6em; }
nav ul { columns: 2; }
.howto { background: #f3f7fb; border-left: 4px solid #1b4f8a; padding: .6em 1em;
         margin: 1em 0; font-size: .95em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; flex: 1 1 480px; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
table { border-collapse: collapse; margin: .8em 0; font-size: .88em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #eef2f6; }
td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
.coverage { font-size: 1.05em; font-weight: 600; }
.note { color: #666; font-size: .9em; }
"""

HOWTO = {
    "data": (
        "What the model was fitted on: the shops, the nodes of the causal graph (marketing "
        "channels and the target) and the time span."
    ),
    "training": (
        "The loss is the negative evidence lower bound (-ELBO) per shop; lower is better. "
        "It should fall and flatten out. A validation curve that rises while the training "
        "curve keeps falling signals over-fitting."
    ),
    "pooled": (
        "An edge cause &rarr; effect means Granger-causal influence: past values of the "
        "cause help predict the effect beyond the effect's own past. P(edge) is the "
        "posterior probability of the edge. An edge is <b>present</b> when P(edge) &ge; "
        "0.8, <b>absent</b> when P(edge) &le; 0.2 and <b>uncertain</b> in between (the data "
        "do not settle it); ranking edges by P(edge) is more reliable than any single "
        "threshold. Here the graphs of all shops are pooled: line width is the share of "
        "shops where the edge is present, labels give that share and the mean P(edge)."
    ),
    "shops": (
        "Each shop has its own graph. <b>Graph</b>: solid arrows are present edges, dashed "
        "ones uncertain, width grows with P(edge), the target is orange. <b>Heatmap</b>: "
        "row = cause, column = effect; each cell shows P(edge) and, in brackets, the 90% "
        "highest-density interval (HDI) of the edge weight. <b>Fit and forecast</b>: black "
        "is observed; the blue line and bands are the model's one-step-ahead prediction "
        "with 50% and 90% HDIs (the narrowest ranges holding 50% / 90% of the posterior); "
        "orange is the forecast after the dotted line. <b>S-curve</b>: how the target "
        "responds to the combined marketing drive, with diminishing returns; the band shows "
        "how the curve shifts with context over time, not parameter uncertainty."
    ),
    "forecast": (
        "Forecast of the target per shop and future step: the posterior mean and the 50% and "
        "90% highest-density intervals, in the target's own units."
    ),
    "ppc": (
        "A posterior predictive check asks whether data simulated by the fitted model look "
        "like the observed data. A well-calibrated model's 50% interval covers about 50% of "
        "the observations and its 90% interval about 90%; much less means over-confident "
        "intervals, much more too wide. Left: the density of the observed target (black) "
        "against replicate draws (blue). Right: the PIT histogram should be flat around the "
        "dashed line; a U shape means intervals too narrow, a hump too wide, a slope bias."
    ),
}


# ---------------------------------------------------------------------------- helpers


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt_time(value) -> str:
    if isinstance(value, np.datetime64 | pd.Timestamp):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()
    return str(value)


def _fmt_cell(value) -> tuple[str, bool]:
    """Display text of one table cell and whether it is text (left-aligned)."""
    if isinstance(value, float | np.floating):
        return ("" if np.isnan(value) else f"{value:.3f}"), False
    if isinstance(value, int | np.integer):
        return str(value), False
    if isinstance(value, np.datetime64 | pd.Timestamp):
        return _fmt_time(value), True
    return str(value), True


def _table(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table, every header and cell escaped."""
    head = "".join(f'<th class="text">{_e(c)}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for value in record:
            text, is_text = _fmt_cell(value)
            cells.append(f'<td class="text">{_e(text)}</td>' if is_text else f"<td>{_e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(fig, alt: str, caption: str = "") -> str:
    data = plotting.figure_to_png_base64(fig)
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">{cap}</figure>'


def _section(anchor: str, heading: str, body: str, howto: str | None = None) -> str:
    note = f'<p class="howto"><b>How to read this.</b> {howto}</p>' if howto else ""
    return f'<section id="{_e(anchor)}"><h2>{_e(heading)}</h2>{note}{body}</section>'


def _select_shops(idata, shops: Sequence | None, max_shops: int) -> list[str]:
    labels = [str(s) for s in idata.observed_data["shop"].values]
    if shops is None:
        return labels[: max(int(max_shops), 0)]
    wanted = [str(s) for s in shops]
    unknown = [s for s in wanted if s not in labels]
    if unknown:
        raise ValueError(f"unknown shops {unknown}; this InferenceData has {labels[:LIST_SHOPS]}")
    return wanted


# ---------------------------------------------------------------------------- sections


def _data_section(idata, data_summary: str | None) -> str:
    shops = [str(s) for s in idata.observed_data["shop"].values]
    nodes = [str(n) for n in idata.observed_data["node"].values]
    target = summaries.target_name(idata)
    channels = attr(idata, "channel_names") or [n for n in nodes if n != target]
    times = idata.observed_data["time"].values
    rows: list[tuple[str, str]] = [
        (
            "shops",
            f"{len(shops)}: "
            + ", ".join(shops[:LIST_SHOPS])
            + (", ..." if len(shops) > LIST_SHOPS else ""),
        ),
        ("target", target),
        ("channels", ", ".join(str(c) for c in channels)),
    ]
    if len(times):
        span = f"{_fmt_time(times[0])} to {_fmt_time(times[-1])} ({len(times)} steps"
        freq = attr(idata, "freq")
        rows.append(("time", span + (f", frequency {freq})" if freq else ")")))
    if "constant_data" in idata.groups() and "observed" in idata.constant_data:
        steps = np.asarray(idata.constant_data["observed"].values).sum(axis=1)
        rows.append(
            ("steps per shop", f"min {steps.min()}, median {np.median(steps):g}, max {steps.max()}")
        )
        if "context" in idata.constant_data.coords:
            rows.append(
                ("context", ", ".join(str(c) for c in idata.constant_data["context"].values))
            )
    n_draws = int(np.prod(idata.posterior["edge"].shape[:2]))
    rows.append(("posterior draws", str(n_draws)))
    for key in ("max_lag", "seed", "package_version"):
        if attr(idata, key) is not None:
            rows.append((key.replace("_", " "), str(attr(idata, key))))
    table = (
        "<table><tbody>"
        + "".join(
            f'<tr><th class="text">{_e(k)}</th><td class="text">{_e(v)}</td></tr>' for k, v in rows
        )
        + "</tbody></table>"
    )
    extra = f"<pre>{_e(data_summary)}</pre>" if data_summary else ""
    return _section("data", "Data", table + extra, HOWTO["data"])


def _training_section(idata) -> str:
    text = ""
    if "fit_log" in idata.groups() and idata["fit_log"].sizes.get("epoch", 0):
        log = idata["fit_log"]
        train = np.asarray(log["train_loss"].values, dtype=float)
        text = f"<p>{len(train)} epochs; final training loss {train[-1]:.4g}"
        val = np.asarray(log["val_loss"].values, dtype=float) if "val_loss" in log else []
        if np.isfinite(val).any():
            text += f", final validation loss {val[np.isfinite(val)][-1]:.4g}"
        text += ".</p>"
    fig = _figure(plotting.plot_training(idata), "training loss per epoch")
    return _section(
        "training", "Training", text + f'<div class="figures">{fig}</div>', HOWTO["training"]
    )


def _pooled_section(idata) -> str:
    table = summaries.pooled_edges(summaries.edge_table(idata))
    fig = _figure(plotting.plot_pooled_graph(idata), "graph pooled over shops")
    shown = table.head(POOLED_ROWS)
    note = f'<p class="note">Top {len(shown)} of {len(table)} edges by mean P(edge).</p>'
    body = f'<div class="figures">{fig}</div>{note}{_table(shown)}'
    return _section("pooled", "Pooled graph over shops", body, HOWTO["pooled"])


def _shop_block(idata, shop: str, table: pd.DataFrame) -> str:
    figs = [
        _figure(plotting.plot_graph(idata, shop), f"learned graph of shop {shop}"),
        _figure(plotting.plot_edge_heatmap(idata, shop), f"edge heatmap of shop {shop}"),
        _figure(plotting.plot_fit_forecast(idata, shop), f"fit and forecast of shop {shop}"),
    ]
    if "hill_shape" in idata.posterior:
        figs.append(_figure(plotting.plot_s_curve(idata, shop), f"S-curve of shop {shop}"))
    rows = table[table["shop"].astype(str) == shop].sort_values(
        "p_edge", ascending=False, kind="stable"
    )
    return (
        f"<h3>Shop {_e(shop)}</h3>"
        f'<div class="figures">{"".join(figs)}</div>'
        f"<p>Edges of shop {_e(shop)}, strongest first:</p>{_table(rows)}"
    )


def _shops_section(idata, shops: list[str]) -> str:
    if not shops:
        return ""
    table = summaries.edge_table(idata)
    n_all = idata.observed_data.sizes["shop"]
    note = f'<p class="note">Showing {len(shops)} of {n_all} shops.</p>'
    blocks = "".join(_shop_block(idata, shop, table) for shop in shops)
    return _section("shops", "Shops", note + blocks, HOWTO["shops"])


def _forecast_section(idata, shops: list[str]) -> str:
    if "predictions" not in idata.groups():
        return ""
    table = summaries.forecast_table(idata)
    if shops:
        table = table[table["shop"].astype(str).isin(shops)]
    shown = table.head(FORECAST_ROWS)
    horizon = attr(idata, "horizon")
    note = f'<p class="note">First {len(shown)} of {len(table)} rows for the shops shown'
    note += f" (horizon {_e(horizon)} steps).</p>" if horizon is not None else ".</p>"
    return _section("forecast", "Forecast", note + _table(shown), HOWTO["forecast"])


def coverage_sentence(idata, node: str | None = None) -> str:
    """``"The 50% interval covers 48.7% of observed gmv values; the 90% interval covers
    88.1%."`` from :func:`summaries.ppc_coverage` (plain text, not escaped)."""
    node = node or summaries.target_name(idata)
    parts = [
        f"{p:.0%} interval covers {c:.1%}"
        for p, c in summaries.ppc_coverage(idata, node=node).items()
    ]
    if not parts:
        return ""
    first = f"The {parts[0]} of observed {node} values"
    rest = "".join(f"; the {p}" for p in parts[1:])
    return first + rest + "."


def _ppc_section(idata) -> str:
    text = f'<p class="coverage">{_e(coverage_sentence(idata))}</p>'
    figs = _figure(plotting.plot_ppc(idata), "posterior predictive check") + _figure(
        plotting.plot_pit(idata), "PIT histogram"
    )
    body = text + f'<div class="figures">{figs}</div>'
    return _section("ppc", "Posterior predictive check", body, HOWTO["ppc"])


# ---------------------------------------------------------------------------- report


def render_report(
    idata,
    *,
    title: str | None = None,
    shops: Sequence | None = None,
    max_shops: int = 3,
    data_summary: str | None = None,
    extra_sections: list[tuple[str, str]] | None = None,
) -> str:
    """The report of :func:`write_report` as one HTML string."""
    chosen = _select_shops(idata, shops, max_shops)
    title = title or f"CausalMMM report: {summaries.target_name(idata)}"
    sections = [
        _data_section(idata, data_summary),
        _training_section(idata),
        _pooled_section(idata),
        _shops_section(idata, chosen),
        _forecast_section(idata, chosen),
        _ppc_section(idata),
    ]
    for k, (heading, body) in enumerate(extra_sections or []):
        sections.append(_section(f"extra-{k}", heading, body))
    sections = [s for s in sections if s]
    toc = "".join(
        f'<li><a href="#{_e(anchor)}">{_e(name)}</a></li>'
        for anchor, name in _toc(sections, extra_sections or [])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><nav><ul>{toc}</ul></nav>" + "\n".join(sections) + "</body></html>\n"
    )


def _toc(sections: list[str], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    names = {
        "data": "Data",
        "training": "Training",
        "pooled": "Pooled graph over shops",
        "shops": "Shops",
        "forecast": "Forecast",
        "ppc": "Posterior predictive check",
    }
    names.update({f"extra-{k}": heading for k, (heading, _) in enumerate(extra)})
    out = []
    for section in sections:
        anchor = section.split('id="', 1)[1].split('"', 1)[0]
        out.append((anchor, names.get(anchor, anchor)))
    return out


def write_report(
    idata,
    out_path: str | Path,
    *,
    title: str | None = None,
    shops: Sequence | None = None,
    max_shops: int = 3,
    data_summary: str | None = None,
    extra_sections: list[tuple[str, str]] | None = None,
) -> Path:
    """Write the HTML report of ``idata`` to ``out_path`` (atomically) and return the path.

    Args:
        idata: ``InferenceData`` with the schema of :mod:`pyro_causalmmm.posterior.inference_data`.
        out_path: the ``.html`` file to write; missing parent directories are created.
        title: the page title (default ``"CausalMMM report: <target>"``).
        shops: the shops given a detailed block (labels); default the first ``max_shops``.
        max_shops: how many shops get a block when ``shops`` is not given.
        data_summary: free text shown as-is (escaped, in ``<pre>``) in the data section.
        extra_sections: ``(heading, html)`` pairs appended at the end; the heading is
            escaped, the body is inserted as given (trusted HTML, e.g. embedded plots).

    The file is self-contained: inline CSS, figures as ``data:image/png;base64`` images,
    no scripts and no external links.
    """
    text = render_report(
        idata,
        title=title,
        shops=shops,
        max_shops=max_shops,
        data_summary=data_summary,
        extra_sections=extra_sections,
    )
    return atomic_write(out_path, lambda p: Path(p).write_text(text, encoding="utf-8"))
