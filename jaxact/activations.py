"""Activation functions with their closed-form first and second derivatives, and the registry.

Every activation here is a pure function with ``jax.nn``'s signature (hyperparameters by
position or keyword, with the same defaults): a floating-point array in, an array of the same
shape and dtype out. Beside each one
the registry (:data:`ACTIVATIONS`) keeps its derivative ``phi'`` and second derivative ``phi''``
written out by hand, so that automatic differentiation can be checked against them.

Numerics
--------
The functions are written to be accurate where ``jax.nn`` is not:

* 16-bit inputs (float16, bfloat16) are computed in float32 and rounded once at the end, so no
  16-bit intermediate overflows (``exp(12)`` is already past float16's maximum).
* Each function is a :func:`jax.custom_jvp` whose tangent is the closed-form derivative, and that
  derivative is itself a ``custom_jvp`` whose tangent is the closed-form second derivative. So
  ``grad``, ``jvp``, ``grad(grad(.))`` and ``jvp(grad(.))`` all evaluate stable formulas, never the
  derivative of a branch that ``jnp.where`` did not select (the classic NaN-gradient trap) and
  never ``s * (1 - s)`` (which loses the sigmoid derivative to cancellation in the right tail).
* The Gaussian tails of GELU use an exactly split ``x**2`` and a Chebyshev ``erfcx``
  (see :mod:`jaxact.special`); the tanh-GELU evaluates its cubic in double-word arithmetic and
  replaces ``1 + tanh(u)`` by ``2 * sigmoid(2u)``, which has no cancellation.
* ``+-inf`` gives the mathematical limit, NaN gives NaN (values and derivatives).

Subnormals: XLA on CPU flushes subnormal float32 and float64 results to zero and reads
subnormal inputs as zero (flush-to-zero / denormals-are-zero; GPUs do the same for float32). So a
float32, bfloat16 or float64 result whose magnitude lies below the smallest normal number of the
compute dtype (1.18e-38 for float32 and bfloat16, 2.2e-308 for float64) may come out as +-0, and
a subnormal input may be treated as 0. float16 keeps its subnormals, since it is computed in
float32 where they are normal numbers. Products whose factors underflow but whose result does not
(``x * exp(-big)`` in silu, mish and the GELUs) are computed scaled so they are not lost.

Kinks
-----
Where ``phi'`` jumps the library picks one side (or, with ``jax.nn.sparse_sigmoid``'s clip,
the mean of the two), following ``jax.nn``: ``relu'(0) = 0``,
``relu6'(0) = relu6'(6) = 0``, ``hard_sigmoid'(+-3) = 0``, ``hard_tanh'(+-1) = 1``,
``leaky_relu'(0) = 1``, ``elu'(0) = alpha``, ``selu'(0) = scale * alpha``, ``hard_silu'(-3) = 0``,
``hard_silu'(3) = 1``, ``sparse_sigmoid'(+-1) = 1/4``. Each record lists its
kinks with that value in :attr:`Activation.kinks`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxact import accuracy, special
from jaxact.checks import check_finite_number

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "Activation",
    "Interval",
    "activation_fn",
    "activation_name",
    "get_activation",
    "register_activation",
    "unregister_activation",
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "gelu_exact",
    "gelu_tanh",
    "softplus",
    "silu",
    "swish",
    "mish",
    "softsign",
    "hard_sigmoid",
    "hard_tanh",
    "relu6",
    "log_sigmoid",
    "hard_silu",
    "hard_swish",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "soft_sign",
    "glu",
    "softmax",
    "log_softmax",
]

# SELU's constants (Klambauer et al. 2017), to 34 digits.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715
# 2 sqrt(2/pi) and 2 sqrt(2/pi) * 0.044715 as double words (hi: nearest float64, lo: the rest),
# from tools/constants.py.
_GELU_TANH_A = (1.5957691216057308, -9.96930880911092e-17)
_GELU_TANH_B = (0.07135481627260025, -6.175149918155315e-19)


# --------------------------------------------------------------------------------------------
# dtype handling


def _jax_nn_twin(name: str) -> Callable | None:
    """``jax.nn``'s function of the same name (and meaning), if it has one."""
    twins = {"gelu": lambda x: jax.nn.gelu(x, approximate=False),
             "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
             "softsign": getattr(jax.nn, "soft_sign", None), "tanh": jnp.tanh}  # fmt: skip
    return twins[name] if name in twins else getattr(jax.nn, name, None)


@functools.cache
def _jax_nn_result(name: str, dtype: np.dtype, weak: bool, x64: bool) -> tuple | None:
    """The dtype and weak type ``jax.nn``'s twin returns for an input of ``dtype``, by abstract
    evaluation (no computation); None where it has no twin or refuses the input."""
    twin = _jax_nn_twin(name)
    if twin is None:
        return None
    try:
        out = jax.eval_shape(twin, jax.ShapeDtypeStruct((1,), dtype, weak_type=weak))
    except (TypeError, ValueError):
        return None
    return np.dtype(out.dtype), bool(out.weak_type)


def _as_float_array(x: ArrayLike, name: str, *, weak: bool = True) -> jax.Array:
    """``x`` as a floating-point JAX array, promoted the way ``jax.nn`` promotes it.

    Floating-point arrays pass unchanged (a Python float stays weakly typed). Integer and
    boolean inputs get the dtype and weak type that ``jax.nn``'s function of the same name
    returns for them (its promotion differs between functions: ``jax.nn.tanh`` of int32 is
    float32, ``jax.nn.elu`` of int32 the default float, weakly typed); where ``jax.nn`` refuses
    them (``sigmoid``, ``silu``) or has no such function, the default float type, weakly typed
    (``weak=False``: strongly). Anything else (complex) is a TypeError naming the function and
    the dtype.
    """
    arr = _asarray(x, name)
    if jnp.issubdtype(arr.dtype, jnp.floating):
        return arr
    if not _integral(arr):
        raise TypeError(
            f"{name} expects a real array (floating-point, or integer/boolean, which are "
            f"promoted to float), got dtype {arr.dtype}."
        )
    res = _jax_nn_result(name, np.dtype(arr.dtype), bool(getattr(arr, "weak_type", False)),
                         bool(jax.config.jax_enable_x64))  # fmt: skip
    if res is None or not jnp.issubdtype(res[0], jnp.floating):
        return arr + 0.0 if weak else arr.astype(jnp.result_type(float))
    dtype, res_weak = res
    out = arr + 0.0 if res_weak else arr.astype(dtype)  # + 0.0: the default float, weak
    return _cast(out, dtype)


def _asarray(x: ArrayLike, name: str) -> jax.Array:
    try:
        return jnp.asarray(x)
    except TypeError:
        raise TypeError(f"{name} expects a real array, got {type(x).__name__} of "
                        f"{getattr(x, 'dtype', '?')}.") from None  # fmt: skip


def _integral(arr: jax.Array) -> bool:
    return arr.dtype == jnp.bool_ or jnp.issubdtype(arr.dtype, jnp.integer)


#: The functions ``jax.nn`` evaluates on integers without promoting them.
_INTEGER_FORMULAS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda x: x,
    "relu": lambda x: jnp.maximum(x, 0),
    "hard_tanh": lambda x: jnp.clip(x, -1, 1),
}


def _compute_dtype(dtype) -> np.dtype:
    """float32 for the 16-bit types (computed wide, rounded once), otherwise the dtype itself."""
    return np.dtype(jnp.float32) if jnp.finfo(dtype).bits < 32 else np.dtype(dtype)


def _cast(x: jax.Array, dtype) -> jax.Array:
    """``x`` in ``dtype``; no cast where it already is, so a weakly typed array (a Python
    scalar's) stays weak and cannot promote the arrays it meets."""
    return x if x.dtype == dtype else x.astype(dtype)


