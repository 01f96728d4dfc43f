"""Amortized guide of CausalMMM (installed as ``pyro_causalmmm.guides``)."""

if __name__ == "guides":  # imported as a top-level package, e.g. from the repository root
    raise ImportError(
        "'guides' is not a top-level package; import it as 'pyro_causalmmm.guides'"
    )

from .amortized import AmortizedGraphGuide
from .encoder import RelationalEncoder
from .features import edge_features, edge_log_evidence, lagged_correlations, standardize_series

__all__ = [
    "AmortizedGraphGuide",
    "RelationalEncoder",
    "edge_features",
    "edge_log_evidence",
    "lagged_correlations",
    "standardize_series",
]
