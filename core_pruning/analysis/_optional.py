"""The optional packages of criteria analysis, imported on first use: ``pip install 'prunelab[analysis]'``.

``from core_pruning.analysis._optional import stats`` (``scipy.stats``) or ``... import Figure``
(``matplotlib.figure.Figure``) inside a function keeps ``import core_pruning`` and pruning free of scipy and
matplotlib; without them the first analysis call raises one :class:`~prunelab.errors.InputError` line naming
the extra, which the CLI prints as ``error: ...`` with exit code 2.
"""

from __future__ import annotations

import importlib
from typing import Any

from prunelab.errors import InputError

EXTRA_HINT = "pip install 'prunelab[analysis]'"
#: name -> (module, attribute of it or None for the module itself, package to install).
_LAZY = {"stats": ("scipy.stats", None, "scipy"), "Figure": ("matplotlib.figure", "Figure", "matplotlib")}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attribute, package = _LAZY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise InputError(f"criteria analysis needs {package}, which is not installed: {EXTRA_HINT}") from None
    return module if attribute is None else getattr(module, attribute)
