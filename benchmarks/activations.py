"""Run the activations benchmark alone and print its results as JSON (see jaxact.bench).

Usage: python benchmarks/activations.py [--quick]
"""

import json
import sys

from jaxact.bench import activations

if __name__ == "__main__":
    print(json.dumps(activations.run(quick="--quick" in sys.argv), indent=1))
