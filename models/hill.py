"""The Hill S-curve (saturation), a pure function."""

from __future__ import annotations

import torch


def hill(u: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Hill S-curve ``u^a / (u^a + g)``, computed stably as ``sigmoid(a log u - log g)``.

    ``u >= 0`` is the (positive) driving signal, ``a > 0`` the shape (slope) and
    ``g > 0`` the inflexion: the curve reaches 1/2 at ``u = g^(1/a)``. Any broadcastable
    shapes. Finite for ``u = 0`` (gives 0), huge ``u`` (gives 1) and any positive a, g.
    """
    log_u = torch.log(u.clamp_min(1e-30))
    return torch.sigmoid(a * log_u - torch.log(g))
