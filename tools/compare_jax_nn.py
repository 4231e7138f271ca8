"""Measure jax.nn against jaxact in float32: worst value error (ulp) and gradient trouble.

Run ``python tools/compare_jax_nn.py``; it prints the markdown table quoted in the README.
The reference is jaxact in float64, which the test suite checks against mpmath to 8 ulp of
float64. Results below float32's smallest normal number are excluded (XLA flushes them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxact

jax.config.update("jax_enable_x64", True)

PAIRS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "mish": jax.nn.mish,
    "log_sigmoid": jax.nn.log_sigmoid,
}


def ulps(got, ref):
    ref32 = ref.astype(np.float32)
    spacing = np.spacing(np.abs(ref32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


def main() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-100, 100, 200_001), rng.uniform(-30, 30, 200_000)])
    x32 = jnp.asarray(x.astype(np.float32))
    x64 = jnp.asarray(x.astype(np.float32).astype(np.float64))
    tiny = float(np.finfo(np.float32).tiny)
    print(
        "| activation | jax.nn worst value error | jaxact worst value error "
        "| jax.nn grad: worst error / max slope | jaxact grad | jax.nn NaN grads at extremes |"
    )
    print("|---|---|---|---|---|---|")
    extremes = jnp.asarray([-3e38, -1e30, -1e13, -1e6, 1e6, 1e13, 1e30, 3e38], jnp.float32)
    for name, theirs in PAIRS.items():
        rec = jaxact.get_activation(name)
        ref = np.asarray(rec.fn(x64))
        dref = np.asarray(rec.derivative(x64))
        keep = np.abs(ref) >= tiny
        row = [name]
        for fn in (theirs, rec.fn):
            row.append(f"{ulps(np.asarray(jax.jit(fn)(x32)), ref)[keep].max():.1f} ulp")
        for fn in (theirs, rec.fn):
            g = np.asarray(jax.jit(jax.vmap(jax.grad(fn)))(x32), np.float64)
            row.append(f"{np.nanmax(np.abs(g - dref)) / rec.max_slope:.1e}")
        nan = jnp.isnan(jax.vmap(jax.grad(jax.grad(theirs)))(extremes)) | jnp.isnan(
            jax.vmap(jax.grad(theirs))(extremes)
        )
        row.append(str(int(nan.sum())) + " of 8")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
