"""The people-readable description of a `MarketingMixData` (``causalmmm validate``)."""

from __future__ import annotations

from pyro_causalmmm.data.columns import _fmt_names, _fmt_time, describe_freq
from pyro_causalmmm.data.scaling import TARGET_HIGH, TARGET_LOW


def summary_text(data) -> str:
    """Shops, time span, nodes and their roles, controls, context, every column's line and
    the scaling, one item per line."""
    low, high = int(data.lengths.min()), int(data.lengths.max())
    length = f"{low} time steps each" if low == high else f"{low} to {high} time steps"
    starts = [t[0] for t in data.times]
    ends = [t[-1] for t in data.times]
    freq = describe_freq(data.freq)
    lines = [
        f"MarketingMixData: {data.n_shops} shop{'s' if data.n_shops != 1 else ''}, "
        f"{length}, frequency {freq}",
        f"  shops (sorted): {_fmt_names(data.shop_ids)}",
        f"  time: {_fmt_time(min(starts))} to {_fmt_time(max(ends))}"
        + ("" if low == high else "; shops left-aligned, shorter ones padded at the end"),
        f"  nodes ({data.n_nodes}): {len(data.channel_names)} channels, then the target",
        f"    channels: {_fmt_names(data.channel_names, 20)}",
        f"    spend (checked >= 0): {_fmt_names(data.spend_names, 20)}",
        *(
            [f"    controls (additive baseline): {_fmt_names(data.control_names, 20)}"]
            if data.control_names
            else []
        ),
        *(
            [
                "    revenue per target unit: read per shop and time; contributions, ROAS "
                "and budgets are in revenue"
            ]
            if data.revenue_per_unit is not None
            else []
        ),
        f"    target: {data.target_name} (last node)",
        f"  context ({data.n_context}): {_fmt_names(data.context_names, 20)}"
        + (f"; static per shop: {_fmt_names(data.static_context)}" if data.n_context else ""),
    ]
    if data.column_roles:
        lines.append(f"  columns of the file ({len(data.column_roles)}):")
        items = list(data.column_roles.items())
        lines += [f"    {name}: {role}" for name, role in items[:40]]
        if len(items) > 40:
            lines.append(f"    ... and {len(items) - 40} more")
    total_filled = int(data.filled_steps.sum())
    if total_filled:
        lines.append(
            f"  filled gaps: {total_filled} steps in {int((data.filled_steps > 0).sum())} shops"
        )
    lines.append(
        "  scaling (internal, reversible): channels z-scored per shop; target min-max per "
        f"shop to [{TARGET_LOW}, {TARGET_HIGH}] (inside the Hill curve's range (0, 1)); "
        "context z-scored over all shops"
    )
    return "\n".join(lines)
