"""The behaviours jax's own activation tests (tests/nn_test.py, jax 0.10) check, run on jaxact.

Written for jaxact from the list of what jax tests: gradients by finite differences at
awkward points (0, 1e-8, +-inf, NaN) up to fourth order, values at large inputs, exact values at
0 in every float dtype, dtype preservation, integer inputs, the gelu reference, softmax's
``where`` semantics and empty inputs, tracing without materialising huge arrays, and no tracer
leaking out of a scan. ``jax.test_util.check_grads`` compares autodiff (here: our closed forms,
through the custom rules) with central differences, with its default float64 tolerances.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxact as nn

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)

INF, NAN = float("inf"), float("nan")
FLOATS = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]


@pytest.mark.parametrize(
    ("fn", "x", "order"),
    [
        pytest.param(nn.softplus, 1e-8, 4, marks=pytest.mark.slow),
        (nn.softplus, 0.0, 1), (nn.softplus, -INF, 1),
        (nn.softplus, NAN, 1), (nn.sparse_plus, -2.0, 1), (nn.sparse_plus, 0.0, 1),
        pytest.param(nn.squareplus, 1e-8, 4, marks=pytest.mark.slow),
        (nn.squareplus, 0.0, 1), (nn.squareplus, -INF, 1),
        (nn.squareplus, NAN, 1), pytest.param(nn.mish, 1e-8, 4, marks=pytest.mark.slow),
        (nn.mish, 0.0, 1), (nn.mish, -INF, 1),
        (nn.mish, NAN, 1),
        # Third order: several seconds each to compile; the slow step.
        *(pytest.param(f, x, 3, marks=pytest.mark.slow)
          for f in (nn.relu, nn.relu6) for x in (1.0, -1.0)),
    ],
)  # fmt: skip
def test_gradients_by_finite_differences(fn, x, order):
    check_grads(fn, (x,), order=order)


@pytest.mark.slow
def test_elu_gradient_far_out():
    check_grads(nn.elu, (1e4,), order=4, eps=1.0)


def test_gradients_at_the_edges():
    assert float(jax.grad(nn.softplus)(INF)) == 1.0
    assert float(jax.grad(nn.relu)(0.0)) == 0.0  # the convention of Bertoin et al. (2021)
    assert float(jax.grad(nn.relu6)(0.0)) == 0.0 and float(jax.grad(nn.relu6)(6.0)) == 0.0
    assert float(jax.grad(nn.identity)(6.0)) == 1.0
    for x in (0.0, 2.0, -2.0):
        assert float(jax.grad(nn.sparse_plus)(x)) == float(nn.sparse_sigmoid(x))


@pytest.mark.parametrize("dtype", [int, float, *FLOATS, jnp.int8, jnp.int32])
def test_softplus_at_zero_is_log_two(dtype):
    assert nn.softplus(dtype(0)) == jnp.log(dtype(2))


@pytest.mark.parametrize("dtype", [float, *FLOATS])
def test_exact_values_at_zero(dtype):
    assert nn.squareplus(dtype(0), dtype(4)) == dtype(1)
    assert nn.mish(dtype(0)) == dtype(0)


def test_values_far_out():
    # The exact results are 89 and 1000 to within the float32 rounding of the input itself.
    assert float(nn.softplus(89.0)) == 89.0 and float(nn.sparse_plus(89.0)) == 89.0
    assert float(nn.elu(1e4)) == 1e4
    # squareplus(1e3) = 1e3 + 1e-3 (b / (4x)); mish(1e3) = 1e3 (tanh(softplus) = 1 in float).
    assert float(nn.squareplus(1e3)) == pytest.approx(1e3, abs=1e-3)
    assert float(nn.mish(1e3)) == 1e3
    assert [float(nn.sparse_sigmoid(v)) for v in (-2.0, 2.0, 0.0)] == [0.0, 1.0, 0.5]
    np.testing.assert_array_equal(nn.glu(jnp.array([1.0, 0.0]), axis=0), [0.5])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_of_an_integer_is_gelu_of_the_float(approximate):
    assert nn.gelu(jnp.array(-1), approximate=approximate) == nn.gelu(
        jnp.array(-1.0), approximate=approximate
    )


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_against_the_normal_cdf(approximate):
    x = np.linspace(-12, 5, 10000, dtype=np.float32)
    # x Phi(x) in float64, Phi from the standard library's erfc (no scipy needed).
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x.astype(np.float64)])
    expected = x.astype(np.float64) * phi
    got = np.asarray(nn.gelu(jnp.asarray(x), approximate=approximate), np.float64)
    # jax's tolerances: 2e-5 relative; the tanh form differs from x Phi(x) by up to 4.7e-4,
    # hence its absolute 1e-3. The exact form here is within a few float32 ulp.
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-3 if approximate else 0)


_DTYPE_FNS = [functools.partial(nn.gelu, approximate=False),
              functools.partial(nn.gelu, approximate=True), nn.relu, nn.identity, nn.softplus,
              nn.sparse_plus, nn.sigmoid, nn.squareplus, nn.mish]  # fmt: skip


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("fn", _DTYPE_FNS)
def test_dtype_matches_input(fn, dtype):
    assert fn(jnp.zeros((), dtype)).dtype == dtype


@pytest.mark.parametrize("fn", [nn.elu, nn.hard_tanh, nn.gelu, nn.sigmoid])
def test_tracing_does_not_materialise(fn):
    with jax.enable_checks(False):
        jax.make_jaxpr(lambda: fn(jnp.ones((10**12,))))  # a 4 TB array: only traced


@pytest.mark.slow
@pytest.mark.parametrize("fn", [nn.softmax, nn.log_softmax])
def test_softmax_where_and_empty(fn):
    x = jnp.array([5.5, 1.3, -4.2, 0.9])
    none = jnp.zeros_like(x, dtype=bool)
    np.testing.assert_array_equal(
        fn(x, where=none), jnp.full_like(x, 0.0 if fn is nn.softmax else -jnp.inf)
    )
    m = jnp.array([True, False, True, True])
    out = fn(x, where=m)
    np.testing.assert_allclose(out[m], fn(x[m]), rtol=1e-6)
    probs = out if fn is nn.softmax else jnp.exp(out)
    assert float(probs.sum()) == pytest.approx(1.0, rel=1e-6)
    empty = jnp.array([], dtype=float)
    np.testing.assert_array_equal(fn(empty), empty)
    # Regression test of jax issue 19490: a masked-out huge entry gives no gradient (no NaN).
    big = jnp.array([36.0, 10000.0])
    g = jax.grad(lambda v: fn(v, where=v < 1000)[0])(big)
    np.testing.assert_array_equal(g, jnp.zeros_like(big))


@pytest.mark.slow
def test_softmax_gradients_to_second_order():
    x = jnp.array([5.5, 1.3, -4.2, 0.9])
    # Jitted: check_grads evaluates each function dozens of times (eager would take ~20 s).
    check_grads(jax.jit(nn.softmax), (x,), order=2, atol=5e-3)
    check_grads(jax.jit(nn.log_softmax), (x,), order=2, atol=5e-3)
    m = jnp.array([True, False, True, True])
    masked = jax.jit(lambda v: jnp.take(nn.softmax(v, where=m), jnp.array([0, 2, 3])))
    check_grads(masked, (x,), order=2)


def test_no_tracer_leaks_from_a_scan():
    @jax.jit
    def fwd():
        a = jnp.array(1.0)

        def f(h, _):
            return nn.sigmoid(h + a), None

        return jax.lax.scan(f, jnp.array(0.0), None, length=2)[0]

    with jax.checking_leaks():
        fwd()
