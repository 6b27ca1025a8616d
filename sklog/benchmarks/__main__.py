"""``python -m sklog.benchmarks``: run the benchmark cells (see ``--help``)."""

import os
import sys

from ._harness import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `python -m sklog.benchmarks --list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
