"""Run every benchmark; same as ``jaxact bench``. Usage: python benchmarks/run.py [--quick]."""

import sys

from jaxact.bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