def _widened(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Evaluate an elementwise formula in the compute dtype and round the result back once."""

    @functools.wraps(fn)
    def wrapper(x, **params):
        return _cast(fn(_cast(x, _compute_dtype(x.dtype)), **params), x.dtype)

    return wrapper


def _nan_passthrough(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """NaN in, NaN out: derivatives built from comparisons would otherwise return 0 or 1."""

    @functools.wraps(fn)
    def wrapper(x, **params):
        return jnp.where(jnp.isnan(x), x, fn(x, **params))

    return wrapper


#: Prefix of the name each activation's custom_jvp function carries in a jaxpr
#: (``custom_jvp_call[name=jaxact_relu]``): how :mod:`jaxact.diagnosis` recognises it.
JAXPR_NAME_PREFIX = "jaxact_"


def _param_tangent(fn, x, p, tp, names):
    """The tangent of ``fn(x, **params)`` along the parameters' tangents ``tp`` (autodiff of
    the formula: the closed forms are derivatives in ``x``); None if every one is zero."""
    live = [i for i, t in enumerate(tp) if not isinstance(t, SymbolicZero)]
    if not live:
        return None

    def g(*q):
        pp = list(p)
        for i, v in zip(live, q, strict=True):
            pp[i] = v
        return fn(x, **dict(zip(names, pp, strict=True)))

    return jax.jvp(g, tuple(p[i] for i in live), tuple(tp[i] for i in live))[1]


def _add_tangents(y, *parts):
    parts = [t for t in parts if t is not None]
    if not parts:
        return jnp.zeros_like(y)
    out = parts[0]
    for t in parts[1:]:
        out = out + t
    return _cast(out, y.dtype)


def _unshared(x: jax.Array) -> jax.Array:
    """``x`` behind an optimization barrier, so the derivative's formula shares nothing with the
    value's.

    Without it XLA merges their common subexpressions (``exp(-|x|)`` of sigmoid and sigmoid'),
    and the CPU backend, which will not duplicate an expensive op into two loops, then writes
    each shared intermediate to memory and reads it back: 3-5 passes over the array instead of
    two. Recomputing the exponential in the derivative's own loop is much cheaper. CPU only:
    elsewhere ``x`` passes unchanged (see :func:`_same`).
    """
    return jax.lax.platform_dependent(x, cpu=jax.lax.optimization_barrier, default=_same)


def _same(x):
    """The identity (the non-CPU branch of :func:`_unshared`): GPUs fuse a shared
    subexpression into one kernel with both outputs (measured on an H200: the barrier there
    cost 30% of every forward+gradient)."""
    return x


def _with_closed_form_jvp(name, value, first, second, names=()) -> Callable[..., jax.Array]:
    """``value`` as a custom_jvp function ``f(x, *params)`` with closed-form derivatives.

    Its tangent in ``x`` is ``first``, itself a custom_jvp whose tangent is ``second``. The
    hyperparameters (``names``, in that order) are arguments, so they may be traced and
    differentiated; their tangents come from autodiff of the formula. The function is named
    ``jaxact_<name>``, the name it shows in a jaxpr.
    """
    names = tuple(names)

    def f(x, *p):
        return value(x, **dict(zip(names, p, strict=True)))

    f.__name__ = f.__qualname__ = JAXPR_NAME_PREFIX + name
    f = jax.custom_jvp(f)

    @jax.custom_jvp
    def df(x, *p):
        return first(x, **dict(zip(names, p, strict=True)))

    def _f_jvp(primals, tangents):
        (x, *p), (t, *tp) = primals, tangents
        y = f(x, *p)
        dx = None if isinstance(t, SymbolicZero) else df(_unshared(x), *p) * t
        return y, _add_tangents(y, dx, _param_tangent(value, x, p, tp, names))

    def _df_jvp(primals, tangents):
        (x, *p), (t, *tp) = primals, tangents
        y = df(x, *p)
        kw = dict(zip(names, p, strict=True))
        dx = None if isinstance(t, SymbolicZero) else second(_unshared(x), **kw) * t
        return y, _add_tangents(y, dx, _param_tangent(first, x, p, tp, names))

    f.defjvp(_f_jvp, symbolic_zeros=True)
    df.defjvp(_df_jvp, symbolic_zeros=True)
    return f


# --------------------------------------------------------------------------------------------
# The records


class Interval(NamedTuple):
    """A real interval; ``str()`` gives the usual notation, e.g. ``[0, inf)``."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    def __str__(self) -> str:
        def fmt(v: float) -> str:
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            return f"{v:.6g}"

        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{fmt(self.low)}, {fmt(self.high)}{right}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closure of the interval (rounding can reach open ends)."""
        return self.low <= value <= self.high


@dataclasses.dataclass(frozen=True)
class Activation:
    """One registered activation: the function, its closed-form derivatives and its metadata.

    Attributes:
      name: registry name.
      fn: the activation, ``fn(x, **params)``.
      derivative: closed-form ``phi'(x)``, written by hand (not autodiff). For the output
        functions (``elementwise=False``) it returns the Jacobian along ``axis``, moved last:
        shape ``(..., n, n)`` with ``J[..., i, j] = d out_i / d x_j``.
      second_derivative: closed-form ``phi''(x)``; for output functions the tensor
        ``H[..., i, j, k] = d2 out_i / dx_j dx_k`` of shape ``(..., n, n, n)``.
      output_range: the image of the real line (for default hyperparameters).
      max_slope: ``sup |phi'|`` (for output functions, the largest Jacobian entry in magnitude).
      kinks: ``{x0: value}``: points where ``phi'`` jumps, with the value the library's gradient
        takes there.
      curvature_kinks: points where ``phi'`` is continuous but ``phi''`` jumps, with the value the
        library's second derivative takes there.
      saturates_left / saturates_right: ``phi'(x) -> 0`` as ``x -> -inf`` / ``+inf``.
      gain: the recommended initialisation gain (``std(W) = gain / sqrt(fan_in)``).
      gain_source: ``"pytorch"`` where the gain is ``torch.nn.init.calculate_gain``'s, else
        ``"second-moment"``: ``1 / sqrt(E[phi(z)**2])`` for ``z ~ N(0, 1)``, the gain that keeps
        the pre-activation variance at 1 through a wide layer.
      params: default hyperparameters (keyword arguments of ``fn``).
      elementwise: False for ``softmax`` and ``log_softmax``, which act along an axis.
      doc: one-line description.
    """

    name: str
    fn: Callable[..., jax.Array]
    derivative: Callable[..., jax.Array]
    second_derivative: Callable[..., jax.Array]
    output_range: Interval
    max_slope: float
    kinks: Mapping[float, float]
    curvature_kinks: Mapping[float, float]
    saturates_left: bool
    saturates_right: bool
    gain: float
    gain_source: str
    params: Mapping[str, Any]
    elementwise: bool
    doc: str

    @property
    def saturating(self) -> bool:
        """Saturating in the sense of Gulcehre et al. (2016): ``phi' -> 0`` at both extremes.

        Sigmoid and tanh saturate; ReLU only on the left (``relu' = 0`` for ``x < 0``), so it is
        not saturating.
        """
        return self.saturates_left and self.saturates_right

    def __call__(self, x: ArrayLike, **params) -> jax.Array:
        return self.fn(x, **params)


# --------------------------------------------------------------------------------------------
# Elementwise formulas, in the compute dtype. Each takes x (float32 or float64).


def _sigmoid_pair(x):
    """``(sigmoid(x), sigmoid(-x))``, both to about 1 ulp, from one exp of ``-|x|``."""
    # One division: e / (1 + e) as e * (1 / (1 + e)) costs one more rounding (under 2 ulp in
    # all), and keeps XLA from splitting the formula into several loops around two divisions.
    e = jnp.exp(-jnp.abs(x))
    big = 1 / (1 + e)
    small = e * big
    pos = x >= 0
    return jnp.where(pos, big, small), jnp.where(pos, small, big)


def _sigmoid_value(x):
    return _sigmoid_pair(x)[0]


def _sigmoid_d1(x):
    s, t = _sigmoid_pair(x)
    return s * t


def _sigmoid_d2(x):
    # sigma'' = sigma' (1 - 2 sigma) = -sigma' tanh(x / 2), with no cancellation.
    return -_sigmoid_d1(x) * jnp.tanh(0.5 * x)


def _sech2(x):
    """``sech(x)**2 = 4 e / (1 + e)**2``, ``e = exp(-2|x|)``: no ``1 - tanh**2`` cancellation."""
    e = jnp.exp(-2 * jnp.abs(x))
    return 4 * e / ((1 + e) * (1 + e))


def _softplus_value(x):
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def _gelu_value(x):
    # Negative x: x * Phi(x) from the 2**64-scaled tail, so a normal result whose factor Phi(x)
    # alone would be subnormal is not lost; positive x: x * (1 - Phi(-x)).
    tail_scaled, _ = special.normal_cdf_tail(x, scaled=True)
    neg = (x * tail_scaled) * special.UNSCALE
    pos = x * (1 - tail_scaled * special.UNSCALE)
    out = jnp.where(x < 0, neg, pos)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), out)


def _gelu_d1(x):
    tail, pdf = special.normal_cdf_tail(x)
    cdf = jnp.where(x < 0, tail, 1 - tail)
    xpdf = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * pdf)
    return cdf + xpdf


def _gelu_d2(x):
    _, pdf = special.normal_cdf_tail(x)
    # phi(x) (2 - x**2); |x| is clamped where pdf has underflowed, so x**2 cannot overflow.
    big = special.underflow_abscissa(x.dtype)
    xc = jnp.clip(x, -big, big)
    return pdf * (2 - xc * xc)


def _gelu_tanh_argument(x):
    """``r = 2 u = 2 sqrt(2/pi) (x + 0.044715 x**3)`` as a double word ``(hi, lo)``.

    Exact up to a few ulp of ``hi`` *absolutely* relative to the size of ``x * r'``; the caller
    only uses it where ``|x|`` is below the clamp, so the cubic cannot overflow.
    """
    dtype = x.dtype
    a_hi, a_lo = special.split_constant(*_GELU_TANH_A, dtype)
    b_hi, b_lo = special.split_constant(*_GELU_TANH_B, dtype)
    s_hi, s_lo = special.two_prod(x, x)
    p_hi, p_lo = special.two_prod(jnp.full_like(x, b_hi), s_hi)
    p_lo = p_lo + (b_hi * s_lo + b_lo * s_hi)
    q_hi, q_lo = special.two_sum(jnp.full_like(x, a_hi), p_hi)
    q_lo = q_lo + (a_lo + p_lo)
    r_hi, r_lo = special.two_prod(x, q_hi)
    r_lo = r_lo + x * q_lo
    return r_hi, r_lo


def _gelu_tanh_clamp(dtype) -> float:
    """|x| beyond which sigmoid(2u) is exactly 0 or 1 in ``dtype`` (and the derivatives vanish)."""
    return 12.0 if np.dtype(dtype) == np.float32 else 24.0


def _gelu_tanh_sigmoids(x):
    """``(sigmoid(r), sigmoid(-r))`` for ``r = 2u(x)``, and ``x`` clamped.

    For the derivatives only: their accuracy is measured against the size of ``phi'`` (whose
    supremum is about 1.13), so the tail's relative accuracy that the value needs (a double-word
    ``r``, see :func:`_gelu_tanh_argument`) buys nothing here; one plain ``r``, one exponential
    and one division keep the formula a single loop.
    """
    big = _gelu_tanh_clamp(x.dtype)
    xc = jnp.clip(x, -big, big)
    r = (2 * _SQRT_2_OVER_PI) * (xc + _GELU_TANH_CUBIC * (xc * xc * xc))
    e = jnp.exp(-jnp.abs(r))
    q = 1 / (1 + e)
    neg = r < 0
    return jnp.where(neg, e * q, q), jnp.where(neg, q, e * q), xc


def _gelu_tanh_value(x):
    # x sigma(r) from one exponential e = exp(-|r|), taken 2**64-scaled (see special.exp_scaled):
    # x / (1 + e) for x >= 0, and x e / (1 + e) for x < 0, where the product stays accurate
    # although e alone may be subnormal.
    xc = jnp.clip(x, -_gelu_tanh_clamp(x.dtype), _gelu_tanh_clamp(x.dtype))
    r_hi, r_lo = _gelu_tanh_argument(xc)
    neg = r_hi < 0
    e_scaled = special.exp_scaled(jnp.where(neg, r_hi, -r_hi), jnp.where(neg, r_lo, -r_lo))
    e = e_scaled * special.UNSCALE
    q = 1 / (1 + e)  # one division for both branches
    out = jnp.where(x < 0, (x * e_scaled * q) * special.UNSCALE, x * q)
    # Below the clamp the exact result underflows to (-)0; the clamped e does not (on a backend
    # that keeps subnormals, |x| e_scaled would be a tiny nonzero number).
    return jnp.where(x < -_gelu_tanh_clamp(x.dtype), -jnp.zeros_like(x), out)


def _gelu_tanh_d1(x):
    s, t, xc = _gelu_tanh_sigmoids(x)
    a = 2 * _SQRT_2_OVER_PI
    dr = a * (1 + 3 * _GELU_TANH_CUBIC * xc * xc)
    return s + xc * (s * t) * dr


def _gelu_tanh_d2(x):
    s, t, xc = _gelu_tanh_sigmoids(x)
    a = 2 * _SQRT_2_OVER_PI
    dr = a * (1 + 3 * _GELU_TANH_CUBIC * xc * xc)
    d2r = a * 6 * _GELU_TANH_CUBIC * xc
    sp = s * t  # sigma'(r)
    spp = sp * (t - s)  # sigma''(r) = sigma'(r) (1 - 2 sigma(r))
    return 2 * sp * dr + xc * (spp * dr * dr + sp * d2r)


def _mish_parts(x):
    """``(T, S)`` with ``T = tanh(softplus(x))`` and ``S = sech(softplus(x))**2``, no cancellation.

    With ``n = e**x (e**x + 2)``: ``T = n / (n + 2)`` and ``S = 4 (n + 1) / (n + 2)**2``; for
    ``x > 0`` both are rewritten in ``e = exp(-x)`` so nothing overflows.
    """
    e = jnp.exp(-jnp.abs(x))
    pos = x > 0
    # x <= 0: e = exp(x), n = e (e + 2): T = n / (n + 2), S = 4 (n + 1) / (n + 2)**2.
    # x > 0: e = exp(-x): T = (1 + 2e) / d, S = 4 e^2 (1 + e)^2 / d^2, d = 1 + 2e + 2e^2.
    # One division serves both (and keeps the formula a single loop).
    n = e * (e + 2)
    inv = 1 / jnp.where(pos, 1 + 2 * e + 2 * e * e, n + 2)
    t = jnp.where(pos, 1 + 2 * e, n) * inv
    u = 2 * e * (1 + e)
    return t, jnp.where(pos, (u * inv) * (u * inv), (4 * (n + 1) * inv) * inv)


def _mish_value(x):
    t, _ = _mish_parts(x)
    # x <= 0: x n / (n + 2) with n = e (e + 2) taken 2**64-scaled (see special.exp_scaled).
    e_scaled = special.exp_scaled(jnp.minimum(x, 0), jnp.zeros_like(x))
    e = e_scaled * special.UNSCALE
    neg = (x * (e_scaled * (e + 2)) / (e * (e + 2) + 2)) * special.UNSCALE
    out = jnp.where(x > 0, x * t, neg)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), out)


def _silu_value(x):
    # x sigma(x) from one exponential h = exp(-|x| / 2), e = h**2 = exp(-|x|): x / (1 + e) for
    # x >= 0, and (x h) (h / (1 + e)) for x < 0, which stays a normal number where e alone would
    # be subnormal (and flushed to zero). Halving x is exact; squaring h doubles exp's relative
    # error (about 2 ulp in all). h**2 is written (2 h) (h / 2), the same product exactly: XLA
    # rewrites exp(a) * exp(a) into exp(2 a), which would cost a second exponential.
    h = jnp.exp(-0.5 * jnp.abs(x))
    q = 1 / (1 + (2 * h) * (0.5 * h))
    out = jnp.where(x < 0, (x * h) * (h * q), x * q)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), out)


def _mish_d1(x):
    t, s = _mish_parts(x)
    sig, _ = _sigmoid_pair(x)
    xs = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * s)
    return t + xs * sig


def _mish_d2(x):
    # Beyond |x| = 1e4 the result is exactly 0 in every dtype (S or sigma underflows); clamping
    # keeps x * (...) from overflowing into 0 * inf.
    x = jnp.clip(x, -1e4, 1e4)
    t, s = _mish_parts(x)
    sig, sig_neg = _sigmoid_pair(x)
    # f'' = S sigma (2 + x (sigma(-x) - 2 T sigma)).
    inner = 2 + x * (sig_neg - 2 * t * sig)
    return s * sig * inner


def _softsign_value(x):
    return jnp.where(jnp.isinf(x), jnp.sign(x), x / (1 + jnp.abs(x)))


def _softsign_d1(x):
    d = 1 + jnp.abs(x)
    return 1 / (d * d)


def _softsign_d2(x):
    d = 1 + jnp.abs(x)
    return -2 * jnp.sign(x) / (d * d * d)


def _silu_d1(x):
    s, t = _sigmoid_pair(x)
    # sigma(x) (1 + x sigma(-x)); x sigma(-x) -> 0 at +inf, and the product -> 0 at -inf.
    xt = jnp.where(jnp.isposinf(x), jnp.zeros_like(x), x * t)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), s * (1 + xt))


def _silu_d2(x):
    s, t = _sigmoid_pair(x)
    # sigma'(x) (2 - x tanh(x / 2)); x sigma' -> 0 at both infinities.
    sp = s * t
    xsp = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * sp)
    return 2 * sp - xsp * jnp.tanh(0.5 * x)


def _zeros(x, **_):
    return jnp.zeros_like(x)


def _ones(x, **_):
    return jnp.ones_like(x)


def _step(cond, x, high=1.0, low=0.0):
    # full_like keeps x's dtype and weak type (jnp.asarray(high, x.dtype) would be strong).
    return jnp.where(cond, jnp.full_like(x, high), jnp.full_like(x, low))


# --------------------------------------------------------------------------------------------
# Registry construction


_REGISTRY: dict[str, Activation] = {}


def _check_positive(name: str, param: str, value) -> None:
    if isinstance(value, (int, float)) and not value > 0:
        raise ValueError(f"{name}: {param} must be > 0, got {value!r}.")


def _check_finite(name: str, param: str, value) -> None:
    if isinstance(value, (int, float)) and not math.isfinite(value):
        raise ValueError(f"{name}: {param} must be finite, got {value!r}.")


def _is_default(name: str, value, defaults: Mapping[str, Any]) -> bool:
    return type(value) in (int, float) and name in defaults and value == defaults[name]


def _elementwise(name, value, first, second, *, validate=None, defaults=None):
    """Build the public function and its closed-form derivative functions from three formulas.

    Returns ``(fn, derivative, second_derivative)``; each takes ``(x, **params)``, checks the
    dtype, computes in the compute dtype and returns the input dtype.
    """
    # Each formula is compiled as one XLA computation: inside a user's jit this inlines, and
    # eager calls run as one fused kernel instead of dozens of op-by-op dispatches.
    value_w = jax.jit(_widened(value))
    first_w = jax.jit(_nan_passthrough(_widened(first)))
    second_w = jax.jit(_nan_passthrough(_widened(second)))
    no_params = _with_closed_form_jvp(name, value_w, first_w, second_w)
    # The parameters' defaults are those of ``validate``. When every parameter is at its
    # default (as a Python number) the call takes the prebuilt parameter-free path; otherwise
    # all of them are arguments of the custom_jvp function, in sorted order.
    if defaults is None:
        defaults = {} if validate is None else {
            k: p.default for k, p in inspect.signature(validate).parameters.items()}  # fmt: skip
    names = tuple(sorted(defaults))
    with_params = _with_closed_form_jvp(name, value_w, first_w, second_w, names)

    def checked(fn_name, kind):
        def run(x, **params):
            raw = _asarray(x, fn_name)
            if kind == "value" and name in _INTEGER_FORMULAS and _integral(raw):
                return _INTEGER_FORMULAS[name](raw)
            arr = _as_float_array(raw, fn_name)
            if validate is not None:
                validate(**params)
            elif set(params) - set(defaults):
                raise TypeError(f"{fn_name} got unexpected parameter(s) "
                                f"{sorted(set(params) - set(defaults))}; it takes "
                                f"{sorted(defaults) or 'none'}.")  # fmt: skip
            if kind == "value":
                if all(_is_default(k, v, defaults) for k, v in params.items()):
                    return no_params(arr)
                return with_params(arr, *(params.get(k, defaults[k]) for k in names))
            return (first_w if kind == "d1" else second_w)(arr, **params)

        return run

    return checked, value_w


def _register(
    name: str,
    fn: Callable[..., jax.Array],
    derivative: Callable[..., jax.Array],
    second_derivative: Callable[..., jax.Array],
    *,
    output_range: Interval,
    max_slope: float,
    gain: float,
    gain_source: str,
    saturates_left: bool,
    saturates_right: bool,
    kinks: Mapping[float, float] | None = None,
    curvature_kinks: Mapping[float, float] | None = None,
    params: Mapping[str, Any] | None = None,
    elementwise: bool = True,
    doc: str = "",
) -> None:
    _REGISTRY[name] = Activation(
        name=name,
        fn=fn,
        derivative=derivative,
        second_derivative=second_derivative,
        output_range=output_range,
        max_slope=max_slope,
        kinks=types.MappingProxyType(dict(kinks or {})),
        curvature_kinks=types.MappingProxyType(dict(curvature_kinks or {})),
        saturates_left=saturates_left,
        saturates_right=saturates_right,
        gain=gain,
        gain_source=gain_source,
        params=types.MappingProxyType(dict(params or {})),
        elementwise=elementwise,
        doc=doc,
    )


def _build(name, value, first, second, validate=None):
    checked, _ = _elementwise(name, value, first, second, validate=validate)
    return checked(name, "value"), checked(name, "d1"), checked(name, "d2")


_INF = math.inf

# identity -----------------------------------------------------------------------------------
_identity, _identity_d1, _identity_d2 = _build("identity", lambda x: x, _ones, _zeros)


def identity(x: ArrayLike) -> jax.Array:
    r"""The identity, ``phi(x) = x``: what a layer is without an activation.

    .. math:: \phi(x) = x, \quad \phi'(x) = 1, \quad \phi''(x) = 0

    A stack of layers with this activation is one linear map.

    Args:
      x: floating-point array of any shape.

    Returns:
      ``x``, same shape and dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.identity(jnp.array([-2.0, 3.0], dtype=jnp.float32))
    Array([-2.,  3.], dtype=float32)
    """
    return _identity(x)


# sigmoid ------------------------------------------------------------------------------------
_sigmoid, _sigmoid_d1_pub, _sigmoid_d2_pub = _build(
    "sigmoid", _sigmoid_value, _sigmoid_d1, _sigmoid_d2
)


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid, squashing the real line into ``(0, 1)``.

    .. math::
       \sigma(x) = \frac{1}{1 + e^{-x}}, \quad
       \sigma'(x) = \sigma(x)\,\sigma(-x) \le \tfrac14, \quad
       \sigma''(x) = -\sigma'(x) \tanh(x/2)

    Computed from ``exp(-|x|)`` so neither tail overflows; the derivative uses
    ``sigma(x) sigma(-x)`` rather than ``s (1 - s)``, which would be 0 for ``x > 17`` in float32.

    Args:
      x: floating-point array of any shape.

    Returns:
      ``sigma(x)``, same shape and dtype.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> jaxact.sigmoid(jnp.array([-80.0, 0.0, 2.0], dtype=jnp.float32))
    Array([1.8048513e-35, 5.0000000e-01, 8.8079703e-01], dtype=float32)
    >>> float(jax.grad(jaxact.sigmoid)(jnp.float32(0.0)))
    0.25
    """
    return _sigmoid(x)


