"""``python -m core_pruning <command>``: prune, analyze and train-prune from the command line.

Each command lives in its own module exposing ``add_parser(subparsers)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core_pruning.utils.cli import cli_entry

COMMANDS = {
    "prune": "core_pruning.cli.prune_command",
    "analyze": "core_pruning.cli.analyze_command",
    "train-prune": "core_pruning.training.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core_pruning", description="Channel pruning for PyTorch CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # command not installed in this checkout yet
            raise
        module.add_parser(sub, name)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
