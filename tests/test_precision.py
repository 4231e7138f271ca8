"""The precision census (issue 28): counts checked by hand on small models, the float formats'
floors, the safe range, conflicts, errors, and a jmp dynamic loss scale settling inside the
safe range."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact.precision import PrecisionCensus, precision_census, scale_label

# float16: the smallest subnormal is 2**-24, the largest finite number 65504.
F16_TINY, F16_MAX = 2.0**-24, 65504.0


def _constant_cotangent(c):
    """One relu site whose every dL/dh entry is c: h = x @ w > 0 everywhere. The constant
    multiplies in float32 (as a loss scale does): in float16, 2**-30 itself would be 0."""
    w = jnp.eye(4)
    x = jnp.ones((2, 4))

    def loss(w, x):
        return c * jnp.sum(jax.nn.relu(x @ w)).astype(jnp.float32)

    return loss, w, x


def test_gradient_counts_by_hand():
    """diagnose's counting probe: dL/dh = c on 8 entries, in float16."""
    for c, zero, nonfinite in ((2.0**-26, 1.0, 0.0), (2.0**-20, 0.0, 0.0), (1.0, 0.0, 0.0)):
        loss, w, x = _constant_cotangent(c)
        d = jaxact.diagnose(loss, w.astype(jnp.float16), x.astype(jnp.float16),
                            gradient_counts=True)  # fmt: skip
        # 2**-26 is below float16's smallest subnormal (2**-24): every entry is 0.
        assert float(d.grad_zero[0]) == zero and float(d.grad_nonfinite[0]) == nonfinite, c
    # Without counting, the fields are absent (not measured), not zeros.
    assert jaxact.diagnose(loss, w, x).grad_zero is None


def test_the_census_finds_the_float16_floor_and_the_scale_that_lifts_it():
    # dL/dh = 2**-30 on every entry: lost in float16 at scale 1, kept from 2**6 (2**-24) on,
    # overflowing once c * S exceeds 65504 (S > 2**45) - never among the default scales.
    loss, w, x = _constant_cotangent(2.0**-30)
    c = precision_census(loss, w, x, dtype=jnp.float16, loss_scales=[2.0**k for k in range(12)])
    under = np.asarray(c.underflow)[:, 0]
    np.testing.assert_array_equal(under, [1.0] * 6 + [0.0] * 6)
    assert c.safe_loss_scales() == (2.0**6, 2.0**11)
    assert np.all(np.asarray(c.overflow) == 0)
    # All lost: the error is 1 (to 2 float32 ulp: XLA may divide by a reciprocal). Once the
    # entries are representable the unscaled norm equals the reference's exactly (powers of
    # two: no rounding).
    err = np.asarray(c.norm_error)[:, 0]
    np.testing.assert_allclose(err[:6], 1.0, rtol=2.4e-7)
    assert np.all(err[6:] == 0.0)
    # The parameter's gradient (x^T dL/dh: 2 * 2**-30 per entry of the diagonal block) too.
    lost = np.asarray(c.param_lost)
    assert lost[0] == 1.0 and lost[-1] == 0.0


@pytest.mark.slow
def test_overflow_marks_a_scale_unsafe():
    # dL/dh = 1: the site's dL/dh fits float16 up to S = 2**15; 2**16 = 65536 > 65504
    # overflows. The weight's gradient sums dL/dh over the 2 examples (2 S): it overflows
    # one scale earlier, at 2**15, so the last safe scale is 2**14.
    loss, w, x = _constant_cotangent(1.0)
    c = precision_census(loss, w, x, loss_scales=[2.0**k for k in range(14, 18)])
    np.testing.assert_array_equal(np.asarray(c.overflow)[:, 0], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(c.param_overflow) > 0, [False, True, True, True])
    assert c.safe_loss_scales() == (2.0**14, 2.0**14)


