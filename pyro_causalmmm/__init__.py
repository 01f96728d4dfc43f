"""pyro_causalmmm: CausalMMM (Gong et al., WSDM 2024) as a Bayesian model in Pyro.

Per-shop Granger-causal graphs over marketing channels, intermediate metrics and GMV,
and GMV forecasts with uncertainty. Start with :class:`CausalMMM` and
:class:`MarketingMixData`.
"""

__version__ = "0.10.0"

from pyro_causalmmm.data import MarketingMixData  # noqa: E402
from pyro_causalmmm.errors import (  # noqa: E402
    CausalMMMError,
    ConfigError,
    DataValidationError,
    ModelFileError,
    TrainingError,
)

__all__ = [
    "CausalMMM",
    "CausalMMMError",
    "ConfigError",
    "DataValidationError",
    "MarketingMixData",
    "ModelConfig",
    "ModelFileError",
    "TrainConfig",
    "TrainingError",
    "__version__",
]


def __getattr__(name: str):
    # torch/pyro are imported lazily so `causalmmm validate` and `--help` stay fast
    if name == "CausalMMM":
        from pyro_causalmmm.api import CausalMMM

        return CausalMMM
    if name == "ModelConfig":
        from pyro_causalmmm.models import ModelConfig

        return ModelConfig
    if name == "TrainConfig":
        from pyro_causalmmm.inference.training import TrainConfig

        return TrainConfig
    raise AttributeError(name)
