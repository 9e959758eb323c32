"""Command-line front ends of core_pruning: ``python -m core_pruning prune`` and ``python -m core_pruning analyze``.

Each command module exposes ``add_parser(subparsers, name)``; :mod:`core_pruning.__main__` dispatches.
Model loading (names or checkpoint files, safely) and calibration-image loading are shared by both.
"""
