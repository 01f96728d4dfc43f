"""``python -m pyro_causalmmm.cli``: the same as the ``causalmmm`` command."""

from pyro_causalmmm.cli.main import main

raise SystemExit(main())
