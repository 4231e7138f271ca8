"""Numerical building blocks shared by the activations: compensated arithmetic and the normal CDF.

Everything here works in the *compute dtype* (float32 or float64); 16-bit inputs are promoted
before they get here. Nothing in this module is public API.

Two ideas carry the accuracy of :func:`jaxact.gelu` and :func:`jaxact.gelu_tanh` in their far
negative tails, where the result is ``x * exp(-(something large))``:

* **Exact squares.** ``exp(-x**2 / 2)`` is ill-conditioned in its argument: one rounding of
  ``x**2`` (relative error ``eps``) becomes a relative error ``x**2 / 2 * eps`` of the result, about
  50 ulp at ``x = -10``. Splitting ``x**2 = hi + lo`` exactly (Dekker's product, no FMA needed) and
  computing ``exp(-hi/2) * (1 - lo/2)`` removes it.
* **erfcx instead of erfc.** ``erfc(t) = exp(-t**2) * erfcx(t)`` where the scaled complementary
  error function ``erfcx`` is smooth and well-conditioned on ``[0, inf)``. We evaluate it as a
  Chebyshev series in ``y = (t - 2) / (t + 2)`` (Shepherd & Laframboise 1981), whose coefficients
  come from ``tools/fit_erfcx.py``. XLA's own ``erfc`` is off by up to ~60 ulp (float32) and ~500
  ulp (float64) in the tail, and by ~7 ulp on ``[0.5, 1)``, which is why we do not use it.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

# Chebyshev coefficients of g(y) = (1 + 2t) erfcx(t), t = 2 (1 + y) / (1 - y);
# see tools/fit_erfcx.py.
_ERFCX_CHEBYSHEV = (
    1.1760066555883003561,
    0.025779673870048208077,
    -0.10659315067778503348,
    0.038808879574483821125,
    -0.0054148999308937250185,
    -0.00040815257282372385078,
    0.00019843768248553526267,
    0.0000098425327760481267487,
    -0.0000077632655610628584436,
    -0.000000717400145752968298,
    0.00000031406949555818431489,
    0.000000061884236695461442653,
    -0.0000000098906199344922144089,
    -0.0000000045953996225101798457,
    -0.000000000071805877281770854367,
    0.00000000026296183336364044356,
    0.000000000048677340566079037294,
    -0.0000000000080268041937590186312,
    -0.000000000004779133570845297642,
    -0.0000000000004347012647846439861,
    0.00000000000024123142738461999107,
    0.000000000000086109005212771380483,
    0.0000000000000025947648983616920333,
    -0.0000000000000058722543815262457986,
    -0.0000000000000017019328812377443319,
    0.000000000000000013873587349466420332,
    0.00000000000000014092174494755557794,
    0.000000000000000038412755939327227462,
    -0.00000000000000000071153425700823638356,
    -0.0000000000000000034804375466829413926,
    -0.00000000000000000099273105767197922074,
    -0.0000000000000000000012876769453590723483,
)
_ERFCX_K = 2.0


def dekker_split_constant(dtype) -> float:
    """``2**s + 1``, ``s = ceil(mantissa bits / 2)``: splits a float into two half-width parts."""
    mantissa = np.finfo(dtype).nmant + 1
    return float(2 ** ((mantissa + 1) // 2) + 1)


def two_prod(a, b):
    """Return ``(p, e)`` with ``p = fl(a * b)`` and ``p + e == a * b`` exactly (Dekker 1971).

    Valid while ``|a|`` and ``|b|`` are below ``sqrt(max) / 2**(s)`` (no overflow in the split);
    callers clamp their inputs far inside that.
    """
    c = dekker_split_constant(a.dtype)
    p = a * b
    ta = c * a
    a_hi = ta - (ta - a)
    a_lo = a - a_hi
    tb = c * b
    b_hi = tb - (tb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def two_sum(a, b):
    """Return ``(s, e)`` with ``s = fl(a + b)`` and ``s + e == a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def split_constant(hi64: float, lo64: float, dtype) -> tuple[float, float]:
    """A constant given as float64 double word ``hi64 + lo64``, re-split for ``dtype``.

    Both parts are Python floats holding values exactly representable in ``dtype``, so they
    enter arithmetic as weakly typed constants: exact, and a weakly typed input stays weak.
    """
    hi = float(np.asarray(hi64, dtype))
    lo = float(np.asarray((hi64 - hi) + lo64, dtype))
    return hi, lo


def exp_double(hi, lo):
    """``exp(hi + lo)`` for a double-word argument with ``|lo| <= ulp(hi)``."""
    return jnp.exp(hi) * (1 + lo)


