"""The activation catalogue: values and derivatives against high-precision references.

Every test here is parametrized over the registry, so a newly registered activation is tested
the moment it is registered (and fails loudly if it has no mpmath reference in reference.py).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import ACTIVATIONS, get_activation, testing

from . import reference
from .numerics import (
    FLOAT_DTYPES,
    all_finite_values,
    dense_points,
    extreme_points,
    finfo,
    inputs_read_as_zero,
    one_per_family,
    ulp_error,
)

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)

ELEMENTWISE = sorted(n for n, r in ACTIVATIONS.items() if r.elementwise)
DTYPE_IDS = [np.dtype(d).name for d in FLOAT_DTYPES]
# Tests that exercise the same code path in every dtype (routes, special values, shapes,
# jit/vmap) run float32 (JAX's default) in the default run and the other dtypes in the slow
# step; the accuracy tests run every dtype by default (the 16-bit ones exhaustively).
DEFAULT_RUN_DTYPES = [
    d if np.dtype(d).name == "float32" else pytest.param(d, marks=pytest.mark.slow)
    for d in FLOAT_DTYPES
]

# Value accuracy required by the catalogue's contract, in ulps of the result's dtype.
VALUE_ULPS = {"float16": 4, "bfloat16": 4, "float32": 8, "float64": 8}
# First derivatives: within 32 ulp of max(|phi'(x)|, sup|phi'|). The floor at sup|phi'| is what
# makes an absolute error near a zero of phi' (silu' at -1.28, cancellation in 1 + x sigma(-x))
# acceptable, while errors at the scale of phi' itself are still caught.
DERIV_ULPS = 32
# Second derivatives are not part of the accuracy contract; we hold them to 64 ulp of
# max(|phi''(x)|, max over the grid of |phi''|) so a wrong formula (an O(1) error) cannot pass.
SECOND_ULPS = 64


def _np(x):
    return np.asarray(jnp.asarray(x).astype(jnp.float64))


def _eval(fn, points, dtype):
    return _np(jax.jit(fn)(jnp.asarray(points, dtype)))


def _error_allowing_daz(got, ref, pts, dtype, at_zero):
    """ulp error; a subnormal input that the backend reads as 0 may give phi(0) instead."""
    err = ulp_error(got, ref, dtype)
    daz = inputs_read_as_zero(pts, dtype)
    return np.where(daz, np.minimum(err, ulp_error(got, np.full_like(ref, at_zero), dtype)), err)


def _ref_points(dtype):
    pts = np.concatenate([dense_points(dtype, 801), extreme_points(dtype)])
    return np.unique(pts)


def test_registry_is_complete_and_documented():
    required = (
        "identity sigmoid tanh relu leaky_relu elu selu celu gelu gelu_tanh softplus silu mish "
        "softsign hard_sigmoid hard_tanh relu6 log_sigmoid softmax log_softmax"
    ).split()
    assert set(required) <= set(ACTIVATIONS)
    # The two independent witnesses are written by hand on purpose (a formula copied from the
    # entry would check the entry against itself): each built-in needs both.
    missing = set(ELEMENTWISE) - set(reference.MP_FUNCTIONS)
    assert not missing, f"tests/reference.py MP_FUNCTIONS needs an mpmath reference of {missing}"
    missing = set(ELEMENTWISE) - set(NAIVE)
    assert not missing, f"tests/test_activations.py NAIVE needs a textbook formula of {missing}"
    for name, rec in ACTIVATIONS.items():
        assert rec.name == name
        # jaxact.gelu follows jax.nn (tanh form by default); the record is the exact form.
        assert rec.fn is getattr(jaxact, {"gelu": "gelu_exact"}.get(name, name))
        assert rec.fn.__doc__ and ">>>" in rec.fn.__doc__, f"{name} needs a doctest example"
        assert rec.doc


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        ACTIVATIONS["mine"] = ACTIVATIONS["relu"]  # type: ignore[index]


# ----------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["float32", "float64"])
def test_values_against_mpmath(name, dtype):
    # jaxact.testing.check_values: the public check users run on their own activations.
    testing.check_values(ACTIVATIONS[name].fn, lambda p: reference.values(name, tuple(p.tolist())),
                         dtypes=(dtype,), ulps=VALUE_ULPS[np.dtype(dtype).name],
                         points=_ref_points(dtype), name=name)  # fmt: skip


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_against_float64_on_a_fine_grid(name):
    """200k float32 inputs, log-uniform in magnitude, against the float64 implementation.

    The float64 implementation is itself checked against mpmath above; its error (< 8 ulp of
    float64) is 2**-29 of a float32 ulp, so it serves as an exact reference here.
    """
    rng = np.random.default_rng(0)
    mags = np.exp(rng.uniform(np.log(1e-38), np.log(3e38), 100_000))
    near = rng.uniform(-120, 120, 100_000)
    pts = np.concatenate([mags, -mags, near]).astype(np.float32).astype(np.float64)
    fn = ACTIVATIONS[name].fn
    ref = _eval(fn, pts, jnp.float64)
    at_zero = float(fn(jnp.float64(0.0)))
    err = _error_allowing_daz(_eval(fn, pts, jnp.float32), ref, pts, jnp.float32, at_zero)
    worst = int(np.argmax(err))
    assert err[worst] <= VALUE_ULPS["float32"], f"{name}({pts[worst]!r}): {err[worst]:.1f} ulp"


# Every activation's own float32/float64 accuracy (above) runs by default; the 16-bit sweep of
# all 2 x 65,536 inputs runs for one per family by default, for the others in the slow step.
@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
def test_16bit_exhaustive(name, dtype):
    """Every finite float16 / bfloat16 input, against the (mpmath-checked) float64 result."""
    fn = ACTIVATIONS[name].fn
    testing.check_values(fn, lambda p: _eval(fn, p, jnp.float64), dtypes=(dtype,),
                         ulps=VALUE_ULPS[np.dtype(dtype).name], points=all_finite_values(dtype),
                         name=name)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Closed-form derivatives against mpmath's numerical derivatives


def _smooth_points(name, n=241):
    """Points away from kinks (where the derivative is not defined) for mpmath.diff."""
    rec = ACTIVATIONS[name]
    pts = np.concatenate([np.linspace(-30, 30, n), [-200.0, -60.0, 60.0, 200.0, 1e-3, -1e-3]])
    bad = list(rec.kinks) + list(rec.curvature_kinks)
    keep = np.all([np.abs(pts - k) > 1e-2 for k in bad], axis=0) if bad else np.ones_like(pts, bool)
    return pts[keep]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_closed_form_first_derivative_against_mpmath(name):
    rec = ACTIVATIONS[name]
    pts = _smooth_points(name)
    ref = reference.derivatives(name, tuple(pts.tolist()), 1)
    for dtype in (jnp.float32, jnp.float64):
        got = _eval(rec.derivative, pts, dtype)
        scale = np.maximum(np.abs(ref), rec.max_slope)
        err = np.abs(got - ref) / (scale * float(finfo(dtype).eps))
        worst = int(np.argmax(err))
        assert err[worst] <= DERIV_ULPS, (
            f"{name}'({pts[worst]}) = {got[worst]!r} ({np.dtype(dtype).name}), "
            f"mpmath {ref[worst]!r}: {err[worst]:.1f} ulp of the scale"
        )


# phi' of every activation runs by default (above); phi'' for one per family, the rest slow.
@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
def test_closed_form_second_derivative_against_mpmath(name):
    rec = ACTIVATIONS[name]
    pts = _smooth_points(name)
    ref = reference.derivatives(name, tuple(pts.tolist()), 2)
    for dtype in (jnp.float32, jnp.float64):
        got = _eval(rec.second_derivative, pts, dtype)
        # Floor of 1e-6: where phi'' is identically 0, mpmath.diff returns noise of ~1e-64.
        scale = np.maximum(np.abs(ref), max(np.max(np.abs(ref)), 1e-6))
        err = np.abs(got - ref) / (scale * float(finfo(dtype).eps))
        worst = int(np.argmax(err))
        assert err[worst] <= SECOND_ULPS, (
            f"{name}''({pts[worst]}) = {got[worst]!r} ({np.dtype(dtype).name}), "
            f"mpmath {ref[worst]!r}: {err[worst]:.1f} ulp of the scale"
        )


# ----------------------------------------------------------------------------------------------
# Autodiff routes


def _routes(fn):
    """Every way a user gets phi' and phi'' of an elementwise function, as arrays in -> out."""
    d1 = jax.grad(fn)
    return {
        "grad": (1, jax.vmap(d1)),
        "jacfwd": (1, jax.vmap(jax.jacfwd(fn))),
        "jacrev": (1, jax.vmap(jax.jacrev(fn))),
        "jvp": (1, lambda x: jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]),
        "vjp": (1, lambda x: jax.vjp(fn, x)[1](jnp.ones_like(x))[0]),
        "grad(grad)": (2, jax.vmap(jax.grad(d1))),
        "jvp(grad)": (2, lambda x: jax.jvp(jax.vmap(d1), (x,), (jnp.ones_like(x),))[1]),
        "hessian": (2, jax.vmap(jax.hessian(fn))),
    }


