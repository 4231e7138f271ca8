"""03 - Training at depth: which deep networks learn two spirals?

Run: python examples/03_training_at_depth.py [--small]
"""

import argparse

import jax

import jaxact
from jaxact.training import train, two_spirals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    depths, steps, width = ((2, 8), 100, 16) if args.small else ((5, 20, 50), 500, 32)

    data = two_spirals(jax.random.key(0), 256 if args.small else 512)
    accuracy = {}
    for depth in depths:
        for name, init in (("relu", "he"), ("sigmoid", "glorot")):
            params = jaxact.init_mlp(
                jax.random.key(1), depth=depth, width=width, in_dim=2, out_dim=1, init=init
            )
            result = train(params, data, name, steps=steps)
            accuracy[(name, depth)] = result.final_accuracy
            g1 = result.history["grad_norms"][-1][0]
            print(f"depth {depth:>3} {name:<8}: accuracy {result.final_accuracy:.0%}, "
                  f"first-layer gradient norm {g1:.2e}")  # fmt: skip
    return accuracy


if __name__ == "__main__":
    main()
