"""Column roles: what the importer made of every column of a file, said in one line each.

Roles are proposed from the two conventions MMM users know and from plain names:

==========================  ======================================================
name                        role proposed
==========================  ======================================================
Robyn ``*_S``               spend (a channel, checked >= 0)
Robyn ``*_I``, ``*_P``      channel: impressions, clicks or another paid-media metric
Robyn ``*_B``               baseline/control variable
Meridian ``*_spend``        spend
Meridian ``*_impression``   channel (impressions)
Meridian ``*_control``      baseline/control variable
``population``,             scale of a geo / revenue per conversion (not a channel
``revenue_per_conversion``  in any causal sense)
names with spend / cost     spend
==========================  ======================================================

When channels are inferred, control columns and text columns (events, holidays) become
additive controls (text as 0/1 indicators; :mod:`pyro_causalmmm.data.controls`) and scale
columns are not nodes; when ``--channels`` lists a control-named column it stays a
channel and its line says how to make it a control. Nothing is left out without a line.
"""

from __future__ import annotations

import re

ROBYN_SUFFIX = {
    "_S": ("spend", "Robyn's _S"),
    "_I": ("impressions", "Robyn's _I"),
    "_P": ("paid-media metric, e.g. clicks", "Robyn's _P"),
    "_B": ("control: a baseline variable", "Robyn's _B"),
}
MERIDIAN_SUFFIX = {
    "_spend": ("spend", "Meridian's _spend"),
    "_impression": ("impressions", "Meridian's _impression"),
    "_control": ("control", "Meridian's _control"),
}
SCALE_NAMES = {
    "population": ("scale: the geo's population", "Meridian"),
    "revenue_per_conversion": ("scale: revenue per conversion", "Meridian"),
}
_SPEND_WORDS = re.compile(r"spend|cost", re.IGNORECASE)


def proposed_role(name: str) -> tuple[str, str] | None:
    """``(role, source)`` a column's name suggests, or None (see the module table)."""
    low = name.lower()
    if low in SCALE_NAMES:
        return SCALE_NAMES[low]
    for suffix, role in MERIDIAN_SUFFIX.items():
        if low.endswith(suffix):
            return role
    for suffix, role in ROBYN_SUFFIX.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return role
    if _SPEND_WORDS.search(name):
        return ("spend", "name")
    return None


def is_spend_name(name: str) -> bool:
    """Whether a channel's name marks it as spend (checked >= 0, used by the decisions)."""
    role = proposed_role(name)
    return role is not None and role[0] == "spend"


def column_roles(
    columns: list[str],
    shop: str | None,
    time: str,
    target: str,
    channels: list[str],
    context: list[str],
    spend: list[str],
    inferred: bool,
    notes: dict[str, str] | None = None,
) -> dict[str, str]:
    """One line per column of the file: how the importer used it and why.

    ``inferred``: whether the channels were inferred (no ``--channels``), in which case
    the lines of controls and left-out columns say how to change that; ``notes`` the
    lines of the control columns (:func:`pyro_causalmmm.data.controls.prepare_controls`)."""
    out: dict[str, str] = {}
    notes = notes or {}
    for col in columns:
        role = proposed_role(col)
        if col in notes:
            by = f", by {role[1]}" if role is not None else ""
            out[col] = notes[col] + by
        elif col == shop:
            out[col] = "shop id"
        elif col == time:
            out[col] = "time"
        elif col == target:
            out[col] = "target (the last node)"
        elif col in context:
            out[col] = "context (shapes the S-curve)"
        elif col in channels:
            kind = "spend channel, checked >= 0" if col in spend else "channel"
            if role is None:
                out[col] = kind
            elif role[0].startswith("control"):
                note = "kept as a channel because --channels lists it; --controls makes it"
                out[col] = f"{kind} ({role[0]}, by {role[1]}; {note} an additive control)"
            else:
                out[col] = f"{kind} ({role[0]}, by {role[1]})"
        elif role is not None and role[0].startswith("scale"):
            out[col] = (
                f"not a node ({role[0]}, by {role[1]}): "
                + (
                    "read as the revenue of one target unit"
                    if col.lower() == "revenue_per_conversion"
                    else "left out of the graph"
                )
            )
        elif col.startswith("Unnamed: "):
            out[col] = "left out: an unnamed (index) column"
        else:
            out[col] = (
                "left out: empty or not numeric (--controls COL makes a text column 0/1 "
                "indicator controls)"
                if inferred
                else "left out: not among --channels (--controls COL uses it as a control)"
            )
    return out