# exp_scaled multiplies by 2**SCALE_BITS inside the exponential; callers multiply their final
# result by UNSCALE. 64 ln 2 as a double word: hi is the float64 nearest, lo the rest.
SCALE_BITS = 64
UNSCALE = 2.0**-SCALE_BITS
_SCALE_LOG_HI = 44.3614195558365
_SCALE_LOG_LO = 1.4841899608616317e-15


def exp_scaled(hi, lo):
    """``exp(hi + lo) * 2**64`` for a double-word argument.

    Products such as ``x * exp(-big)`` are normal numbers even where the exponential alone is
    subnormal (and flushed to zero by XLA in float32). Computing the exponential scaled up and
    multiplying the finished product by ``UNSCALE`` (exact for a power of two) rounds once, at
    the end, instead of losing the factor to underflow.
    """
    dtype = hi.dtype
    c_hi, c_lo = split_constant(_SCALE_LOG_HI, _SCALE_LOG_LO, dtype)
    s_hi, s_lo = two_sum(hi, jnp.full_like(hi, c_hi))
    return exp_double(s_hi, s_lo + (lo + c_lo))


def exp_neg_half_square(x, *, scaled=False):
    """``exp(-x**2 / 2)`` without the rounding error of ``x**2`` (see module docstring).

    Inputs with ``|x|`` beyond where the result underflows are clamped internally first, so the
    exact product cannot overflow; the result there is 0 either way.
    """
    big = underflow_abscissa(x.dtype)
    xc = jnp.clip(x, -big, big)
    hi, lo = two_prod(xc, xc)
    if scaled:
        return exp_scaled(-0.5 * hi, -0.5 * lo)
    return exp_double(-0.5 * hi, -0.5 * lo)


def underflow_abscissa(dtype) -> float:
    """A value ``b`` with ``exp(-b**2 / 2)`` below the smallest subnormal of ``dtype``."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    return float(np.ceil(np.sqrt(-2.0 * np.log(tiny)))) + 1.0


def _erfcx_terms(dtype) -> int:
    """How many Chebyshev terms ``dtype`` needs: the dropped ones sum to under eps / 16
    (|T_j| <= 1), so truncation adds at most 1/16 ulp (13 terms for float32, 28 for float64)."""
    eps = float(np.finfo(dtype).eps)
    for k in range(len(_ERFCX_CHEBYSHEV) + 1):
        if sum(abs(c) for c in _ERFCX_CHEBYSHEV[k:]) < eps / 16:
            return k
    return len(_ERFCX_CHEBYSHEV)


def erfcx(t):
    """Scaled complementary error function ``exp(t**2) * erfc(t)`` for ``t >= 0`` (and ``+inf``).

    Relative error about 1 ulp in float32 and float64 (checked against mpmath in the tests).
    """
    dtype = t.dtype
    coeffs = _ERFCX_CHEBYSHEV[: _erfcx_terms(dtype)]
    finite_t = jnp.where(jnp.isinf(t), 0.0, t)
    y = jnp.where(jnp.isinf(t), 1.0, (finite_t - _ERFCX_K) / (finite_t + _ERFCX_K))
    # Clenshaw recurrence for sum_j c_j T_j(y).
    b1 = jnp.zeros_like(y)
    b2 = jnp.zeros_like(y)
    two_y = 2 * y
    for c in coeffs[:0:-1]:
        b1, b2 = two_y * b1 - b2 + float(np.asarray(c, dtype)), b1
    g = y * b1 - b2 + float(np.asarray(coeffs[0], dtype))
    return jnp.where(jnp.isinf(t), 0.0, g / (1 + 2 * finite_t))


def normal_cdf_tail(x, *, scaled=False):
    """``(Phi(-|x|), phi(x))``: the smaller tail of the standard normal CDF, and its density.

    ``Phi(-|x|) = exp(-x**2/2) * erfcx(|x| / sqrt 2) / 2`` with the exact-square exponential, so
    both come out accurate to a few ulp down to the underflow threshold. With ``scaled=True`` both
    are multiplied by ``2**64`` (see :func:`exp_scaled`).
    """
    dtype = x.dtype
    g = exp_neg_half_square(x, scaled=scaled)
    tail = 0.5 * g * erfcx(jnp.abs(x) * float(np.asarray(np.sqrt(0.5), dtype)))
    pdf = g * float(np.asarray(1.0 / np.sqrt(2.0 * np.pi), dtype))
    return tail, pdf


def normal_cdf(x):
    """Standard normal CDF ``Phi(x)``, accurate in both tails (relative error a few ulp)."""
    tail, _ = normal_cdf_tail(x)
    return jnp.where(x < 0, tail, 1 - tail)
