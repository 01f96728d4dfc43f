"""After training: posterior draws (`draws`), the `InferenceData` schema and its
save/load (`inference_data`, the only module that calls ArviZ), pure interval maths
(`stats`), edge/forecast summaries (`summaries`), forecasts and backtests
(`forecasting`) and the graph-usefulness diagnostic (`diagnostics`).

May import: `pyro_causalmmm.api`, `data`, `inference`, `evaluation`, `models`, `errors`,
`io`. Never `decisions`, `report` or `cli`, and never matplotlib.
"""
