"""Run the sweep benchmark alone (vmapped seeds against a loop) and print its results as JSON.

Usage: python benchmarks/sweep.py [--quick]
"""

import json
import sys

from jaxact.bench import sweep

if __name__ == "__main__":
    print(json.dumps(sweep.run(quick="--quick" in sys.argv), indent=1))
