"""Command-line front ends of core_pruning (``python -m core_pruning prune | analyze | train-prune``).

Each command module exposes ``add_parser(subparsers, name)`` and ``run(args)``; :mod:`core_pruning.cli`
dispatches through :func:`prunelab.cli.command_line`. Model loading (names or checkpoint files, safely) and
calibration-image loading are shared by ``prune`` and ``analyze``.
"""
