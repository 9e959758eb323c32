"""The ``python -m cp_predict`` command table: train, predict, simulate, extract, prune and evaluate.

Each command is a module in :mod:`cp_predict.commands` with ``add_parser(subparsers, name)`` and ``run(args)``;
:func:`prunelab.cli.command_line` builds the parser and reports bad input in one ``error: ...`` line (exit code 2).
Outputs are never overwritten without ``--force``; ``--json`` prints one JSON document on stdout; every output
carries the research-use notice.
"""

from __future__ import annotations

from cp_predict import RESEARCH_NOTICE
from prunelab.cli import command_line

COMMANDS = {
    "train": "cp_predict.commands.train",
    "predict": "cp_predict.commands.predict",
    "simulate": "cp_predict.commands.simulate",
    "extract": "cp_predict.commands.extract",
    "prune": "cp_predict.commands.prune",
    "evaluate": "cp_predict.commands.evaluate",
}

main = command_line("python -m cp_predict",
                    f"Skeleton-based cerebral-palsy risk prediction with joint channel attention. {RESEARCH_NOTICE}.",
                    COMMANDS)
