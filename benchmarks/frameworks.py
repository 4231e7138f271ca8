"""Run the frameworks comparison alone and print its results as JSON (see jaxact.bench).

Usage: python benchmarks/frameworks.py [--quick]
"""

import json
import sys

from jaxact.bench import frameworks

if __name__ == "__main__":
    print(json.dumps(frameworks.run(quick="--quick" in sys.argv), indent=1))
