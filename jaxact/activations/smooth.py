"""Smooth rectifiers: softplus, squareplus, SiLU (swish), mish and the GELUs (exact and tanh
form), each beside its closed-form derivatives, its accurate far tails and its registry entry.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact import special
from jaxact.activations.building import (
    INF,
    build,
    check_finite,
    check_positive,
    sigmoid_d1,
    sigmoid_pair,
    sigmoid_value,
    softplus_value,
)
from jaxact.activations.registry import Interval, register_builtin

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715
# 2 sqrt(2/pi) and 2 sqrt(2/pi) * 0.044715 as double words (hi: nearest float64, lo: the rest),
# from tools/constants.py.
_GELU_TANH_A = (1.5957691216057308, -9.96930880911092e-17)
_GELU_TANH_B = (0.07135481627260025, -6.175149918155315e-19)


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
    sig, _ = sigmoid_pair(x)
    xs = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * s)
    return t + xs * sig


def _mish_d2(x):
    # Beyond |x| = 1e4 the result is exactly 0 in every dtype (S or sigma underflows); clamping
    # keeps x * (...) from overflowing into 0 * inf.
    x = jnp.clip(x, -1e4, 1e4)
    t, s = _mish_parts(x)
    sig, sig_neg = sigmoid_pair(x)
    # f'' = S sigma (2 + x (sigma(-x) - 2 T sigma)).
    inner = 2 + x * (sig_neg - 2 * t * sig)
    return s * sig * inner


def _silu_d1(x):
    s, t = sigmoid_pair(x)
    # sigma(x) (1 + x sigma(-x)); x sigma(-x) -> 0 at +inf, and the product -> 0 at -inf.
    xt = jnp.where(jnp.isposinf(x), jnp.zeros_like(x), x * t)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), s * (1 + xt))


def _silu_d2(x):
    s, t = sigmoid_pair(x)
    # sigma'(x) (2 - x tanh(x / 2)); x sigma' -> 0 at both infinities.
    sp = s * t
    xsp = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * sp)
    return 2 * sp - xsp * jnp.tanh(0.5 * x)


# gelu ---------------------------------------------------------------------------------------
_gelu, _gelu_d1_pub, _gelu_d2_pub = build("gelu", _gelu_value, _gelu_d1, _gelu_d2)


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
_gelu_tanh, _gelu_tanh_d1_pub, _gelu_tanh_d2_pub = build(
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
_softplus, _softplus_d1, _softplus_d2 = build("softplus", softplus_value, sigmoid_value, sigmoid_d1)


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
_silu, _silu_d1_pub, _silu_d2_pub = build(
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
_mish, _mish_d1_pub, _mish_d2_pub = build("mish", _mish_value, _mish_d1, _mish_d2)


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


# squareplus ---------------------------------------------------------------------------------
def _validate_squareplus(b=4.0):
    check_positive("squareplus", "b", b)
    check_finite("squareplus", "b", b)


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


_squareplus, _squareplus_d1_pub, _squareplus_d2_pub = build(
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


# --------------------------------------------------------------------------------------------
# Registry entries. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.
register_builtin(
    "gelu",
    gelu_exact,
    _gelu_d1_pub,
    _gelu_d2_pub,
    output_range=Interval(-0.16997120747990366169, INF, True, False),
    max_slope=1.1289041451851547863,
    gain=1.5335304411955352338,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    doc="x Phi(x), exact",
    jax_nn="gelu",
    jax_nn_kwargs={"approximate": False},
)
register_builtin(
    "gelu_tanh",
    gelu_tanh,
    _gelu_tanh_d1_pub,
    _gelu_tanh_d2_pub,
    output_range=Interval(-0.17004075057125405064, INF, True, False),
    max_slope=1.1289930686587717655,
    gain=1.5335805216661469181,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    doc="x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))",
    jax_nn="gelu",
    jax_nn_kwargs={"approximate": True},
)
register_builtin(
    "softplus",
    softplus,
    _softplus_d1,
    _softplus_d2,
    output_range=Interval(0.0, INF, False, False),
    max_slope=1.0,
    gain=1.0418668355353017080,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    doc="log(1 + exp(x))",
    jax_nn="softplus",
)
register_builtin(
    "silu",
    silu,
    _silu_d1_pub,
    _silu_d2_pub,
    output_range=Interval(-0.27846454276107379511, INF, True, False),
    max_slope=1.0998393201288669170,
    gain=1.6765324703310911586,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    doc="x sigmoid(x), a.k.a. swish",
    jax_nn="silu",
)
register_builtin(
    "mish",
    mish,
    _mish_d1_pub,
    _mish_d2_pub,
    output_range=Interval(-0.30884341301725040663, INF, True, False),
    max_slope=1.0884981612517278612,
    gain=1.4868475812732081020,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    doc="x tanh(softplus(x))",
    jax_nn="mish",
)
register_builtin(
    "squareplus",
    squareplus,
    _squareplus_d1_pub,
    _squareplus_d2_pub,
    output_range=Interval(0.0, INF, False, False),
    max_slope=1.0,
    gain=math.sqrt(2.0 / 3.0),
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    params={"b": 4.0},
    doc="(x + sqrt(x^2 + b)) / 2",
    jax_nn="squareplus",
)
