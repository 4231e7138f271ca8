"""Activation cost in two regimes: cache-resident (compute-bound) and memory-bound.

* **Cache-resident**: a 128 KiB array (fits in L2) goes through the activation ``iters`` times
  inside one compiled loop, ``y <- 0.9 phi(y) + 0.1 x``; the per-element time is the compute
  cost. Headline: the ratio to ReLU in the same run.
* **Memory-bound**: one pass over an array several times the last-level cache. Headline: the
  bandwidth as a fraction of a plain copy-like pass (``2 x``) in the same run.

Both for the forward pass and for forward + gradient (``jax.vjp``: value and ``phi'``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxact.activations import ACTIVATIONS
from jaxact.bench.timing import measure

RESIDENT_ELEMENTS = 32 * 1024  # 128 KiB of float32


def _apply(rec, y):
    if rec.elementwise:
        return rec.fn(y)
    return rec.fn(y, axis=-1)


def _fwd_grad(rec, y):
    out, pull = jax.vjp(lambda v: _apply(rec, v), y)
    (g,) = pull(jnp.ones_like(out))
    return out, g


def resident_kernel(rec, iters: int, grad: bool):
    """The compiled loop timed in the cache-resident regime."""

    def run(x):
        def body(_, y):
            if grad:
                out, g = _fwd_grad(rec, y)
                z = out + g
            else:
                z = _apply(rec, y)
            return 0.9 * z + 0.1 * x

        return jax.lax.fori_loop(0, iters, body, x)

    return run


def memory_kernel(rec, grad: bool):
    if grad:
        return lambda x: _fwd_grad(rec, x)
    return lambda x: _apply(rec, x)


def run(*, quick: bool = False, names: list[str] | None = None, progress=None) -> dict[str, Any]:
    """Time every activation in both regimes; returns a JSON-able dict."""
    names = list(ACTIVATIONS) if names is None else names
    iters = 50 if quick else 200
    big = 2**24 if quick else 2**26  # 64 MiB / 256 MiB of float32, vs a 32 MiB L3 here
    # Quick mode (the smoke test, under a minute in all): fewer, shorter repeats.
    timing = {"repeats": 3, "min_time": 0.02, "warmup": 1} if quick else {"repeats": 7}
    key = jax.random.key(0)
    x_small = jax.random.normal(key, (RESIDENT_ELEMENTS // 128, 128), jnp.float32)
    x_big = jax.random.normal(key, (big // 128, 128), jnp.float32)

    copy = measure(lambda v: 2.0 * v, x_big, **timing)
    copy_gbs = 2 * 4 * big / copy.median / 1e9
    out: dict[str, Any] = {
        "resident_elements": RESIDENT_ELEMENTS,
        "resident_iters": iters,
        "memory_elements": big,
        "copy": {"timing": copy.as_dict(), "gb_per_s": copy_gbs},
        "activations": {},
    }
    for name in names:
        rec = ACTIVATIONS[name]
        row: dict[str, Any] = {}
        for mode, grad in (("forward", False), ("forward_grad", True)):
            t_res = measure(resident_kernel(rec, iters, grad), x_small, **timing)
            t_mem = measure(memory_kernel(rec, grad), x_big, **timing)
            traffic = (3 if grad else 2) * 4 * big  # read x, write phi (and phi')
            row[mode] = {
                "resident": t_res.as_dict(),
                "resident_ns_per_element": t_res.median / (iters * RESIDENT_ELEMENTS) * 1e9,
                "memory": t_mem.as_dict(),
                "memory_ns_per_element": t_mem.median / big * 1e9,
                "memory_gb_per_s": traffic / t_mem.median / 1e9,
                "memory_fraction_of_copy": traffic / t_mem.median / 1e9 / copy_gbs,
            }
        out["activations"][name] = row
        if progress is not None:
            progress(name)
    relu = out["activations"].get("relu")
    if relu is not None:
        for row in out["activations"].values():
            for mode in ("forward", "forward_grad"):
                row[mode]["resident_ratio_to_relu"] = (
                    row[mode]["resident_ns_per_element"] / relu[mode]["resident_ns_per_element"]
                )
                row[mode]["memory_ratio_to_relu"] = (
                    row[mode]["memory_ns_per_element"] / relu[mode]["memory_ns_per_element"]
                )
    return out