# tanh ---------------------------------------------------------------------------------------
_tanh, _tanh_d1, _tanh_d2 = _build(
    "tanh",
    jnp.tanh,
    _sech2,
    lambda x: -2 * jnp.tanh(x) * _sech2(x),
)


def tanh(x: ArrayLike) -> jax.Array:
    r"""Hyperbolic tangent, squashing the real line into ``(-1, 1)``.

    .. math::
       \tanh'(x) = \operatorname{sech}^2 x = \frac{4 e^{-2|x|}}{(1 + e^{-2|x|})^2}, \quad
       \tanh''(x) = -2 \tanh(x) \operatorname{sech}^2 x

    The derivative is computed as ``sech**2`` rather than ``1 - tanh**2``, which cancels to 0 for
    ``|x| > 9`` in float32 although the true value is representable.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``tanh(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.tanh(jnp.array([0.0, 1.0], dtype=jnp.float32))
    Array([0.       , 0.7615942], dtype=float32)
    """
    return _tanh(x)


# relu ---------------------------------------------------------------------------------------
_relu, _relu_d1, _relu_d2 = _build(
    "relu", lambda x: jnp.maximum(x, 0), lambda x: _step(x > 0, x), _zeros
)


def relu(x: ArrayLike) -> jax.Array:
    r"""Rectified linear unit, ``max(x, 0)``.

    .. math:: \mathrm{relu}(x) = \max(x, 0), \quad \mathrm{relu}'(x) = [x > 0], \quad
       \mathrm{relu}'' = 0

    Kink convention: ``relu'(0) = 0``, as in :func:`jax.nn.relu`.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``relu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> jaxact.relu(jnp.array([-1.0, 0.0, 2.0], dtype=jnp.float32))
    Array([0., 0., 2.], dtype=float32)
    >>> float(jax.grad(jaxact.relu)(jnp.float32(0.0)))
    0.0
    """
    return _relu(x)


# leaky relu ---------------------------------------------------------------------------------
def _validate_leaky(negative_slope=0.01):
    _check_finite("leaky_relu", "negative_slope", negative_slope)


_leaky, _leaky_d1, _leaky_d2 = _build(
    "leaky_relu",
    lambda x, negative_slope=0.01: jnp.where(x >= 0, x, negative_slope * x),
    lambda x, negative_slope=0.01: _step(x >= 0, x, 1.0, negative_slope),
    _zeros,
    validate=_validate_leaky,
)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> jax.Array:
    r"""Leaky ReLU: ``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    .. math:: \phi(x) = \begin{cases} x & x \ge 0 \\ a x & x < 0 \end{cases}, \quad
       \phi'(x) = \begin{cases} 1 & x \ge 0 \\ a & x < 0 \end{cases}

    Kink convention: ``phi'(0) = 1``, as in :func:`jax.nn.leaky_relu`. The small negative slope
    keeps units from dying (Maas et al. 2013).

    Args:
      x: floating-point array.
      negative_slope: slope ``a`` for negative inputs (finite; may be traced and
        differentiated).

    Returns:
      ``leaky_relu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.leaky_relu(jnp.array([-2.0, 3.0], dtype=jnp.float32))
    Array([-0.02,  3.  ], dtype=float32)
    """
    return _leaky(x, negative_slope=negative_slope)


# elu ----------------------------------------------------------------------------------------
def _validate_alpha(name):
    def validate(alpha=1.0):
        _check_positive(name, "alpha", alpha)
        _check_finite(name, "alpha", alpha)

    return validate


def _elu_value(x, alpha=1.0):
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


_elu, _elu_d1, _elu_d2 = _build(
    "elu",
    _elu_value,
    lambda x, alpha=1.0: jnp.where(x > 0, jnp.ones_like(x), alpha * jnp.exp(jnp.minimum(x, 0))),
    lambda x, alpha=1.0: jnp.where(x > 0, jnp.zeros_like(x), alpha * jnp.exp(jnp.minimum(x, 0))),
    validate=_validate_alpha("elu"),
)


