"""04 - Mean-field theory against measurement: what chi_1 says, and what random nets do.

Run: python examples/04_theory_vs_measurement.py [--small] [--out jaxact-examples/theory.png]
"""

import argparse

from jaxact import theory
from jaxact.plotting import plot_theory_comparison


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--out", default="jaxact-examples/theory.png")
    args = parser.parse_args(argv)
    width, seeds = (128, 2) if args.small else (1000, 4)

    for name in ("tanh", "relu", "sigmoid"):
        crit = theory.critical_sigma_w2(name, 0.05)
        print(f"{name:<8} edge of chaos at sigma_w2 = {crit:.4g} (sigma_b2 = 0.05)")
    comparisons = [
        theory.compare(name, sigma_w2=1.0, sigma_b2=0.05, depth=10, width=width, seeds=seeds)
        for name in ("tanh", "relu", "sigmoid")
    ]
    for c in comparisons:
        print(c)
    plot_theory_comparison(comparisons, args.out)
    print(f"wrote {args.out}")
    return comparisons


if __name__ == "__main__":
    main()
