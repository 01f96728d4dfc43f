"""Budget decisions through the learned graph: do()-interventions on a shop's world
(`interventions`), contributions, ROAS and response curves (`contributions`) and the
budget optimizer (`optimizer`).

May import: `pyro_causalmmm.posterior` (stats), `data`, `models`, `errors`. Never
`report` or `cli`, and never matplotlib.
"""
