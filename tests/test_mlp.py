"""The scan MLP: equality with an unrolled loop, shapes, determinism, remat, bad input."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxact
from jaxact import ACTIVATIONS, init_mlp, mlp_forward, mlp_trace, trace_statistics

from .numerics import slow_except

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)

SEVERAL = ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity"]


def unrolled_forward(params, x, activation, residual=False):
    """Reference: a plain Python loop over the layers (never used by the library)."""
    phi = ACTIVATIONS[activation].fn
    a = x if params.w_in is None else x @ params.w_in + params.b_in
    for w, b in zip(params.weights, params.biases, strict=True):
        out = phi(a @ w + b)
        a = a + out if residual else out
    return a if params.w_out is None else a @ params.w_out + params.b_out


# relu without shortcuts in the default run; every other pair in the slow step.
@pytest.mark.parametrize(
    ("activation", "residual"),
    slow_except([(a, r) for a in SEVERAL for r in (False, True)], (("relu", False),)),
)
def test_scan_equals_unrolled_loop_values_and_gradients(activation, residual):
    p = init_mlp(
        jax.random.key(0), depth=7, width=12, in_dim=3, out_dim=2, sigma_b2=0.1, init="lecun",
        dtype=jnp.float64,
    )  # fmt: skip
    x = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    y_scan = jax.jit(lambda q: mlp_forward(q, x, activation, residual=residual))(p)
    y_loop = jax.jit(lambda q: unrolled_forward(q, x, activation, residual))(p)
    # Same float64 operations in the same order: equal to a few ulp (XLA may fuse differently).
    np.testing.assert_allclose(y_scan, y_loop, rtol=1e-12, atol=1e-13)

    def loss(fn):
        return lambda q: jnp.sum(fn(q) ** 2)

    g_scan = jax.jit(jax.grad(loss(lambda q: mlp_forward(q, x, activation, residual=residual))))(p)
    g_loop = jax.jit(jax.grad(loss(lambda q: unrolled_forward(q, x, activation, residual))))(p)
    for a, b in zip(jax.tree.leaves(g_scan), jax.tree.leaves(g_loop), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.slow  # about 4 s
def test_shapes_batch_dims_and_head():
    p = init_mlp(jax.random.key(0), depth=3, width=8, in_dim=4, out_dim=5)
    x = jnp.ones((2, 3, 4), jnp.float32)
    assert mlp_forward(p, x, "relu").shape == (2, 3, 5)
    probs = mlp_forward(p, x, "relu", head="softmax")
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)  # 5 terms of float32 rounding
    binary = init_mlp(jax.random.key(0), depth=3, width=8, in_dim=4, out_dim=1)
    pr = mlp_forward(binary, x, "relu", head="sigmoid")
    assert bool(((pr > 0) & (pr < 1)).all())
    assert mlp_forward(p, x[0, 0], "relu", head=jnp.tanh).shape == (5,)
    # No projections: the input already has `width` features.
    q = init_mlp(jax.random.key(0), depth=2, width=6)
    assert q.w_in is None and q.w_out is None
    assert mlp_forward(q, jnp.ones((6,), jnp.float32), "tanh").shape == (6,)


def test_same_key_same_parameters_bit_for_bit():
    a = init_mlp(jax.random.key(5), depth=4, width=8, in_dim=3, out_dim=2, sigma_b2=0.05)
    b = init_mlp(jax.random.key(5), depth=4, width=8, in_dim=3, out_dim=2, sigma_b2=0.05)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert np.array_equal(np.asarray(u), np.asarray(v))
    c = init_mlp(jax.random.key(6), depth=4, width=8, in_dim=3, out_dim=2)
    assert not np.array_equal(np.asarray(a.weights), np.asarray(c.weights))


@pytest.mark.slow
def test_remat_gives_the_same_gradient():
    p = init_mlp(jax.random.key(0), depth=20, width=16, dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(1), (4, 16), jnp.float64)

    def loss(q, remat):
        return jnp.sum(mlp_forward(q, x, "tanh", remat=remat) ** 2)

    g1 = jax.grad(loss)(p, False)
    g2 = jax.grad(loss)(p, True)
    np.testing.assert_allclose(g1.weights, g2.weights, rtol=1e-12, atol=1e-14)


def test_very_deep_network_compiles_to_the_same_program_as_a_shallow_one():
    """Depth is a loop count, not program size: the compiled program of 10,000 layers has the
    same instructions as that of 10 (an unrolled network of 10,000 layers takes minutes to
    compile). Checked on the program itself; compile *times* are the benchmark's business."""
    x = jnp.ones((2, 8), jnp.float32)
    programs = {}
    for depth in (10, 10_000):
        p = init_mlp(jax.random.key(0), depth=depth, width=8)
        f = jax.jit(lambda q, v: mlp_forward(q, v, "relu"))
        text = f.lower(p, x).compile().as_text()
        # Shapes and the trip count carry the depth; the instructions must not.
        programs[depth] = sorted(
            re.sub(r"\b10000\b|\b10\b|\b9999\b|\b9\b", "D", ln.split("metadata=")[0]).strip()
            for ln in text.splitlines()
            if " = " in ln
        )
        assert bool(jnp.isfinite(f(p, x)).all())
    assert " while(" in "\n".join(programs[10_000])
    assert len(programs[10_000]) == len(programs[10])


