"""jaxact.diagnose on plain-JAX, equinox and flax models, against hand-written references.

Each model is written a second time in plain JAX taking explicit perturbations ``deltas`` added
to every activation input ``h``; differentiating that with respect to the deltas gives the
reference ``dLoss/dh``, and the same function captures every ``h`` for the forward statistics.

Tolerances: grad_norm to 1e-5 relative in float32 (the issue's bound: the two computations
differ only in the order of float32 roundings, a few ulp = a few 1e-7 per operation, summed over
a few dozen operations). Statistics of captured ``h`` are computed in numpy float64 from the same
float32 values, so means and std agree to float32 rounding of the reductions (1e-5 relative /
1e-6 absolute); fractions are counts of identical comparisons divided by the size, which XLA
may round differently from numpy by 1-2 ulp of float32 (2.4e-7 relative).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxact
from jaxact.diagnosis import STATISTICS

from .processes import last_json, last_json_line

jax_f32 = jnp.float32
RTOL = 1e-5
FRACTION_RTOL = 2.4e-7  # 2 ulp of float32: the same count, divided by the size in float32


def _key(i):
    return jax.random.key(i)


def _reference_stats(hs, derivs, sups, saturation=0.05):
    """The forward statistics computed directly (numpy float64) from captured tensors."""
    out = {k: [] for k in STATISTICS[1:]}
    for h, d, sup in zip(hs, derivs, sups, strict=True):
        h = np.asarray(h, np.float64)
        d = np.abs(np.asarray(d, np.float64))
        out["pre_mean"].append(h.mean())
        out["pre_std"].append(h.std())
        out["saturated"].append(np.mean((d < saturation * sup) & (d > 0)))  # zeros: zero_grad
        out["zero_grad"].append(np.mean(d == 0))
        axes = tuple(range(h.ndim - 1))
        out["dead_units"].append(np.mean(np.all(d == 0, axis=axes)))
        stuck = (d < saturation * sup) & (d > 0)
        out["saturated_units"].append(np.mean(np.all(stuck, axis=axes)))
    return {k: np.array(v) for k, v in out.items()}


def _check(diag, model_with_deltas, params, *data, phis, sups):
    """Compare a Diagnosis with the explicit-perturbation reference.

    ``model_with_deltas(params, *data, deltas)`` returns ``(loss, hs)``; ``deltas=None`` runs
    without perturbations. ``phis[i]`` is site i's activation (to take phi'(h) by JVP).
    """
    _, hs = model_with_deltas(params, *data, None)
    deltas = [jnp.zeros_like(h) for h in hs]
    g = jax.grad(lambda d: model_with_deltas(params, *data, d)[0])(deltas)
    ref_norms = np.array([np.sqrt(np.sum(np.asarray(x, np.float64) ** 2)) for x in g])
    assert len(diag.sites) == len(hs)
    assert [s.shape for s in diag.sites] == [tuple(h.shape) for h in hs]
    np.testing.assert_allclose(np.asarray(diag.grad_norm), ref_norms, rtol=RTOL, atol=0)
    derivs = [jax.jvp(phi, (h,), (jnp.ones_like(h),))[1] for phi, h in zip(phis, hs, strict=True)]
    ref = _reference_stats(hs, derivs, sups)
    np.testing.assert_allclose(np.asarray(diag.pre_mean), ref["pre_mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(diag.pre_std), ref["pre_std"], rtol=1e-5, atol=1e-6)
    for k in ("saturated", "zero_grad", "dead_units", "saturated_units"):
        np.testing.assert_allclose(np.asarray(getattr(diag, k)), ref[k], rtol=FRACTION_RTOL, atol=0)


def _add(h, deltas, i):
    return h if deltas is None else h + deltas[i]


# --------------------------------------------------------------------------- plain JAX MLP


def _plain_params(key, sizes):
    ks = jax.random.split(key, len(sizes))
    return [
        (jax.random.normal(k, (a, b), jax_f32) * (2.0 / a) ** 0.5, jnp.full((b,), 0.1, jax_f32))
        for k, a, b in zip(ks, sizes[:-1], sizes[1:], strict=False)
    ]


def _plain_mlp(params, x, y, deltas):
    hs = []
    a = x
    for i, (w, b) in enumerate(params[:-1]):
        h = _add(a @ w + b, deltas, i)
        hs.append(h)
        a = jax.nn.relu(h)
    w, b = params[-1]
    return jnp.mean((a @ w + b - y) ** 2), hs


@pytest.mark.slow
def test_plain_jax_mlp():
    params = _plain_params(_key(0), [6, 32, 32, 32, 3])
    x = jax.random.normal(_key(1), (16, 6), jax_f32)
    y = jax.random.normal(_key(2), (16, 3), jax_f32)
    loss = lambda p, x, y: _plain_mlp(p, x, y, None)[0]  # noqa: E731
    d = jax.jit(jaxact.diagnose, static_argnums=0)(loss, params, x, y)
    assert [s.activation for s in d.sites] == ["relu"] * 3
    _check(d, _plain_mlp, params, x, y, phis=[jax.nn.relu] * 3, sups=[1.0] * 3)
    # grads are jax.grad's; the loss is the loss.
    g = jax.grad(loss)(params, x, y)
    for a, b in zip(jax.tree.leaves(d.grads), jax.tree.leaves(g), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert float(d.loss) == pytest.approx(float(loss(params, x, y)), rel=1e-6)
    # param norms and param grad norms, leaf by leaf
    for pn, p in zip(jax.tree.leaves(d.param_norms), jax.tree.leaves(params), strict=True):
        assert float(pn) == pytest.approx(float(jnp.linalg.norm(p.ravel())), rel=1e-6)
    for gn, gg in zip(jax.tree.leaves(d.param_grad_norms), jax.tree.leaves(g), strict=True):
        assert float(gn) == pytest.approx(float(jnp.linalg.norm(gg.ravel())), rel=1e-5)


# --------------------------------------------------------------------------- equinox


@pytest.mark.slow
@pytest.mark.parametrize("scan", [False, True])
def test_equinox_mlp(scan):
    model = eqx.nn.MLP(5, 2, 24, 4, activation=jax.nn.tanh, key=_key(3), scan=scan)
    x = jax.random.normal(_key(4), (12, 5), jax_f32)

    def loss(m, x):
        return jnp.mean(jax.vmap(m)(x) ** 2)

    d = eqx.filter_jit(jaxact.diagnose)(loss, model, x)
    assert len(d.sites) == 4 and {s.activation for s in d.sites} == {"tanh"}
    if scan:
        assert [s.name.endswith(f"[{i}]") for s in d.sites[1:] for i in [d.sites.index(s) - 1]]

    if scan:
        lin_in, hidden, lin_out = model.layers
        ws = [lin_in.weight, *hidden.weight, lin_out.weight]
        bs = [lin_in.bias, *hidden.bias, lin_out.bias]
    else:
        ws = [layer.weight for layer in model.layers]
        bs = [layer.bias for layer in model.layers]

    def ref(_, x, deltas):
        hs, a = [], x
        for i in range(4):
            h = _add(a @ ws[i].T + bs[i], deltas, i)
            hs.append(h)
            a = jnp.tanh(h)
        return jnp.mean((a @ ws[4].T + bs[4]) ** 2), hs

    _check(d, ref, None, x, phis=[jnp.tanh] * 4, sups=[1.0] * 4)
    # Non-array leaves (the activation functions) get no gradient.
    assert d.grads.activation is None and d.grads.layers is not None


# --------------------------------------------------------------------------- flax.linen


class _GeluMLP(nn.Module):
    width: int = 32

    @nn.compact
    def __call__(self, x):
        for _ in range(3):
            x = nn.gelu(nn.Dense(self.width)(x))
        return nn.Dense(1)(x)


@pytest.mark.slow
def test_flax_linen_gelu_mlp():
    m = _GeluMLP()
    x = jax.random.normal(_key(5), (20, 7), jax_f32)
    params = m.init(_key(6), x)
    loss = lambda p, x: jnp.mean(m.apply(p, x) ** 2)  # noqa: E731
    d = jax.jit(jaxact.diagnose, static_argnums=0)(loss, params, x)
    # jax.nn.gelu defaults to the tanh approximation: recognised as gelu_tanh, not gelu.
    assert [s.activation for s in d.sites] == ["gelu_tanh"] * 3
    assert all(s.name.startswith("_GeluMLP/") for s in d.sites)

    def ref(p, x, deltas):
        p = p["params"]
        hs, a = [], x
        for i in range(3):
            h = _add(a @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"], deltas, i)
            hs.append(h)
            a = jax.nn.gelu(h)
        out = a @ p["Dense_3"]["kernel"] + p["Dense_3"]["bias"]
        return jnp.mean(out**2), hs

    sup = jaxact.ACTIVATIONS["gelu_tanh"].max_slope
    _check(d, ref, params, x, phis=[jax.nn.gelu] * 3, sups=[sup] * 3)


class _ConvNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(6, (3, 3))(x))
        x = nn.relu(nn.Conv(6, (3, 3))(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


@pytest.mark.slow
def test_flax_linen_conv_net():
    m = _ConvNet()
    x = jax.random.normal(_key(7), (4, 8, 8, 1), jax_f32)
    labels = jnp.arange(4) % 10
    params = m.init(_key(8), x)

    def loss(p, x):
        logits = m.apply(p, x)
        return jnp.mean(-jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))

    d = jax.jit(jaxact.diagnose, static_argnums=0)(loss, params, x)
    assert [s.shape for s in d.sites] == [(4, 8, 8, 6)] * 2

    def conv(a, p):
        out = jax.lax.conv_general_dilated(a, p["kernel"], (1, 1), "SAME",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
        return out + p["bias"]

    def ref(p, x, deltas):
        p = p["params"]
        h1 = _add(conv(x, p["Conv_0"]), deltas, 0)
        h2 = _add(conv(jax.nn.relu(h1), p["Conv_1"]), deltas, 1)
        a = jax.nn.relu(h2).reshape(4, -1)
        logits = a @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
        lp = jax.nn.log_softmax(logits)
        return jnp.mean(-jnp.take_along_axis(lp, labels[:, None], 1)), [h1, h2]

    _check(d, ref, params, x, phis=[jax.nn.relu] * 2, sups=[1.0] * 2)


# --------------------------------------------------------------------------- flax.nnx


class _NNX(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(4, 16, rngs=rngs)
        self.l2 = nnx.Linear(16, 16, rngs=rngs)
        self.l3 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l3(nnx.silu(self.l2(nnx.silu(self.l1(x)))))


@pytest.mark.slow
def test_flax_nnx_model():
    model = _NNX(nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    x = jax.random.normal(_key(9), (10, 4), jax_f32)

    def loss(state, x):
        return jnp.mean(nnx.merge(graphdef, state)(x) ** 2)

    d = jax.jit(jaxact.diagnose, static_argnums=0)(loss, state, x)
    assert [s.activation for s in d.sites] == ["silu", "silu"]

    def ref(state, x, deltas):
        m = nnx.merge(graphdef, state)
        h1 = _add(m.l1(x), deltas, 0)
        h2 = _add(m.l2(jax.nn.silu(h1)), deltas, 1)
        return jnp.mean(m.l3(jax.nn.silu(h2)) ** 2), [h1, h2]

    sup = jaxact.ACTIVATIONS["silu"].max_slope
    _check(d, ref, state, x, phis=[jax.nn.silu] * 2, sups=[sup] * 2)


# --------------------------------------------------------------------------- residual + LN


def _layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + 1e-5) * g + b


def _residual(p, x, deltas):
    hs, a = [], x
    for i, (w, b, g, beta) in enumerate(p):
        h = _add(_layer_norm(a, g, beta) @ w + b, deltas, i)
        hs.append(h)
        a = a + jax.nn.elu(h)
    return jnp.mean(a**2), hs


@pytest.mark.slow
def test_residual_blocks_with_layer_norm():
    ks = jax.random.split(_key(10), 3)
    p = [(jax.random.normal(k, (16, 16), jax_f32) * 0.5, jnp.zeros(16), jnp.ones(16),
          jnp.zeros(16)) for k in ks]  # fmt: skip
    x = jax.random.normal(_key(11), (8, 16), jax_f32)
    d = jaxact.diagnose(lambda p, x: _residual(p, x, None)[0], p, x)
    assert [s.activation for s in d.sites] == ["elu"] * 3
    _check(d, _residual, p, x, phis=[jax.nn.elu] * 3, sups=[1.0] * 3)


# --------------------------------------------------------------------------- transformer


def _transformer(p, x, deltas, tap_logits=False):
    """A pre-LN transformer block: x + attn(LN(x)), then + MLP(LN(.)) with GELU."""
    dim = x.shape[-1]
    heads = 2
    y = _layer_norm(x, p["g1"], p["b1"])
    q, k, v = (y @ p[n] for n in ("wq", "wk", "wv"))
    split = lambda z: z.reshape(*z.shape[:-1], heads, dim // heads)  # noqa: E731
    logits = jnp.einsum("bqhd,bkhd->bhqk", split(q), split(k)) / math.sqrt(dim // heads)
    if tap_logits:
        logits = jaxact.tap(logits, "attention_logits")
    att = jax.nn.softmax(logits, axis=-1)
    o = jnp.einsum("bhqk,bkhd->bqhd", att, split(v)).reshape(x.shape)
    x = x + o @ p["wo"]
    h = _add(_layer_norm(x, p["g2"], p["b2"]) @ p["w1"] + p["c1"], deltas, 0)
    x = x + jax.nn.gelu(h) @ p["w2"]
    return jnp.mean(x**2), [h]


def _transformer_params(dim=16, hidden=32):
    ks = jax.random.split(_key(12), 6)
    n = lambda k, s: jax.random.normal(k, s, jax_f32) / math.sqrt(s[0])  # noqa: E731
    return {"g1": jnp.ones(dim), "b1": jnp.zeros(dim), "g2": jnp.ones(dim), "b2": jnp.zeros(dim),
            "wq": n(ks[0], (dim, dim)), "wk": n(ks[1], (dim, dim)), "wv": n(ks[2], (dim, dim)),
            "wo": n(ks[3], (dim, dim)), "w1": n(ks[4], (dim, hidden)), "c1": jnp.zeros(hidden),
            "w2": n(ks[5], (hidden, dim))}  # fmt: skip


@pytest.mark.slow
def test_pre_ln_transformer_block():
    p = _transformer_params()
    x = jax.random.normal(_key(13), (3, 5, 16), jax_f32)
    d = jax.jit(jaxact.diagnose, static_argnums=0)(lambda p, x: _transformer(p, x, None)[0], p, x)
    # Only the MLP's GELU: the attention softmax is not an activation site.
    assert [s.activation for s in d.sites] == ["gelu_tanh"]
    sup = jaxact.ACTIVATIONS["gelu_tanh"].max_slope
    _check(d, _transformer, p, x, phis=[jax.nn.gelu], sups=[sup])
    # Tapped, the attention logits become a site of their own, first in execution order.
    loss = lambda p, x: _transformer(p, x, None, tap_logits=True)[0]  # noqa: E731
    dt = jaxact.diagnose(loss, p, x)
    assert (dt.sites[0].name, dt.sites[0].activation) == ("attention_logits", "tap")
    assert dt.sites[0].shape == (3, 2, 5, 5)
    assert np.isnan(float(dt.saturated[0])) and np.isfinite(float(dt.grad_norm[0]))
    np.testing.assert_allclose(dt.grad_norm[1], d.grad_norm[0], rtol=1e-6)


# --------------------------------------------------------------------------- jaxact's MLP, scans


@pytest.mark.slow
@pytest.mark.parametrize("remat", [False, True])
@pytest.mark.parametrize("act", ["sigmoid", "relu", "gelu"])
def test_jaxact_scan_mlp_equals_layer_gradient_norms(act, remat):
    p = jaxact.init_mlp(_key(14), depth=12, width=32, in_dim=3, out_dim=2)
    x = jax.random.normal(_key(15), (9, 3), jax_f32)
    loss = lambda p: jnp.mean(jaxact.mlp_forward(p, x, act, remat=remat) ** 2)  # noqa: E731
    d = jax.jit(jaxact.diagnose, static_argnums=0)(loss, p)
    assert [s.activation for s in d.sites] == [act] * 12
    assert [s.name.rsplit(" ", 1)[-1] for s in d.sites] == [f"[{i}]" for i in range(12)]
    ref = jaxact.layer_gradient_norms(p, x, act, loss=lambda y: jnp.mean(y**2))
    np.testing.assert_allclose(d.grad_norm, ref.pre, rtol=RTOL)
    trace = jaxact.mlp_trace(p, x, act)
    rec = jaxact.get_activation(act)
    stats = _reference_stats(list(trace.pre), [rec.derivative(h) for h in trace.pre],
                             [rec.max_slope] * 12)  # fmt: skip
    np.testing.assert_allclose(d.pre_mean, stats["pre_mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.saturated, stats["saturated"], rtol=FRACTION_RTOL, atol=0)


@pytest.mark.slow
def test_reverse_and_nested_scans_match_an_unrolled_reference():
    w = jax.random.normal(_key(16), (3, 2, 6, 6), jax_f32) * 0.6

    def model(w, deltas):
        hs, a, k = [], jnp.linspace(-1.0, 1.0, 24).reshape(4, 6), 0
        for i in range(3):
            for j in (1, 0):  # the inner scan runs backwards over w[i]
                h = _add(a @ w[i, j], deltas, k)
                hs.append(h)
                a, k = jnp.tanh(h), k + 1
            h = _add(a, deltas, k)
            hs.append(h)
            a, k = jax.nn.softplus(h), k + 1
        return jnp.sum(a**2), hs

    def scanned(w):
        def outer(a, wo):
            a, _ = jax.lax.scan(lambda a, wi: (jnp.tanh(a @ wi), None), a, wo, reverse=True)
            return jax.nn.softplus(a), None

        a, _ = jax.lax.scan(outer, jnp.linspace(-1.0, 1.0, 24).reshape(4, 6), w)
        return jnp.sum(a**2)

    d = jaxact.diagnose(scanned, w)
    assert [s.activation for s in d.sites] == ["tanh", "tanh", "softplus"] * 3
    assert d.sites[1].name.endswith("[0][1]") and d.sites[2].name.endswith("[0]")
    _check(d, lambda w, deltas: model(w, deltas), w,
           phis=[jnp.tanh, jnp.tanh, jax.nn.softplus] * 3, sups=[1.0] * 9)  # fmt: skip


@pytest.mark.slow
def test_vmap_inside_the_loss_gives_one_batched_site():
    w = jax.random.normal(_key(17), (5, 5), jax_f32)
    x = jax.random.normal(_key(18), (7, 5), jax_f32)
    per_example = lambda w, xi: jnp.sum(jax.nn.sigmoid(xi @ w))  # noqa: E731
    d = jaxact.diagnose(lambda w, x: jnp.sum(jax.vmap(per_example, (None, 0))(w, x)), w, x)
    assert [(s.activation, s.shape) for s in d.sites] == [("sigmoid", (7, 5))]


@pytest.mark.slow  # about 4.5 s
def test_inline_activations_are_recognised():
    x = jnp.linspace(-4.0, 4.0, 64, dtype=jax_f32).reshape(8, 8)

    def loss(x):
        a = jnp.maximum(x, 0.0)  # relu written by hand
        b = jax.nn.gelu(x, approximate=False)
        c = x * jax.nn.sigmoid(x)  # silu written by hand
        d = jnp.where(x > 0, x, 0.01 * x)  # leaky relu written by hand
        return jnp.sum(a + b + c + d + jnp.sin(x) + x**2)

    d = jaxact.diagnose(loss, x)
    acts = [s.activation for s in d.sites]
    # sin and x**2 are not activations; x * sigmoid(x) is one silu site, not a sigmoid.
    assert acts == ["relu", "gelu", "silu", "leaky_relu"]


@pytest.mark.slow
def test_jaxact_and_jax_nn_hyperparameters_set_the_saturation_threshold():
    x = jnp.linspace(-2.0, 2.0, 40, dtype=jax_f32).reshape(4, 10)
    # leaky_relu with slope 2: sup|phi'| = 2, so phi' = 1 on the positive side is not saturated
    # at saturation=0.6 (1 >= 1.2 is false: saturated) - compare with slope 0.01 (sup 1).
    d = jaxact.diagnose(lambda x: jnp.sum(jaxact.leaky_relu(x, negative_slope=2.0)), x,
                        saturation=0.6)  # fmt: skip
    assert float(d.saturated[0]) == pytest.approx(float(jnp.mean(x >= 0)))
    d = jaxact.diagnose(lambda x: jnp.sum(jax.nn.elu(x, 3.0)), x, saturation=0.5)
    # elu alpha=3: phi' = 3 e^x (x <= 0), 1 (x > 0); sup = 3, threshold 1.5.
    want = np.mean(np.where(np.asarray(x) > 0, 1.0, 3 * np.exp(np.asarray(x))) < 1.5)
    assert float(d.saturated[0]) == pytest.approx(want)


def test_dead_units_and_zero_grad_on_a_constructed_input():
    h = jnp.array([[-1.0, 2.0, -3.0, 0.0], [-2.0, -1.0, 1.0, -1.0], [-5.0, 3.0, 4.0, -1.0]])
    d = jaxact.diagnose(lambda h: jnp.sum(jax.nn.relu(h) ** 2), h)
    # columns 0 and 3 never have h > 0 (relu'(0) = 0): 2 of 4 units dead; 8 of 12 entries <= 0.
    assert float(d.dead_units[0]) == 0.5
    assert float(d.zero_grad[0]) == pytest.approx(8 / 12, rel=FRACTION_RTOL)
    assert float(d.saturated[0]) == 0.0  # the zeros are zero_grad; a ReLU is never saturated
    # dLoss/dh = 2 relu(h) relu'(h): norm over the positive entries
    assert float(d.grad_norm[0]) == pytest.approx(2 * math.sqrt(4 + 1 + 9 + 16), rel=1e-6)


@pytest.mark.slow
def test_has_aux_and_site_names_are_unique():
    w = jnp.eye(4)

    def loss(w):
        a = jnp.tanh(w)
        a = jnp.tanh(a @ w)  # the same line twice in a loop would share a name: see below
        for _ in range(2):
            a = jax.nn.relu(a @ w)
        return jnp.sum(a), {"out": a}

    d = jaxact.diagnose(loss, w, has_aux=True)
    assert set(d.aux) == {"out"}
    names = [s.name for s in d.sites]
    assert len(set(names)) == len(names) == 4
    assert names[2].endswith("#1") and names[3].endswith("#2")


def test_diagnosis_is_a_pytree_returned_from_jit():
    p = jaxact.init_mlp(_key(19), depth=4, width=8, in_dim=2, out_dim=1)
    x = jnp.ones((3, 2), jax_f32)
    loss = lambda p: jnp.sum(jaxact.mlp_forward(p, x, "relu"))  # noqa: E731
    step = jax.jit(lambda p: jaxact.diagnose(loss, p))
    d = step(p)
    leaves, treedef = jax.tree.flatten(d)
    again = jax.tree.unflatten(treedef, leaves)
    assert again.sites == d.sites and isinstance(d, jaxact.Diagnosis)
    assert all(isinstance(s, jaxact.Site) for s in d.sites)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.loss = 0  # type: ignore[misc]
    assert "relu" in d.table()


@pytest.mark.slow
def test_memory_is_that_of_one_backward_pass():
    """No activation tensor is kept: compiled temp memory within 10% (plus 1 KiB per site) of
    value_and_grad's on a deep scanned MLP (XLA's own memory analysis)."""
    p = jaxact.init_mlp(_key(20), depth=64, width=128, in_dim=128)
    x = jax.random.normal(_key(21), (256, 128), jax_f32)
    loss = lambda p: jnp.mean(jaxact.mlp_forward(p, x, "tanh") ** 2)  # noqa: E731
    base = jax.jit(jax.value_and_grad(loss)).lower(p).compile().memory_analysis()
    diag = jax.jit(lambda p: jaxact.diagnose(loss, p)).lower(p).compile().memory_analysis()
    if base is None or diag is None:
        pytest.skip("this backend reports no memory analysis")
    assert diag.temp_size_in_bytes <= 1.1 * base.temp_size_in_bytes + 64 * 1024


# --------------------------------------------------------------------------- tap


def test_tap_is_the_identity_in_value_and_gradient():
    x = jnp.linspace(-1.0, 1.0, 5, dtype=jax_f32)
    np.testing.assert_array_equal(jaxact.tap(x, "x"), x)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(jaxact.tap(x, "x"))))(x)
    np.testing.assert_array_equal(g, jnp.cos(x))
    with pytest.raises(TypeError, match="floating"):
        jaxact.tap(jnp.arange(3), "ints")
    with pytest.raises(TypeError, match="name"):
        jaxact.tap(x, "")


# --------------------------------------------------------------------------- bad input


def test_no_site_is_a_clear_error():
    with pytest.raises(ValueError, match=r"found no activation site.*jaxact\.tap"):
        jaxact.diagnose(lambda w: jnp.sum(w**2), jnp.ones(3))


def test_non_scalar_loss_is_a_clear_error():
    with pytest.raises(ValueError, match=r"scalar loss, got shape \(3,\)"):
        jaxact.diagnose(lambda w: jax.nn.relu(w), jnp.ones(3))
    with pytest.raises(ValueError, match="has_aux=True"):
        jaxact.diagnose(lambda w: (jnp.sum(jax.nn.relu(w)), w), jnp.ones(3))
    with pytest.raises(ValueError, match="did not return a pair"):
        jaxact.diagnose(lambda w: jnp.sum(jax.nn.relu(w)), jnp.ones(3), has_aux=True)
    with pytest.raises(TypeError, match="floating"):
        jaxact.diagnose(lambda w: jnp.sum(jax.nn.relu(w)).astype(jnp.int32), jnp.ones(3))


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, "0.1", True])
def test_bad_saturation(bad):
    with pytest.raises(ValueError, match="saturation"):
        jaxact.diagnose(lambda w: jnp.sum(jax.nn.relu(w)), jnp.ones(3), saturation=bad)


def _custom_vjp_block(w):
    @jax.custom_vjp
    def f(w):
        return jax.nn.relu(w)

    f.defvjp(lambda w: (f(w), w), lambda w, g: (g,))
    return jnp.sum(f(w))


def _custom_jvp_block(w):
    @jax.custom_jvp
    def f(w):
        return jnp.tanh(w) * 2

    f.defjvp(lambda p, t: (f(p[0]), t[0]))
    return jnp.sum(f(w))


@pytest.mark.parametrize(
    "loss, primitive",
    [
        (lambda w: jax.lax.while_loop(lambda c: c[1] < 3,
                                      lambda c: (jnp.tanh(c[0]), c[1] + 1), (w, 0))[0].sum(),
         "while"),
        (lambda w: jax.lax.cond(w[0] > 0, jax.nn.relu, jnp.tanh, w).sum(), "cond"),
        # The other two regions run the same code path: the slow step.
        pytest.param(_custom_vjp_block, "custom_vjp_call", marks=pytest.mark.slow),
        pytest.param(_custom_jvp_block, "custom_jvp_call", marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_a_region_that_cannot_be_instrumented_is_reported_and_the_rest_measured(loss, primitive):
    # Alone, the region leaves nothing to measure: a clear error that names it.
    with pytest.raises(ValueError, match=rf"no activation site.*inside a '{primitive}'"):
        jaxact.diagnose(loss, jnp.ones(8))

    # With a site outside it and a tap before it: both measured, the region reported once,
    # and the loss and gradient those of the model (the region is differentiated as it is).
    def model(w):
        h = jaxact.tap(jnp.sin(w), "before")
        if primitive == "while":  # JAX cannot reverse-differentiate a while_loop at all
            h = jax.lax.stop_gradient(h)
        return loss(h) + jnp.sum(jax.nn.relu(w) ** 2)

    with pytest.warns(UserWarning, match=rf"not measured: .* inside a '{primitive}'"):
        d = jaxact.diagnose(model, jnp.linspace(-1.0, 1.0, 8))
    assert [s.activation for s in d.sites] == ["tap", "relu"]
    assert len(d.not_instrumented) == 1 and primitive in d.not_instrumented[0]
    assert d.findings()[0].startswith("not measured: ")
    loss_ref, g_ref = jax.value_and_grad(model)(jnp.linspace(-1.0, 1.0, 8))
    assert float(d.loss) == pytest.approx(float(loss_ref), rel=1e-6)  # same ops, float32
    np.testing.assert_allclose(np.asarray(d.grads), np.asarray(g_ref), rtol=1e-6, atol=1e-7)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        jaxact.diagnose("relu", jnp.ones(3))
    with pytest.raises(TypeError, match="arguments"):
        jaxact.diagnose(lambda: 0.0)
    with pytest.raises(TypeError, match=r"args\[0\] holds no floating-point array"):
        jaxact.diagnose(lambda n, w: jnp.sum(jax.nn.relu(w)) * n, 3, jnp.ones(3))


@pytest.mark.slow
def test_bfloat16_sites_give_float32_statistics():
    p = jaxact.init_mlp(_key(29), depth=3, width=16, dtype=jnp.bfloat16)
    x = jnp.ones((4, 16), jnp.bfloat16)
    loss = lambda p: jnp.mean(jaxact.mlp_forward(p, x, "gelu").astype(jax_f32) ** 2)  # noqa: E731
    d = jax.jit(lambda p: jaxact.diagnose(loss, p))(p)
    assert [s.activation for s in d.sites] == ["gelu"] * 3
    assert d.grad_norm.dtype == jnp.float32 and bool(jnp.all(d.grad_norm > 0))
    assert d.grads.weights.dtype == jnp.bfloat16


# --------------------------------------------------------------------------- figures, training


@pytest.mark.slow
def test_plot_diagnosis_and_history(tmp_path):
    from jaxact.plotting import plot_diagnosis, plot_diagnosis_history

    p = jaxact.init_mlp(_key(22), depth=6, width=16, in_dim=3, out_dim=1)
    x = jax.random.normal(_key(23), (10, 3), jax_f32)
    diags = [
        jaxact.diagnose(lambda p, s=s: jnp.mean(jaxact.mlp_forward(p, s * x, "sigmoid") ** 2), p)
        for s in (1.0, 2.0, 4.0)
    ]
    out = plot_diagnosis(diags[0], tmp_path / "flow.png")
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 20_000
    fig = plot_diagnosis(diags[0])  # no path: the figure itself
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    hist = plot_diagnosis_history(diags, [0, 10, 20], tmp_path / "hist.png")
    assert hist.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one step per diagnosis"):
        plot_diagnosis_history(diags, [0, 10])
    other = jaxact.diagnose(lambda w: jnp.sum(jax.nn.relu(w)), jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="different sites"):
        plot_diagnosis_history([diags[0], other], [0, 1])


@pytest.mark.slow
def test_train_keeps_diagnoses_every_k_steps():
    from jaxact.training import two_spirals

    data = two_spirals(_key(24), 64)
    p = jaxact.init_mlp(_key(25), depth=4, width=16, in_dim=2, out_dim=1)
    r = jaxact.train(p, data, "tanh", steps=25, log_every=5, diagnose_every=10)
    assert r.diagnosis_steps == (10, 20, 25)
    assert all(len(d.sites) == 4 and d.grads is None for d in r.diagnoses)
    # The history is the diagnosis: dead and saturated units, the loss on the whole data set.
    last = r.diagnoses[-1]
    assert r.history["dead_units"][-1] == np.asarray(last.dead_units).tolist()
    assert r.history["saturated_units"][-1] == np.asarray(last.saturated_units).tolist()
    with pytest.warns(DeprecationWarning, match="renamed 'dead_units'"):
        assert r.history["dead"] is r.history["dead_units"]  # the old name, one release
    assert r.history["loss"][-1] == pytest.approx(float(last.loss))
    with pytest.raises(ValueError, match="diagnose_every"):
        jaxact.train(p, data, "tanh", steps=5, diagnose_every=0)


@pytest.mark.slow
def test_any_callable_activation_in_the_mlp_and_its_measurements():
    import functools

    p = jaxact.init_mlp(_key(26), depth=5, width=12)
    x = jax.random.normal(_key(27), (6, 12), jax_f32)
    leaky = functools.partial(jaxact.leaky_relu, negative_slope=0.2)
    y = jaxact.mlp_forward(p, x, leaky)
    a = x
    for w, b in zip(p.weights, p.biases, strict=True):
        h = a @ w + b
        a = jnp.where(h >= 0, h, 0.2 * h)
    np.testing.assert_allclose(y, a, rtol=1e-6, atol=1e-6)
    # A lambda jaxact does not know: layer_gradient_norms taps the pre-activations itself.
    own = lambda h: h / (1 + jnp.abs(h)) + 0.1 * h  # noqa: E731
    g = jaxact.layer_gradient_norms(p, x, own)
    u = jax.random.normal(jax.random.key(0), (12,), jax_f32)
    u = u / jnp.linalg.norm(u)

    def from_deltas(ds):
        a = x
        for w, b, d in zip(p.weights, p.biases, ds, strict=True):
            a = own(a @ w + b + d)
        return jnp.mean(a @ u)

    ref = jax.grad(from_deltas)([jnp.zeros((6, 12), jax_f32)] * 5)
    np.testing.assert_allclose(g.pre, [float(jnp.linalg.norm(r)) for r in ref], rtol=RTOL)
    with pytest.raises(TypeError, match="registry name"):
        jaxact.mlp_forward(p, x, 3)


@pytest.mark.slow
def test_losses_and_output_functions_add_no_sites():
    """optax's binary cross-entropy is written with log_sigmoid = -softplus(-x), softmax
    cross-entropy with log_softmax: neither is an activation of the model."""
    import optax

    x = jax.random.normal(_key(28), (8, 3), jax_f32)
    labels = jnp.arange(8) % 3

    def loss(x):
        h = jax.nn.relu(x)
        return (
            optax.sigmoid_binary_cross_entropy(h[:, 0], labels == 1).mean()
            + optax.softmax_cross_entropy_with_integer_labels(h, labels).mean()
            + jnp.sum(jax.nn.log_sigmoid(x) + jax.nn.softmax(x) + jaxact.softmax(x))
        )

    assert [s.activation for s in jaxact.diagnose(loss, x).sites] == ["relu"]


@pytest.mark.slow
def test_jaxact_identity_and_log_sigmoid_called_by_name_are_sites():
    p = jaxact.init_mlp(_key(30), depth=3, width=8, in_dim=2, out_dim=1)
    x = jax.random.normal(_key(31), (16, 2), jax_f32)
    d = jaxact.diagnose(lambda p: jnp.mean(jaxact.mlp_forward(p, x, "identity") ** 2), p)
    assert [s.activation for s in d.sites] == ["identity"] * 3
    assert np.asarray(d.saturated).tolist() == [0.0] * 3  # phi' = 1 everywhere
    d = jaxact.diagnose(lambda x: jnp.sum(jaxact.log_sigmoid(x)), x)
    assert [s.activation for s in d.sites] == ["log_sigmoid"]


class _ScanBlock(nn.Module):
    @nn.compact
    def __call__(self, x, _):
        return nn.tanh(nn.Dense(8)(x)), None


class _ScanStack(nn.Module):
    @nn.compact
    def __call__(self, x):
        blocks = nn.scan(_ScanBlock, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=5)  # fmt: skip
        x, _ = blocks()(x, None)
        return nn.Dense(1)(x)


@pytest.mark.slow
def test_flax_linen_scan_gives_a_site_per_iteration():
    m = _ScanStack()
    x = jax.random.normal(_key(32), (6, 8), jax_f32)
    params = m.init(_key(33), x)
    d = jaxact.diagnose(lambda p: jnp.mean(m.apply(p, x) ** 2), params)
    # Each site names the layer that feeds it (the Dense inside the scanned block).
    assert [s.name.split(" ")[0] for s in d.sites] == [
        "_ScanStack/Scan_ScanBlock_0/Dense_0/tanh"
    ] * 5
    assert [s.name.rsplit(" ", 1)[-1] for s in d.sites] == [f"[{i}]" for i in range(5)]

    def ref(p, deltas):
        p = p["params"]
        blocks, hs, a = p["Scan_ScanBlock_0"]["Dense_0"], [], x
        for i in range(5):
            h = _add(a @ blocks["kernel"][i] + blocks["bias"][i], deltas, i)
            hs.append(h)
            a = jnp.tanh(h)
        return jnp.mean((a @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) ** 2), hs

    _check(d, ref, params, phis=[jnp.tanh] * 5, sups=[1.0] * 5)


# ----------------------------------------------------------------------------- shard_map

_SHARD_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np, json, sys
from jax.sharding import Mesh, PartitionSpec as P
import jaxact

mesh = Mesh(np.array(jax.devices()), ("data",))
w = [jax.random.normal(jax.random.key(i), (16, 16)) / 4 for i in range(3)]
x = jax.random.normal(jax.random.key(9), (8, 16))


def loss(w, x):
    h = x
    for wi in w:
        h = jnp.tanh(h @ wi)
    return jnp.mean(h**2)


def step(w, x):
    d = jaxact.diagnose(loss, w, x)
    return d.grad_norm, d.grads, jax.value_and_grad(loss)(w, x)[1], d.saturated


spec = (P(), P(), P(), P("data"))
norms, grads, reference, saturated = jax.jit(jax.shard_map(
    step, mesh=mesh, in_specs=(P(), P("data")), out_specs=spec))(w, x)
# The sum of the shards' losses over the whole batch: shards x the mean loss.
whole = jaxact.diagnose(lambda w, x: len(jax.devices()) * loss(w, x), w, x)
print(json.dumps({
    "devices": len(jax.devices()),
    "norms": np.asarray(norms).tolist(), "whole": np.asarray(whole.grad_norm).tolist(),
    "grads_vs_value_and_grad": max(float(jnp.max(jnp.abs(a - b)))
                                   for a, b in zip(grads, reference)),
    "saturated": np.asarray(saturated).tolist(),
}))
"""


