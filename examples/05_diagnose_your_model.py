"""05 - Diagnose your own model: a flax.linen conv net and an equinox MLP on digits.

Both models are trained with optax on scikit-learn's bundled 8x8 digits (no download). The
training step calls ``jaxact.diagnose`` instead of ``jax.value_and_grad``: one forward and one
backward pass give the gradient for the optimizer *and*, at every activation site, the gradient
norm, the saturated fraction and the dead units. Every ``--every`` steps the diagnosis is kept;
at the end the gradient-flow picture and the site x step heatmaps are drawn.

The equinox MLP has 12 hidden layers, with ReLU and with sigmoid: with sigmoid the gradient at
the first layer is about 1e-9 of the last one's and the network does not learn; with ReLU it
does. The conv net (ReLU) is the healthy reference.

Run: python examples/05_diagnose_your_model.py [--small] [--out jaxact-examples/diagnose.png]
[--results summary.json] (writes the conv net's gradient flow at --out, three more figures beside
it and, with --results, the numbers it prints as JSON). The README's figures and numbers are
from ``--out docs/diagnose.png --results docs/diagnose_example.json``.
"""

import argparse
import json
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
from jaxact.plotting import plot_diagnosis, plot_diagnosis_history


def digits_split(n_test: int = 297):
    """The 1797 digits, scaled to [0, 1], split by a fixed permutation into train and test."""
    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.target))
    x = (d.data[order] / 16.0).astype(np.float32)
    y = d.target[order].astype(np.int32)
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


class ConvNet(nn.Module):
    """Two 3x3 ReLU convolutions and a linear readout, on (N, 8, 8, 1) images."""

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], 8, 8, 1)
        x = nn.relu(nn.Conv(16, (3, 3))(x))
        x = nn.relu(nn.Conv(32, (3, 3), strides=2)(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def cross_entropy(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def fit(apply, params, train, test, *, steps, every, batch, lr):
    """Adam on minibatches; the step is jaxact.diagnose. Returns (params, diagnoses, steps)."""

    def loss(params, x, y):
        return cross_entropy(apply(params, x), y)

    opt = optax.adam(lr)

    @jax.jit
    def step(params, state, x, y):
        diag = jaxact.diagnose(loss, params, x, y)
        updates, state = opt.update(diag.grads, state, params)
        return optax.apply_updates(params, updates), state, diag

    state = opt.init(params)
    x, y = train
    rng = np.random.default_rng(1)
    kept, kept_steps = [], []
    for i in range(1, steps + 1):
        idx = rng.choice(len(y), batch, replace=False)
        params, state, diag = step(params, state, x[idx], y[idx])
        if i % every == 0 or i == 1:
            kept.append(jax.device_get(diag))
            kept_steps.append(i)
    accuracy = float(jnp.mean(jnp.argmax(apply(params, test[0]), -1) == test[1]))
    return params, kept, kept_steps, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a few steps (a test)")
    parser.add_argument(
        "--out", default="jaxact-examples/diagnose.png", help="the conv net's figure"
    )
    parser.add_argument("--every", type=int, default=None, help="diagnose every k steps")
    parser.add_argument("--results", default=None, help="write the summary as JSON here")
    args = parser.parse_args(argv)
    steps = 30 if args.small else 600
    every = args.every or (10 if args.small else 50)
    train, test = digits_split()
    out = Path(args.out)
    results = {}

    # flax.linen: the parameters are a dict; the model is unchanged.
    conv = ConvNet()
    params = conv.init(jax.random.key(0), train[0][:1])
    params, diags, at, acc = fit(conv.apply, params, train, test, steps=steps, every=every,
                                 batch=128, lr=3e-3)  # fmt: skip
    results["flax conv net"] = (diags, at, acc)
    plot_diagnosis(diags[-1], out, title=f"flax.linen conv net after {at[-1]} steps")
    plot_diagnosis_history(diags, at, out.with_name(out.stem + "-flax-history.png"),
                           title="flax.linen conv net (ReLU) on digits")  # fmt: skip

    # equinox: split the module into its arrays (trained) and the rest (static).
    for name, act in (("relu", jax.nn.relu), ("sigmoid", jax.nn.sigmoid)):
        mlp = eqx.nn.MLP(64, 10, 64, 12, activation=act, key=jax.random.key(1))
        arrays, static = eqx.partition(mlp, eqx.is_inexact_array)

        def apply(arrays, x, static=static):
            return jax.vmap(eqx.combine(arrays, static))(x)

        _, diags, at, acc = fit(apply, arrays, train, test, steps=steps, every=every,
                                batch=128, lr=1e-3)  # fmt: skip
        results[f"equinox {name} MLP"] = (diags, at, acc)
    plot_diagnosis(diags[0], out.with_name(out.stem + "-equinox.png"),
                   title="equinox MLP, 12 sigmoid layers, at step 1")  # fmt: skip
    plot_diagnosis_history(diags, at, out.with_name(out.stem + "-equinox-history.png"),
                           title="equinox MLP (12 sigmoid layers) on digits")  # fmt: skip

    summary = {}
    for name, (diags, at, acc) in results.items():
        first, last = diags[0], diags[-1]
        g = np.asarray(first.grad_norm)
        summary[name] = {
            "sites": len(first.sites),
            "steps": at[-1],
            "test_accuracy": acc,
            "first_over_last_grad_at_step_1": float(g[0] / g[-1]),
            "dead_units_at_end": float(np.asarray(last.dead_units).mean()),
            "saturated_at_end": float(np.asarray(last.saturated).mean()),
        }
        print(f"{name}: {len(first.sites)} sites, test accuracy {acc:.1%} after {at[-1]} steps; "
              f"at step {at[0]} the first site's gradient is {g[0] / g[-1]:.2e} x the last's; "
              f"dead units at the end {np.asarray(last.dead_units).mean():.1%} (mean over "
              "sites)")  # fmt: skip
        print(last.table())
    if args.results:
        from jaxact.bench.timing import device_info

        given = sys.argv[1:] if argv is None else argv
        command = " ".join(["python examples/05_diagnose_your_model.py", *given])
        Path(args.results).write_text(json.dumps(
            {"command": command.strip(), "device": device_info(), "models": summary},
            indent=1))  # fmt: skip
    return results


if __name__ == "__main__":
    main()
