"""Generative model of CausalMMM (installed as ``pyro_causalmmm.models``)."""

if __name__ == "models":  # imported as a top-level package, e.g. from the repository root
    raise ImportError("'models' is not a top-level package; import it as 'pyro_causalmmm.models'")

from .causalmmm import CausalMMMModel
from .config import ModelConfig
from .distributions import bernoulli_kl, edge_index, from_adjacency, to_adjacency
from .hill import hill

__all__ = [
    "CausalMMMModel",
    "ModelConfig",
    "bernoulli_kl",
    "edge_index",
    "from_adjacency",
    "hill",
    "to_adjacency",
]