def elu(x: ArrayLike, alpha: float = 1.0) -> jax.Array:
    r"""Exponential linear unit (Clevert et al. 2016).

    .. math:: \phi(x) = \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases}, \quad
       \phi'(x) = \begin{cases} 1 & x > 0 \\ \alpha e^x & x \le 0 \end{cases}

    Kink convention: ``phi'(0) = alpha`` (the left side), as in :func:`jax.nn.elu`; for
    ``alpha = 1`` the derivative is continuous and only ``phi''`` jumps.

    Args:
      x: floating-point array.
      alpha: the negative saturation value is ``-alpha``; must be > 0 (may be traced and
        differentiated).

    Returns:
      ``elu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.elu(jnp.array([-1.0, 2.0], dtype=jnp.float32))
    Array([-0.63212055,  2.        ], dtype=float32)
    """
    return _elu(x, alpha=alpha)


# selu ---------------------------------------------------------------------------------------
_SELU_SCALE_ALPHA = SELU_SCALE * SELU_ALPHA
_selu, _selu_d1, _selu_d2 = _build(
    "selu",
    lambda x: jnp.where(x > 0, SELU_SCALE * x, _SELU_SCALE_ALPHA * jnp.expm1(jnp.minimum(x, 0))),
    lambda x: jnp.where(
        x > 0, jnp.full_like(x, SELU_SCALE), _SELU_SCALE_ALPHA * jnp.exp(jnp.minimum(x, 0))
    ),
    lambda x: jnp.where(x > 0, jnp.zeros_like(x), _SELU_SCALE_ALPHA * jnp.exp(jnp.minimum(x, 0))),
)


def selu(x: ArrayLike) -> jax.Array:
    r"""Scaled exponential linear unit (Klambauer et al. 2017, self-normalising networks).

    .. math:: \phi(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases}

    with ``alpha = 1.6732632...`` and ``lambda = 1.0507009...``. Kink convention:
    ``phi'(0) = lambda * alpha``, as in :func:`jax.nn.selu`.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``selu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.selu(jnp.array([-1.0, 1.0], dtype=jnp.float32))
    Array([-1.1113307,  1.050701 ], dtype=float32)
    """
    return _selu(x)


# celu ---------------------------------------------------------------------------------------
_celu, _celu_d1, _celu_d2 = _build(
    "celu",
    lambda x, alpha=1.0: jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0) / alpha)),
    lambda x, alpha=1.0: jnp.where(x > 0, jnp.ones_like(x), jnp.exp(jnp.minimum(x, 0) / alpha)),
    lambda x, alpha=1.0: jnp.where(
        x > 0, jnp.zeros_like(x), jnp.exp(jnp.minimum(x, 0) / alpha) / alpha
    ),
    validate=_validate_alpha("celu"),
)


def celu(x: ArrayLike, alpha: float = 1.0) -> jax.Array:
    r"""Continuously differentiable ELU (Barron 2017).

    .. math:: \phi(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x/\alpha} - 1) & x \le 0 \end{cases},
       \quad \phi'(x) = \begin{cases} 1 & x > 0 \\ e^{x/\alpha} & x \le 0 \end{cases}

    ``phi'`` is continuous for every ``alpha``; ``phi''`` jumps at 0 (value ``1 / alpha``).

    Args:
      x: floating-point array.
      alpha: must be > 0 (may be traced and differentiated).

    Returns:
      ``celu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.celu(jnp.array([-1.0, 2.0], dtype=jnp.float32))
    Array([-0.63212055,  2.        ], dtype=float32)
    """
    return _celu(x, alpha=alpha)


# gelu ---------------------------------------------------------------------------------------
_gelu, _gelu_d1_pub, _gelu_d2_pub = _build("gelu", _gelu_value, _gelu_d1, _gelu_d2)


def gelu_exact(x: ArrayLike) -> jax.Array:
    r"""Gaussian error linear unit, exact (erf-based) form (Hendrycks & Gimpel 2016): the
    registry's ``"gelu"``, and :func:`gelu` with ``approximate=False``.

    .. math::
       \mathrm{gelu}(x) = x \Phi(x), \quad \mathrm{gelu}'(x) = \Phi(x) + x \varphi(x), \quad
       \mathrm{gelu}''(x) = \varphi(x) (2 - x^2)

    with ``Phi`` the standard normal CDF and ``phi`` its density. In the negative tail
    ``Phi(x) = exp(-x**2/2) erfcx(-x/sqrt 2) / 2`` with ``x**2`` split exactly, so values stay
    within a few ulp down to the underflow threshold; ``1 + erf(x / sqrt 2)`` (which cancels) is
    never formed.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``gelu_exact(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.gelu_exact(jnp.array([-1.0, 0.0, 1.0], dtype=jnp.float32))
    Array([-0.15865524,  0.        ,  0.8413448 ], dtype=float32)
    """
    return _gelu(x)


# gelu_tanh ----------------------------------------------------------------------------------
_gelu_tanh, _gelu_tanh_d1_pub, _gelu_tanh_d2_pub = _build(
    "gelu_tanh", _gelu_tanh_value, _gelu_tanh_d1, _gelu_tanh_d2
)


def gelu_tanh(x: ArrayLike) -> jax.Array:
    r"""GELU, tanh approximation (as in BERT and GPT-2; ``jax.nn.gelu(approximate=True)``).

    .. math::
       \phi(x) = \tfrac12 x \left(1 + \tanh u\right) = x\,\sigma(2u), \quad
       u = \sqrt{2/\pi}\,(x + 0.044715 x^3)

    ``1 + tanh(u)`` is evaluated as ``2 sigma(2u)`` (no cancellation for negative ``x``), ``2u`` in
    double-word arithmetic (its rounding would otherwise be amplified by ``exp``), and the cubic
    only for ``|x|`` below the point where ``sigma(2u)`` is exactly 0 or 1, so it cannot overflow.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``gelu_tanh(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.gelu_tanh(jnp.array([-1.0, 0.0, 1.0], dtype=jnp.float32))
    Array([-0.15880801,  0.        ,  0.841192  ], dtype=float32)
    """
    return _gelu_tanh(x)


def gelu(x: ArrayLike, approximate: bool = True) -> jax.Array:
    r"""GELU with :func:`jax.nn.gelu`'s signature and default: the tanh approximation unless
    ``approximate=False``.

    ``approximate=True`` is :func:`gelu_tanh`, ``x sigma(2 sqrt(2/pi) (x + 0.044715 x^3))``;
    ``approximate=False`` is :func:`gelu_exact`, ``x Phi(x)``. The two differ by up to 4.7e-4
    on [-4, 4]: swapping one for the other changes a model. In the registry ``"gelu"`` names
    the exact form and ``"gelu_tanh"`` the approximation.

    Args:
      x: floating-point array.
      approximate: a Python bool (it picks the formula, so it cannot be traced).

    Returns:
      ``gelu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> x = jnp.array([-1.0, 1.0], dtype=jnp.float32)
    >>> jaxact.gelu(x)
    Array([-0.15880801,  0.841192  ], dtype=float32)
    >>> jaxact.gelu(x, approximate=False)
    Array([-0.15865524,  0.8413448 ], dtype=float32)
    """
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"gelu: approximate must be a Python bool, got {approximate!r}.")
    return _gelu_tanh(x) if approximate else _gelu(x)


