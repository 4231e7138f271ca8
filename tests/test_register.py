"""jaxact.register_activation: a user's activation becomes a registry record everything accepts."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import testing


def _swish_beta(x, beta=1.0):
    return x * jax.nn.sigmoid(beta * x)


def _swish_beta_d1(x, beta=1.0):
    s = jax.nn.sigmoid(beta * x)
    return s * (1 + beta * x * (1 - s))


@pytest.fixture
def swish_beta():
    rec = jaxact.register_activation("t_swish_beta", _swish_beta, _swish_beta_d1,
                                     params={"beta": 1.0}, doc="swish with a slope")  # fmt: skip
    yield rec
    jaxact.unregister_activation("t_swish_beta")


def test_record_is_in_the_registry_with_estimated_metadata(swish_beta):
    assert jaxact.get_activation("t_swish_beta") is swish_beta
    assert jaxact.ACTIVATIONS["t_swish_beta"] is swish_beta
    # min of x sigma(x) is -0.27846 at x = -1.2785; the grid has 0.01 spacing there, so the
    # estimate is within 1e-4 of it (the function is flat at its minimum).
    assert swish_beta.output_range.low == pytest.approx(-0.278464, abs=1e-4)
    assert math.isinf(swish_beta.output_range.high)  # still growing at the grid's end
    assert swish_beta.max_slope == pytest.approx(1.0998, abs=1e-3)  # sup silu' = 1.0998
    assert swish_beta.saturates_left and not swish_beta.saturates_right
    assert swish_beta.gain_source == "second-moment"
    # 1 / sqrt(E[silu(z)^2]) = 1 / sqrt(0.3557) (Gauss-Hermite; float32 rounding ~1e-7).
    assert swish_beta.gain == pytest.approx(1.6765, abs=1e-3)
    assert dict(swish_beta.params) == {"beta": 1.0}


def test_gradients_come_from_the_closed_form(swish_beta):
    calls = []

    def d1_spy(x, beta=1.0):
        calls.append(1)
        return _swish_beta_d1(x, beta)

    rec = jaxact.register_activation("t_spy", _swish_beta, d1_spy, params={"beta": 1.0})
    try:
        calls.clear()
        g = jax.grad(rec.fn)(jnp.float32(0.7))
        assert calls, "jax.grad did not call the user's derivative"
        assert float(g) == pytest.approx(float(_swish_beta_d1(jnp.float32(0.7))), rel=1e-6)
    finally:
        jaxact.unregister_activation("t_spy")


def test_hyperparameters_are_traceable_and_differentiable(swish_beta):
    x = jnp.float32(1.3)
    db = jax.grad(lambda b: swish_beta.fn(x, beta=b))(2.0)
    expected = jax.grad(lambda b: _swish_beta(x, b))(2.0)  # autodiff of the formula
    assert float(db) == pytest.approx(float(expected), rel=1e-5)
    out = jax.jit(lambda b: swish_beta.fn(x, beta=b))(2.0)
    assert float(out) == pytest.approx(float(_swish_beta(x, 2.0)), rel=1e-6)
    with pytest.raises(TypeError, match="unexpected parameter"):
        swish_beta.fn(x, gamma=1.0)


def test_dtypes_follow_the_builtins(swish_beta):
    assert swish_beta.fn(jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
    assert swish_beta.fn(jnp.arange(3)).dtype == jnp.result_type(float)
    with pytest.raises(TypeError, match="real array"):
        swish_beta.fn(jnp.ones(2, jnp.complex64))


def test_public_checks_pass_for_the_record(swish_beta):
    results = testing.check_activation("t_swish_beta", formula=_swish_beta, dtypes=("float32",))
    assert results and all(r.passed for r in results)


@pytest.mark.slow  # about 4 s
def test_accepted_by_mlp_theory_and_diagnose(swish_beta):
    params = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, in_dim=8, out_dim=4)
    x = jax.random.normal(jax.random.key(1), (5, 8), jnp.float32)
    out = jaxact.mlp_forward(params, x, "t_swish_beta")
    ref = jaxact.mlp_forward(params, x, "silu")  # beta = 1 is silu
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)  # float32, a few roundings
    # Theory: same function as silu, so chi_1 agrees to the quadrature's rounding.
    ours = jaxact.theory.chi1("t_swish_beta", 2.0, 0.0)
    assert ours == pytest.approx(jaxact.theory.chi1("silu", 2.0, 0.0), rel=1e-9)

    def loss(w, x):
        return jnp.sum(swish_beta.fn(x @ w, beta=2.0))

    diag = jaxact.diagnose(loss, jnp.eye(8), x)
    assert [s.activation for s in diag.sites] == ["t_swish_beta"]


@pytest.mark.slow
def test_sweeps_accept_the_name(swish_beta):
    from jaxact import sweeps

    recs = sweeps.sweep(activations="t_swish_beta", depths=3, widths=8, seeds=1, batch=4)
    assert len(recs) == 1 and recs[0]["activation"] == "t_swish_beta"


def test_second_derivative_given_or_by_autodiff(swish_beta):
    x = jnp.linspace(-5, 5, 11, dtype=jnp.float32)
    auto = testing.autodiff_derivative(_swish_beta, 2)(x)
    np.testing.assert_allclose(swish_beta.second_derivative(x), auto, rtol=1e-5, atol=1e-6)


def test_a_wrong_derivative_is_refused():
    with pytest.raises(ValueError, match=r"derivative disagrees with autodiff .* x = "):
        jaxact.register_activation("t_wrong", jnp.tanh, lambda x: 1 - jnp.tanh(x))
    assert "t_wrong" not in jaxact.ACTIVATIONS


def test_kinks_are_excluded_from_the_check():
    rec = jaxact.register_activation(
        "t_abs", jnp.abs, lambda x: jnp.where(x >= 0, 1.0, -1.0), kinks={0.0: 1.0},
        output_range=(0.0, math.inf))  # fmt: skip
    try:
        assert rec.kinks == {0.0: 1.0} and float(jax.grad(rec.fn)(0.0)) == 1.0
    finally:
        jaxact.unregister_activation("t_abs")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "relu"}, ValueError, "built-in"),
        ({"name": "swish"}, ValueError, "built-in"),
        ({"name": "not a name"}, ValueError, "identifier"),
        ({"fn": 3}, TypeError, "fn must be callable"),
        ({"derivative": None}, TypeError, "derivative must be callable"),
        ({"params": {"beta": "one"}}, TypeError, "must be a number"),
    ],
)
def test_bad_registrations(kwargs, error, match):
    args = {"name": "t_bad", "fn": jnp.tanh, "derivative": lambda x: 1 / jnp.cosh(x) ** 2}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        jaxact.register_activation(args.pop("name"), args.pop("fn"), args.pop("derivative"),
                                   **args)  # fmt: skip
    assert "t_bad" not in jaxact.ACTIVATIONS


def test_register_twice_and_unregister_rules(swish_beta):
    with pytest.raises(ValueError, match="unregister_activation first"):
        jaxact.register_activation("t_swish_beta", _swish_beta, _swish_beta_d1)
    with pytest.raises(ValueError, match="built-in"):
        jaxact.unregister_activation("relu")
    with pytest.raises(ValueError, match="not registered"):
        jaxact.unregister_activation("t_never")
