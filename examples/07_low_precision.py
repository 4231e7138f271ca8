"""07 - Where your model's gradients vanish to exactly zero in float16 and bfloat16.

Two models of your own, unchanged, each taken through ``jaxact.precision_census``: the model
runs in a low-precision dtype beside a float32 reference from the same parameters and data, at
every power-of-two loss scale from 2**0 to 2**24, and the census says per activation site
which fraction of ``dL/dh`` is lost to underflow (exactly 0 where float32's is not) and to
overflow, and which loss scales are safe.

* an equinox MLP of 16 sigmoid layers (equinox's default initialisation) on scikit-learn's
  bundled digits, in float16: sigmoid' <= 1/4 shrinks the gradient layer by layer until it
  falls below float16's smallest number (2**-24, about 6e-8) - a loss scale lifts it back,
  until the gradient near the loss overflows float16's largest (65504);
* a flax.linen transformer block (LayerNorm, 4-head self-attention, a GELU MLP, residuals) on
  random tokens, in bfloat16: float32's range, 8 bits of mantissa.

Run: python examples/07_low_precision.py [--small] [--out jaxact-examples/precision.png]
(writes one site x loss-scale figure per model: ``--out`` for the MLP, ``-flax`` beside it for
the transformer block).
"""

import argparse
import sys
from pathlib import Path

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import jaxact
from jaxact.plotting import plot_precision_census


def digits(n: int):
    d = load_digits()
    x = (d.data - d.data.mean(0)) / np.where(d.data.std(0) > 0, d.data.std(0), 1.0)
    return jnp.asarray(x[:n], jnp.float32), jnp.asarray(d.target[:n], jnp.int32)


class Block(nn.Module):
    """A pre-norm transformer block with a mean-pooled 10-way head."""

    width: int = 64
    heads: int = 4

    @nn.compact
    def __call__(self, t):
        h = nn.LayerNorm()(t)
        t = t + nn.MultiHeadDotProductAttention(num_heads=self.heads)(h, h)
        h = nn.LayerNorm()(t)
        t = t + nn.Dense(self.width)(nn.gelu(nn.Dense(4 * self.width)(h)))
        return nn.Dense(10)(t.mean(axis=-2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="smaller models, fewer scales")
    parser.add_argument("--out", default="jaxact-examples/precision.png",
                        help="the MLP's figure; the transformer's goes beside it")  # fmt: skip
    args = parser.parse_args(argv)
    scales = [2.0**k for k in (range(0, 25, 4) if args.small else range(25))]
    out = Path(args.out)
    results = {}

    # 1. equinox sigmoid MLP, float16.
    depth = 8 if args.small else 16
    x, y = digits(128)
    mlp = eqx.nn.MLP(64, 10, 64, depth, activation=jax.nn.sigmoid, key=jax.random.key(0))
    arrays, static = eqx.partition(mlp, eqx.is_inexact_array)

    def mlp_loss(arrays, x, y):
        logits = jax.vmap(eqx.combine(arrays, static))(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    census = jaxact.precision_census(mlp_loss, arrays, x, y, dtype=jnp.float16,
                                     loss_scales=scales)  # fmt: skip
    print(f"equinox MLP, {depth} sigmoid layers, float16:")
    print(census, "\n")
    plot_precision_census(census, out, title=f"equinox sigmoid MLP ({depth} layers), float16")
    results["equinox sigmoid MLP, float16"] = census

    # 2. flax.linen transformer block, bfloat16.
    width = 32 if args.small else 64
    tokens = jax.random.normal(jax.random.key(1), (16, 8, width), jnp.float32)
    labels = jnp.arange(16) % 10
    block = Block(width=width)
    params = block.init(jax.random.key(2), tokens)

    def block_loss(params, tokens, labels):
        logits = block.apply(params, tokens)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    census = jaxact.precision_census(block_loss, params, tokens, labels, dtype=jnp.bfloat16,
                                     loss_scales=scales)  # fmt: skip
    print("flax.linen transformer block, bfloat16:")
    print(census)
    plot_precision_census(census, out.with_name(out.stem + "-flax" + out.suffix),
                          title="flax.linen transformer block, bfloat16")  # fmt: skip
    results["flax transformer block, bfloat16"] = census
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
