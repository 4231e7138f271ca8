"""02 - The vanishing-gradient demo: gradient norm layer by layer, sigmoid against ReLU.

"Multiply 0.1 by itself ten times: you get 0.0000000001." Here is the same arithmetic, done by
backpropagation through deep random networks.

Run: python examples/02_vanishing_gradients.py [--small] [--out jaxact-examples/vanishing.png]
"""

import argparse

import jax

import jaxact
from jaxact.plotting import plot_attenuation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--out", default="jaxact-examples/vanishing.png")
    args = parser.parse_args(argv)
    depth, width = (12, 32) if args.small else (50, 256)

    print(f"0.1 ** 10 = {0.1**10:.0e}")
    x = jax.random.normal(jax.random.key(1), (32, width), jax.numpy.float32)
    results = {}
    for name, init in (("sigmoid", "glorot"), ("tanh", "glorot"), ("relu", "he")):
        params = jaxact.init_mlp(jax.random.key(0), depth=depth, width=width, init=init)
        results[name] = jaxact.gradient_attenuation(params, x, name)
        print(f"{name:<8} ({init} init): {results[name]}")
    plot_attenuation(results.values(), args.out)
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
