"""The ``python -m core_pruning`` command table: prune, analyze and train-prune.

Each command is a module in :mod:`core_pruning.commands` with ``add_parser(subparsers, name)`` and ``run(args)``;
:func:`prunelab.cli.command_line` builds the parser and reports bad input in one line (exit code 2).
"""

from __future__ import annotations

from prunelab.cli import command_line

COMMANDS = {
    "prune": "core_pruning.commands.prune",
    "analyze": "core_pruning.commands.analyze",
    "train-prune": "core_pruning.commands.train_prune",
}

main = command_line("python -m core_pruning", "Channel pruning for PyTorch CNNs.", COMMANDS)
