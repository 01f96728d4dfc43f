"""Data in: reading long CSV files and frames, the regular time grid, validation, the
`MarketingMixData` container and its reversible per-shop scaling.

May import: `pyro_causalmmm.errors`, `pyro_causalmmm.io`. Never torch, pyro, models or
guides (``causalmmm validate`` must stay fast and light).
"""

from pyro_causalmmm.data.columns import FILL_METHODS, SPEND_PATTERN
from pyro_causalmmm.data.container import MarketingMixData

__all__ = ["FILL_METHODS", "SPEND_PATTERN", "MarketingMixData"]
