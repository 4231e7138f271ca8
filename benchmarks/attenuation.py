"""Run the attenuation benchmark alone and print its results as JSON (see jaxact.bench).

Usage: python benchmarks/attenuation.py [--quick]
"""

import json
import sys

from jaxact.bench import attenuation

if __name__ == "__main__":
    print(json.dumps(attenuation.run(quick="--quick" in sys.argv), indent=1))