@pytest.mark.slow
def test_no_single_scale_when_two_sites_pull_apart():
    """One site's gradient is 2**-30 (it needs a scale >= 2**6), the other's 2**12 (it overflows
    from 2**4 on: 2**16 > 65504): the census says no scale is safe and names both."""
    w = jnp.eye(4)
    x = jnp.ones((2, 4))

    def loss(w, x):
        h = x @ w
        small = jnp.sum(jnp.tanh(0.0 * h) + h).astype(jnp.float32)
        return 2.0**-30 * small + 2.0**12 * jnp.sum(jax.nn.relu(h)).astype(jnp.float32)

    c = precision_census(loss, w, x, loss_scales=[2.0**k for k in range(10)], threshold=0.0)
    assert c.safe_loss_scales() is None
    text = " ".join(c.conflicts())
    assert "needs a loss scale >= 2^" in text and "overflows above 2^3" in text, text
    assert "no single loss scale is safe" in str(c)


@pytest.mark.slow
def test_deep_sigmoid_loses_early_layers_where_the_rate_predicts():
    """A 24-layer Glorot sigmoid net: the gradient shrinks about 0.23 per layer (theory's rate
    for this net: see the attenuation tests); in float16 at scale 1 the sites whose reference
    gradient entries fall below 2**-24 are lost. The first site lost entirely must sit where the
    float32 reference's largest entry has fallen below float16's floor, within two layers (the
    rate's spread over layers, and float16's rounding of the forward pass)."""
    p = jaxact.init_mlp(jax.random.key(0), depth=24, width=16, init="glorot", out_dim=1)
    x = jax.random.normal(jax.random.key(1), (8, 16))

    def loss(p, x):
        return jnp.mean(jaxact.mlp_forward(p, x, "sigmoid"))

    c = precision_census(loss, p, x, dtype=jnp.float16, loss_scales=[1.0, 2.0**10])
    under = np.asarray(c.underflow)[0]
    lost = np.nonzero(under == 1.0)[0]
    assert lost.size and lost[0] == 0  # the input side is lost first
    last_lost = int(lost[-1])
    # Reference: the largest |dL/dh| entry per site, from the float32 run's norms (an upper
    # bound of an entry) - below 2**-24 means every entry is below it.
    ref = np.asarray(c.reference_norm, np.float64)
    floor = int(np.nonzero(ref < F16_TINY)[0][-1])
    assert abs(last_lost - floor) <= 2, (last_lost, floor)
    # A loss scale of 2**10 lifts ten layers' worth (about 0.23**-5) back into range.
    assert np.sum(np.asarray(c.underflow)[1] == 1.0) < lost.size


@pytest.mark.slow
def test_bfloat16_keeps_float32s_range():
    p = jaxact.init_mlp(jax.random.key(0), depth=20, width=16, init="glorot", out_dim=1)
    x = jax.random.normal(jax.random.key(1), (8, 16))
    c = precision_census(lambda p, x: jnp.mean(jaxact.mlp_forward(p, x, "sigmoid")), p, x,
                         dtype=jnp.bfloat16, loss_scales=[1.0])  # fmt: skip
    # 0.25**20 = 1e-12 is far above bfloat16's smallest normal (1e-38): nothing underflows;
    # the norms differ by bfloat16's rounding (8 bits: 2**-8 relative per operation).
    assert float(np.max(np.asarray(c.underflow))) <= 0.01
    assert c.safe_loss_scales() == (1.0, 1.0)


def test_the_census_runs_inside_jit_and_reads_as_a_table():
    loss, w, x = _constant_cotangent(2.0**-30)
    f = jax.jit(lambda w, x: precision_census(loss, w, x, loss_scales=[1.0, 64.0]))
    c = f(w, x)
    assert isinstance(c, PrecisionCensus) and c.safe_loss_scales() == (64.0, 64.0)
    rows = c.rows()
    assert rows[0] == {"loss_scale": 1.0, "site": c.sites[0].name, "underflow": 1.0,
                       "overflow": 0.0, "norm_error": pytest.approx(1.0, rel=2.4e-7)}  # fmt: skip
    assert "safe loss scales: 2^6 to 2^6" in c.summary()
    assert len(repr(c)) < 120


