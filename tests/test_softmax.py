"""softmax and log_softmax: Jacobians and Hessians against autodiff, limits, and bad axes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import ACTIVATIONS

OUTPUTS = ["softmax", "log_softmax"]


@pytest.mark.parametrize("name", OUTPUTS)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_jacobian_and_hessian_match_closed_forms(name, axis):
    rec = ACTIVATIONS[name]
    x = jax.random.normal(jax.random.key(1), (3, 4, 5), jnp.float64) * 3
    # Reference: autodiff of the function applied along the same axis.
    xm = jnp.moveaxis(x, axis, -1)
    flat = xm.reshape(-1, xm.shape[-1])
    fn = lambda v: rec.fn(v, axis=-1)  # noqa: E731
    jac = jax.jit(jax.vmap(jax.jacfwd(fn)))(flat).reshape((*xm.shape, xm.shape[-1]))
    hess = jax.jit(jax.vmap(jax.jacfwd(jax.jacrev(fn))))(flat)
    hess = hess.reshape(xm.shape + (xm.shape[-1],) * 2)
    # Closed forms and autodiff are both float64 evaluations of exact identities: 1e-14 absolute
    # (entries are O(1)) is a few ulp.
    np.testing.assert_allclose(rec.derivative(x, axis=axis), jac, rtol=0, atol=1e-14)
    np.testing.assert_allclose(rec.second_derivative(x, axis=axis), hess, rtol=0, atol=1e-14)
    # The function itself along a non-default axis is the same as moving the axis last.
    np.testing.assert_allclose(
        jnp.moveaxis(rec.fn(x, axis=axis), axis, -1), rec.fn(xm, axis=-1), rtol=0, atol=1e-15
    )


def test_softmax_matches_jax_nn_and_sums_to_one():
    x = jax.random.normal(jax.random.key(2), (64, 10), jnp.float32) * 20
    s = jaxact.softmax(x)
    np.testing.assert_allclose(s, jax.nn.softmax(x), rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(s.sum(-1), 1.0, atol=1e-6)  # 10 terms x 0.5 ulp of float32
    np.testing.assert_allclose(jaxact.log_softmax(x), jax.nn.log_softmax(x), rtol=1e-6, atol=1e-5)


def test_softmax_limits():
    inf = jnp.inf
    x = jnp.asarray([[inf, 0.0, 1.0], [inf, inf, -inf], [-inf, -inf, -inf], [jnp.nan, 0.0, 1.0]])
    s = np.asarray(jaxact.softmax(x))
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(s[1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(s[2], [1 / 3] * 3)
    assert np.isnan(s[3]).all()
    ls = np.asarray(jaxact.log_softmax(x))
    np.testing.assert_array_equal(ls[0], [0.0, -inf, -inf])
    np.testing.assert_allclose(ls[1], [-np.log(2), -np.log(2), -inf])
    np.testing.assert_allclose(ls[2], [-np.log(3)] * 3)
    # Gradients at finite points of a row with a -inf entry stay finite.
    g = jax.grad(lambda v: jaxact.log_softmax(v)[0])(jnp.asarray([1.0, 2.0, -inf]))
    assert np.isfinite(np.asarray(g)).all()


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_softmax_16bit_no_overflow(dtype):
    # exp(12) overflows float16; computing in float32 keeps the result exact to rounding.
    x = jnp.asarray([12.0, 0.0, -12.0], dtype)
    s = jaxact.softmax(x)
    assert s.dtype == dtype
    ref = jax.nn.softmax(jnp.asarray([12.0, 0.0, -12.0], jnp.float64))
    # 16-bit rounding (rtol 2**-7 covers bfloat16's 8-bit mantissa); entries below float16's
    # smallest subnormal (6e-8) round to 0.
    np.testing.assert_allclose(np.asarray(s, np.float64), ref, rtol=2**-7, atol=6e-8)
    g = jax.grad(lambda v: jaxact.log_softmax(v)[0].astype(jnp.float32))(x)
    assert g.dtype == dtype and np.isfinite(np.asarray(g, np.float32)).all()


@pytest.mark.parametrize("fn", [jaxact.softmax, jaxact.log_softmax])
def test_bad_axis(fn):
    with pytest.raises(ValueError, match=r"axis 2 is out of range .* 2 dimension\(s\)"):
        fn(jnp.ones((3, 4)), axis=2)
    with pytest.raises(ValueError, match="at least one dimension"):
        fn(jnp.float32(1.0))
    with pytest.raises(TypeError, match="axis must be an int"):
        fn(jnp.ones((3, 4)), axis=1.0)
    with pytest.raises(ValueError, match="out of range"):
        ACTIVATIONS[fn.__name__].derivative(jnp.ones((3, 4)), axis=-3)
