"""Run the torch baseline benchmark alone and print its results as JSON (see jaxact.bench).

Usage: python benchmarks/torch_baseline.py [--quick]
"""

import json
import sys

from jaxact.bench import torch_baseline

if __name__ == "__main__":
    print(json.dumps(torch_baseline.run(quick="--quick" in sys.argv), indent=1))
