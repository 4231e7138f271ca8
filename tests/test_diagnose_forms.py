"""diagnose on activations written inline in the many ways people write them, and no site
where there is none (the statistics of normalisation layers)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

from .numerics import slow_except

# Each inline form beside the named function it computes: the same model written both ways
# must give the same sites and the same ||dL/dh|| (the same float32 ops up to fusion order).
FORMS = [
    ("h * (h > 0)", lambda h: h * (h > 0), jax.nn.relu, "relu"),
    ("where(h > 0, h, 0)", lambda h: jnp.where(h > 0, h, 0), jax.nn.relu, "relu"),
    ("where(h > 0, h, 0.0)", lambda h: jnp.where(h > 0, h, 0.0), jax.nn.relu, "relu"),
    ("maximum(h, 0.2 h)", lambda h: jnp.maximum(h, 0.2 * h),
     lambda h: jax.nn.leaky_relu(h, 0.2), "leaky_relu"),
    ("logaddexp(h, 0)", lambda h: jnp.logaddexp(h, 0.0), jax.nn.softplus, "softplus"),
    ("GELU with h / sqrt(2)",
     lambda h: 0.5 * h * (1 + jax.scipy.special.erf(h / jnp.sqrt(2.0))),
     lambda h: jax.nn.gelu(h, approximate=False), "gelu"),
]  # fmt: skip


def _mlp(act):
    def loss(ws, x):
        for w in ws:
            x = act(x @ w)
        return jnp.sum(x**2)

    return loss


@functools.cache
def _weights_and_input():
    """Five near-identity layers and 16 inputs, made when a test first asks (at import every
    pytest worker would compile the draw, whether or not it runs these tests)."""
    ws = [jnp.eye(8) * 0.9 + 0.05 for _ in range(5)]
    return ws, jax.random.normal(jax.random.key(0), (16, 8))


# A product with a comparison and a leaky maximum in the default run (the two ways a chain is
# recognised: by its values and by its slope); the other forms in the slow step.
_DEFAULT_FORMS = ("h * (h > 0)", "maximum(h, 0.2 h)")


@pytest.mark.parametrize(("form", "inline", "named", "act"),
                         slow_except(FORMS, _DEFAULT_FORMS, key=lambda f: f[0]),
                         ids=[f[0] for f in FORMS])  # fmt: skip
def test_inline_forms_are_found_with_their_true_gradient(form, inline, named, act):
    step = jax.jit(lambda ws, x, f: jaxact.diagnose(_mlp(f), ws, x), static_argnums=2)
    ws, x = _weights_and_input()
    d, ref = step(ws, x, inline), step(ws, x, named)
    assert [s.activation for s in d.sites] == [act] * 5, form
    # float32, 5 layers: the two programs round differently at the ulp level; 1e-5 relative
    # is ~100 ulp, far below any real difference (a missed or misplaced site is O(1)).
    np.testing.assert_allclose(np.asarray(d.grad_norm), np.asarray(ref.grad_norm), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(d.dead_units), np.asarray(ref.dead_units))


@pytest.mark.slow
def test_a_scaled_argument_is_one_site_on_h_with_its_true_gradient():
    # h * sigmoid(1.7 h) is a swish with its own scale: one site on h (it was a sigmoid site
    # on 1.7 h, with a gradient 22x too small). A tap on h measures the same dL/dh.
    swish = lambda h: h * jax.nn.sigmoid(1.7 * h)  # noqa: E731
    d = jaxact.diagnose(_mlp(lambda h: swish(jaxact.tap(h, "h"))), *_weights_and_input())
    acts = [s.activation for s in d.sites]
    assert acts == ["tap", "silu"] * 5
    g = np.asarray(d.grad_norm)
    # The tap is the identity: the same cotangent, bit for bit.
    np.testing.assert_array_equal(g[0::2], g[1::2])


@pytest.mark.slow
def test_normalisation_statistics_are_not_sites():
    # equinox's LayerNorm clamps its variance with maximum(var, 0): a relu-shaped op on a
    # statistic (one entry per example: 32 here, enough to be probed) is no activation site.
    eqx = pytest.importorskip("equinox")
    ln = eqx.nn.LayerNorm(16)
    lin = eqx.nn.Linear(16, 16, key=jax.random.key(2))
    x = jax.random.normal(jax.random.key(0), (32, 16))

    def loss(lin, x):
        return jnp.sum(jax.vmap(lambda r: jnp.tanh(ln(lin(r))))(x) ** 2)

    d = jax.jit(lambda lin, x: jaxact.diagnose(loss, lin, x))(lin, x)
    assert [s.activation for s in d.sites] == ["tanh"]

    # The same with the statistics written out by hand, batch statistics of 64 entries.
    def bn(w, x):
        h = x @ w
        var = jnp.maximum(jnp.mean(h**2, 0) - jnp.mean(h, 0) ** 2, 0.0)
        return jnp.sum(jax.nn.relu((h - jnp.mean(h, 0)) * jax.lax.rsqrt(var + 1e-5)) ** 2)

    d = jaxact.diagnose(bn, jnp.eye(64), jax.random.normal(jax.random.key(1), (8, 64)))
    assert [s.activation for s in d.sites] == ["relu"]


@pytest.mark.slow
def test_argnums_like_jax_grad():
    def loss(w, b, x):
        return jnp.sum(jax.nn.relu(x @ w + b) ** 2)

    w, b, x = jnp.eye(4) * 0.5, jnp.full((4,), 0.1), jnp.ones((3, 4))
    d = jaxact.diagnose(loss, w, b, x, argnums=1)
    np.testing.assert_allclose(np.asarray(d.grads), np.asarray(jax.grad(loss, 1)(w, b, x)))
    d2 = jaxact.diagnose(loss, w, b, x, argnums=(0, 1))
    gw, gb = jax.grad(loss, (0, 1))(w, b, x)
    assert isinstance(d2.grads, tuple) and len(d2.grads) == 2
    np.testing.assert_allclose(np.asarray(d2.grads[0]), np.asarray(gw))
    np.testing.assert_allclose(np.asarray(d2.grads[1]), np.asarray(gb))
    assert float(d2.param_grad_norms[1]) == pytest.approx(float(jnp.linalg.norm(gb)))
    for bad in (3, (0, 0), (), -1, True):
        with pytest.raises(ValueError, match="argnums must be"):
            jaxact.diagnose(loss, w, b, x, argnums=bad)
    with pytest.raises(TypeError, match=r"args\[2\] holds no floating-point array"):
        jaxact.diagnose(lambda w, b, n: loss(w, b, x) * n, w, b, 3, argnums=2)


def test_an_unrecognised_nonlinearity_is_said_not_dropped():
    # A kinked function of no catalogue entry, and a site too small to be told apart: each
    # is reported once, with where it is and the tap remedy; the recognised site is measured.
    def loss(w, x):
        h = jnp.where(x @ w > 1.0, x @ w, 0.5 * (x @ w))  # no catalogue activation
        small = jax.random.normal(jax.random.key(3), (2, 4))
        return jnp.sum(jax.nn.relu(h) ** 2) + jnp.sum(small * (small > 0))

    with pytest.warns(UserWarning) as caught:
        d = jaxact.diagnose(loss, jnp.eye(8), jnp.ones((16, 8)))
    texts = [str(w.message) for w in caught]
    assert [s.activation for s in d.sites] == ["relu"]
    assert len(d.not_instrumented) == 2
    assert any("float32[16, 8] tensor at test_diagnose_forms.py" in t
               and "matches no activation" in t and "jaxact.tap" in t for t in texts)  # fmt: skip
    assert any("only 8 entries, too few" in t for t in texts)


@pytest.mark.slow  # imports flax
def test_flax_sites_name_the_layer_that_feeds_them():
    nn = pytest.importorskip("flax.linen")

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(3):
                x = nn.relu(nn.Dense(8)(x))
            return x

    m = MLP()
    x = jnp.ones((4, 8))
    p = m.init(jax.random.key(0), x)
    d = jaxact.diagnose(lambda p: jnp.sum(m.apply(p, x) ** 2), p)
    # Before: every site read "MLP/relu (file:line) #k", naming no layer.
    assert [s.name.split(" ")[0] for s in d.sites] == [f"MLP/Dense_{i}/relu" for i in range(3)]
