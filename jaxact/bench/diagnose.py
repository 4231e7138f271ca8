"""What :func:`jaxact.diagnose` costs in a training step, and what it costs to compile.

* **Step overhead.** The same jitted training step (loss, gradient, one Adam update) written
  with ``jax.value_and_grad`` and with ``jaxact.diagnose``, on the same model and batch, timed
  in the same run, alternating; the figure is the median of the per-round ratios. Models:
  jaxact's scan MLP (ReLU and tanh), an ``equinox.nn.MLP``, an equinox transformer block
  (attention, LayerNorm, a GELU MLP, residuals) and a ``flax.linen`` GELU MLP.
* **Precision census.** :func:`jaxact.precision_census` in float16 against one
  ``value_and_grad`` step of the same model, with one loss scale and with the default 25.
* **Compile time.** A deep scanned MLP (depth 1000), ``jax.jit`` of ``value_and_grad`` against
  ``jax.jit`` of ``diagnose``: tracing, lowering and XLA compilation, on fresh functions each
  time, alternating; the figure is the median of the per-pair ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxact.bench.timing import compare, per_round_ratio
from jaxact.diagnosis import diagnose
from jaxact.mlp import init_mlp, mlp_forward


def _steps(loss, params, *args, opt):
    """The plain step and the diagnosed step, both ``(params, state, *args) -> (params, state,
    loss)``; the diagnosed one also returns the per-site gradient norms (so nothing is cut)."""

    def plain(p, state, *a):
        value, g = jax.value_and_grad(loss)(p, *a)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state, value

    def diagnosed(p, state, *a):
        d = diagnose(loss, p, *a)
        updates, state = opt.update(d.grads, state, p)
        return optax.apply_updates(p, updates), state, d.loss, d.grad_norm, d.dead_units

    return plain, diagnosed


def _models(width: int, depth: int, batch: int):
    """(name, loss, params, args) for each model of the step benchmark."""
    kx, kp = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (batch, width), jnp.float32)
    y = jnp.arange(batch) % 10

    def xent(logits):
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    out = []
    for act in ("relu", "tanh"):
        p = init_mlp(kp, depth=depth, width=width, out_dim=10)
        out.append((f"jaxact scan MLP ({act})", lambda p, x, a=act: xent(mlp_forward(p, x, a)),
                    p, (x,)))  # fmt: skip
    try:
        import equinox as eqx

        m = eqx.nn.MLP(width, 10, width, depth, key=kp)
        arrays, static = eqx.partition(m, eqx.is_inexact_array)

        def eqx_loss(arrays, x):
            return xent(jax.vmap(eqx.combine(arrays, static))(x))

        out.append(("equinox MLP (relu)", eqx_loss, arrays, (x,)))
        out.append(_equinox_transformer(width, batch, kp, y))
    except ImportError:  # pragma: no cover - the test extra has it
        pass
    try:
        import flax.linen as nn

        class GeluMLP(nn.Module):
            @nn.compact
            def __call__(self, x):
                for _ in range(depth):
                    x = nn.gelu(nn.Dense(width)(x))
                return nn.Dense(10)(x)

        model = GeluMLP()
        fp = model.init(kp, x)
        out.append(("flax.linen MLP (gelu)", lambda p, x: xent(model.apply(p, x)), fp, (x,)))
    except ImportError:  # pragma: no cover
        pass
    return out


def _equinox_transformer(width: int, batch: int, key, y):
    """A pre-norm transformer block in equinox (LayerNorm, 4-head self-attention, LayerNorm,
    a GELU MLP of 4x width, residuals) on ``batch`` sequences of 16 tokens, then a mean-pooled
    linear head: the attention softmax, the normalisation and the GELU are all in one step."""
    import equinox as eqx

    seq, heads = 16, 4
    k = jax.random.split(key, 5)

    class Block(eqx.Module):
        ln1: eqx.nn.LayerNorm
        attn: eqx.nn.MultiheadAttention
        ln2: eqx.nn.LayerNorm
        up: eqx.nn.Linear
        down: eqx.nn.Linear
        head: eqx.nn.Linear

        def __init__(self):
            self.ln1, self.ln2 = eqx.nn.LayerNorm(width), eqx.nn.LayerNorm(width)
            self.attn = eqx.nn.MultiheadAttention(heads, width, key=k[0])
            self.up = eqx.nn.Linear(width, 4 * width, key=k[1])
            self.down = eqx.nn.Linear(4 * width, width, key=k[2])
            self.head = eqx.nn.Linear(width, 10, key=k[3])

        def __call__(self, t):  # t: (seq, width)
            h = jax.vmap(self.ln1)(t)
            t = t + self.attn(h, h, h)
            h = jax.vmap(self.ln2)(t)
            t = t + jax.vmap(self.down)(jax.nn.gelu(jax.vmap(self.up)(h)))
            return self.head(t.mean(axis=0))

    arrays, static = eqx.partition(Block(), eqx.is_inexact_array)
    tokens = jax.random.normal(k[4], (batch, seq, width), jnp.float32)

    def loss(arrays, tokens):
        logits = jax.vmap(eqx.combine(arrays, static))(tokens)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return "equinox transformer block (gelu)", loss, arrays, (tokens,)


def _census_cost(width: int, depth: int, batch: int, repeats: int) -> list[dict[str, Any]]:
    """:func:`jaxact.precision_census` (float16) against one ``value_and_grad`` step of the same
    jaxact scan MLP (tanh), both jitted: with one loss scale (the reference pass and one
    low-precision pass) and with the default 25 (one low-precision pass per scale)."""
    from jaxact.precision import precision_census

    p = init_mlp(jax.random.key(0), depth=depth, width=width, out_dim=10)
    x = jax.random.normal(jax.random.key(1), (batch, width), jnp.float32)

    def loss(p, x):
        return jnp.mean(mlp_forward(p, x, "tanh") ** 2)

    out = []
    for scales in ([1.0], None):
        c = compare(jax.value_and_grad(loss),
                    lambda p, x, s=scales: precision_census(loss, p, x, loss_scales=s), p, x,
                    repeats=repeats)  # fmt: skip
        out.append({"model": "jaxact scan MLP (tanh)", "width": width, "depth": depth,
                    "batch": batch, "loss_scales": 1 if scales else 25,
                    "value_and_grad": c.a.as_dict(), "census": c.b.as_dict(),
                    "ratio": c.ratio, "ratio_min": c.ratio_min,
                    "ratio_max": c.ratio_max})  # fmt: skip
    return out


def _compile_pairs(make_a, make_b, params, repeats: int) -> tuple[list[float], list[float]]:
    """Compile times (trace, lower, XLA) of fresh functions from ``make_a`` and ``make_b``,
    alternating, so that a slow spell of the machine hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for k, make in enumerate((make_a, make_b)):
            fn = make()  # a fresh function: nothing cached
            t0 = time.perf_counter()
            jax.jit(fn).lower(params).compile()
            times[k].append(time.perf_counter() - t0)
    return times


