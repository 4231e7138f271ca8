"""The cost of the attenuation measurements against a plain forward pass."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxact.attenuation import layer_gradient_norms, layer_jacobians
from jaxact.bench.timing import measure
from jaxact.mlp import init_mlp, mlp_forward


def run(*, quick: bool = False) -> dict[str, Any]:
    depth, width, in_dim, batch = (20, 128, 16, 8) if quick else (50, 256, 32, 16)
    repeats = 3 if quick else 7
    params = init_mlp(jax.random.key(0), depth=depth, width=width, in_dim=in_dim)
    x = jax.random.normal(jax.random.key(1), (batch, in_dim), jnp.float32)
    # jacfwd pushes in_dim tangents through the net: compare with a forward pass on a batch
    # in_dim times larger (the same matmul work).
    x_wide = jax.random.normal(jax.random.key(2), (batch * in_dim, in_dim), jnp.float32)
    fwd = measure(lambda p, v: mlp_forward(p, v, "tanh"), params, x, repeats=repeats)
    fwd_wide = measure(lambda p, v: mlp_forward(p, v, "tanh"), params, x_wide, repeats=repeats)
    jac = measure(lambda p, v: layer_jacobians(p, v, "tanh"), params, x, repeats=repeats)
    gn = measure(lambda p, v: layer_gradient_norms(p, v, "tanh").pre, params, x,
                 repeats=repeats)  # fmt: skip
    return {
        "depth": depth, "width": width, "in_dim": in_dim, "batch": batch,
        "forward": fwd.as_dict(),
        "forward_batch_times_in_dim": fwd_wide.as_dict(),
        "layer_jacobians": jac.as_dict(),
        "layer_gradient_norms": gn.as_dict(),
        "jacobians_over_wide_forward": jac.median / fwd_wide.median,
        "gradient_norms_over_forward": gn.median / fwd.median,
    }  # fmt: skip
