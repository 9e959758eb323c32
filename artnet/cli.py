"""The ``python -m artnet`` command table: stylize, video, bench, distill, prune,
prune-decoder, train-decoder and export.

Each command is a module in :mod:`artnet.commands` with ``add_parser(subparsers, name)`` and ``run(args)``;
:func:`prunelab.cli.command_line` builds the parser and reports bad input in one line (exit code 2).
"""

from __future__ import annotations

from prunelab.cli import command_line

COMMANDS = {
    "stylize": "artnet.commands.stylize",
    "video": "artnet.commands.video",
    "bench": "artnet.commands.bench",
    "distill": "artnet.commands.distill",
    "prune": "artnet.commands.prune",
    "prune-decoder": "artnet.commands.prune_decoder",
    "train-decoder": "artnet.commands.train_decoder",
    "export": "artnet.commands.export",
}

main = command_line("python -m artnet",
                    "ArtNet: real-time universal style transfer (GoogLeNet encoder, S2 transform).", COMMANDS)
