"""Bad calls to the Python API: a clear ValueError/TypeError (or MemoryError with the size
needed) before any work - never an XLA abort, a NaN result or an error from deep inside JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import jaxact
from jaxact import datasets, theory

KEY = jax.random.key(0)


def _net(depth=2, width=4):
    return jaxact.init_mlp(KEY, depth=depth, width=width)


CASES = [
    # Sizes XLA would abort the process on (exit -6, no Python exception) are refused first.
    (lambda: jaxact.init_mlp(KEY, depth=2, width=10**9), MemoryError,
     r"init_mlp: depth 2 x width 1000000000 needs about .* GB of memory, more than the"),
    (lambda: jaxact.init_mlp(KEY, depth=10**6, width=1000), MemoryError,
     r"depth 1000000 x width 1000 needs about 1.2e\+04 GB"),
    (lambda: datasets.two_spirals(KEY, 10**10), MemoryError, r"two_spirals: n = 10000000000"),
    (lambda: theory.compare("tanh", sigma_w2=1.5, width=10**9), MemoryError,
     r"compare: depth 30 x width 1000000000"),
    # Wrong types name what was expected.
    (lambda: jaxact.mlp_forward({"w": 1}, jnp.ones((2, 4)), "relu"), TypeError,
     r"params must be MLPParams \(from jaxact.init_mlp\), got dict"),
    (lambda: jaxact.mlp_forward((1, 2), jnp.ones((2, 4)), "relu"), TypeError, r"got tuple"),
    (lambda: jaxact.mlp_forward(_net(), jnp.ones((2, 4)), "relu", residual="yes"), TypeError,
     r"residual must be a bool or a scalar boolean array, got 'yes'"),
    (lambda: jaxact.mlp_trace(_net(), jnp.ones((2, 4)), "relu", residual=1), TypeError,
     r"mlp_trace: residual must be a bool or a scalar boolean array, got 1"),
    (lambda: jaxact.trace_statistics("x", "relu"), TypeError,
     r"trace must be an MLPTrace \(from jaxact.mlp_trace\), got str"),
    # Results that would be NaN or inf are refused with the reason.
    (lambda: jaxact.gradient_attenuation(_net(depth=1), jnp.ones((2, 4)), "relu"), ValueError,
     r"at least 2 hidden layers, got depth 1"),
    (lambda: theory.depth_scales("relu", 3.0, 0.05), ValueError,
     r"no fixed point .* grows without bound"),
    (lambda: theory.compare("tanh", sigma_w2=1.5, seeds=0), ValueError,
     r"seeds must be a count >= 1 or a non-empty list of seeds, got 0"),
    (lambda: theory.compare("tanh", sigma_w2=1.5, seeds=[]), ValueError, r"got \[\]"),
    (lambda: theory.compare("tanh", sigma_w2=1.5, batch=0), ValueError,
     r"compare: batch must be an integer >= 1, got 0"),
    # A user activation: nonsense metadata and nowhere-finite functions.
    (lambda: jaxact.register_activation("bad_nan", lambda x: x * jnp.nan,
                                        lambda x: x * jnp.nan), ValueError,
     r"fn is not finite anywhere on the grid"),
    (lambda: jaxact.register_activation("bad_gain", lambda x: x, jnp.ones_like, gain=-1),
     ValueError, r"gain must be a finite number > 0, got -1"),
    (lambda: jaxact.register_activation("bad_range", lambda x: x, jnp.ones_like,
                                        output_range=(1, 0)), ValueError,
     r"output_range must be \(low, high\) with low <= high, got \(1, 0\)"),
    (lambda: jaxact.register_activation("bad_slope", lambda x: x, jnp.ones_like,
                                        max_slope=-2.0), ValueError,
     r"max_slope must be a number >= 0"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), CASES,
                         ids=[m[:40] for _, _, m in CASES])  # fmt: skip
def test_bad_call_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert "bad_nan" not in jaxact.ACTIVATIONS and "bad_gain" not in jaxact.ACTIVATIONS


def test_good_calls_still_pass():
    # The checks refuse only what they should: a traced residual flag, an existing network.
    net = _net()
    x = jnp.ones((2, 4))
    flags = jnp.array([False, True])
    out = jax.vmap(lambda r: jaxact.mlp_forward(net, x, "relu", residual=r))(flags)
    assert out.shape == (2, 2, 4)
    assert theory.depth_scales("relu", 2.0, 0.0).chi1 == pytest.approx(1.0)


@pytest.mark.slow  # about 5 s: compare compiles a gradient pass
def test_compare_of_an_existing_network_still_passes():
    c = theory.compare("tanh", params=jaxact.init_mlp(KEY, depth=5, width=64, init="glorot"))
    assert c.sq_norms.shape == (1, 5)