def _shard_run(devices: int) -> dict:
    if devices == jax.device_count():  # this process has the mesh: no new process needed
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(_SHARD_SCRIPT, {})
        return last_json(out.getvalue())
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}  # fmt: skip
    return last_json_line(_SHARD_SCRIPT, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("devices", [1, 2])
def test_diagnose_inside_shard_map(devices):
    """diagnose in the per-shard function of a data-parallel step: the shard's gradients equal
    value_and_grad's bit for bit, and each site's norm is the whole batch's (the shards' squared
    norms summed), equal to diagnosing the sum of the shards' losses unsharded - to float32
    rounding of a differently ordered sum (a few ulp: 1e-6 relative)."""
    r = _shard_run(devices)
    assert r["devices"] == devices
    assert r["grads_vs_value_and_grad"] == 0.0
    np.testing.assert_allclose(r["norms"], r["whole"], rtol=1e-6)
    # The forward statistics are the shard's own: one value per shard per site.
    assert len(r["saturated"]) == 3 * devices


@pytest.mark.slow
def test_an_eager_call_runs_one_compiled_program(monkeypatch):
    """Outside any trace, diagnose compiles its step once instead of dispatching the model's
    operations one by one; the numbers are those of the jitted call, to float32 rounding."""
    from jaxact import diagnosis

    p = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, out_dim=3)
    x = jax.random.normal(jax.random.key(1), (4, 8))

    def loss(p, x):
        return jnp.mean(jaxact.mlp_forward(p, x, "tanh") ** 2)

    jf = jax.jit(lambda p, x: jaxact.diagnose(loss, p, x))
    jitted = jf(p, x)
    compiled = []
    real_jit = jax.jit

    def counting_jit(fn, *a, **kw):
        compiled.append(fn)
        return real_jit(fn, *a, **kw)

    monkeypatch.setattr(diagnosis.jax, "jit", counting_jit)
    eager = jaxact.diagnose(loss, p, x)
    assert len(compiled) == 1
    # Two programs compiled apart may fuse (and so round) differently: a few float32 ulp
    # (rtol 1e-6 is about 8 ulp at eps 1.19e-7).
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    compiled.clear()
    real_jit(lambda p, x: jaxact.diagnose(loss, p, x))(p, x)  # traced: no second jit inside
    assert compiled == []
    # The data is an argument of the compiled step, not a constant baked into it.
    x2 = 2 * x
    again = jaxact.diagnose(loss, p, x2)
    ref = jf(p, x2)  # the same shapes: jf's compiled program
    np.testing.assert_allclose(again.grad_norm, ref.grad_norm, rtol=1e-6)
    assert not np.array_equal(again.grad_norm, eager.grad_norm)


