"""The scan MLP's training step: time, GFLOP/s, fraction of the matmul peak; compile time.

A training step is forward + backward + SGD update of ``loss = mean((f(x) - y)**2)`` for a net
of ``depth`` hidden layers of ``width`` (no projections), batch ``batch``. Its matmul work is
``6 * batch * width**2 * depth`` flops (one matmul forward, two backward per layer); achieved
GFLOP/s is set against the best GFLOP/s of a large square matmul measured in the same run.
Compile time is measured separately against depth, and against an unrolled Python-loop MLP.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp

from jaxact.activations import ACTIVATIONS
from jaxact.bench.timing import measure
from jaxact.mlp import MLPParams, init_mlp, mlp_forward


def mse(out: jax.Array, y: jax.Array) -> jax.Array:
    """The benchmarks' loss ``mean((out - y)**2)`` (a scalar).

    >>> import jax.numpy as jnp
    >>> from jaxact.bench.mlp import mse
    >>> float(mse(jnp.array([1.0, 3.0]), jnp.zeros(2)))
    5.0
    """
    return jnp.mean((out - y) ** 2)


def loss_fn(activation: str, *, unrolled: bool = False, backward: str = "autodiff"):
    """The benchmark's loss ``(params, x, y) -> mean((f(x) - y)**2)`` of the scan MLP.

    ``backward`` is :func:`jaxact.mlp_forward`'s; ``unrolled`` runs a Python loop over the
    layers instead of the scan (for the compile-time comparison).
    """
    phi = ACTIVATIONS[activation].fn

    def forward(p: MLPParams, x):
        if not unrolled:
            return mlp_forward(p, x, activation, backward=backward)
        a = x
        for i in range(p.weights.shape[0]):
            a = phi(a @ p.weights[i] + p.biases[i])
        return a

    return lambda p, x, y: mse(forward(p, x), y)


def train_step_fn(activation: str, lr: float = 1e-3, *, unrolled: bool = False,
                  backward: str = "autodiff"):  # fmt: skip
    """The benchmark's SGD step ``(params, x, y) -> (params, loss)`` on :func:`loss_fn`, not
    jitted."""
    loss = loss_fn(activation, unrolled=unrolled, backward=backward)

    def step(p, x, y):
        value, g = jax.value_and_grad(loss)(p, x, y)
        return jax.tree.map(lambda a, b: a - lr * b, p, g), value

    return step


def matmul_peak(sizes=(1024, 2048), repeats: int = 5) -> dict[str, Any]:
    """Best float32 GFLOP/s of ``n x n @ n x n`` over ``sizes``."""
    best, rows = 0.0, {}
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        t = measure(lambda u, v: u @ v, a, a, repeats=repeats)
        gflops = 2 * n**3 / t.median / 1e9
        rows[str(n)] = {"timing": t.as_dict(), "gflop_per_s": gflops}
        best = max(best, gflops)
    return {"sizes": rows, "gflop_per_s": best}


def random_batch(width: int, batch: int):
    """A fixed float32 batch ``(x, y)``, both ``(batch, width)``, the same in every benchmark."""
    k1, k2 = jax.random.split(jax.random.key(1))
    x = jax.random.normal(k1, (batch, width), jnp.float32)
    y = jax.random.normal(k2, (batch, width), jnp.float32)
    return x, y


def step_benchmarks(
    activations, depths, widths, batch: int, peak: float, repeats: int, progress=None
) -> list[dict[str, Any]]:
    rows = []
    for width in widths:
        x, y = random_batch(width, batch)
        # A second reference: one matmul of the step's own shape, (batch, width) @ (width, width).
        w = jax.random.normal(jax.random.key(2), (width, width), jnp.float32)
        t_mm = measure(lambda u, v: u @ v, x, w, repeats=repeats)
        same_shape = 2 * batch * width**2 / t_mm.median / 1e9
        for depth in depths:
            params = init_mlp(jax.random.key(0), depth=depth, width=width, init="he")
            for act in activations:
                t = measure(train_step_fn(act), params, x, y, repeats=repeats, min_time=0.2)
                flops = 6 * batch * width**2 * depth
                gflops = flops / t.median / 1e9
                rows.append({
                    "activation": act, "depth": depth, "width": width, "batch": batch,
                    "timing": t.as_dict(), "gflop_per_s": gflops,
                    "fraction_of_matmul_peak": gflops / peak,
                    "same_shape_matmul_gflop_per_s": same_shape,
                    "fraction_of_same_shape_matmul": gflops / same_shape,
                })  # fmt: skip
                if progress is not None:
                    progress(f"{act} d{depth} w{width}")
    return rows


def compile_times(depths, unrolled_depths, width: int = 64, batch: int = 32) -> dict[str, Any]:
    """Compile seconds of the training step: scan MLP against depth, and unrolled loop."""
    x, y = random_batch(width, batch)
    out: dict[str, Any] = {"width": width, "scan": {}, "unrolled": {}}
    for kind, ds in (("scan", depths), ("unrolled", unrolled_depths)):
        for depth in ds:
            params = init_mlp(jax.random.key(0), depth=depth, width=width)
            fn = jax.jit(train_step_fn("relu", unrolled=kind == "unrolled"))
            t0 = time.perf_counter()
            fn.lower(params, x, y).compile()
            out[kind][str(depth)] = time.perf_counter() - t0
    return out


def run(*, quick: bool = False, progress=None) -> dict[str, Any]:
    peak = matmul_peak(repeats=3 if quick else 5)
    if quick:
        acts, depths, widths, batch = ["sigmoid", "relu"], [10, 30], [256], 128
        comp_depths, unrolled_depths = [10, 100, 1000], [10, 30]
    else:
        acts, depths, widths, batch = ["sigmoid", "tanh", "relu", "gelu"], [10, 50, 200], [
            256, 1024], 256  # fmt: skip
        comp_depths, unrolled_depths = [10, 30, 100, 300, 1000], [10, 50, 200]
    steps = step_benchmarks(
        acts, depths, widths, batch, peak["gflop_per_s"], 3 if quick else 5, progress
    )
    comp = compile_times(sorted(set(comp_depths) | set(unrolled_depths)), unrolled_depths)
    scan, unrolled = comp["scan"], comp["unrolled"]
    shallow, deep = str(min(comp_depths)), str(max(comp_depths))
    comp["scan_ratio_deepest_to_shallowest"] = scan[deep] / scan[shallow]
    at = str(max(unrolled_depths))
    comp["unrolled_over_scan_at_deepest_unrolled"] = unrolled[at] / scan[at]
    return {"matmul_peak": peak, "steps": steps, "compile": comp}