# The routes are wired the same way in every dtype (see DEFAULT_RUN_DTYPES) and, through
# building.build, for every activation of a family: one per family by default.
@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
@pytest.mark.parametrize("dtype", DEFAULT_RUN_DTYPES, ids=DTYPE_IDS)
def test_autodiff_routes_match_closed_forms(name, dtype):
    """grad, jvp, vjp, jacfwd/jacrev, grad-of-grad, jvp-of-grad and hessian, jitted and eager.

    Each route must keep the dtype, be finite at every finite input from the subnormals to +-max
    (all closed-form derivatives here are finite there), and agree with the closed form to 2 ulp
    of max(|phi^(k)|, 1): the routes multiply by a unit tangent, so only a different fusion under
    jit could perturb the last bit.
    """
    rec = ACTIVATIONS[name]
    pts = np.concatenate([extreme_points(dtype), np.linspace(-8, 8, 33)])
    x = jnp.asarray(pts, dtype)
    expected = {1: _np(rec.derivative(x)), 2: _np(rec.second_derivative(x))}
    eps = float(finfo(dtype).eps)
    routes = _routes(rec.fn)
    # All routes jitted together (one compilation), and each one eagerly.
    jitted = jax.jit(lambda v: {route: f(v) for route, (_, f) in routes.items()})(x)
    for route, (order, f) in routes.items():
        for mode, out in (("eager", f(x)), ("jit", jitted[route])):
            assert out.dtype == x.dtype, f"{route} ({mode}) returned {out.dtype}"
            got = _np(out)
            bad = ~np.isfinite(got)
            assert not bad.any(), f"{name} {route} ({mode}) not finite at x={pts[bad][:5]}"
            scale = np.maximum(np.abs(expected[order]), 1.0)
            err = np.abs(got - expected[order]) / (scale * eps)
            worst = int(np.argmax(err))
            assert err[worst] <= 2, (
                f"{name} {route} ({mode}) at {pts[worst]}: {got[worst]} vs closed form "
                f"{expected[order][worst]}"
            )


