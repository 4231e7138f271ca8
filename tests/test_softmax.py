"""softmax and log_softmax: Jacobians and Hessians against autodiff, limits, and bad axes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import ACTIVATIONS

from .numerics import slow_except

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)

OUTPUTS = ["softmax", "log_softmax"]


# softmax along the last axis in the default run; log_softmax and the other axes in the slow
# step.
@pytest.mark.parametrize(
    ("name", "axis"), slow_except([(n, a) for n in OUTPUTS for a in (-1, 0, 1)], (("softmax", -1),))
)
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


@pytest.mark.slow
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


# float16 and float32 in the default run, bfloat16 in the slow step.
@pytest.mark.parametrize(
    "dtype", [jnp.float16, pytest.param(jnp.bfloat16, marks=pytest.mark.slow), jnp.float32]
)
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
    with pytest.raises(ValueError, match="given for a scalar"):
        fn(jnp.float32(1.0))
    with pytest.raises(TypeError, match="axis must be an int"):
        fn(jnp.ones((3, 4)), axis=1.0)
    with pytest.raises(ValueError, match="repeats an axis"):
        fn(jnp.ones((3, 4)), axis=(1, -1))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        fn(jnp.ones((3, 4)), where=jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"where of shape \(2,\) does not broadcast"):
        fn(jnp.ones((3, 4)), where=jnp.ones((2,), bool))
    with pytest.raises(ValueError, match="out of range"):
        ACTIVATIONS[fn.__name__].derivative(jnp.ones((3, 4)), axis=-3)


# ----------------------------------------------------------------------------------------------
# jax.nn's signature: positional axis, several axes, where=, empty arrays (ported from the
# behaviour jax's own nn tests check, written here against jaxact).


def _inputs():
    """Drawn inside the test, where x64 is on (at import it is off: float32)."""
    return jax.random.normal(jax.random.key(2), (3, 4, 5), jnp.float64) * 3


def _mask():
    # Drawn when a test asks (not at import, where every pytest worker would compile it).
    return jax.random.bernoulli(jax.random.key(3), 0.6, (3, 4, 5))


_PAIRS = [(jaxact.softmax, jax.nn.softmax), (jaxact.log_softmax, jax.nn.log_softmax)]


def _finite(a):
    a = np.asarray(a)
    return np.where(np.isinf(a), 0.0, a)


@pytest.mark.slow
@pytest.mark.parametrize(("ours", "theirs"), _PAIRS, ids=OUTPUTS)
@pytest.mark.parametrize("axis", [-1, None, 0, (0, 2), (2, 1)], ids=str)
@pytest.mark.parametrize("masked", [False, True], ids=["all", "where"])
def test_axes_and_where_match_jax_nn_values_and_gradients(ours, theirs, axis, masked):
    where = _mask() if masked else None
    x = _inputs()
    a, b = ours(x, axis, where), theirs(x, axis, where)
    # Same -inf entries (log_softmax's masked ones), the rest within a few float64 ulp.
    assert (np.isinf(a) == np.isinf(b)).all()
    np.testing.assert_allclose(_finite(a), _finite(b), rtol=0, atol=1e-14)

    def loss(f):
        def value(x):
            y = f(x, axis, where)
            return jnp.sum(jnp.cos(x) * jnp.where(jnp.isinf(y), 0, y))

        return value

    np.testing.assert_allclose(jax.grad(loss(ours))(x), jax.grad(loss(theirs))(x), rtol=0,
                               atol=1e-13)  # fmt: skip


@pytest.mark.slow
def test_where_semantics():
    x = jnp.array([[1.0, 2.0, 3.0], [4.0, jnp.nan, 6.0]])
    mask = jnp.array([[True, False, True], [True, False, True]])
    s = jaxact.softmax(x, where=mask)
    ls = jaxact.log_softmax(x, where=mask)
    # Unselected entries: 0 and -inf; a NaN there does not reach the selected ones.
    assert (s[:, 1] == 0).all() and jnp.isneginf(ls[:, 1]).all()
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(jnp.exp(ls[:, ::2]), s[:, ::2], rtol=1e-15)
    # A row with nothing selected: all 0 (softmax), all -inf (log_softmax).
    none = jnp.zeros((2, 3), bool)
    assert (jaxact.softmax(x, where=none) == 0).all()
    assert jnp.isneginf(jaxact.log_softmax(x, where=none)).all()
    # The mask broadcasts; the gradient does not flow into unselected entries.
    g = jax.grad(lambda v: jaxact.softmax(v, where=mask[0])[0, 0])(x)
    assert g[0, 1] == 0 and g[1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fn", [jaxact.softmax, jaxact.log_softmax])
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_empty_arrays_give_empty_results(fn, shape):
    x = jnp.zeros(shape, jnp.float32)
    for axis in (-1, 0, None):
        out = fn(x, axis)
        assert out.shape == shape and out.dtype == jnp.float32


def test_axis_none_and_scalars():
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(jaxact.softmax(x, None).sum(), 1.0, rtol=1e-15)
    np.testing.assert_allclose(jaxact.softmax(x, (0, 1)), jaxact.softmax(x, None), rtol=1e-15)
    assert float(jaxact.softmax(jnp.float32(3.0), axis=None)) == 1.0
    assert float(jaxact.log_softmax(jnp.float32(3.0), axis=None)) == 0.0
