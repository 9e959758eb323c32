"""Command-line front ends of artnet (``python -m artnet stylize | video | bench | distill | prune | ...``).

One module per command with ``add_parser(subparsers, name)`` and ``run(args)``; :mod:`artnet.cli` lists them and
:func:`prunelab.cli.command_line` dispatches. Arguments several commands share (runtime, style, training options,
value parsers) and the loading of the network live in :mod:`artnet.commands.common`. Conventions: ``--json``
prints one JSON document, bad input is one ``error: ...`` line with exit code 2, nothing is overwritten without
``--force``, and inputs are validated before any model is loaded. Training code is imported inside ``run``.
"""