@pytest.mark.slow
def test_trace_and_statistics():
    p = init_mlp(jax.random.key(0), depth=6, width=32, in_dim=5)
    x = jax.random.normal(jax.random.key(1), (64, 5), jnp.float32)
    tr = mlp_trace(p, x, "relu")
    assert tr.pre.shape == (6, 64, 32) and tr.post.shape == (6, 64, 32)
    np.testing.assert_allclose(tr.post, jax.nn.relu(tr.pre))
    np.testing.assert_allclose(tr.post[-1], mlp_forward(p, x, "relu"), rtol=1e-6)
    st = trace_statistics(tr, "relu")
    # ReLU: a unit is dead exactly where h <= 0, about half of them with zero-mean inputs.
    np.testing.assert_allclose(st.dead, (tr.pre <= 0).mean(axis=(1, 2)))
    assert 0.3 < float(st.dead.mean()) < 0.7
    assert float(st.saturated.max()) == 0.0
    # Sigmoid with N(0, 1) weights at width 256: pre-activations have std ~ sqrt(256 * 0.3) ~ 9,
    # so most units sit on the flat tails (|h| > 4.4, where sigma' < 5% of its maximum).
    big = init_mlp(jax.random.key(0), depth=6, width=256, in_dim=5, init="standard")
    st_sig = trace_statistics(mlp_trace(big, x, "sigmoid"), "sigmoid")
    assert float(st_sig.saturated[-1]) > 0.5
    # Dead means phi'(h) == 0 exactly in the working dtype: for sigmoid only where sigma'
    # underflows (|h| > ~88 in float32), a small fraction here.
    assert float(st_sig.dead.max()) < 0.01


