"""Shared fixtures: every test starts from a clean Pyro param store and fixed seeds."""

from __future__ import annotations

import pyro
import pytest
import torch


@pytest.fixture(autouse=True)
def _clean_pyro_state():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    torch.set_num_threads(1)  # small ops: 1 thread is as fast, and immune to oversubscription
    yield
    pyro.clear_param_store()