# Textbook implementations whose *native* JAX autodiff (no custom rules) is an independent check
# of the hand-written derivatives, in float64 on a moderate range where the naive forms are fine.
NAIVE = {
    "identity": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + jnp.exp(-x)),
    "tanh": lambda x: (jnp.exp(x) - jnp.exp(-x)) / (jnp.exp(x) + jnp.exp(-x)),
    "relu": lambda x: jnp.where(x > 0, x, 0.0),
    "leaky_relu": lambda x: jnp.where(x >= 0, x, 0.01 * x),
    "elu": lambda x: jnp.where(x > 0, x, jnp.exp(x) - 1),
    "selu": lambda x: (
        float(reference.SELU_SCALE)
        * jnp.where(x > 0, x, float(reference.SELU_ALPHA) * (jnp.exp(x) - 1))
    ),
    "celu": lambda x: jnp.where(x > 0, x, jnp.exp(x) - 1),
    "gelu": lambda x: 0.5 * x * (1 + jax.scipy.special.erf(x / jnp.sqrt(2.0))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + jnp.tanh(jnp.sqrt(2 / jnp.pi) * (x + 0.044715 * x**3))),
    "softplus": lambda x: jnp.log(1 + jnp.exp(x)),
    "silu": lambda x: x / (1 + jnp.exp(-x)),
    "mish": lambda x: x * jnp.tanh(jnp.log(1 + jnp.exp(x))),
    "softsign": lambda x: x / (1 + jnp.abs(x)),
    "hard_sigmoid": lambda x: jnp.where(x <= -3, 0.0, jnp.where(x >= 3, 1.0, x / 6 + 0.5)),
    "hard_tanh": lambda x: jnp.where(x < -1, -1.0, jnp.where(x > 1, 1.0, x)),
    "relu6": lambda x: jnp.where(x <= 0, 0.0, jnp.where(x >= 6, 6.0, x)),
    "log_sigmoid": lambda x: -jnp.log(1 + jnp.exp(-x)),
    "hard_silu": lambda x: x * jnp.where(x <= -3, 0.0, jnp.where(x >= 3, 1.0, x / 6 + 0.5)),
    "sparse_plus": lambda x: jnp.where(x <= -1, 0.0, jnp.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: jnp.where(x <= -1, 0.0, jnp.where(x >= 1, 1.0, (x + 1) / 2)),
    "squareplus": lambda x: (x + jnp.sqrt(x * x + 4)) / 2,
}