@pytest.mark.slow
def test_identity_network_is_one_matrix():
    p = init_mlp(
        jax.random.key(0), depth=10, width=6, in_dim=3, out_dim=2, sigma_b2=0.3, dtype=jnp.float64
    )
    x = jax.random.normal(jax.random.key(1), (50, 3), jnp.float64)
    y = mlp_forward(p, x, "identity")
    m = p.w_in
    c = p.b_in
    for w, b in zip(p.weights, p.biases, strict=True):
        m, c = m @ w, c @ w + b
    m, c = m @ p.w_out, c @ p.w_out + p.b_out
    np.testing.assert_allclose(y, x @ m + c, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_identity_network_cannot_fit_a_nonlinear_target_but_relu_can():
    """Stacked linear layers are still linear: trained, they do no better than least squares."""
    x = jax.random.uniform(jax.random.key(2), (256, 2), jnp.float32, minval=-1, maxval=1)
    y = (x[:, :1] * x[:, 1:]) * 4  # x1 * x2 has no linear component on a symmetric square
    design = np.c_[np.asarray(x), np.ones(256)]
    coef, *_ = np.linalg.lstsq(design, np.asarray(y), rcond=None)
    best_linear = float(np.mean((design @ coef - np.asarray(y)) ** 2))

    def train(activation):
        p = init_mlp(jax.random.key(0), depth=4, width=32, in_dim=2, out_dim=1, init="lecun")
        opt = optax.adam(1e-2)
        state = opt.init(p)

        @jax.jit
        def step(p, state):
            loss, g = jax.value_and_grad(
                lambda q: jnp.mean((mlp_forward(q, x, activation) - y) ** 2)
            )(p)
            upd, state = opt.update(g, state)
            return optax.apply_updates(p, upd), state, loss

        for _ in range(400):
            p, state, loss = step(p, state)
        return float(loss)

    linear_loss = train("identity")
    relu_loss = train("relu")
    assert linear_loss >= best_linear * 0.999  # cannot beat the best linear map
    assert linear_loss > 0.5 * float(np.var(np.asarray(y)))  # explains under half the variance
    assert relu_loss < 0.1 * linear_loss


def test_bad_input():
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got 0"):
        init_mlp(jax.random.key(0), depth=0, width=4)
    with pytest.raises(ValueError, match="width must be an integer >= 1, got -3"):
        init_mlp(jax.random.key(0), depth=2, width=-3)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        init_mlp(jax.random.key(0), depth=2, width=4, dtype=jnp.int32)
    with pytest.raises(ValueError, match="sigma_b2 must be a number >= 0"):
        init_mlp(jax.random.key(0), depth=2, width=4, sigma_b2=-1.0)
    with pytest.raises(ValueError, match="sigma_b2 must be a finite number >= 0, got inf"):
        init_mlp(jax.random.key(0), depth=2, width=4, sigma_b2=float("inf"))
    p = init_mlp(jax.random.key(0), depth=2, width=4, in_dim=3)
    with pytest.raises(
        ValueError, match=r"x has shape \(5, 4\); its last dimension must be in_dim = 3"
    ):
        mlp_forward(p, jnp.ones((5, 4), jnp.float32), "relu")
    with pytest.raises(
        TypeError, match=r"x must be floating-point, got dtype int32 with shape \(5, 3\)"
    ):
        mlp_forward(p, jnp.ones((5, 3), jnp.int32), "relu")
    with pytest.raises(
        TypeError, match=r"x has dtype float64 \(shape \(5, 3\)\) but the parameters are float32"
    ):
        mlp_forward(p, jnp.ones((5, 3), jnp.float64), "relu")
    with pytest.raises(ValueError, match="Unknown activation 'rel'"):
        mlp_forward(p, jnp.ones((5, 3), jnp.float32), "rel")


def test_params_properties():
    p = init_mlp(jax.random.key(0), depth=3, width=8, in_dim=2, out_dim=4)
    assert (p.depth, p.width, p.in_dim, p.out_dim) == (3, 8, 2, 4)
    assert isinstance(p, jaxact.MLPParams)


@pytest.mark.slow
def test_traced_residual_and_branch_scale_match_static():
    """One program for plain and residual nets: a traced flag selects the same computation."""
    p = init_mlp(jax.random.key(0), depth=4, width=8, init="he")
    x = jax.random.normal(jax.random.key(1), (5, 8), jnp.float32)
    p = jax.tree.map(lambda a: a.astype(jnp.float32), p)
    for flag in (False, True):
        static = mlp_forward(p, x, "relu", residual=flag, branch_scale=0.5)
        traced = jax.jit(lambda r: mlp_forward(p, x, "relu", residual=r, branch_scale=0.5))(
            jnp.asarray(flag)
        )
        np.testing.assert_array_equal(np.asarray(static), np.asarray(traced))
    # residual: a_l = a_{l-1} + s phi(h_l), checked against a loop.
    a = x
    for w, b in zip(p.weights, p.biases, strict=True):
        a = a + 0.5 * jnp.maximum(a @ w + b, 0)
    np.testing.assert_allclose(
        np.asarray(mlp_forward(p, x, "relu", residual=True, branch_scale=0.5)),
        np.asarray(a),
        rtol=1e-6,  # float32: same ops, possibly fused differently
    )
    with pytest.raises(ValueError, match="residual must be a bool or a scalar"):
        mlp_forward(p, x, "relu", residual=jnp.ones(2))


# backward="fused": the hand-written reverse pass against autodiff. ReLU (a kink) in the
# default run, every other in the slow step; GELU's closed-form path (a custom_jvp of erf)
# runs by default in the SGD step's test below, which is this reverse pass plus the update.
FUSED_DEFAULT = ("relu",)


def _default_or_slow(names):
    return slow_except(names, FUSED_DEFAULT)


def _small_net_and_input():
    """A float64 net with both projections and biases, and an input with two batch dims."""
    p = init_mlp(jax.random.key(0), depth=6, width=8, in_dim=3, out_dim=2, sigma_b2=0.1,
                 dtype=jnp.float64)  # fmt: skip
    return p, jax.random.normal(jax.random.key(1), (2, 5, 3), jnp.float64)


@pytest.mark.parametrize("activation", _default_or_slow(ACTIVATIONS))
def test_fused_backward_equals_autodiff(activation):
    p, x = _small_net_and_input()

    def loss(q, x, backward):
        y = mlp_forward(q, x, activation, head="sigmoid", backward=backward)
        return jnp.sum(jnp.sin(3.0 * y))

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), static_argnums=2)
    (l_ad, g_ad), (l_f, g_f) = grad(p, x, "autodiff"), grad(p, x, "fused")
    # The same float64 operations, summed in a different order (the fused pass flattens the
    # batch dims into one matmul): equal to a few ulp per layer, as scan against unrolled above.
    np.testing.assert_allclose(l_f, l_ad, rtol=1e-12)
    for a, b in zip(jax.tree.leaves(g_f), jax.tree.leaves(g_ad), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_fused_backward_under_vmap_gives_per_example_gradients():
    p = init_mlp(jax.random.key(0), depth=5, width=8, in_dim=3, dtype=jnp.float64)
    xs = jax.random.normal(jax.random.key(1), (4, 3), jnp.float64)

    def per_example(backward):
        g = jax.grad(lambda q, x: jnp.sum(mlp_forward(q, x, "tanh", backward=backward) ** 2))
        return jax.vmap(g, in_axes=(None, 0))(p, xs)

    for a, b in zip(jax.tree.leaves(per_example("fused")),
                    jax.tree.leaves(per_example("autodiff")), strict=True):  # fmt: skip
        assert a.shape[0] == 4
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)  # as above


