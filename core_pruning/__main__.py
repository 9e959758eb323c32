"""``python -m core_pruning <command>``: see :mod:`core_pruning.cli`."""

import sys

from core_pruning.cli import main

if __name__ == "__main__":
    sys.exit(main())