# A second witness (the closed forms are checked against mpmath and every autodiff route by
# default): the slow step.
@pytest.mark.slow
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_closed_forms_against_native_autodiff_of_textbook_formula(name):
    rec = ACTIVATIONS[name]
    pts = _smooth_points(name, 161)
    pts = pts[np.abs(pts) <= 15]  # where the textbook forms neither overflow nor cancel
    x = jnp.asarray(pts, jnp.float64)
    naive = NAIVE[name]
    d1 = _np(jax.vmap(jax.grad(naive))(x))
    d2 = _np(jax.vmap(jax.grad(jax.grad(naive)))(x))
    # 1e-9 relative to max(|value|, 1): the naive forms lose up to ~exp(15) * eps ~ 1e-9 of
    # accuracy through cancellation at |x| = 15; a wrong formula is off by O(1).
    np.testing.assert_allclose(
        _np(rec.derivative(x)), d1, rtol=0, atol=1e-9 * max(1, abs(d1).max())
    )
    np.testing.assert_allclose(
        _np(rec.second_derivative(x)), d2, rtol=0, atol=1e-9 * max(1, abs(d2).max())
    )


# ----------------------------------------------------------------------------------------------
# Special values, kinks, dtype, jit/vmap


@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
@pytest.mark.parametrize("dtype", DEFAULT_RUN_DTYPES, ids=DTYPE_IDS)
def test_infinities_give_limits_and_nan_gives_nan(name, dtype):
    rec = ACTIVATIONS[name]
    x = jnp.asarray([-np.inf, np.inf, np.nan], dtype)
    big = 1e300 if dtype == jnp.float64 else 1e30
    with_limits = reference.values(name, (-big, big))
    # phi' at +-1e8 is within 1e-12 of its limit for every entry (softsign's, the slowest, is
    # 1e-16 there); phi'' tends to 0 at both ends for all of them.
    slope_limits = reference.derivatives(name, (-1e8, 1e8), 1)
    for label, fn, limit in (
        ("value", rec.fn, with_limits),
        ("derivative", rec.derivative, slope_limits),
        ("second derivative", rec.second_derivative, [0.0, 0.0]),
        ("grad", jax.jit(jax.vmap(jax.grad(rec.fn))), slope_limits),
    ):
        got = _np(fn(x))
        assert np.isnan(got[2]), f"{name} {label}(nan) = {got[2]}"
        for i, lim in enumerate(limit):
            # The limit at +-inf: the value at +-1e30 (+-1e300 in float64) is +-inf or within
            # rounding of the limit itself; derivatives are flat by |x| = 50 for every entry.
            want = lim if abs(lim) < 1e20 else math.copysign(math.inf, lim)
            want = float(np.asarray(want).astype(dtype).astype(np.float64))
            assert got[i] == pytest.approx(want, abs=1e-12), (
                f"{name} {label}({x[i]}) = {got[i]}, limit {want}"
            )


@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
def test_kink_conventions(name):
    rec = ACTIVATIONS[name]
    for x0, value in rec.kinks.items():
        for dtype in FLOAT_DTYPES:
            x = jnp.asarray(x0, dtype)
            assert float(jax.grad(rec.fn)(x)) == pytest.approx(
                value,
                rel=1e-2 if finfo(dtype).bits == 16 else 1e-6,  # 16-bit: value rounded to 8 bits
            )
        # It is a genuine jump: the one-sided derivatives differ.
        left = float(rec.derivative(jnp.float64(x0 - 1e-9)))
        right = float(rec.derivative(jnp.float64(x0 + 1e-9)))
        assert abs(left - right) > 1e-3, f"{name}: no jump of phi' at {x0}"
        # One side, or (where jax.nn's clip splits a tie: sparse_sigmoid) their mean.
        assert value in (
            pytest.approx(left),
            pytest.approx(right),
            pytest.approx((left + right) / 2),
        )
    for x0, value in rec.curvature_kinks.items():
        x = jnp.float64(x0)
        assert float(jax.grad(jax.grad(rec.fn))(x)) == pytest.approx(value)
        left = float(rec.derivative(jnp.float64(x0 - 1e-9)))
        right = float(rec.derivative(jnp.float64(x0 + 1e-9)))
        assert left == pytest.approx(right, abs=1e-6), f"{name}: phi' is not continuous at {x0}"