def run(*, quick: bool = False) -> dict[str, Any]:
    widths = [64] if quick else [256, 512]
    depth, batch = (3, 32) if quick else (8, 128)
    repeats = 3 if quick else 11
    opt = optax.adam(1e-3)
    steps = []
    for width in widths:
        for name, loss, params, args in _models(width, depth, batch):
            plain, diagnosed = _steps(loss, params, *args, opt=opt)
            state = opt.init(params)
            c = compare(plain, diagnosed, params, state, *args, repeats=repeats)
            steps.append({"model": name, "width": width, "depth": depth, "batch": batch,
                          "value_and_grad": c.a.as_dict(), "diagnose": c.b.as_dict(),
                          "ratio": c.ratio, "ratio_min": c.ratio_min,
                          "ratio_max": c.ratio_max})  # fmt: skip
    census = _census_cost(widths[0], depth, batch, repeats)
    c_depth, c_width = (100, 32) if quick else (1000, 64)
    p = init_mlp(jax.random.key(1), depth=c_depth, width=c_width, out_dim=10)
    x = jax.random.normal(jax.random.key(2), (32, c_width), jnp.float32)

    def loss(p):
        return jnp.mean(mlp_forward(p, x, "relu") ** 2)

    # Warm-up: the first diagnose traces the activation catalogue once per process.
    jax.jit(lambda p: diagnose(loss, p)).lower(p).compile()
    c_repeats = 2 if quick else 9
    vg_t, dg_t = _compile_pairs(lambda: jax.value_and_grad(loss),
                                lambda: lambda q: diagnose(loss, q), p, c_repeats)  # fmt: skip
    ratio = per_round_ratio(dg_t, vg_t)
    vg, dg = statistics.median(vg_t), statistics.median(dg_t)
    return {
        "steps": steps,
        "census": census,
        "max_ratio": max(s["ratio"] for s in steps),
        "compile": {
            "depth": c_depth,
            "width": c_width,
            "value_and_grad_s": vg,
            "diagnose_s": dg,
            "ratio": ratio["median"],
            "ratio_min": ratio["min"],
            "ratio_max": ratio["max"],
            "repeats": c_repeats,
        },
    }