@pytest.mark.parametrize("kw, error, match", [
    (dict(dtype=jnp.float32), TypeError, "dtype must be one of"),
    (dict(dtype="int8"), TypeError, "dtype must be one of"),
    (dict(loss_scales=[0.0, 1.0]), ValueError, "finite numbers > 0"),
    (dict(loss_scales=[1.0, 1.0]), ValueError, "repeats"),
    (dict(threshold=1.5), ValueError, r"threshold must be in \[0, 1\)"),
])  # fmt: skip
def test_bad_calls(kw, error, match):
    loss, w, x = _constant_cotangent(1.0)
    with pytest.raises(error, match=match):
        precision_census(loss, w, x, **kw)


def test_a_model_that_cannot_run_in_the_dtype_is_named():
    def loss(w, x):  # float32 only: an explicit check a low-precision run fails
        if x.dtype != jnp.float32:
            raise TypeError(f"this model needs float32 inputs, got {x.dtype}")
        return jnp.sum(jax.nn.relu(x @ w))

    with pytest.raises(TypeError, match="does not run in float16: this model needs float32"):
        precision_census(loss, jnp.eye(2), jnp.ones((1, 2)))


def test_scale_labels():
    assert [scale_label(s) for s in (1.0, 2.0**24, 0.25, 1000.0)] == [
        "2^0", "2^24", "2^-2", "1000"]  # fmt: skip


@pytest.mark.slow
def test_jmp_dynamic_loss_scale_settles_inside_the_safe_range():
    """jmp's DynamicLossScale, started far too high (2**20), halves on every overflow and
    doubles after `period` good steps: on a float16 model it settles at the top edge of the
    range the census reports as safe (it only reacts to overflow, so it checks that edge; the
    lower, underflow edge is checked by hand above)."""
    jmp = pytest.importorskip("jmp")
    import optax

    p = jaxact.init_mlp(jax.random.key(0), depth=8, width=32, init="glorot", out_dim=1)
    x = jax.random.normal(jax.random.key(1), (32, 32))
    y = jnp.sin(x[:, :1])

    def loss(p, x):
        return jnp.mean((jaxact.mlp_forward(p, x, "tanh") - y.astype(x.dtype)) ** 2)

    census = precision_census(loss, p, x, dtype=jnp.float16)
    low, high = census.safe_loss_scales()
    p16 = jax.tree.map(lambda a: a.astype(jnp.float16), p)
    x16 = x.astype(jnp.float16)
    opt = optax.sgd(1e-3)
    state = opt.init(p16)
    scale = jmp.DynamicLossScale(jnp.float32(2.0**20), period=5)

    @jax.jit
    def step(p, state, scale):
        grads = jax.grad(lambda p: scale.scale(loss(p, x16).astype(jnp.float32)))(p)
        grads = scale.unscale(grads)
        finite = jmp.all_finite(grads)
        scale = scale.adjust(finite)
        updates, new_state = opt.update(grads, state, p)
        new_p = optax.apply_updates(p, updates)
        p, state = jmp.select_tree(finite, (new_p, new_state), (p, state))
        return p, state, scale

    seen = []
    for _ in range(60):
        p16, state, scale = step(p16, state, scale)
        seen.append(float(scale.loss_scale))
    settled = set(seen[-20:])
    # jmp finds the top of the safe range by trial: it sits at the census's largest safe
    # scale and tries the next power of two, which overflows, every `period` steps.
    assert settled == {high, 2 * high}, (low, high, sorted(settled))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(jnp, "float8_e4m3fn"), reason="this JAX has no float8")
def test_float8_formats_and_their_floors():
    """float8_e4m3fn's smallest subnormal is 2**-9, float8_e5m2's 2**-16: a gradient of 2**-12
    is lost in the first at scale 1 and kept from 2**3 on, and kept in the second."""
    loss, w, x = _constant_cotangent(2.0**-12)
    e4 = precision_census(loss, w, x, dtype="float8_e4m3fn", loss_scales=[1.0, 8.0])
    e5 = precision_census(loss, w, x, dtype="float8_e5m2", loss_scales=[1.0, 8.0])
    np.testing.assert_array_equal(np.asarray(e4.underflow)[:, 0], [1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(e5.underflow)[:, 0], [0.0, 0.0])
    assert e4.safe_loss_scales() == (8.0, 8.0) and e5.safe_loss_scales() == (1.0, 8.0)
