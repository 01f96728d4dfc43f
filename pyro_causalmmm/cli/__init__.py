"""The ``causalmmm`` command line: `main` (the parser and the error contract), `common`
(the shared data-loading arguments and argparse types), and one module per command
group: `data` (validate, simulate), `model` (fit, demo), `posterior` (posterior,
forecast, report, edges), `decisions` (contributions, response, optimize) and
`diagnostics` (diagnose).

Rule: `common` imports none of the command modules; command modules import `common`
but never `main` or each other; `main` imports them all. Heavy modules (torch, pyro) are
imported inside the commands so that ``causalmmm --help`` and ``validate`` stay fast.
"""
