"""``python -m cp_predict``: the command line of :mod:`cp_predict.cli`."""

import sys

from cp_predict.cli import main

if __name__ == "__main__":
    sys.exit(main())
