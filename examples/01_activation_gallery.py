"""01 - The activation gallery: every activation, its derivative, and autodiff checked against it.

Run: python examples/01_activation_gallery.py [--small] [--out jaxact-examples/gallery.png]
"""

import argparse

import jax
import jax.numpy as jnp

import jaxact
from jaxact.plotting import plot_activations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="fewer points (for tests)")
    parser.add_argument("--out", default="jaxact-examples/gallery.png")
    args = parser.parse_args(argv)

    x = jnp.linspace(-6.0, 6.0, 101 if args.small else 10_001, dtype=jnp.float32)
    print(f"{'activation':<13} {'range':<17} {'max |phi-prime|':>15} {'grad vs closed form':>20}")
    worst = {}
    for name, rec in jaxact.ACTIVATIONS.items():
        if not rec.elementwise:
            continue
        # The gradient JAX computes, against the derivative written out by hand.
        autodiff = jax.vmap(jax.grad(rec.fn))(x)
        worst[name] = float(jnp.max(jnp.abs(autodiff - rec.derivative(x))))
        print(f"{name:<13} {rec.output_range!s:<17} {rec.max_slope:>15.4g} {worst[name]:>20.1e}")
    path = plot_activations(args.out)
    print(f"wrote {path}")
    return worst


if __name__ == "__main__":
    main()