@pytest.mark.slow
def test_fused_backward_stores_one_array_per_layer_where_autodiff_stores_two():
    """The point of the fused pass: the compiled gradient keeps the pre-activations only
    (depth x batch x width floats), autodiff keeps each layer's input and phi'(h)."""
    depth, width, batch = 50, 64, 128
    p = init_mlp(jax.random.key(0), depth=depth, width=width, dtype=jnp.float32)
    x = jnp.ones((batch, width), jnp.float32)
    temp = {}
    for b in ("autodiff", "fused"):
        g = jax.jit(jax.grad(lambda q, b=b: jnp.sum(mlp_forward(q, x, "relu", backward=b) ** 2)))
        mem = g.lower(p).compile().memory_analysis()
        if mem is None:
            pytest.skip("this backend reports no memory analysis")
        temp[b] = mem.temp_size_in_bytes
    stack = depth * batch * width * 4
    assert temp["autodiff"] >= 2 * stack
    assert stack <= temp["fused"] < 1.2 * stack


def test_fused_backward_refuses_what_it_does_not_do():
    p = init_mlp(jax.random.key(0), depth=3, width=4)
    x = jnp.ones((2, 4), jnp.float32)
    with pytest.raises(
        ValueError, match=r"backward must be one of \('autodiff', 'fused'\), got 'fast'"
    ):
        mlp_forward(p, x, "relu", backward="fast")
    for kwargs in ({"residual": True}, {"remat": True}, {"residual": jnp.array(False)}):
        with pytest.raises(ValueError, match="backward='fused' is for plain stacks"):
            mlp_forward(p, x, "relu", backward="fused", **kwargs)
    # Forward mode is JAX's custom_vjp limit: a clear TypeError from JAX, not a wrong answer.
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda v: mlp_forward(p, v, "relu", backward="fused"), (x,), (x,))


