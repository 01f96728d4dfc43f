"""Control columns: additive causes of every node that are never effects.

Controls (price, competitor activity, events and holidays) enter the model's baseline
(``models.design``), not the graph. They are read as context columns and listed in
``MarketingMixData.control_names``; the model takes them as additive controls
(``ModelConfig.controls``) instead of S-curve context.

Which columns are controls:

* ``controls=[...]`` (``--controls COL ...``) names them; ``[]`` means none.
* ``controls=None`` (the default) with channels inferred: every column whose name marks it
  a control (Robyn ``*_B``, Meridian ``*_control``; :mod:`pyro_causalmmm.data.roles`) and
  every text or categorical column (``events``, ``holiday``). With ``--channels`` given
  and no ``--controls``, no column is made a control silently.

A text column becomes 0/1 indicator columns ``COL=level``, one per level except the most
common one (the reference, e.g. ``na`` for "no event"); missing cells count as the
reference. More than ``MAX_LEVELS`` levels is an error naming the column (an id or a
free-text column is not a control). Scale columns (``population``,
``revenue_per_conversion``) are never channels when channels are inferred: they are
read for what they are (``pyro_causalmmm.data.units``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pyro_causalmmm.data.columns import _looks_numeric
from pyro_causalmmm.data.roles import proposed_role
from pyro_causalmmm.data.units import user_columns
from pyro_causalmmm.errors import DataValidationError

MAX_LEVELS = 20


def is_scale_name(name: str) -> bool:
    role = proposed_role(name)
    return role is not None and role[0].startswith("scale")


def indicator_columns(series: pd.Series, column: str) -> pd.DataFrame:
    """0/1 columns ``column=level`` for every level of a text column but the most common
    one (ties: the first in sorted order)."""
    text = series.astype("string").fillna("").str.strip()
    counts = text.value_counts()
    if len(counts) > MAX_LEVELS + 1:
        raise DataValidationError(
            f"column {column!r} is text with {len(counts)} distinct values, too many to be "
            f"indicator controls (at most {MAX_LEVELS + 1}); leave it out with --controls or "
            "--channels, or encode it as numbers"
        )
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    levels = sorted(level for level, _ in ranked[1:])
    return pd.DataFrame(
        {f"{column}={level}": (text == level).astype(float) for level in levels}, index=series.index
    )


def prepare_controls(
    df: pd.DataFrame,
    reserved: set[str],
    channels: Sequence[str] | None,
    controls: Sequence[str] | None,
) -> tuple[pd.DataFrame, list[str], dict[str, str], list[str]]:
    """Resolve the control columns of ``df`` (see the module docstring).

    ``reserved``: shop, time, target and context columns. Returns ``(df with indicator
    columns added, control column names (indicators expanded), notes per source column,
    columns excluded from channel inference)``.
    """
    notes: dict[str, str] = {}
    if controls is None:
        if channels is not None:
            return df, [], notes, []
        chosen = []
        for c in df.columns:
            name = str(c)
            if name in reserved or name.startswith("Unnamed: "):
                continue
            role = proposed_role(name)
            if (role is not None and role[0].startswith("control")) or not _looks_numeric(df[c]):
                if df[c].isna().all():
                    continue
                chosen.append(name)
    else:
        chosen = [str(c) for c in controls]
        for name in chosen:
            if name not in df.columns:
                raise DataValidationError(
                    f"unknown control column {name!r}; the data has columns "
                    f"{user_columns(df)}. Fix controls=... (--controls)"
                )
            if name in reserved:
                raise DataValidationError(
                    f"control column {name!r} is also the shop, time, target or a context "
                    "column; remove it from --controls"
                )
        if len(set(chosen)) != len(chosen):
            raise DataValidationError(f"controls are listed twice: {chosen}")
    names: list[str] = []
    extra = []
    for name in chosen:
        if _looks_numeric(df[name]):
            names.append(name)
            notes[name] = "control (additive, in every node's baseline)"
            continue
        ind = indicator_columns(df[name], name)
        clash = [c for c in ind.columns if c in df.columns]
        if clash:
            raise DataValidationError(
                f"indicator column {clash[0]!r} of text column {name!r} clashes with a column "
                "of the file; rename one"
            )
        extra.append(ind)
        names += list(ind.columns)
        shown = ", ".join(ind.columns) if len(ind.columns) else "none (one level only)"
        notes[name] = f"control: text, as 0/1 indicators ({shown})"
    if extra:
        df = pd.concat([df, *extra], axis=1)
    excluded = list(chosen)
    if channels is None:
        excluded += [str(c) for c in df.columns if is_scale_name(str(c))]
    return df, names, notes, excluded