@pytest.mark.slow
def test_equinox_sites_are_named_by_their_field_path():
    """equinox records no name stack: a site takes the path of the layer whose parameters
    feed it (``layers[1]`` for ``.layers[1].weight``); flax keeps its module path."""
    x = jnp.ones((5, 4))
    m = eqx.nn.MLP(4, 2, 8, 3, key=jax.random.key(0))
    arrays, static = eqx.partition(m, eqx.is_inexact_array)

    def loss(a, x):
        return jnp.mean(jax.vmap(eqx.combine(a, static))(x) ** 2)

    names = [s.name.split(" (")[0] for s in jaxact.diagnose(loss, arrays, x).sites]
    assert names == ["layers[0]/relu", "layers[1]/relu", "layers[2]/relu"]


@pytest.mark.slow
def test_site_paths_for_several_arguments_lists_and_flax():
    x = jnp.ones((5, 4))
    m = eqx.nn.MLP(4, 2, 8, 3, key=jax.random.key(0))
    arrays, static = eqx.partition(m, eqx.is_inexact_array)

    def loss(a, x):
        return jnp.mean(jax.vmap(eqx.combine(a, static))(x) ** 2)

    # Several differentiated arguments are named by the loss's parameter names.
    two = jaxact.diagnose(lambda a, b, x: loss(a, x) + loss(b, x), arrays, arrays, x,
                          argnums=(0, 1))  # fmt: skip
    assert [s.name.split(" (")[0] for s in two.sites] == [
        f"{arg}.layers[{i}]/relu" for arg in "ab" for i in range(3)]  # fmt: skip
    # A list of layers is named by the loss function's argument: params[1] for params[1][0].
    ws = [jnp.eye(4)] * 3

    def plain(params, x):
        for w in params:
            x = jax.nn.relu(x @ w)
        return jnp.sum(x)

    nested = [(w, jnp.zeros(4)) for w in ws]

    def plain_with_bias(params, x):
        for w, b in params:
            x = jax.nn.relu(x @ w + b)
        return jnp.sum(x)

    assert [s.name.split(" (")[0] for s in jaxact.diagnose(plain_with_bias, nested, x).sites] == [
        "params[0]/relu", "params[1]/relu", "params[2]/relu"]  # fmt: skip
    # A bare list of matrices: each leaf is a layer of its own, nothing above it to name.
    assert [s.name.split(" (")[0] for s in jaxact.diagnose(plain, ws, x).sites] == ["relu"] * 3

    class Flax(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(nn.relu(nn.Dense(8)(x)))

    fp = Flax().init(jax.random.key(0), x)
    d = jaxact.diagnose(lambda p, x: jnp.mean(Flax().apply(p, x) ** 2), fp, x)
    # Dense(2) is made first (the callee before its argument): the 8-unit layer is Dense_1.
    assert d.sites[0].name.startswith("Flax/Dense_1/relu (")