# jax.nn's counterparts, and the range on which jax.nn is itself accurate enough to compare.
#: jax.nn's counterpart of every elementwise activation, read from its registry entry
#: (``Activation.jax_nn``, ``jax_nn_kwargs``): an entry without one fails the tests below.
JAX_NN = {n: functools.partial(getattr(jax.nn, r.jax_nn), **r.jax_nn_kwargs)
          for n, r in ACTIVATIONS.items() if r.elementwise and r.jax_nn}  # fmt: skip
JAX_NN["soft_sign"] = jax.nn.soft_sign  # jax.nn's name for softsign, also an alias of ours


@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
def test_agrees_with_jax_nn_where_jax_nn_is_accurate(name):
    rec = ACTIVATIONS[name]
    x = jnp.linspace(-6.0, 6.0, 1201, dtype=jnp.float64)
    ours, theirs = _np(rec.fn(x)), _np(JAX_NN[name](x))
    # jax.nn in float64 is within ~1e3 ulp here (its gelu via erfc is the worst); 1e-13 relative
    # to max(|phi|, 1e-3) separates that from a real disagreement.
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13 * max(1e-3, np.abs(ours).max()))
    # Gradients including the kinks: the conventions are jax.nn's.
    kinks = np.asarray(list(rec.kinks), np.float64)
    xk = jnp.concatenate([x, jnp.asarray(kinks)])
    ours_g = _np(jax.vmap(jax.grad(rec.fn))(xk))
    theirs_g = _np(jax.vmap(jax.grad(JAX_NN[name]))(xk))
    np.testing.assert_allclose(ours_g, theirs_g, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", one_per_family(sorted(ACTIVATIONS)))
@pytest.mark.parametrize("dtype", DEFAULT_RUN_DTYPES, ids=DTYPE_IDS)
def test_shape_dtype_jit_vmap(name, dtype):
    rec = ACTIVATIONS[name]
    x = jax.random.normal(jax.random.key(0), (3, 4, 5)).astype(dtype) * 4
    eager = rec.fn(x)
    assert eager.shape == x.shape and eager.dtype == x.dtype
    jitted = jax.jit(rec.fn)(x)
    mapped = jax.vmap(rec.fn)(x)
    # jit may fuse differently from eager dispatch: allow 2 ulp of max(|phi|, 1).
    tol = 2 * float(finfo(dtype).eps) * max(1.0, float(jnp.abs(eager.astype(jnp.float64)).max()))
    np.testing.assert_allclose(_np(jitted), _np(eager), rtol=0, atol=tol)
    np.testing.assert_allclose(_np(mapped), _np(eager), rtol=0, atol=tol)


def test_python_scalars_and_weak_types():
    assert float(jaxact.relu(-2.0)) == 0.0
    assert float(jaxact.sigmoid(0.0)) == 0.5
    assert jaxact.relu(jnp.float16(3.0)).dtype == jnp.float16


# ----------------------------------------------------------------------------------------------
# Metadata against the function itself


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_output_range(name):
    rec = ACTIVATIONS[name]
    pts = np.concatenate([np.linspace(-50, 50, 200001), extreme_points(np.float64)])
    vals = _np(rec.fn(jnp.asarray(pts)))
    lo, hi = rec.output_range.low, rec.output_range.high
    assert np.all((vals >= lo - 1e-15) & (vals <= hi + 1e-15)), f"{name} leaves {rec.output_range}"
    # The bounds are tight: approached within 1e-6 (or reached by +-inf) on the grid.
    for bound, extreme in ((lo, vals.min()), (hi, vals.max())):
        if math.isinf(bound):
            assert math.isinf(extreme) or abs(extreme) > 1e100
        else:
            assert extreme == pytest.approx(bound, abs=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_max_slope(name):
    rec = ACTIVATIONS[name]
    # Beside each kink too: a supremum may be approached only there (hard_silu's 3/2 at 3-).
    near = [k + d for k in rec.kinks for d in (-1e-12, 1e-12)]
    pts = np.concatenate([np.linspace(-50, 50, 200001), extreme_points(np.float64), near])
    slopes = np.abs(_np(rec.derivative(jnp.asarray(pts))))
    assert slopes.max() <= rec.max_slope * (1 + 1e-12)
    assert slopes.max() >= rec.max_slope * (1 - 1e-6), f"{name}: max slope {slopes.max()}"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_saturation_flags(name):
    rec = ACTIVATIONS[name]
    for side, flag in ((-1.0, rec.saturates_left), (1.0, rec.saturates_right)):
        d = abs(float(rec.derivative(jnp.float64(side * 1e6))))
        assert (d < 1e-6) == flag, f"{name}: phi'({side * 1e6}) = {d}, flag says {flag}"
    assert rec.saturating == (rec.saturates_left and rec.saturates_right)
    assert ACTIVATIONS["sigmoid"].saturating and ACTIVATIONS["tanh"].saturating
    assert not ACTIVATIONS["relu"].saturating


PYTORCH_GAINS = {  # torch.nn.init.calculate_gain
    "identity": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "leaky_relu": math.sqrt(2.0 / (1 + 0.01**2)),
    "selu": 0.75,
    "softmax": 1.0,
    "log_softmax": 1.0,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gain(name):
    rec = ACTIVATIONS[name]
    if rec.gain_source == "pytorch":
        assert rec.gain == pytest.approx(PYTORCH_GAINS[name], rel=1e-15)
        return
    assert rec.gain_source == "second-moment"
    # E[phi(z)^2] by the trapezoid rule on [-40, 40] with h = 2e-4: the error is O(h^2) even at
    # kinks (~1e-9 here) and the truncated tails are below exp(-800); compare to 1e-7.
    z = np.linspace(-40.0, 40.0, 400_001)
    integrand = _np(rec.fn(jnp.asarray(z))) ** 2 * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    m2 = np.trapezoid(integrand, z)
    assert rec.gain == pytest.approx(1 / math.sqrt(m2), rel=1e-7)


def test_interval_str():
    assert str(ACTIVATIONS["relu"].output_range) == "[0, inf)"
    assert str(ACTIVATIONS["sigmoid"].output_range) == "(0, 1)"


# ----------------------------------------------------------------------------------------------
# Hyperparameters


def test_hyperparameters_reach_value_and_gradient():
    x = jnp.asarray([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(jaxact.leaky_relu(x, negative_slope=0.2), [-0.4, 0.0, 3.0])
    g = jax.vmap(jax.grad(lambda v: jaxact.leaky_relu(v, negative_slope=0.2)))(x)
    np.testing.assert_allclose(g, [0.2, 1.0, 1.0])
    g = jax.vmap(jax.grad(lambda v: jaxact.elu(v, alpha=2.0)))(x)
    np.testing.assert_allclose(g, [2 * np.exp(-2.0), 2.0, 1.0])
    g2 = jax.vmap(jax.grad(jax.grad(lambda v: jaxact.celu(v, alpha=0.5))))(x)
    np.testing.assert_allclose(g2, [np.exp(-4.0) / 0.5, 2.0, 0.0])
    np.testing.assert_allclose(
        ACTIVATIONS["celu"].derivative(x, alpha=0.5),
        jax.vmap(jax.grad(lambda v: jaxact.celu(v, alpha=0.5)))(x),
    )


@pytest.mark.parametrize("fn", [jaxact.elu, jaxact.celu])
@pytest.mark.parametrize("alpha", [0.0, -1.0, math.inf])
def test_bad_alpha(fn, alpha):
    with pytest.raises(ValueError, match="alpha"):
        fn(jnp.ones(3), alpha=alpha)


def test_bad_negative_slope():
    with pytest.raises(ValueError, match="negative_slope must be finite"):
        jaxact.leaky_relu(jnp.ones(3), negative_slope=math.nan)


# ----------------------------------------------------------------------------------------------
# Bad input


def test_unknown_name_suggests_and_lists():
    with pytest.raises(ValueError) as info:
        get_activation("rleu")
    msg = str(info.value)
    assert "'rleu'" in msg and "Did you mean 'relu'?" in msg
    for name in ACTIVATIONS:
        assert name in msg


def test_get_activation_passes_records_and_aliases():
    rec = ACTIVATIONS["gelu"]
    assert get_activation(rec) is rec
    assert get_activation("swish") is ACTIVATIONS["silu"]
    assert jaxact.swish is jaxact.silu
    with pytest.raises(TypeError, match="int"):
        get_activation(3)  # type: ignore[arg-type]


_JAX_NN_INPUTS = {
    "int32 array": lambda: jnp.arange(-2, 3, dtype=jnp.int32),
    "int8 array": lambda: jnp.arange(-2, 3, dtype=jnp.int8),
    "bool array": lambda: jnp.array([True, False]),
    "numpy int": lambda: np.arange(-2, 3),
    "python int": lambda: 2,
    "python float": lambda: 2.0,
    "float32 array": lambda: jnp.linspace(-2, 2, 5, dtype=jnp.float32),
    "bfloat16 array": lambda: jnp.linspace(-2, 2, 5, dtype=jnp.bfloat16),
}


# One input of each promotion rule in the default run (an integer array, a Python scalar, a
# float array of each width); the other integer and scalar kinds take the same rules, in the
# slow step.
PROMOTION_KINDS = [
    k if k in ("int32 array", "python float", "bfloat16 array")
    else pytest.param(k, marks=pytest.mark.slow) for k in sorted(_JAX_NN_INPUTS)
]  # fmt: skip


# jax.nn's softmax of an integer casts -inf to int internally (a numpy warning, not ours).
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name", one_per_family(sorted(ACTIVATIONS)))
@pytest.mark.parametrize("kind", PROMOTION_KINDS)
def test_dtype_promotion_and_weak_type_follow_jax_nn(name, kind):
    x = _JAX_NN_INPUTS[kind]()
    fn = getattr(jaxact, name)
    theirs = getattr(jax.nn, name, None) or JAX_NN[name]
    kw = {"axis": None} if not ACTIVATIONS[name].elementwise else {}
    ours = fn(x, **kw)
    try:
        ref = theirs(x, **kw)
    except TypeError:  # jax.nn refuses (sigmoid and silu of integers): jaxact promotes
        assert jnp.issubdtype(ours.dtype, jnp.floating)
        return
    assert ours.dtype == ref.dtype, (name, kind, ours.dtype, ref.dtype)
    # Weak types: a Python scalar's result must not promote the arrays it meets (jax.nn's tanh,
    # gelu and squareplus return some of these strongly typed; jaxact keeps them weak). The
    # softmaxes of a scalar (axis=None: 1 and 0) come out strongly typed from their reductions.
    if ref.weak_type and ACTIVATIONS[name].elementwise:
        assert ours.weak_type, (name, kind)
    if kind == "python float" and ACTIVATIONS[name].elementwise:
        assert (jnp.ones(2, jnp.bfloat16) * ours).dtype == jnp.bfloat16


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("bad", [jnp.array([1 + 2j]), np.array(["a"])], ids=["complex", "str"])
def test_non_real_input_is_a_type_error(name, bad):
    rec = ACTIVATIONS[name]
    with pytest.raises(TypeError, match=f"{name} expects a real array"):
        rec.fn(bad) if rec.elementwise else rec.fn(bad, axis=None)
    if rec.elementwise:
        with pytest.raises(TypeError, match="expects a real array"):
            rec.derivative(bad)


#: ``(name, parameter, default)`` of every float hyperparameter of an elementwise activation,
#: read from the registry's entries (``params``).
FLOAT_PARAMS = [(n, p, d) for n, r in sorted(ACTIVATIONS.items()) if r.elementwise
                for p, d in r.params.items() if isinstance(d, float)]  # fmt: skip


def test_the_float_hyperparameters_are_found():
    # The tables below are read from the entries: this is what they hold today.
    assert {(n, p) for n, p, _ in FLOAT_PARAMS} == {
        ("celu", "alpha"),
        ("elu", "alpha"),
        ("leaky_relu", "negative_slope"),
        ("squareplus", "b"),
    }


@pytest.mark.parametrize(("name", "param", "default"), FLOAT_PARAMS)
def test_default_parameter_takes_the_parameter_free_path(name, param, default):
    fn = getattr(jaxact, name)
    x = jnp.linspace(-3, 3, 61, dtype=jnp.float32)
    plain = np.asarray(fn(x))
    np.testing.assert_array_equal(fn(x, **{param: default}), plain)
    # A default given as an array scalar is kept as a parameter: the other path, where the
    # parameter is a traced float64 (tests run with x64) rather than a weak-typed constant, so
    # the product may round differently: within 2 float32 ulps.
    np.testing.assert_allclose(fn(x, **{param: np.float64(default)}), plain, rtol=2.4e-7)
    g = jax.grad(lambda v: fn(v, **{param: default}).sum())(x)
    np.testing.assert_array_equal(g, jax.grad(lambda v: fn(v).sum())(x))


def test_jax_nn_second_names_are_the_same_functions():
    assert jaxact.hard_swish is jaxact.hard_silu and jaxact.soft_sign is jaxact.softsign
    assert get_activation("hard_swish").name == "hard_silu"
    assert get_activation("soft_sign").name == "softsign"


@pytest.mark.slow
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_glu_matches_jax_nn_and_its_gradient(axis):
    x = jax.random.normal(jax.random.key(1), (4, 6, 8), jnp.float64) * 3
    np.testing.assert_allclose(_np(jaxact.glu(x, axis)), _np(jax.nn.glu(x, axis)), rtol=1e-15)

    def loss(f):
        return lambda x: jnp.sum(jnp.sin(f(x, axis)))

    # The gradient goes through sigmoid's closed-form derivative; float64 rounding of a few
    # operations: 1e-12 relative.
    ours, theirs = jax.grad(loss(jaxact.glu))(x), jax.grad(loss(jax.nn.glu))(x)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-12, atol=1e-14)
    assert jaxact.glu(x.astype(jnp.bfloat16), axis).dtype == jnp.bfloat16


def test_glu_rejects_odd_sizes_and_bad_axes():
    with pytest.raises(ValueError, match="even, got 5"):
        jaxact.glu(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="axis"):
        jaxact.glu(jnp.ones((2, 4)), axis=2)


def test_gelu_has_jax_nn_signature_and_default():
    x = jnp.linspace(-4.0, 4.0, 801, dtype=jnp.float32)
    assert (jaxact.gelu(x) == jaxact.gelu_tanh(x)).all()
    assert (jaxact.gelu(x, approximate=False) == jaxact.gelu_exact(x)).all()
    assert (jaxact.gelu(x, False) == ACTIVATIONS["gelu"].fn(x)).all()
    # Same formula as jax.nn for each setting: within a few float32 ulp (jaxact is the more
    # accurate one, so not bit-equal).
    for approx in (True, False):
        np.testing.assert_allclose(_np(jaxact.gelu(x, approx)), _np(jax.nn.gelu(x, approx)),
                                   rtol=0, atol=4 * 2.0**-23 * 4)  # fmt: skip
    with pytest.raises(TypeError, match="approximate must be a Python bool"):
        jaxact.gelu(x, approximate="no")


@pytest.mark.parametrize(("name", "param", "default"), FLOAT_PARAMS)
def test_hyperparameters_by_position_as_in_jax_nn(name, param, default):
    value = 1.5 * default + 0.15  # any value off the default
    x = jnp.linspace(-4.0, 4.0, 81, dtype=jnp.float64)
    fn = getattr(jaxact, name)
    by_pos, by_kw = fn(x, value), fn(x, **{param: value})
    assert (by_pos == by_kw).all()
    # And the same as jax.nn with the same positional call (float64 rounding: 1e-14).
    np.testing.assert_allclose(by_pos, getattr(jax.nn, name)(x, value), rtol=0, atol=1e-14)


# The activation and output functions of jax.nn (0.10): each must exist in jaxact with the same
# parameters (names, kinds, defaults), so that `import jaxact as nn` replaces `jax.nn`.
JAX_NN_FUNCTIONS = (
    "celu elu gelu glu hard_sigmoid hard_silu hard_swish hard_tanh identity leaky_relu "
    "log_sigmoid log_softmax mish relu relu6 selu sigmoid silu soft_sign softmax softplus "
    "sparse_plus sparse_sigmoid squareplus swish tanh"
).split()
JAX_NN_HELPERS = ("log1mexp", "logsumexp", "one_hot", "standardize")


@pytest.mark.parametrize("name", JAX_NN_FUNCTIONS)
def test_every_jax_nn_activation_with_its_signature(name):
    import inspect

    ours = inspect.signature(getattr(jaxact, name)).parameters
    theirs = inspect.signature(getattr(jax.nn, name)).parameters
    assert list(ours) == list(theirs), (name, list(ours), list(theirs))
    for p, q in zip(ours.values(), theirs.values(), strict=True):
        # jax.nn.tanh is lax.tanh (positional-only x); keyword use of x is a superset.
        assert p.kind == q.kind or (p.kind, q.kind) == (p.POSITIONAL_OR_KEYWORD, q.POSITIONAL_ONLY)
        assert p.default == q.default, (name, p.name, p.default, q.default)


def test_jax_nn_helpers_are_re_exported():
    for name in JAX_NN_HELPERS:
        assert getattr(jaxact, name) is getattr(jax.nn, name)
