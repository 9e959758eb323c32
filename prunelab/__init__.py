"""prunelab's base layer, below every package: errors, files, devices, run folders and the command-line pattern.

Imports run one way: ``prunelab`` <- ``core_pruning`` <- {``artnet``, ``cp_predict``} <- ``demos``/``benchmarks``.
Nothing here imports torch-pruning, Gradio or any application package.

- :mod:`prunelab.errors`: :class:`InputError`/:class:`OutputError` and their one-line messages;
- :mod:`prunelab.cli`: ``cli_entry`` (exit code 2 on bad input) and ``command_line`` (a module per command);
- :mod:`prunelab.io`: atomic writes and output-path checks (never a half-written or overwritten file);
- :mod:`prunelab.npz`: ``.npz`` archives checked from their headers before loading;
- :mod:`prunelab.device`: device and thread choice;
- :mod:`prunelab.runs`: resumable checkpoints with every random-number state;
- :mod:`prunelab.paths`: shipped weights and the development data folder;
- :mod:`prunelab.seed`, :mod:`prunelab.machine`: seeding, and the CPU name printed beside benchmark figures.
"""

from prunelab.errors import InputError, OutputError, error_message

__all__ = ["InputError", "OutputError", "error_message"]
