"""Training: the SVI driver (`training.fit`), checkpoints and resume, data-parallel
steps under torch.distributed and the ``--nproc`` launcher.

May import: `pyro_causalmmm.models`, `pyro_causalmmm.guides`, `pyro_causalmmm.errors`,
`pyro_causalmmm.io`. Never `data`, `posterior`, `decisions`, `report` or `cli` (training
sees tensors, not files or reports).
"""
