"""``python -m collector`` and the ``dozor-collector`` entry point."""

import sys

from collector.cli import main

if __name__ == "__main__":
    sys.exit(main())
