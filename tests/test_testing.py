"""jaxact.testing: the public checks users run on their own activations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxact import testing

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)


def _tanh_d1(x):
    return 1 / jnp.cosh(x) ** 2


def test_a_correct_derivative_passes_in_every_dtype():
    res = testing.check_derivative(jnp.tanh, _tanh_d1, dtypes=(jnp.float32, jnp.float64))
    assert [r.dtype for r in res] == ["float32", "float64"]
    assert all(r.passed for r in res) and all(r.n_points > 1000 for r in res)


def test_a_wrong_derivative_fails_with_a_readable_report():
    with pytest.raises(AssertionError) as info:
        testing.check_derivative(jnp.tanh, lambda x: 1 - jnp.tanh(x), dtypes=(jnp.float32,),
                                 name="my_tanh")  # fmt: skip
    msg = str(info.value)
    assert msg.startswith("FAILED: my_tanh' vs autodiff [float32, ")
    assert "worst at x = " in msg and "got " in msg and "expected " in msg and " ulp " in msg


def test_report_names_the_worst_point():
    # d/dx x^2 written as 2x + 1e-3 at x > 5 only: the worst point is in that region.
    res = testing.check_derivative(lambda x: x * x, lambda x: 2 * x + jnp.where(x > 5, 1e-3, 0),
                                   dtypes=(jnp.float64,), points=np.linspace(-10, 10, 201),
                                   raise_on_failure=False)  # fmt: skip
    (r,) = res
    assert not r.passed and r.worst_input > 5
    assert r.got == pytest.approx(r.expected + 1e-3)
    # The error is 1e-3 against a scale of 20 (max |2x| on the grid): 5e-5 / eps64 ulps.
    assert r.max_ulps == pytest.approx(1e-3 / 20 / np.finfo(np.float64).eps, rel=1e-3)


def test_second_derivatives_and_kinks():
    testing.check_derivative(jnp.tanh, lambda x: -2 * jnp.tanh(x) / jnp.cosh(x) ** 2, order=2,
                             dtypes=(jnp.float32,), ulps=64)  # fmt: skip
    relu_d1 = lambda x: jnp.where(x > 0, 1.0, 0.0)  # noqa: E731
    # jax.nn.relu's gradient is 0 at 0, as relu_d1's; one that takes 0.5 at the kink disagrees
    # there (and at the subnormals a flushing backend reads as 0) unless the kink is skipped.
    half = lambda x: jnp.where(x > 0, 1.0, jnp.where(x == 0, 0.5, 0.0))  # noqa: E731
    testing.check_derivative(jax.nn.relu, relu_d1, dtypes=(jnp.float32,))
    (r,) = testing.check_derivative(jax.nn.relu, half, dtypes=(jnp.float32,),
                                    raise_on_failure=False)  # fmt: skip
    assert not r.passed and abs(r.worst_input) < 1e-37 and r.got == 0.5
    testing.check_derivative(jax.nn.relu, half, dtypes=(jnp.float32,), kinks=[0.0])


def test_check_values_against_a_float64_reference():
    res = testing.check_values(jnp.tanh, np.tanh, dtypes=(jnp.float32, jnp.bfloat16))
    assert all(r.passed for r in res)
    bad = testing.check_values(lambda x: jnp.tanh(x) * (1 + 1e-5), np.tanh,
                               dtypes=(jnp.float32,), raise_on_failure=False)  # fmt: skip
    # 1e-5 relative (1.00136e-5 once rounded to float32) is 168 ulp just below a power of two
    # (tanh -> -1), plus the roundings of tanh and of the product: a few ulp more.
    assert not bad[0].passed and 80 < bad[0].max_ulps < 175


def test_exhaustive_16bit_points():
    pts = testing.all_finite_values(jnp.float16)
    assert pts.size == 2**16 - 2 * 1024 - 1  # minus inf/NaN patterns, +-0 counted once
    res = testing.check_values(jnp.tanh, np.tanh, dtypes=(jnp.float16,), points=pts, ulps=1)
    assert res[0].n_points == pts.size


def test_bad_dtypes_are_refused():
    with pytest.raises(TypeError, match="floating-point"):
        testing.check_values(jnp.tanh, np.tanh, dtypes=(jnp.int32,))
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        testing.autodiff_derivative(jnp.tanh, 3)


def test_check_activation_runs_every_route():
    res = testing.check_activation("sigmoid", dtypes=("float32",),
                                   formula=lambda x: 1 / (1 + jnp.exp(-x)))  # fmt: skip
    assert len(res) == 4 and all(r.passed for r in res)
    with pytest.raises(ValueError, match="elementwise"):
        testing.check_activation("softmax")
