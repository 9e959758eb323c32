"""``python -m artnet <command>``: see :mod:`artnet.cli`."""

import sys

from artnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
