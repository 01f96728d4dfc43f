"""Scoring against known truth: edge and forecast metrics (`metrics`), calibration of
edge probabilities (`calibration`: ECE, reliability, Brier, AUPRC, decision shares) and
the peer
methods run side by side in benchmarks and notebooks (`baselines`: ridge VAR, VAR
F-test, VARLiNGAM, PCMCI).

May import: `pyro_causalmmm.errors` and numpy only (optional peers are imported inside
the function that needs them). Nothing in the library's fitting path depends on it.
"""