@pytest.mark.slow  # about 4 s
def test_diagnose_says_it_cannot_look_inside_the_fused_pass():
    p = init_mlp(jax.random.key(0), depth=3, width=8, in_dim=3, out_dim=2)
    x = jnp.ones((5, 3), jnp.float32)

    def loss(backward):
        return lambda q: jnp.mean(mlp_forward(q, x, "tanh", backward=backward) ** 2)

    assert len(jaxact.diagnose(loss("autodiff"), p).sites) == 3
    with pytest.raises(ValueError, match=r"3 activation site\(s\).*inside a 'custom_vjp_call'"):
        jaxact.diagnose(loss("fused"), p)


# make_sgd_step: the fused reverse pass with the SGD update written in place, against
# jax.grad followed by p - lr * g.
def _mse(out, y):
    return jnp.mean((out - y) ** 2)


# GELU (the closed-form derivative's path) in the default run; ReLU's mask is the fused
# backward's own test above.
@pytest.mark.parametrize("activation", slow_except(SEVERAL, ("gelu",)))
def test_sgd_step_equals_grad_then_update(activation):
    p, x = _small_net_and_input()
    y = jax.random.uniform(jax.random.key(2), (2, 5, 2), jnp.float64)
    lr = 0.3

    @jax.jit
    def reference(q):
        value, g = jax.value_and_grad(
            lambda q: _mse(mlp_forward(q, x, activation, head="sigmoid"), y)
        )(q)
        return jax.tree.map(lambda a, b: a - lr * b, q, g), value

    step = jax.jit(jaxact.make_sgd_step(activation, _mse, lr, head="sigmoid"))
    state, ref = jaxact.init_sgd(p), p
    for _ in range(3):  # both slots, and back
        (state, value), (ref, ref_value) = step(state, x, y), reference(ref)
        # float64, the same operations summed in another order (the batch dims flattened into
        # one matmul), as the fused backward above: a few ulp per layer and step.
        np.testing.assert_allclose(value, ref_value, rtol=1e-12)
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_sgd_step_flips_slots_and_keeps_the_previous_parameters():
    p = init_mlp(jax.random.key(0), depth=4, width=8, dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(1), (6, 8), jnp.float64)
    step = jaxact.make_sgd_step("tanh", _mse, 0.1)  # not jitted: nothing donated
    s0 = jaxact.init_sgd(p)
    assert s0.current == 0 and s0.params is p
    assert all(float(jnp.abs(a).max()) == 0 for a in jax.tree.leaves(s0.slots[1]))
    s1, first = step(s0, x, jnp.zeros_like(x))
    s2, second = step(s1, x, jnp.zeros_like(x))
    assert (s1.current, s2.current) == (1, 0)
    # the slot the step read keeps the parameters it read; the other holds the update
    for a, b in zip(jax.tree.leaves(s1.slots[0]), jax.tree.leaves(p), strict=True):
        np.testing.assert_array_equal(a, b)
    assert s1.slots[1].w_in is None and s1.slots[1].w_out is None  # no projections: none made
    assert not np.array_equal(s1.params.weights, p.weights)
    assert second < first  # it descends


@pytest.mark.slow
def test_sgd_step_jitted_traces_once_per_slot():
    traces = []

    def loss(out, y):
        traces.append(1)  # runs only while JAX traces the step
        return _mse(out, y)

    p = init_mlp(jax.random.key(0), depth=3, width=8)
    x = jnp.ones((4, 8), jnp.float32)
    step = jax.jit(jaxact.make_sgd_step("relu", loss, 0.1), donate_argnums=0)
    state = jaxact.init_sgd(p)
    for _ in range(5):
        state, _ = step(state, x, x)
    assert len(traces) == 2 and state.current == 1


