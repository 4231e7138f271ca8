"""Per-layer Jacobians and gradient norms: against analytic products, and the lesson's claims."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import ACTIVATIONS, init_mlp, mlp_forward, mlp_trace
from jaxact.attenuation import (
    AttenuationResult,
    fit_rate,
    gradient_attenuation,
    jacobian_norms,
    layer_gradient_norms,
    layer_jacobians,
)

from .numerics import slow_except

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)

F64 = jnp.float64


def _net(depth=6, width=10, in_dim=4, **kw):
    kw.setdefault("init", "lecun")
    return init_mlp(
        jax.random.key(0), depth=depth, width=width, in_dim=in_dim, dtype=F64, sigma_b2=0.05, **kw
    )


# relu in the default run, the others in the slow step.
@pytest.mark.parametrize(
    "activation", slow_except(["relu", "tanh", "sigmoid", "gelu", "softplus", "elu"], ("relu",))
)
def test_jacfwd_equals_analytic_product_of_closed_form_derivatives(activation):
    p = _net()
    x = jax.random.normal(jax.random.key(1), (3, 4), F64)
    jac = layer_jacobians(p, x, activation)
    assert jac.shape == (3, 6, 10, 4)
    pre = mlp_trace(p, x, activation).pre  # (depth, batch, width)
    d = ACTIVATIONS[activation].derivative(pre)  # closed form, not autodiff
    for b in range(3):
        m = p.w_in.T  # d a_0 / d x
        for layer in range(6):
            m = d[layer, b][:, None] * (p.weights[layer].T @ m)
            # float64, six 10x10 products: 1e-12 is ~1e4 ulp of O(1) entries, far below any
            # formula error.
            np.testing.assert_allclose(jac[b, layer], m, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_jacfwd_agrees_with_jacrev():
    p = _net()
    x = jax.random.normal(jax.random.key(1), (4,), F64)

    def hidden(v):
        return mlp_trace(p, v, "tanh").post

    np.testing.assert_allclose(layer_jacobians(p, x, "tanh"), jax.jacrev(hidden)(x), atol=1e-13)


def test_identity_network_jacobians_are_products_of_weights():
    p = _net()
    x = jnp.zeros((4,), F64)
    jac = layer_jacobians(p, x, "identity")
    m = p.w_in
    for layer in range(p.depth):
        m = m @ p.weights[layer]
        np.testing.assert_allclose(jac[layer], m.T, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_jacobian_norms():
    j = jax.random.normal(jax.random.key(0), (2, 5, 7, 3), F64)
    n = jacobian_norms(j)
    sv = np.linalg.svd(np.asarray(j), compute_uv=False)
    np.testing.assert_allclose(n.singular_values, sv, rtol=1e-12)
    np.testing.assert_allclose(n.spectral, sv[..., 0], rtol=1e-12)
    np.testing.assert_allclose(n.frobenius, np.sqrt((sv**2).sum(-1)), rtol=1e-12)


@pytest.mark.slow
def test_gradient_norms_in_one_pass_equal_layer_by_layer_gradients():
    p = _net(depth=5, out_dim=3)
    x = jax.random.normal(jax.random.key(1), (8, 4), F64)
    u = jnp.asarray([0.3, -1.2, 0.5], F64)

    def loss(y):
        return jnp.mean(jnp.sin(y) @ u)

    out = layer_gradient_norms(p, x, "tanh", loss=loss)
    pre = mlp_trace(p, x, "tanh").pre
    for layer in range(p.depth):
        # Restart the network from h_layer and differentiate with respect to it directly.
        def from_h(h, layer=layer):
            a = jnp.tanh(h)
            for k in range(layer + 1, p.depth):
                a = jnp.tanh(a @ p.weights[k] + p.biases[k])
            return loss(a @ p.w_out + p.b_out)

        g = jax.grad(from_h)(pre[layer])
        assert float(out.pre[layer]) == pytest.approx(float(jnp.linalg.norm(g)), rel=1e-12)
    gw = jax.grad(lambda q: loss(mlp_forward(q, x, "tanh")))(p).weights
    np.testing.assert_allclose(out.weights, jnp.sqrt((gw**2).sum((1, 2))), rtol=1e-12)


@pytest.mark.slow
def test_lesson_arithmetic_point_one_ten_times():
    """'Multiply 0.1 by itself ten times: you get 0.0000000001.'

    A linear chain whose every layer multiplies by 0.1 passes back exactly 0.1 per layer: the
    gradient at the first layer is 1e-9 of the last one's (nine steps back), and 1e-10 at the
    input (ten layers).
    """
    depth, width = 10, 4
    eye = jnp.eye(width, dtype=F64)
    p = jaxact.MLPParams(
        weights=jnp.broadcast_to(0.1 * eye, (depth, width, width)),
        biases=jnp.zeros((depth, width), F64),
    )
    x = jnp.ones((1, width), F64)
    r = gradient_attenuation(p, x, "identity")
    assert r.rate == pytest.approx(0.1, rel=1e-12)
    assert r.total == pytest.approx(1e-9, rel=1e-12)
    assert r.fit_rms < 1e-12
    g_input = jax.grad(lambda v: mlp_forward(p, v, "identity").sum())(x)
    g_output = jnp.ones_like(x)
    assert float(g_input[0, 0] / g_output[0, 0]) == pytest.approx(1e-10, rel=1e-12)
    assert r.depth_to(10) == pytest.approx(10.0)


@pytest.mark.slow
def test_relu_he_keeps_gradients_and_sigmoid_loses_a_quarter_per_layer():
    x = jax.random.normal(jax.random.key(1), (64, 256), jnp.float32)
    relu = gradient_attenuation(
        init_mlp(jax.random.key(0), depth=50, width=256, init="he"), x, "relu"
    )
    # He init puts ReLU at chi_1 = 1; at width 256 the finite-width drift is ~1% per layer.
    assert 0.95 < relu.rate < 1.05, relu
    assert 0.1 < relu.total < 10
    sig = gradient_attenuation(
        init_mlp(jax.random.key(0), depth=50, width=256, init="lecun"), x, "sigmoid"
    )
    # sup sigma' = 1/4 and sigma_w2 = 1, so no layer can pass back more than a quarter.
    assert sig.rate <= 0.25, sig
    assert sig.measured_depth_to(6) is not None and sig.measured_depth_to(6) <= 12


def test_result_repr_and_depth_to():
    r = AttenuationResult(
        "sigmoid", np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0]), np.ones(5), 0.1, 1e-4, 0.0
    )
    text = repr(r)
    assert "sigmoid" in text and "x0.1 per layer" in text and "1e-6 after 6.0 layers" in text
    assert r.depth_to(6) == pytest.approx(6.0)
    assert r.measured_depth_to(3) == 4
    assert r.measured_depth_to(6) is None
    flat = AttenuationResult("relu", np.ones(3), np.ones(3), 1.0, 1.0, 0.0)
    assert math.isinf(flat.depth_to()) and "never" in repr(flat)


def test_fit_rate():
    rate, rms = fit_rate(np.array([1e-9, 1e-8, 1e-7, 1e-6]))
    assert rate == pytest.approx(0.1) and rms < 1e-12
    rate, _ = fit_rate(np.array([4.0, 2.0, 1.0]))  # grows backwards: exploding
    assert rate == pytest.approx(2.0)
    assert math.isnan(fit_rate(np.array([1.0]))[0])


@pytest.mark.slow
def test_exploding_network_is_reported_with_the_layer():
    p = init_mlp(jax.random.key(0), depth=60, width=64, init="standard")
    x = jax.random.normal(jax.random.key(1), (4, 64), jnp.float32)
    with pytest.raises(FloatingPointError, match=r"gradient at hidden layer \d+ \(of 60\)"):
        gradient_attenuation(p, x, "relu")


def test_bad_input_names_shapes():
    p = init_mlp(jax.random.key(0), depth=3, width=8, in_dim=5)
    with pytest.raises(ValueError, match=r"shape \(2, 4\); its last dimension must be in_dim = 5"):
        layer_jacobians(p, jnp.ones((2, 4), jnp.float32), "relu")
    with pytest.raises(TypeError, match="int32"):
        gradient_attenuation(p, jnp.ones((2, 5), jnp.int32), "relu")


@pytest.mark.slow
def test_loss_key_picks_the_default_loss_direction():
    p = init_mlp(jax.random.key(0), depth=3, width=8)
    x = jax.random.normal(jax.random.key(1), (4, 8), jnp.float32)
    a = layer_gradient_norms(p, x, "tanh", loss_key=jax.random.key(5))
    b = layer_gradient_norms(p, x, "tanh", loss_key=jax.random.key(5))
    c = layer_gradient_norms(p, x, "tanh")  # jax.random.key(0)
    np.testing.assert_array_equal(a.pre, b.pre)
    assert not np.allclose(a.pre, c.pre)
