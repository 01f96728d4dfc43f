"""What every simulated family returns: the `Simulation` record (a long frame plus its
true graphs and the arrays behind it), the Hill curve and random DAGs shared by the
families.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Simulation:
    """A simulated panel with its true graphs.

    Attributes:
        frame: long DataFrame, one row per (shop, time): ``shop`` (``"shop_000"``...),
            ``time`` (daily ``pd.Timestamp`` from ``config.start_date``), ``spend_1..spend_d``,
            ``gmv``, ``ctx_1``, ``ctx_2`` (context is constant within a shop).
        adjacency: int8 ``(shop, cause, effect)``; 1 means cause -> effect.
        node_names: ``spend_1..spend_d, gmv`` (target last).
        shop_ids: shop ids in frame order, ``(shop,)``.
        context_names: ``("ctx_1", "ctx_2")``.
        graph_index: int ``(shop,)``, which of the ``R`` graphs each shop uses.
        latent: float ``(shop, time, node)``, the values before the positive affine map.
        context: float ``(shop, context)``.
        edge_weight: float ``(shop, cause, effect)``, ``w`` on true edges, 0 elsewhere.
        lag_profile: float ``(shop, lag, cause, effect)``, ``eta`` (index ``k-1`` is lag ``k``),
            0 off the true edges.
        hill_shape, hill_half: float ``(shop,)``, the sim2 S-curve parameters (also
            computed, but unused, for sim1).
        config: the family's frozen configuration that produced this draw (for the
            paper's family a :class:`~pyro_causalmmm.simulate.paper.SimulationConfig`).
        process: float ``(shop, burn_in + time, node)``, the generating process over every
            step, burn-in included, before the S-curve and the affine map (the target
            column is ``u``). None on objects built by hand (the ground-truth functions
            need it).
        innovations: float ``(shop, burn_in + time, node)``, the noise ``e`` drawn for
            each step (children: ``process = mechanism + e`` exactly). None as above.
    """

    frame: pd.DataFrame
    adjacency: np.ndarray
    node_names: tuple[str, ...]
    shop_ids: tuple[str, ...]
    context_names: tuple[str, ...]
    graph_index: np.ndarray
    latent: np.ndarray
    context: np.ndarray
    edge_weight: np.ndarray
    lag_profile: np.ndarray
    hill_shape: np.ndarray
    hill_half: np.ndarray
    config: Any
    process: np.ndarray | None = None
    innovations: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        """Observed node values, float ``(shop, time, node)`` (the frame's node columns)."""
        n, t, d = self.latent.shape
        return self.frame[list(self.node_names)].to_numpy(dtype=float).reshape(n, t, d)


def hill(u: np.ndarray, shape: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Hill S-curve ``u^shape / (u^shape + half)`` for ``u >= 0``, broadcasting shapes."""
    powered = np.power(u, shape)
    return powered / (powered + half)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def random_dags(
    n_graphs: int, n_channels: int, edge_prob: float, rng: np.random.Generator
) -> np.ndarray:
    """Random DAGs over ``d`` channels plus the target, int8 ``(graph, cause, effect)``.

    Channels get a random topological order, the target comes last; each forward
    pair is an edge with probability ``edge_prob``. A target with no parent gets
    one random channel parent. The first channel in the order is a source.
    """
    d = n_channels
    n_nodes = d + 1
    graphs = np.zeros((n_graphs, n_nodes, n_nodes), dtype=np.int8)
    forward = np.triu(np.ones((n_nodes, n_nodes), dtype=bool), k=1)
    for r in range(n_graphs):
        order = np.concatenate([rng.permutation(d), [d]])
        upper = (rng.random((n_nodes, n_nodes)) < edge_prob) & forward
        if not upper[:, -1].any():
            upper[rng.integers(d), -1] = True
        # position p -> node order[p]
        graphs[r][np.ix_(order, order)] = upper.astype(np.int8)
    return graphs