def test_sgd_step_updates_in_place_without_a_gradient_stack():
    """The point of the step: jitted with its state donated, the new parameters are written
    into the spare slot (every output byte but the loss aliases an input) and no
    parameter-sized temporary exists; an autodiff step keeps a whole gradient stack."""
    # Weights (5.2 MB) dominate the stored pre-activations (depth x batch x width, 0.3 MB).
    depth, width, batch = 20, 256, 16
    p = init_mlp(jax.random.key(0), depth=depth, width=width, dtype=jnp.float32)
    x = jnp.ones((batch, width), jnp.float32)
    step = jax.jit(jaxact.make_sgd_step("relu", _mse, 0.1), donate_argnums=0)
    mem = step.lower(jaxact.init_sgd(p), x, x).compile().memory_analysis()
    if mem is None:
        pytest.skip("this backend reports no memory analysis")

    def autodiff(q):
        g = jax.grad(lambda q: _mse(mlp_forward(q, x, "relu"), x))(q)
        return jax.tree.map(lambda a, b: a - 0.1 * b, q, g)

    auto = jax.jit(autodiff, donate_argnums=0).lower(p).compile().memory_analysis()
    params_bytes = sum(a.nbytes for a in jax.tree.leaves(p))
    assert mem.alias_size_in_bytes == 2 * params_bytes  # both slots, in place
    # Not aliased: the 4-byte loss and XLA's table of the output tuple's buffers (8 bytes a
    # pointer) - under 1 kB, where one new layer of weights would be 256 kB.
    assert mem.output_size_in_bytes - mem.alias_size_in_bytes < 1024
    # The step's temporaries: the pre-activations and a few layers' worth of per-layer work.
    pre = depth * batch * width * 4
    assert mem.temp_size_in_bytes < pre + 4 * width * width * 4 < p.weights.nbytes
    assert auto.temp_size_in_bytes >= p.weights.nbytes  # its gradient stack


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: jaxact.make_sgd_step("relu", _mse, 0.0), ValueError, "got 0.0"),
        (lambda: jaxact.make_sgd_step("relu", _mse, -1), ValueError, "got -1"),
        (lambda: jaxact.make_sgd_step("relu", _mse, float("nan")), ValueError, "got nan"),
        (lambda: jaxact.make_sgd_step("relu", _mse, True), ValueError, "got True"),
        (lambda: jaxact.make_sgd_step("relu", _mse, "0.1"), ValueError, "got '0.1'"),
        (lambda: jaxact.make_sgd_step("relu", "mse", 0.1), TypeError, "loss must be callable"),
        (lambda: jaxact.make_sgd_step("rleu", _mse, 0.1), ValueError, "rleu"),
        (lambda: jaxact.init_sgd({"weights": 1}), TypeError, "must be an MLPParams"),
    ],
)
def test_sgd_step_refuses_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_sgd_step_refuses_bad_state_input_and_loss():
    p = init_mlp(jax.random.key(0), depth=3, width=8)
    x = jnp.ones((4, 8), jnp.float32)
    step = jaxact.make_sgd_step("relu", _mse, 0.1)
    with pytest.raises(TypeError, match=r"SGDState \(from jaxact.init_sgd\(params\)\), got MLPP"):
        step(p, x, x)
    with pytest.raises(ValueError, match=r"sgd step: x has shape \(4, 5\)"):
        step(jaxact.init_sgd(p), jnp.ones((4, 5), jnp.float32), x)
    per_example = jaxact.make_sgd_step("relu", lambda o, y: jnp.mean((o - y) ** 2, axis=-1), 0.1)
    with pytest.raises(ValueError, match=r"loss must return a scalar, got shape \(4,\)"):
        per_example(jaxact.init_sgd(p), x, x)