# softplus -----------------------------------------------------------------------------------
_softplus, _softplus_d1, _softplus_d2 = _build(
    "softplus", _softplus_value, _sigmoid_value, _sigmoid_d1
)


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus, a smooth ReLU: ``log(1 + e^x)``.

    .. math:: \phi(x) = \max(x, 0) + \log(1 + e^{-|x|}), \quad \phi' = \sigma, \quad
       \phi'' = \sigma'

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``softplus(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.softplus(jnp.array([-80.0, 0.0, 80.0], dtype=jnp.float32))
    Array([1.8048513e-35, 6.9314718e-01, 8.0000000e+01], dtype=float32)
    """
    return _softplus(x)


# silu ---------------------------------------------------------------------------------------
_silu, _silu_d1_pub, _silu_d2_pub = _build(
    "silu",
    _silu_value,
    _silu_d1,
    _silu_d2,
)


def silu(x: ArrayLike) -> jax.Array:
    r"""Sigmoid linear unit, also called swish (Elfwing et al. 2018; Ramachandran et al. 2017).

    .. math:: \phi(x) = x \sigma(x), \quad \phi'(x) = \sigma(x) (1 + x \sigma(-x)), \quad
       \phi''(x) = \sigma'(x) (2 - x \tanh(x/2))

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``silu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.silu(jnp.array([-1.0, 0.0, 1.0], dtype=jnp.float32))
    Array([-0.26894143,  0.        ,  0.7310586 ], dtype=float32)
    """
    return _silu(x)


swish = silu

# mish ---------------------------------------------------------------------------------------
_mish, _mish_d1_pub, _mish_d2_pub = _build("mish", _mish_value, _mish_d1, _mish_d2)


def mish(x: ArrayLike) -> jax.Array:
    r"""Mish (Misra 2019): ``x tanh(softplus(x))``.

    .. math::
       \phi(x) = x T, \quad \phi'(x) = T + x S \sigma(x), \quad
       \phi''(x) = S \sigma(x) \left(2 + x (\sigma(-x) - 2 T \sigma(x))\right)

    with ``T = tanh(softplus x) = n / (n + 2)``, ``S = 1 - T**2 = 4 (n + 1) / (n + 2)**2`` and
    ``n = e^x (e^x + 2)``, rewritten in ``e^{-x}`` for ``x > 0``: no cancellation, no overflow.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``mish(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.mish(jnp.array([-1.0, 0.0, 1.0], dtype=jnp.float32))
    Array([-0.30340147,  0.        ,  0.8650984 ], dtype=float32)
    """
    return _mish(x)


# softsign -----------------------------------------------------------------------------------
_softsign, _softsign_d1_pub, _softsign_d2_pub = _build(
    "softsign", _softsign_value, _softsign_d1, _softsign_d2
)


def softsign(x: ArrayLike) -> jax.Array:
    r"""Softsign (Bergstra et al. 2009; Glorot & Bengio 2010): ``x / (1 + |x|)``.

    .. math:: \phi'(x) = \frac{1}{(1 + |x|)^2}, \quad \phi''(x) = \frac{-2\,\mathrm{sign}(x)}
       {(1 + |x|)^3}

    ``phi''`` jumps at 0; the library takes ``phi''(0) = 0``.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``softsign(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.softsign(jnp.array([-1.0, 3.0], dtype=jnp.float32))
    Array([-0.5 ,  0.75], dtype=float32)
    """
    return _softsign(x)


#: The same function as :func:`softsign`, under :func:`jax.nn.soft_sign`'s name.
soft_sign = softsign

# hard sigmoid -------------------------------------------------------------------------------
_hard_sigmoid, _hard_sigmoid_d1, _hard_sigmoid_d2 = _build(
    "hard_sigmoid",
    lambda x: jnp.clip(x + 3, 0, 6) / 6,
    lambda x: _step((x > -3) & (x < 3), x, 1.0 / 6.0),
    _zeros,
)


def hard_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Hard sigmoid, ``relu6(x + 3) / 6`` (as in MobileNetV3 and :func:`jax.nn.hard_sigmoid`).

    .. math:: \phi'(x) = \tfrac16 [-3 < x < 3]

    Kink convention: ``phi'(-3) = phi'(3) = 0``, as in JAX.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``hard_sigmoid(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.hard_sigmoid(jnp.array([-4.0, 0.0, 1.5], dtype=jnp.float32))
    Array([0.  , 0.5 , 0.75], dtype=float32)
    """
    return _hard_sigmoid(x)


# hard tanh ----------------------------------------------------------------------------------
_hard_tanh, _hard_tanh_d1, _hard_tanh_d2 = _build(
    "hard_tanh",
    lambda x: jnp.clip(x, -1, 1),
    lambda x: _step((x >= -1) & (x <= 1), x),
    _zeros,
)


def hard_tanh(x: ArrayLike) -> jax.Array:
    r"""Hard tanh, ``clip(x, -1, 1)``.

    .. math:: \phi'(x) = [-1 \le x \le 1]

    Kink convention: ``phi'(-1) = phi'(1) = 1``, as in :func:`jax.nn.hard_tanh`.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``hard_tanh(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.hard_tanh(jnp.array([-2.0, 0.5, 2.0], dtype=jnp.float32))
    Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    return _hard_tanh(x)


# relu6 --------------------------------------------------------------------------------------
_relu6, _relu6_d1, _relu6_d2 = _build(
    "relu6",
    lambda x: jnp.clip(x, 0, 6),
    lambda x: _step((x > 0) & (x < 6), x),
    _zeros,
)


def relu6(x: ArrayLike) -> jax.Array:
    r"""ReLU capped at 6, ``min(max(x, 0), 6)`` (Krizhevsky 2010; MobileNets).

    .. math:: \phi'(x) = [0 < x < 6]

    Kink convention: ``phi'(0) = phi'(6) = 0``, as in :func:`jax.nn.relu6`.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``relu6(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.relu6(jnp.array([-1.0, 3.0, 9.0], dtype=jnp.float32))
    Array([0., 3., 6.], dtype=float32)
    """
    return _relu6(x)


# log sigmoid --------------------------------------------------------------------------------
_log_sigmoid, _log_sigmoid_d1, _log_sigmoid_d2 = _build(
    "log_sigmoid",
    lambda x: -_softplus_value(-x),
    lambda x: _sigmoid_value(-x),
    lambda x: -_sigmoid_d1(x),
)


def log_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Log-sigmoid, ``log(sigma(x)) = -softplus(-x)``.

    .. math:: \phi'(x) = \sigma(-x), \quad \phi''(x) = -\sigma'(x)

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``log_sigmoid(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.log_sigmoid(jnp.array([-100.0, 0.0], dtype=jnp.float32))
    Array([-100.       ,   -0.6931472], dtype=float32)
    """
    return _log_sigmoid(x)


# hard silu ----------------------------------------------------------------------------------
_hard_silu, _hard_silu_d1, _hard_silu_d2 = _build(
    "hard_silu",
    # x <= -3 gives 0 (not x * 0, which is NaN at -inf); x >= 3 gives x itself (x * 6 / 6 would
    # overflow near the largest float).
    lambda x: jnp.where(x <= -3, jnp.zeros_like(x), jnp.where(x >= 3, x, x * (x + 3) / 6)),
    lambda x: jnp.where(
        x <= -3, jnp.zeros_like(x), jnp.where(x >= 3, jnp.ones_like(x), (2 * x + 3) / 6)
    ),
    lambda x: _step((x > -3) & (x < 3), x, 1.0 / 3.0),
)


def hard_silu(x: ArrayLike) -> jax.Array:
    r"""Hard SiLU (hard swish; Howard et al. 2019, MobileNetV3): ``x * hard_sigmoid(x)``.

    .. math:: \phi(x) = \begin{cases} 0 & x \le -3 \\ x (x + 3) / 6 & -3 < x < 3 \\
       x & x \ge 3 \end{cases}, \quad
       \phi'(x) = \begin{cases} 0 & x \le -3 \\ (2x + 3) / 6 & -3 < x < 3 \\
       1 & x \ge 3 \end{cases}, \quad \phi'' = \tfrac13 [-3 < x < 3]

    ``phi'`` jumps at both ends of the ramp (from -1/2 to 0 at -3, from 3/2 to 1 at 3); kink
    convention, as :func:`jax.nn.hard_silu`'s gradient: ``phi'(-3) = 0``, ``phi'(3) = 1``.
    Its minimum is ``phi(-3/2) = -3/8``. :func:`hard_swish` is the same function.

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``hard_silu(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.hard_silu(jnp.array([-4.0, -1.5, 1.0, 5.0], dtype=jnp.float32))
    Array([ 0.       , -0.375    ,  0.6666667,  5.       ], dtype=float32)
    """
    return _hard_silu(x)


#: The same function as :func:`hard_silu` (jax.nn's second name for it).
hard_swish = hard_silu


# sparse plus / sparse sigmoid ---------------------------------------------------------------
def _sparse_sigmoid_value(x):
    """``clip(x + 1, 0, 2) / 2``: sparse_sigmoid, and sparse_plus's derivative."""
    return jnp.where(x <= -1, jnp.zeros_like(x), jnp.where(x >= 1, jnp.ones_like(x), 0.5 * x + 0.5))


_sparse_plus, _sparse_plus_d1, _sparse_plus_d2 = _build(
    "sparse_plus",
    lambda x: jnp.where(x <= -1, jnp.zeros_like(x), jnp.where(x >= 1, x, (x + 1) ** 2 / 4)),
    _sparse_sigmoid_value,
    lambda x: _step((x > -1) & (x < 1), x, 0.5),
)


def sparse_plus(x: ArrayLike) -> jax.Array:
    r"""Sparse plus (Blondel et al. 2020, sec. 6.2): softplus's piecewise-quadratic twin.

    .. math:: \phi(x) = \begin{cases} 0 & x \le -1 \\ (x + 1)^2 / 4 & -1 < x < 1 \\
       x & x \ge 1 \end{cases}, \quad \phi'(x) = \mathrm{sparse\_sigmoid}(x), \quad
       \phi''(x) = \tfrac12 [-1 < x < 1]

    ``phi'`` is continuous; ``phi''`` jumps at -1 and 1, where the library takes ``phi'' = 0``
    (as autodiff of :func:`jax.nn.sparse_plus` does).

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``sparse_plus(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.sparse_plus(jnp.array([-2.0, 0.0, 3.0], dtype=jnp.float32))
    Array([0.  , 0.25, 3.  ], dtype=float32)
    """
    return _sparse_plus(x)


_sparse_sigmoid, _sparse_sigmoid_d1, _sparse_sigmoid_d2 = _build(
    "sparse_sigmoid",
    _sparse_sigmoid_value,
    # At -1 and 1 jax.nn's clip gives each side half the gradient: 0.25.
    lambda x: jnp.where(
        (x > -1) & (x < 1),
        jnp.full_like(x, 0.5),
        jnp.where((x == -1) | (x == 1), jnp.full_like(x, 0.25), jnp.zeros_like(x)),
    ),
    _zeros,
)


def sparse_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Sparse sigmoid (Blondel et al. 2020): ``clip(x + 1, 0, 2) / 2``, the derivative of
    :func:`sparse_plus`.

    .. math:: \phi(x) = \begin{cases} 0 & x \le -1 \\ (x + 1) / 2 & -1 < x < 1 \\
       1 & x \ge 1 \end{cases}, \quad \phi'(x) = \tfrac12 [-1 < x < 1], \quad \phi'' = 0

    Kink convention, as :func:`jax.nn.sparse_sigmoid`'s gradient: ``phi'(+-1) = 1/4`` (its clip
    splits the gradient between the two sides of a tie).

    Args:
      x: array of any shape; integers are promoted to floating point (as in ``jax.nn``).

    Returns:
      ``sparse_sigmoid(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.sparse_sigmoid(jnp.array([-2.0, 0.0, 0.5, 3.0], dtype=jnp.float32))
    Array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
    """
    return _sparse_sigmoid(x)


# squareplus ---------------------------------------------------------------------------------
def _validate_squareplus(b=4.0):
    _check_positive("squareplus", "b", b)
    _check_finite("squareplus", "b", b)


def _squareplus_far(dtype) -> float:
    """``|x|`` beyond which squareplus takes ``r = sqrt(x**2 + b)`` as ``|x|``: ``2**60``
    (``2**500`` in float64), where ``x**2`` could overflow and ``b / x**2`` is below the
    dtype's epsilon for any ``b`` that is itself far from overflow."""
    return 2.0**60 if np.dtype(dtype).itemsize < 8 else 2.0**500


def _squareplus_root(x, b):
    """``sqrt(x**2 + b)``, and ``|x|`` beyond :func:`_squareplus_far`. (``jnp.hypot`` does the
    same with a division, twice as slow.)"""
    big = _squareplus_far(x.dtype)
    ax = jnp.abs(x)
    small = jnp.minimum(ax, big)
    return jnp.where(ax > big, ax, jnp.sqrt(small * small + b))


def _squareplus_q(x, b):
    """``q = (r - |x|) / 2 = (b / 2) / (r + |x|)``, without cancellation or overflow: past
    ``|x| = 2**60`` (where ``r = |x|``) as ``(b / 4) / |x|``, since ``r + |x|`` overflows near
    the largest float."""
    ax = jnp.abs(x)
    far = ax > _squareplus_far(x.dtype)
    return jnp.where(far, 0.25 * b, 0.5 * b) / jnp.where(far, ax, _squareplus_root(x, b) + ax)


def _squareplus_value(x, b=4.0):
    # (x + r) / 2 = max(x, 0) + q: no cancellation for x < 0 (q itself), no overflow near the
    # largest float (x + r would; XLA may also rewrite x / 2 + r / 2 into (x + r) / 2).
    return jnp.maximum(x, 0) + _squareplus_q(x, b)


def _squareplus_d1(x, b=4.0):
    # (1 + x / r) / 2 = q for x < 0 and 1 - q for x >= 0, q = (b / 2) / (r (r + |x|)): neither
    # side cancels and +-inf gives the limits 0 and 1. Past |x| = 2**60 (r = |x|), where that
    # product overflows, q = (b / 4) / x**2, taken as (b / 4) w**2 with w = 1 / |x|: one
    # division either way.
    ax = jnp.abs(x)
    far = ax > _squareplus_far(x.dtype)
    r = _squareplus_root(x, b)
    w = 1 / jnp.where(far, ax, (r + ax) * r)
    q = jnp.where(far, (0.25 * b) * w * w, (0.5 * b) * w)
    return jnp.where(x < 0, q, 1 - q)


def _squareplus_d2(x, b=4.0):
    r = _squareplus_root(x, b)
    return (0.5 * b) / (r * (r * r))


_squareplus, _squareplus_d1_pub, _squareplus_d2_pub = _build(
    "squareplus", _squareplus_value, _squareplus_d1, _squareplus_d2,
    validate=_validate_squareplus,
)  # fmt: skip


def squareplus(x: ArrayLike, b: float = 4.0) -> jax.Array:
    r"""Squareplus (Barron 2021, https://arxiv.org/abs/2112.11687): a softplus made of a square
    root.

    .. math:: \phi(x) = \frac{x + \sqrt{x^2 + b}}{2}, \quad
       \phi'(x) = \frac12 \Bigl(1 + \frac{x}{\sqrt{x^2 + b}}\Bigr), \quad
       \phi''(x) = \frac{b}{2 (x^2 + b)^{3/2}}

    For ``x < 0`` the library evaluates ``b / (2 (sqrt(x^2 + b) - x))``: the textbook form
    cancels to 0 there (``jax.nn.squareplus(-1e10)`` is 0; the value is ``1e-10``).

    Args:
      x: floating-point array.
      b: the smoothness, ``phi(0) = sqrt(b) / 2`` (finite, > 0; ``b -> 0`` is ReLU).
        May be traced and differentiated.

    Returns:
      ``squareplus(x)`` elementwise: an array of ``x``'s shape and (floating) dtype.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.squareplus(jnp.array([-1e10, 0.0, 3.0], dtype=jnp.float32))
    Array([1.0000000e-10, 1.0000000e+00, 3.3027756e+00], dtype=float32)
    """
    return _squareplus(x, b=b)


# glu ----------------------------------------------------------------------------------------
def glu(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Gated linear unit (Dauphin et al. 2017): split ``x`` in halves ``a, b`` along ``axis``,
    return ``a * sigmoid(b)``.

    Not an elementwise activation (the output is half the size along ``axis``), so not in the
    registry; its gradient comes from :func:`sigmoid`'s closed forms.

    Args:
      x: floating-point array whose size along ``axis`` is even.
      axis: the axis to split.

    Returns:
      ``a * sigmoid(b)``, the size along ``axis`` halved.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.glu(jnp.array([[1.0, 2.0, 0.0, 100.0]], dtype=jnp.float32))
    Array([[0.5, 2. ]], dtype=float32)
    """
    arr = _as_float_array(x, "glu")
    ax = _normalize_axis("glu", axis, arr.ndim)
    n = arr.shape[ax]
    if n % 2:
        raise ValueError(f"glu: the size along axis {axis} must be even, got {n} (shape "
                         f"{arr.shape}).")  # fmt: skip
    a, b = jnp.split(arr, 2, axis=ax)
    return a * sigmoid(b)


# softmax / log_softmax ------------------------------------------------------------------------


def _normalize_axis(name: str, axis: int, ndim: int) -> int:
    """One int axis (glu, the registry's softmax Jacobians): :func:`_normalize_axes`'s checks."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}.")
    if ndim == 0:
        raise ValueError(f"{name}: needs an array with at least one dimension, got a scalar.")
    return _normalize_axes(name, axis, ndim)[0]


def _normalize_axes(name: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int, a tuple/list of ints, or ``None`` for every axis) as sorted
    non-negative axes; a TypeError or ValueError naming the bad value otherwise."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got "
                            f"{axis!r}.")  # fmt: skip
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{name}: axis {a} is out of range for an array with {ndim} dimension(s) "
                f"(valid: {-ndim} to {ndim - 1})." if ndim else
                f"{name}: axis {a} given for a scalar (use axis=None)."
            )  # fmt: skip
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis {axis!r} repeats an axis.")
    return tuple(sorted(out))


def _row_max(x, axis):
    """``max`` along ``axis`` (kept); ``-inf`` for an empty reduction. ``initial`` only then:
    it would make a weakly typed result strong."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    empty = math.prod(x.shape[a] for a in axes) == 0
    return jnp.max(x, axis=axis, keepdims=True, initial=-jnp.inf if empty else None)


def _indicator(cond, x):
    """1 where ``cond``, else 0, in ``x``'s dtype and weak type (an ``astype`` would be strong)."""
    return jnp.where(cond, jnp.ones_like(x), jnp.zeros_like(x))


def _softmax_limits(x, axis, where=None):
    """Softmax along ``axis`` (an int or a tuple) in the compute dtype, with the limits at +-inf.

    If any entry is +inf, the mass is shared equally among the +inf entries (the limit of
    ``softmax(t * e)`` along a direction with equal infinite components); a row of all -inf gives
    the uniform distribution (the limit of equal entries going to -inf). NaN anywhere in a row
    makes the row NaN. With ``where`` (a boolean mask), only the selected entries take part and
    the others are 0 (a row with none selected is all 0).
    """
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    m = _row_max(x, axis)
    pos_inf = jnp.isposinf(m)
    all_neg_inf = jnp.isneginf(m)
    shifted = jnp.where(all_neg_inf, jnp.zeros_like(x), x - jnp.where(pos_inf, 0, m))
    e = jnp.exp(jnp.where(pos_inf, jnp.zeros_like(x), shifted))
    e = jnp.where(pos_inf, _indicator(x == jnp.inf, x), e)
    if where is not None:
        e = jnp.where(where, e, 0)
    out = e / jnp.sum(e, axis=axis, keepdims=True)
    return out if where is None else jnp.where(where, out, 0)


def _log_softmax_limits(x, axis, where=None):
    """Log-softmax along ``axis``; with ``where`` the unselected entries are -inf.

    The limits need no reductions of their own (one max and one sum, as the plain formula): in
    a row whose max is +inf the shifted values are 0 on the +inf entries and -inf elsewhere, so
    the log-sum gives ``-log(count)`` on them; a row of -inf shifts to 0 on its (selected)
    entries, the uniform distribution.
    """
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    m = _row_max(x, axis)
    zeros = jnp.zeros_like(x)
    minus_inf = jnp.full_like(x, -jnp.inf)
    selected = jnp.ones_like(x, bool) if where is None else where
    limit = jnp.where(jnp.where(jnp.isposinf(m), x == jnp.inf, selected), zeros, minus_inf)
    shifted = jnp.where(jnp.isinf(m), limit, x - jnp.where(jnp.isinf(m), 0, m))
    out = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    return out if where is None else jnp.where(where, out, -jnp.inf)


def _softmax_plain(x, axis, where=None):
    """Softmax where every row's max is finite: the shifted exponentials over their sum."""
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    e = jnp.exp(x - _row_max(x, axis))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def _log_softmax_plain(x, axis, where=None):
    """Log-softmax where every row's max is finite."""
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    shifted = x - _row_max(x, axis)
    out = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    return out if where is None else jnp.where(where, out, -jnp.inf)


def _with_limits(plain, limits):
    """On the CPU: ``plain`` when every row's max is finite, else ``limits`` (infinite or NaN
    entries, an empty or fully masked row), by one ``lax.cond``: the common case then runs
    jax.nn's loops (XLA:CPU fuses the max, the shift and the exponential, which the limit
    rules' selects prevent) and the limits cost nothing there. Under ``vmap`` the condition is
    batched and both branches run; the result is the same. On other backends ``limits``
    directly: a GPU fuses it into as few kernels, where the ``cond`` cost an extra pass (2.3x
    jax.nn's softmax on an H200)."""

    def core(x, axis, where=None):
        def on_cpu(v, w):
            masked = v if w is None else jnp.where(w, v, -jnp.inf)
            finite = jnp.all(jnp.isfinite(_row_max(masked, axis)))
            return jax.lax.cond(finite, lambda a, b: plain(a, axis, b),
                                lambda a, b: limits(a, axis, b), v, w)  # fmt: skip

        return jax.lax.platform_dependent(x, where, cpu=on_cpu,
                                          default=lambda v, w: limits(v, axis, w))  # fmt: skip

    return core


_softmax_core = _with_limits(_softmax_plain, _softmax_limits)
_log_softmax_core = _with_limits(_log_softmax_plain, _log_softmax_limits)


def _make_softmax(axis: tuple[int, ...], log: bool):
    @jax.custom_jvp
    def f(x, where):
        wide = _cast(x, _compute_dtype(x.dtype))
        core = _log_softmax_core if log else _softmax_core
        return _cast(core(wide, axis, where), x.dtype)

    @f.defjvp
    def _jvp(primals, tangents):
        (x, where), (t, _) = primals, tangents
        y = f(x, where)
        # The softmax the tangent needs, from the value itself: exp(log_softmax) for log (its
        # relative error |y| eps weighs in as sum(s |y|) eps <= log(n) eps of the tangent).
        wide_y = _cast(y, _compute_dtype(x.dtype))
        s = jnp.exp(wide_y) if log else wide_y
        tw = _cast(t, wide_y.dtype)
        if where is not None:
            tw = jnp.where(where, tw, 0)  # unselected entries do not move the result
        mean_t = jnp.sum(s * tw, axis=axis, keepdims=True)
        dt = tw - mean_t if log else s * (tw - mean_t)
        if where is not None:
            dt = jnp.where(where, dt, 0)
        return y, _cast(dt, x.dtype)

    return f


@functools.cache
def _softmax_fn(axis: tuple[int, ...], log: bool):
    return _make_softmax(axis, log)


def _softmax_call(name: str, x, axis, where, log: bool) -> jax.Array:
    arr = _as_float_array(x, name, weak=False)
    axes = _normalize_axes(name, axis, arr.ndim)
    if where is not None:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"{name}: where must be a boolean array, got dtype {where.dtype}.")
        try:
            jnp.broadcast_shapes(where.shape, arr.shape)
        except ValueError:
            raise ValueError(f"{name}: where of shape {where.shape} does not broadcast to x's "
                             f"shape {arr.shape}.") from None  # fmt: skip
    return _softmax_fn(axes, log)(arr, where)


def softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = -1,
            where: ArrayLike | None = None) -> jax.Array:  # fmt: skip
    r"""Softmax along ``axis``: a probability vector, the output function for multi-class tasks.

    .. math::
       s_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j, \quad
       \frac{\partial s_i}{\partial x_j} = s_i (\delta_{ij} - s_j)

    :func:`jax.nn.softmax`'s signature. Limits: with +inf entries the mass is split equally
    among them (``jax.nn`` gives NaN); a row of -inf is uniform.

    Args:
      x: floating-point array (empty arrays give empty results).
      axis: the axis or axes to normalise over: an int, a tuple of ints, or ``None`` (all).
      where: optional boolean mask, broadcastable to ``x``: only the selected entries take
        part; the others come out 0 (and pass no gradient).

    Returns:
      An array of ``x``'s shape and (floating) dtype whose entries along ``axis`` (the
      selected ones, with ``where``) are >= 0 and sum to 1.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.softmax(jnp.array([0.0, 0.0, jnp.log(2.0)], dtype=jnp.float32))
    Array([0.25, 0.25, 0.5 ], dtype=float32)
    >>> jaxact.softmax(jnp.zeros(4, jnp.float32), where=jnp.array([True, True, False, True]))
    Array([0.33333334, 0.33333334, 0.        , 0.33333334], dtype=float32)
    """
    return _softmax_call("softmax", x, axis, where, False)


def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = -1,
                where: ArrayLike | None = None) -> jax.Array:  # fmt: skip
    r"""Log of the softmax along ``axis``, computed without forming the softmax.

    .. math:: \log s_i = x_i - m - \log \sum_j e^{x_j - m}, \quad
       \frac{\partial \log s_i}{\partial x_j} = \delta_{ij} - s_j

    :func:`jax.nn.log_softmax`'s signature.

    Args:
      x: floating-point array (empty arrays give empty results).
      axis: the axis or axes to normalise over: an int, a tuple of ints, or ``None`` (all).
      where: optional boolean mask, broadcastable to ``x``: only the selected entries take
        part; the others come out -inf (and pass no gradient).

    Returns:
      ``log(softmax(x))``: an array of ``x``'s shape and (floating) dtype, each entry <= 0.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.log_softmax(jnp.array([0.0, 0.0], dtype=jnp.float32))
    Array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _softmax_call("log_softmax", x, axis, where, True)


def _softmax_last(name, x, axis):
    arr = _as_float_array(x, name)
    ax = _normalize_axis(name, axis, arr.ndim)
    wide = jnp.moveaxis(arr.astype(_compute_dtype(arr.dtype)), ax, -1)
    return arr.dtype, wide, _softmax_core(wide, -1)


def _softmax_jacobian(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """``J[..., i, j] = s_i (delta_ij - s_j)`` with ``axis`` moved last; shape ``(..., n, n)``."""
    dtype, _, s = _softmax_last("softmax", x, axis)
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    jac = s[..., :, None] * (eye - s[..., None, :])
    return jac.astype(dtype)


def _softmax_hessian(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """``H[..., i, j, k] = s_i ((d_ij - s_j)(d_ik - s_k) - s_j (d_jk - s_k))``.

    Shape ``(..., n, n, n)``.
    """
    dtype, _, s = _softmax_last("softmax", x, axis)
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    a = eye - s[..., None, :]  # a[..., i, j] = d_ij - s_j
    term1 = a[..., :, :, None] * a[..., :, None, :]
    term2 = s[..., None, :, None] * a[..., None, :, :]
    return (s[..., :, None, None] * (term1 - term2)).astype(dtype)


def _log_softmax_jacobian(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """``J[..., i, j] = delta_ij - s_j`` with ``axis`` moved last; shape ``(..., n, n)``."""
    dtype, _, s = _softmax_last("log_softmax", x, axis)
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    return (eye - s[..., None, :]).astype(dtype)


def _log_softmax_hessian(x: ArrayLike, *, axis: int = -1) -> jax.Array:
    """``H[..., i, j, k] = -s_j (delta_jk - s_k)``, the same for every ``i``; ``(..., n, n, n)``."""
    dtype, _, s = _softmax_last("log_softmax", x, axis)
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    h = -s[..., :, None] * (eye - s[..., None, :])
    n = s.shape[-1]
    return jnp.broadcast_to(h[..., None, :, :], (*s.shape[:-1], n, n, n)).astype(dtype)


# --------------------------------------------------------------------------------------------
# Register everything. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.

_R = Interval
_register("identity", identity, _identity_d1, _identity_d2,
          output_range=_R(-_INF, _INF, False, False), max_slope=1.0, gain=1.0,
          gain_source="pytorch", saturates_left=False, saturates_right=False,
          doc="x: no non-linearity")  # fmt: skip
_register("sigmoid", sigmoid, _sigmoid_d1_pub, _sigmoid_d2_pub,
          output_range=_R(0.0, 1.0, False, False), max_slope=0.25, gain=1.0,
          gain_source="pytorch", saturates_left=True, saturates_right=True,
          doc="1 / (1 + exp(-x))")  # fmt: skip
_register("tanh", tanh, _tanh_d1, _tanh_d2,
          output_range=_R(-1.0, 1.0, False, False), max_slope=1.0, gain=5.0 / 3.0,
          gain_source="pytorch", saturates_left=True, saturates_right=True,
          doc="hyperbolic tangent")  # fmt: skip
_register("relu", relu, _relu_d1, _relu_d2,
          output_range=_R(0.0, _INF, True, False), max_slope=1.0, gain=math.sqrt(2.0),
          gain_source="pytorch", saturates_left=True, saturates_right=False,
          kinks={0.0: 0.0}, doc="max(x, 0)")  # fmt: skip
_register("leaky_relu", leaky_relu, _leaky_d1, _leaky_d2,
          output_range=_R(-_INF, _INF, False, False), max_slope=1.0,
          gain=math.sqrt(2.0 / (1.0 + 0.01**2)), gain_source="pytorch",
          saturates_left=False, saturates_right=False, kinks={0.0: 1.0},
          params={"negative_slope": 0.01}, doc="x if x >= 0 else 0.01 x")  # fmt: skip
_register("elu", elu, _elu_d1, _elu_d2,
          output_range=_R(-1.0, _INF, False, False), max_slope=1.0,
          gain=1.245198300700706550, gain_source="second-moment",
          saturates_left=True, saturates_right=False, curvature_kinks={0.0: 1.0},
          params={"alpha": 1.0}, doc="x if x > 0 else alpha (exp(x) - 1)")  # fmt: skip
_register("selu", selu, _selu_d1, _selu_d2,
          output_range=_R(-_SELU_SCALE_ALPHA, _INF, False, False), max_slope=_SELU_SCALE_ALPHA,
          gain=0.75, gain_source="pytorch", saturates_left=True, saturates_right=False,
          kinks={0.0: _SELU_SCALE_ALPHA}, doc="scale * elu(x, alpha)")  # fmt: skip
_register("celu", celu, _celu_d1, _celu_d2,
          output_range=_R(-1.0, _INF, False, False), max_slope=1.0,
          gain=1.245198300700706550, gain_source="second-moment",
          saturates_left=True, saturates_right=False, curvature_kinks={0.0: 1.0},
          params={"alpha": 1.0}, doc="x if x > 0 else alpha (exp(x / alpha) - 1)")  # fmt: skip
_register("gelu", gelu_exact, _gelu_d1_pub, _gelu_d2_pub,
          output_range=_R(-0.16997120747990366169, _INF, True, False),
          max_slope=1.1289041451851547863, gain=1.5335304411955352338,
          gain_source="second-moment", saturates_left=True, saturates_right=False,
          doc="x Phi(x), exact")  # fmt: skip
_register("gelu_tanh", gelu_tanh, _gelu_tanh_d1_pub, _gelu_tanh_d2_pub,
          output_range=_R(-0.17004075057125405064, _INF, True, False),
          max_slope=1.1289930686587717655, gain=1.5335805216661469181,
          gain_source="second-moment", saturates_left=True, saturates_right=False,
          doc="x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))")  # fmt: skip
_register("softplus", softplus, _softplus_d1, _softplus_d2,
          output_range=_R(0.0, _INF, False, False), max_slope=1.0,
          gain=1.0418668355353017080, gain_source="second-moment",
          saturates_left=True, saturates_right=False, doc="log(1 + exp(x))")  # fmt: skip
_register("silu", silu, _silu_d1_pub, _silu_d2_pub,
          output_range=_R(-0.27846454276107379511, _INF, True, False),
          max_slope=1.0998393201288669170, gain=1.6765324703310911586,
          gain_source="second-moment", saturates_left=True, saturates_right=False,
          doc="x sigmoid(x), a.k.a. swish")  # fmt: skip
_register("mish", mish, _mish_d1_pub, _mish_d2_pub,
          output_range=_R(-0.30884341301725040663, _INF, True, False),
          max_slope=1.0884981612517278612, gain=1.4868475812732081020,
          gain_source="second-moment", saturates_left=True, saturates_right=False,
          doc="x tanh(softplus(x))")  # fmt: skip
_register("softsign", softsign, _softsign_d1_pub, _softsign_d2_pub,
          output_range=_R(-1.0, 1.0, False, False), max_slope=1.0,
          gain=2.3375333631085396599, gain_source="second-moment",
          saturates_left=True, saturates_right=True, curvature_kinks={0.0: 0.0},
          doc="x / (1 + |x|)")  # fmt: skip
_register("hard_sigmoid", hard_sigmoid, _hard_sigmoid_d1, _hard_sigmoid_d2,
          output_range=_R(0.0, 1.0, True, True), max_slope=1.0 / 6.0,
          gain=1.8978404247295589879, gain_source="second-moment",
          saturates_left=True, saturates_right=True, kinks={-3.0: 0.0, 3.0: 0.0},
          doc="relu6(x + 3) / 6")  # fmt: skip
_register("hard_tanh", hard_tanh, _hard_tanh_d1, _hard_tanh_d2,
          output_range=_R(-1.0, 1.0, True, True), max_slope=1.0,
          gain=1.3920361404483097513, gain_source="second-moment",
          saturates_left=True, saturates_right=True, kinks={-1.0: 1.0, 1.0: 1.0},
          doc="clip(x, -1, 1)")  # fmt: skip
_register("relu6", relu6, _relu6_d1, _relu6_d2,
          output_range=_R(0.0, 6.0, True, True), max_slope=1.0,
          gain=1.4142135650950736514, gain_source="second-moment",
          saturates_left=True, saturates_right=True, kinks={0.0: 0.0, 6.0: 0.0},
          doc="min(max(x, 0), 6)")  # fmt: skip
_register("log_sigmoid", log_sigmoid, _log_sigmoid_d1, _log_sigmoid_d2,
          output_range=_R(-_INF, 0.0, False, False), max_slope=1.0,
          gain=1.0418668355353017080, gain_source="second-moment",
          saturates_left=False, saturates_right=True, doc="log(sigmoid(x))")  # fmt: skip
_register("hard_silu", hard_silu, _hard_silu_d1, _hard_silu_d2,
          output_range=_R(-0.375, _INF, True, False), max_slope=1.5,
          gain=1.7366572127665416197, gain_source="second-moment",
          saturates_left=True, saturates_right=False, kinks={-3.0: 0.0, 3.0: 1.0},
          doc="x relu6(x + 3) / 6, a.k.a. hard swish")  # fmt: skip
_register("sparse_plus", sparse_plus, _sparse_plus_d1, _sparse_plus_d2,
          output_range=_R(0.0, _INF, True, False), max_slope=1.0,
          gain=1.3803368628588103886, gain_source="second-moment",
          saturates_left=True, saturates_right=False, curvature_kinks={-1.0: 0.0, 1.0: 0.0},
          doc="0, (x + 1)^2 / 4 or x")  # fmt: skip
_register("sparse_sigmoid", sparse_sigmoid, _sparse_sigmoid_d1, _sparse_sigmoid_d2,
          output_range=_R(0.0, 1.0, True, True), max_slope=0.5,
          gain=1.6243215587888254836, gain_source="second-moment",
          saturates_left=True, saturates_right=True, kinks={-1.0: 0.25, 1.0: 0.25},
          doc="clip(x + 1, 0, 2) / 2")  # fmt: skip
_register("squareplus", squareplus, _squareplus_d1_pub, _squareplus_d2_pub,
          output_range=_R(0.0, _INF, False, False), max_slope=1.0,
          gain=math.sqrt(2.0 / 3.0), gain_source="second-moment",
          saturates_left=True, saturates_right=False, params={"b": 4.0},
          doc="(x + sqrt(x^2 + b)) / 2")  # fmt: skip
_register("softmax", softmax, _softmax_jacobian, _softmax_hessian,
          output_range=_R(0.0, 1.0, False, False), max_slope=0.25, gain=1.0,
          gain_source="pytorch", saturates_left=True, saturates_right=True,
          params={"axis": -1}, elementwise=False,
          doc="exp(x_i) / sum_j exp(x_j), along an axis")  # fmt: skip
_register("log_softmax", log_softmax, _log_softmax_jacobian, _log_softmax_hessian,
          output_range=_R(-_INF, 0.0, False, False), max_slope=1.0, gain=1.0,
          gain_source="pytorch", saturates_left=False, saturates_right=True,
          params={"axis": -1}, elementwise=False,
          doc="log softmax, along an axis")  # fmt: skip

#: Read-only mapping from registry name to :class:`Activation`.
ACTIVATIONS: Mapping[str, Activation] = types.MappingProxyType(_REGISTRY)

#: Alternative names accepted by :func:`get_activation`.
ALIASES: Mapping[str, str] = types.MappingProxyType(
    {"swish": "silu", "hard_swish": "hard_silu", "soft_sign": "softsign"}
)


_USER_REGISTERED: set[str] = set()

# Where metadata is estimated for a registered activation: both signs of 0, 1e-3 .. 1e3 on a
# log scale, and a fine linear grid over [-10, 10] where most of the structure lies.
_PROBE = np.unique(
    np.concatenate(
        [-np.logspace(-3, 3, 601), [0.0], np.logspace(-3, 3, 601), np.linspace(-10, 10, 2001)]
    )
)
# A derivative disagreeing with autodiff by more than this, relative to max(|phi'|, sup |phi'|),
# is a wrong formula, not rounding: float32 rounding differences are ~1e-6 of the scale.
_CHECK_RTOL = 1e-3


def _check_against_autodiff(name, label, fn, closed, order, kinks) -> None:
    """Raise ValueError where ``closed`` and autodiff of ``fn`` disagree on the probe grid (away
    from ``kinks``), by :func:`jaxact.accuracy.check_derivative` in float32."""
    eps = float(np.finfo(np.float32).eps)
    (r,) = accuracy.check_derivative(fn, closed, order=order, dtypes=(jnp.float32,),
                                    ulps=_CHECK_RTOL / eps, kinks=kinks, points=_PROBE,
                                    raise_on_failure=False)  # fmt: skip
    if not r.passed:
        raise ValueError(
            f"register_activation({name!r}): the {label} disagrees with autodiff of the "
            f"function at x = {r.worst_input!r}: {r.got!r} against {r.expected!r} (relative "
            f"error {r.max_ulps * eps:.3g} > {_CHECK_RTOL}). Check the formula, or list the "
            "point in kinks= if the derivative jumps there."
        )


def _second_moment_gain(fn, params) -> float:
    """``1 / sqrt(E[phi(z)**2])`` for ``z ~ N(0, 1)``, by 96-point Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(96)
    v = np.asarray(fn(jnp.asarray(z, jnp.float32), **params), np.float64)
    m2 = float(np.sum(w * v * v) / np.sqrt(2 * np.pi))
    if not (math.isfinite(m2) and m2 > 0):
        raise ValueError(f"cannot estimate a gain: E[phi(z)^2] = {m2!r}; pass gain=.")
    return 1 / math.sqrt(m2)


def register_activation(
    name: str,
    fn: Callable[..., jax.Array],
    derivative: Callable[..., jax.Array],
    second_derivative: Callable[..., jax.Array] | None = None,
    *,
    params: Mapping[str, float] | None = None,
    output_range: tuple[float, float] | Interval | None = None,
    max_slope: float | None = None,
    gain: float | None = None,
    saturates_left: bool | None = None,
    saturates_right: bool | None = None,
    kinks: Mapping[float, float] | None = None,
    curvature_kinks: Mapping[float, float] | None = None,
    doc: str = "",
    check: bool = True,
) -> Activation:
    r"""Add your own activation, with its closed-form derivatives, to the registry.

    The returned record (also ``jaxact.ACTIVATIONS[name]``) is accepted wherever a registry
    name is: :func:`jaxact.get_activation`, :func:`jaxact.init_mlp` and the MLP, training,
    attenuation, sweeps, :mod:`jaxact.theory`, and :func:`jaxact.diagnose`, which finds its
    sites in any model (the record's ``fn`` shows up in a jaxpr as ``jaxact_<name>``).

    ``record.fn`` is your formula wrapped like the built-in activations: ``jax.grad`` and the
    other transformations use *your* ``derivative`` (and ``second_derivative`` for second
    order), 16-bit inputs are computed in float32 and rounded once, integers are promoted, and
    hyperparameters in ``params`` are traceable and differentiable.

    Args:
      name: a Python identifier not yet in the registry (nor an alias).
      fn: ``phi(x, **params)``, elementwise, written with ``jax.numpy``.
      derivative: closed-form ``phi'(x, **params)``.
      second_derivative: closed-form ``phi''``; if omitted, autodiff of ``derivative``.
      params: hyperparameters and their defaults, e.g. ``{"beta": 1.0}``.
      output_range: ``(low, high)`` (closed) or an :class:`Interval`; estimated from values on
        a grid over [-1000, 1000] if omitted (an estimate: give it when you know it).
      max_slope: ``sup |phi'|``; estimated on the same grid if omitted.
      gain: initialisation gain; default the second-moment gain
        ``1 / sqrt(E[phi(z)**2])``, ``z ~ N(0, 1)`` (``gain_source="second-moment"``).
      saturates_left: whether ``phi' -> 0`` at -inf; estimated from
        ``|phi'(-1000)| < 1e-6 max_slope`` if omitted.
      saturates_right: the same at +inf.
      kinks: ``{x0: value}``, points where ``phi'`` jumps and the value your derivative gives
        there (excluded from the check below).
      curvature_kinks: the same for ``phi''``.
      doc: one-line description.
      check: compare ``derivative`` (and a given ``second_derivative``) with autodiff of
        ``fn`` (of ``derivative``) in float32 on the grid; a relative disagreement beyond
        1e-3 of ``max(|phi'|, sup |phi'|)`` raises. For a full accuracy check against a
        high-precision reference, use :func:`jaxact.testing.check_activation` in your tests.

    Returns:
      The new :class:`Activation`.

    Raises:
      ValueError: a name already registered or not an identifier, a failed check, ``fn`` or
        ``derivative`` not finite anywhere, a ``gain`` that is not > 0, ``output_range`` with
        low > high, or metadata that cannot be estimated. TypeError: ``fn``/``derivative`` not
        callable.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> rec = jaxact.register_activation(
    ...     "doc_swish_beta", lambda x, beta=1.0: x * jax.nn.sigmoid(beta * x),
    ...     lambda x, beta=1.0: (s := jax.nn.sigmoid(beta * x)) * (1 + beta * x * (1 - s)),
    ...     params={"beta": 1.0}, output_range=(-0.2785, float("inf")))
    >>> float(jax.grad(rec.fn)(1.0))  # the closed form above, through jax.grad
    0.92767...
    >>> jaxact.get_activation("doc_swish_beta") is rec
    True
    >>> jaxact.unregister_activation("doc_swish_beta")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register_activation: name must be a Python identifier, got {name!r}.")
    if name in _REGISTRY or name in ALIASES:
        what = "registered by you (unregister_activation first)" if name in _USER_REGISTERED \
            else "a built-in activation"  # fmt: skip
        raise ValueError(f"register_activation: {name!r} is already {what}.")
    for label, f in (("fn", fn), ("derivative", derivative)):
        if not callable(f):
            raise TypeError(f"register_activation: {label} must be callable, got {f!r}.")
    if second_derivative is not None and not callable(second_derivative):
        raise TypeError(f"register_activation: second_derivative must be callable or None, "
                        f"got {second_derivative!r}.")  # fmt: skip
    defaults = dict(params or {})
    for k, v in defaults.items():
        if not (isinstance(k, str) and k.isidentifier()):
            raise ValueError(
                f"register_activation: parameter names must be identifiers, got {k!r}."
            )
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise TypeError(f"register_activation: default of {k!r} must be a number, got {v!r}.")
    kinks = dict(kinks or {})
    curvature_kinks = dict(curvature_kinks or {})
    second = second_derivative or accuracy.autodiff_derivative(derivative)

    checked, _ = _elementwise(name, fn, derivative, second, defaults=defaults)
    value_fn, d1_fn, d2_fn = checked(name, "value"), checked(name, "d1"), checked(name, "d2")
    value_fn.__name__ = value_fn.__qualname__ = name
    value_fn.__doc__ = doc or getattr(fn, "__doc__", None) or f"User activation {name!r}."

    if gain is not None:
        gain = check_finite_number(f"register_activation({name!r}): gain", gain, positive=True)
    if max_slope is not None and not (
        isinstance(max_slope, int | float) and not isinstance(max_slope, bool) and max_slope >= 0
    ):
        raise ValueError(f"register_activation({name!r}): max_slope must be a number >= 0 "
                         f"(inf allowed), got {max_slope!r}.")  # fmt: skip
    if output_range is not None:
        low, high = ((output_range.low, output_range.high) if isinstance(output_range, Interval)
                     else tuple(output_range))  # fmt: skip
        if not (low <= high):  # NaN fails too
            raise ValueError(f"register_activation({name!r}): output_range must be (low, high) "
                             f"with low <= high, got {output_range!r}.")  # fmt: skip
    plain = jax.jit(lambda x: fn(x, **defaults))
    d1_plain = jax.jit(lambda x: derivative(x, **defaults))
    for label, f in (("fn", plain), ("derivative", d1_plain)):
        if not np.isfinite(np.asarray(f(jnp.asarray(_PROBE, jnp.float32)))).any():
            raise ValueError(f"register_activation({name!r}): {label} is not finite anywhere on "
                             "the grid over [-1000, 1000] (NaN or inf everywhere).")  # fmt: skip
    if check:
        _check_against_autodiff(name, "derivative", plain, d1_plain, 1, list(kinks))
        if second_derivative is not None:
            _check_against_autodiff(name, "second derivative", d1_plain,
                                    lambda x: second_derivative(x, **defaults), 1,
                                    list(kinks) + list(curvature_kinks))  # fmt: skip
    x = jnp.asarray(_PROBE, jnp.float32)
    if max_slope is None:
        d = np.asarray(d1_plain(x), np.float64)
        max_slope = float(np.max(np.abs(d[np.isfinite(d)]), initial=0))
    # |phi'| at -+1000: ~0 means saturated on that side (and a bounded output range there).
    ends = np.abs(np.asarray(d1_plain(jnp.asarray([-1e3, 1e3], jnp.float32)), np.float64))
    if output_range is None:
        v = np.asarray(plain(x), np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            raise ValueError(f"register_activation({name!r}): fn is not finite on the grid.")
        # Still moving at the grid's end (phi' not ~0 there): unbounded on that side.
        moving = ends >= 1e-6 * max(float(max_slope), 1e-30)
        low = -_INF if moving[0] and v.min() == v[0] else float(v.min())
        high = _INF if moving[1] and v.max() == v[-1] else float(v.max())
        output_range = Interval(low, high, math.isfinite(low), math.isfinite(high))
    elif not isinstance(output_range, Interval):
        low, high = output_range
        output_range = Interval(float(low), float(high), True, True)
    if saturates_left is None:
        saturates_left = bool(ends[0] < 1e-6 * max_slope)
    if saturates_right is None:
        saturates_right = bool(ends[1] < 1e-6 * max_slope)
    gain_source = "user"
    if gain is None:
        gain, gain_source = _second_moment_gain(fn, defaults), "second-moment"
    _register(name, value_fn, d1_fn, d2_fn, output_range=output_range,
              max_slope=float(max_slope), gain=float(gain), gain_source=gain_source,
              saturates_left=saturates_left, saturates_right=saturates_right, kinks=kinks,
              curvature_kinks=curvature_kinks, params=defaults,
              doc=doc or f"user activation {name}")  # fmt: skip
    _USER_REGISTERED.add(name)
    return _REGISTRY[name]


def unregister_activation(name: str) -> None:
    """Remove an activation added with :func:`register_activation` (built-ins stay).

    Args:
      name: the name it was registered under.

    Returns:
      None; ``name`` is no longer in ``jaxact.ACTIVATIONS`` (and can be registered again).

    Raises:
      ValueError: ``name`` is built in, or not registered.

    >>> import jax.numpy as jnp, jaxact
    >>> rec = jaxact.register_activation("cube_root_demo", lambda x: jnp.cbrt(x),
    ...     lambda x: jnp.cbrt(x) / (3 * x), kinks={0.0: jnp.inf}, check=False)
    >>> "cube_root_demo" in jaxact.ACTIVATIONS
    True
    >>> jaxact.unregister_activation("cube_root_demo")
    >>> "cube_root_demo" in jaxact.ACTIVATIONS
    False
    """
    if name not in _USER_REGISTERED:
        what = "a built-in activation" if name in _REGISTRY else "not registered"
        raise ValueError(f"unregister_activation: {name!r} is {what}; only activations added "
                         "with register_activation can be removed.")  # fmt: skip
    _USER_REGISTERED.discard(name)
    del _REGISTRY[name]


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation record by name (or alias); a record is passed through unchanged.

    Args:
      name: a registry name (``jaxact.ACTIVATIONS``), an alias (``jaxact.ALIASES``: ``"swish"``,
        ``"soft_sign"``, ``"hard_swish"``) or an :class:`Activation` record.

    Returns:
      The :class:`Activation` record: ``fn``, ``derivative``, ``second_derivative`` and the
      metadata (``output_range``, ``max_slope``, ``kinks``, ``saturating``, ``gain``, ...).

    Raises:
      ValueError: for an unknown name; the message lists the valid names and the closest match.
      TypeError: for anything that is neither a string nor an :class:`Activation`.

    >>> import jaxact
    >>> jaxact.get_activation("swish").name
    'silu'
    >>> jaxact.get_activation("relu").max_slope
    1.0
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(
            "get_activation expects a registry name (str) or an Activation, "
            f"got {type(name).__name__}."
        )
    key = ALIASES.get(name, name)
    if key in ACTIVATIONS:
        return ACTIVATIONS[key]
    valid = sorted([*ACTIVATIONS, *ALIASES])
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown activation {name!r}.{hint} Valid names: {', '.join(valid)}.")


def activation_fn(activation: str | Activation | Callable[[jax.Array], jax.Array]) -> Callable:
    """The function to apply for ``activation``: a registry name, a record or a callable.

    A callable (``jax.nn.gelu``, ``functools.partial(jaxact.leaky_relu, negative_slope=0.2)``,
    a lambda) is returned as it is; names and records give their ``fn``.

    Args:
      activation: a registry name or alias, an :class:`Activation` record, or a callable.

    Returns:
      A function of one array (plus the record's keyword hyperparameters, for a record).

    Raises:
      ValueError: an unknown name (with the closest match).
      TypeError: anything else.

    >>> import functools, jaxact
    >>> activation_fn("relu") is jaxact.relu
    True
    >>> f = functools.partial(jaxact.leaky_relu, negative_slope=0.2)
    >>> activation_fn(f) is f
    True
    """
    if isinstance(activation, (str, Activation)):
        return get_activation(activation).fn
    if callable(activation):
        return activation
    raise TypeError(
        "activation must be a registry name (str), an Activation or a callable, "
        f"got {type(activation).__name__}."
    )


def activation_name(activation: str | Activation | Callable[[jax.Array], jax.Array]) -> str:
    """The registry name of a name or record; a callable's ``__name__`` (or its wrapped
    function's, for a ``functools.partial``), else ``"custom"``.

    Args:
      activation: a registry name or alias, an :class:`Activation` record, or a callable.

    Returns:
      The name as a string (aliases give the registry name: ``"swish"`` -> ``"silu"``).

    >>> import functools, jaxact
    >>> activation_name("swish"), activation_name(functools.partial(jaxact.elu, alpha=2.0))
    ('silu', 'elu')
    """
    if isinstance(activation, (str, Activation)):
        return get_activation(activation).name
    fn = activation_fn(activation)
    fn = getattr(fn, "func", fn)
    return getattr(fn, "__name__", "custom")
