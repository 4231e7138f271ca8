"""Run the mlp benchmark alone and print its results as JSON (see jaxact.bench).

Usage: python benchmarks/mlp.py [--quick]
"""

import json
import sys

from jaxact.bench import mlp

if __name__ == "__main__":
    print(json.dumps(mlp.run(quick="--quick" in sys.argv), indent=1))
