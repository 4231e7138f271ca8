"""Accuracy in ulps: a function against a high-precision reference, a closed-form derivative
against autodiff, over grids that reach every corner of a float dtype.

The core of :mod:`jaxact.testing` (which re-exports every name here and adds
:func:`~jaxact.testing.check_activation` for registry records): the catalogue checks the
derivatives a user registers with these (:func:`jaxact.register_activation`), so they live in
the core, below the activations, and import nothing of jaxact.

* :func:`check_derivative`: a closed-form ``phi'`` (or ``phi''``) against autodiff of the
  formula, over a dense grid, the dtype's extremes (subnormals to max) and several dtypes;
  the error is counted in ulps of ``max(|phi'(x)|, sup |phi'|)``.
* :func:`check_values`: a function against a high-precision reference (mpmath, or a float64
  formula), in ulps of each result; inputs a flushing backend reads as 0 may give ``phi(0)``.

Each check returns :class:`CheckResult` records and, unless ``raise_on_failure=False``, raises
``AssertionError`` with one line per failure (:func:`raise_failures`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "CheckResult",
    "all_finite_values",
    "autodiff_derivative",
    "check_derivative",
    "check_values",
    "default_points",
    "dense_points",
    "extreme_points",
    "finfo",
    "flush_threshold",
    "flushes_subnormals",
    "inputs_read_as_zero",
    "raise_failures",
    "ulp_error",
    "ulp_of",
]

#: The floating dtypes the checks run in by default.
FLOAT_DTYPES = (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64)


def finfo(dtype):
    """Machine limits of a float dtype, bfloat16 included (which ``np.finfo`` does not know).

    Args:
      dtype: a floating dtype (``float16``, ``bfloat16``, ``float32``, ``float64``).

    Returns:
      ``np.finfo(dtype)``, or ``ml_dtypes.finfo`` for bfloat16: ``eps``, ``tiny``, ``max``, ...

    >>> from jaxact.accuracy import finfo
    >>> float(finfo("bfloat16").eps), float(finfo("float32").eps)
    (0.0078125, 1.1920928955078125e-07)
    """
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == jnp.bfloat16 else np.finfo(dtype)


def flushes_subnormals(dtype) -> bool:
    """Whether this backend flushes subnormals of ``dtype`` (float32/float64) to zero.

    XLA:CPU runs with flush-to-zero and denormals-are-zero for both; we test rather than assume:
    ``exp(x)`` with ``x`` half-way into the subnormal range is an op the compiler cannot fold.

    Args:
      dtype: ``float32`` or ``float64``.

    Returns:
      ``True`` where a subnormal result comes out as 0 (XLA:CPU), ``False`` where it is kept.

    >>> import jax
    >>> from jaxact.accuracy import flushes_subnormals
    >>> flushes_subnormals("float32") == (jax.default_backend() == "cpu")
    True
    """
    fi = np.finfo(dtype)
    x = np.asarray(np.log(float(fi.tiny)) - 2.0, dtype)
    return float(jax.jit(jnp.exp)(x)) == 0.0


def flush_threshold(dtype) -> float:
    """Magnitude below which a correct result may come out as 0 on this backend.

    bfloat16 (whose exponent range is float32's) is computed in float32 arithmetic; float16 is
    computed in float32 too, where its subnormals are normal numbers, so it keeps them.

    Args:
      dtype: the result's dtype.

    Returns:
      The smallest normal number of the dtype the result is computed in, where this backend
      flushes its subnormals; 0.0 where it keeps them (and for float16).

    >>> import jax
    >>> from jaxact.accuracy import flush_threshold
    >>> flush_threshold("float16")
    0.0
    >>> flush_threshold("float32") in (0.0, 1.1754943508222875e-38)
    True
    """
    if np.dtype(dtype) == np.dtype(jnp.float16):
        return 0.0
    compute = np.float64 if np.dtype(dtype) == np.dtype(np.float64) else np.float32
    return float(np.finfo(compute).tiny) if flushes_subnormals(compute) else 0.0


def inputs_read_as_zero(points: np.ndarray, dtype) -> np.ndarray:
    """Mask of inputs that a flushing backend reads as zero (subnormal in the compute dtype).

    Args:
      points: float64 array of inputs (any shape).
      dtype: the dtype they are given in.

    Returns:
      A boolean array of ``points``' shape: True where the backend may read the input as 0.

    >>> import numpy as np
    >>> from jaxact.accuracy import inputs_read_as_zero, flush_threshold
    >>> mask = inputs_read_as_zero(np.array([1e-45, 1.0]), "float32")
    >>> mask.tolist() == [flush_threshold("float32") > 0, False]
    True
    """
    return (np.abs(points) < flush_threshold(dtype)) & (points != 0)


def ulp_of(ref: np.ndarray, dtype) -> np.ndarray:
    """Spacing of ``dtype`` at each ``ref`` (float64 array): the size of one ulp there.

    Args:
      ref: float64 array of reference values.
      dtype: the dtype whose spacing is wanted.

    Returns:
      float64 array of ``ref``'s shape: the distance from ``|ref|`` (rounded to ``dtype``) to the
      next larger value of ``dtype``; at 0 and below the smallest normal, the smallest subnormal's
      spacing.

    >>> import numpy as np
    >>> from jaxact.accuracy import ulp_of
    >>> ulp_of(np.array([1.0, 2.0]), "float32").tolist()
    [1.1920928955078125e-07, 2.384185791015625e-07]
    """
    fi = finfo(dtype)
    nmant = int(fi.nmant)
    tiny = float(fi.tiny)
    a = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log2(np.maximum(a, tiny)))
    return np.exp2(exponent - nmant)


def ulp_error(got, ref, dtype) -> np.ndarray:
    """|got - ref| in ulps of ``dtype`` at ``ref``, with equal infinities and NaNs counting 0.

    Where the backend flushes subnormals (see :func:`flush_threshold`), a reference below the
    smallest normal number counts as exact when the result is within that threshold of it.

    Args:
      got: the computed values (any float array; converted to float64).
      ref: float64 reference values, same shape.
      dtype: the dtype ``got`` was computed in: the ulp is this dtype's spacing at ``ref``.

    Returns:
      float64 array of the common shape: the error in ulps (0 where both are the same infinity
      or both NaN; ``inf`` where only one of them is NaN or infinite).

    >>> import numpy as np
    >>> from jaxact.accuracy import ulp_error
    >>> ulp_error(np.float32(1.0) + np.float32(2**-22), np.array(1.0), "float32")
    array(2.)
    """
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - ref) / ulp_of(ref, dtype)
    both_nan = np.isnan(got) & np.isnan(ref)
    # A reference that rounds past the dtype's max overflows: the result must be that infinity.
    with np.errstate(over="ignore"):
        rounded = ref.astype(dtype).astype(np.float64)
    over = np.isinf(rounded)
    same_inf = np.isinf(got) & over & (np.sign(got) == np.sign(rounded))
    err = np.where(over & ~same_inf, np.inf, err)
    flush = flush_threshold(dtype)
    with np.errstate(invalid="ignore"):
        flushed_ok = (np.abs(ref) < flush) & (np.abs(got - ref) <= flush)
    return np.where(both_nan | same_inf | flushed_ok, 0.0, err)


def extreme_points(dtype) -> np.ndarray:
    """Both signs of: 0, the smallest subnormal, the smallest normal, decades up to max, max.

    Args:
      dtype: a floating dtype.

    Returns:
      Sorted float64 array of values representable in ``dtype``.

    >>> from jaxact.accuracy import extreme_points
    >>> pts = extreme_points("float16")
    >>> float(pts.min()), float(pts.max()), 0.0 in pts
    (-65504.0, 65504.0, True)
    """
    fi = finfo(dtype)
    tiny = float(fi.tiny)
    big = float(fi.max)
    mags = [0.0, float(fi.smallest_subnormal), tiny, big]
    with np.errstate(over="ignore"):
        mags += list(np.geomspace(tiny, big, 80))
    mags += [0.5, 1.0, 2.0, 3.0, 6.0, 10.0, 30.0, 100.0]
    pts = np.array(sorted({m for m in mags} | {-m for m in mags}), np.float64)
    return np.unique(pts.astype(dtype).astype(np.float64))


def dense_points(dtype, n: int = 2001) -> np.ndarray:
    """A dense grid through the interesting range, extended far enough to reach every tail.

    Args:
      dtype: a floating dtype (its range sets how far the grid reaches).
      n: points of the central linear part (the tails add a logarithmic part on each side).

    Returns:
      Sorted float64 array of distinct values representable in ``dtype``.

    >>> from jaxact.accuracy import dense_points
    >>> pts = dense_points("float32", 101)
    >>> bool((pts[1:] > pts[:-1]).all()), len(pts) > 101
    (True, True)
    """
    lim = {2: 20.0, 4: 110.0, 8: 800.0}[np.dtype(dtype).itemsize]
    if np.dtype(dtype) == jnp.bfloat16:
        lim = 110.0
    core = np.linspace(-12.0, 12.0, n)
    tails = np.linspace(-lim, lim, n)
    pts = np.concatenate([core, tails]).astype(dtype).astype(np.float64)
    return np.unique(pts)


def all_finite_values(dtype) -> np.ndarray:
    """Every finite value of a 16-bit float type, as float64.

    Args:
      dtype: ``float16`` or ``bfloat16``.

    Returns:
      float64 array of every finite value, sorted, each once (-0 and +0 are one value).

    >>> from jaxact.accuracy import all_finite_values
    >>> len(all_finite_values("float16"))  # 2**16 patterns, less 2 * 1024 inf/NaN, less -0
    63487
    """
    bits = np.arange(2**16, dtype=np.uint16)
    vals = bits.view(dtype)
    finite = np.isfinite(vals.astype(np.float32))
    return np.unique(vals[finite].astype(np.float64))


# ----------------------------------------------------------------------------------------------
# Checks


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check in one dtype: the worst point and its error in ulps.

    Attributes:
      what: what was compared, e.g. ``"my_act' vs autodiff"``.
      dtype: the dtype's name.
      n_points: inputs checked.
      max_ulps: the largest error, in ulps (of the result, or of the scale for derivatives).
      tolerance: the allowed error, in the same ulps.
      worst_input: the input where the error is largest.
      got, expected: the result and the reference there.
    """

    what: str
    dtype: str
    n_points: int
    max_ulps: float
    tolerance: float
    worst_input: float
    got: float
    expected: float

    @property
    def passed(self) -> bool:
        return bool(self.max_ulps <= self.tolerance)

    def __str__(self) -> str:
        status = "ok" if self.passed else "FAILED"
        return (f"{status}: {self.what} [{self.dtype}, {self.n_points} points]: worst at "
                f"x = {self.worst_input!r}: got {self.got!r}, expected {self.expected!r}, "
                f"{self.max_ulps:.3g} ulp (allowed {self.tolerance:g})")  # fmt: skip


def raise_failures(results: list[CheckResult], raise_on_failure: bool = True) -> list[CheckResult]:
    """The end of every check: an ``AssertionError`` with one line per failed result (unless
    ``raise_on_failure`` is false), else the results.

    Args:
      results: the :class:`CheckResult` records of a check.
      raise_on_failure: raise when one failed.

    Returns:
      ``results``, unchanged.

    Raises:
      AssertionError: a result failed (its line: the worst input, got, expected, ulps).

    >>> from jaxact.accuracy import CheckResult, raise_failures
    >>> ok = CheckResult("tanh", "float32", 10, 0.5, 4.0, 0.1, 0.0997, 0.0997)
    >>> raise_failures([ok]) == [ok]
    True
    """
    failed = [r for r in results if not r.passed]
    if failed and raise_on_failure:
        raise AssertionError("\n".join(str(r) for r in failed))
    return results


def default_points(dtype) -> np.ndarray:
    """The grid the checks use by default: :func:`dense_points` and :func:`extreme_points`.

    Args:
      dtype: a floating dtype.

    Returns:
      Sorted float64 array of distinct values representable in ``dtype``.

    >>> import numpy as np
    >>> from jaxact.accuracy import default_points, extreme_points
    >>> bool(np.isin(extreme_points("float32"), default_points("float32")).all())
    True
    """
    return np.unique(np.concatenate([dense_points(dtype, 801), extreme_points(dtype)]))


def _points(points, dtype) -> np.ndarray:
    """``points`` (default :func:`default_points`) rounded to ``dtype``, sorted, as float64."""
    if points is None:
        return default_points(dtype)
    return np.unique(np.asarray(points, np.float64).astype(dtype).astype(np.float64))


def _as_dtype_list(dtypes) -> list:
    if isinstance(dtypes, (str, np.dtype, type)):
        dtypes = (dtypes,)
    out = []
    for d in dtypes:
        try:
            dt = np.dtype(d)
        except TypeError:
            raise TypeError(f"not a dtype: {d!r}") from None
        if dt.kind != "f" and dt != jnp.bfloat16:
            raise TypeError(f"checks need floating-point dtypes, got {dt}")
        if dt == np.float64 and not jax.config.jax_enable_x64:
            continue  # float64 is unavailable without x64; checked where it is enabled
        out.append(dt)
    if not out:
        raise ValueError(f"no usable dtype in {list(dtypes)!r} (float64 needs jax_enable_x64)")
    return out


def _worst(what, dtype, pts, got, ref, err, tol) -> CheckResult:
    err = np.where(np.isnan(err), np.inf, err)  # a NaN error (NaN where a number was due) fails
    worst = int(np.argmax(err)) if err.size else 0
    return CheckResult(what, np.dtype(dtype).name, int(pts.size),
                       float(err[worst]) if err.size else 0.0, float(tol),
                       float(pts[worst]), float(got[worst]), float(ref[worst]))  # fmt: skip


def _away_from(pts: np.ndarray, kinks: Iterable[float], margin: float = 1e-2) -> np.ndarray:
    kinks = list(kinks)
    if not kinks:
        return pts
    return pts[np.all([np.abs(pts - k) > margin for k in kinks], axis=0)]


def _eval(fn, pts, dtype) -> np.ndarray:
    return np.asarray(jnp.asarray(jax.jit(fn)(jnp.asarray(pts, dtype))).astype(jnp.float32 if
                      np.dtype(dtype).itemsize < 8 else jnp.float64), np.float64)  # fmt: skip


def autodiff_derivative(fn: Callable[..., jax.Array], order: int = 1) -> Callable:
    """``(x, **params) -> d^order fn(x, **params) / dx^order`` for an elementwise ``fn``, by
    forward-mode autodiff (a unit tangent); keyword parameters pass through to ``fn``.

    Args:
      fn: an elementwise function ``fn(x, **params)``.
      order: 1 or 2.

    Returns:
      A function of ``x`` (any shape) and ``fn``'s keyword parameters, returning the derivative
      elementwise, same shape and dtype.

    >>> import jax.numpy as jnp
    >>> from jaxact.accuracy import autodiff_derivative
    >>> float(autodiff_derivative(jnp.sin, 2)(jnp.float32(0.5)))  # -sin(0.5)
    -0.4794255495071411
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")

    def d1(x, **params):
        return jax.jvp(lambda v: fn(v, **params), (x,), (jnp.ones_like(x),))[1]

    return d1 if order == 1 else autodiff_derivative(d1, 1)


def check_derivative(
    fn: Callable[[jax.Array], jax.Array],
    derivative: Callable[[jax.Array], jax.Array],
    *,
    order: int = 1,
    dtypes: Sequence[Any] = (jnp.float32, jnp.float64),
    ulps: float = 32,
    kinks: Iterable[float] = (),
    points: np.ndarray | None = None,
    name: str | None = None,
    raise_on_failure: bool = True,
) -> list[CheckResult]:
    """Check a closed-form derivative against autodiff of the function.

    For each dtype, ``derivative(x)`` and ``order``-th forward-mode autodiff of ``fn`` are
    evaluated (jitted) on ``points``; the error at each point is
    ``|closed - autodiff| / (eps * max(|autodiff(x)|, max over the grid of |autodiff|))``: ulps
    of the larger of the value and the derivative's scale, so a cancellation near a zero of
    ``phi'`` is not an error while an error of the size of ``phi'`` is. Points where autodiff
    returns NaN are left out (``n_points`` counts those compared).

    Pass the *formula* as ``fn``: autodiff of a function that already has a custom derivative
    (a registry record's ``fn``) returns that derivative, and the check proves only the wiring.

    Args:
      fn: elementwise ``phi(x)``.
      derivative: closed-form ``phi'`` (``order=1``) or ``phi''`` (``order=2``).
      order: 1 or 2.
      dtypes: dtypes to check in (float64 is skipped unless x64 is enabled).
      ulps: allowed error, in ulps of the scale (see above).
      kinks: points where the derivative jumps; points within 1e-2 of them are skipped.
      points: inputs (float64 array, rounded to each dtype); default :func:`default_points`.
      name: label in the report (default ``fn.__name__``).
      raise_on_failure: raise ``AssertionError`` with the report if any dtype fails.

    Returns:
      One :class:`CheckResult` per dtype.

    >>> import jax, jax.numpy as jnp
    >>> from jaxact import accuracy
    >>> res = accuracy.check_derivative(jnp.tanh, lambda x: 1 / jnp.cosh(x) ** 2,
    ...                                dtypes=(jnp.float32,))
    >>> res[0].passed
    True
    >>> accuracy.check_derivative(jnp.tanh, lambda x: 1 - jnp.tanh(x), dtypes=(jnp.float32,))
    Traceback (most recent call last):
    AssertionError: FAILED: tanh' vs autodiff [float32, ...
    """
    label = name or getattr(fn, "__name__", "fn")
    primes = "'" * order
    ref_fn = autodiff_derivative(fn, order)
    results = []
    for dtype in _as_dtype_list(dtypes):
        pts = _away_from(_points(points, dtype), kinks)
        got = _eval(derivative, pts, dtype)
        ref = _eval(ref_fn, pts, dtype)
        # Where autodiff of the formula is NaN (0 * inf in a naive formula's tail) it is no
        # reference; those points are left out (a NaN from the closed form where autodiff is
        # finite still counts).
        usable = ~np.isnan(ref)
        pts, got, ref = pts[usable], got[usable], ref[usable]
        finite = np.isfinite(ref)
        scale = np.maximum(np.abs(ref), np.max(np.abs(ref[finite]), initial=0.0))
        eps = float(finfo(dtype).eps)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            err = np.abs(got - ref) / (np.maximum(scale, float(finfo(dtype).tiny)) * eps)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref))
        err = np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
        results.append(_worst(f"{label}{primes} vs autodiff", dtype, pts, got, ref, err, ulps))
    return raise_failures(results, raise_on_failure)


def check_values(
    fn: Callable[[jax.Array], jax.Array],
    reference: Callable[[np.ndarray], Any],
    *,
    dtypes: Sequence[Any] = (jnp.float32, jnp.float64),
    ulps: float = 8,
    points: np.ndarray | None = None,
    name: str | None = None,
    raise_on_failure: bool = True,
) -> list[CheckResult]:
    """Check ``fn`` against a high-precision reference, in ulps of each result.

    ``reference`` takes a float64 numpy array of inputs (already rounded to the dtype) and
    returns the exact results as float64 (or anything ``np.asarray`` turns into float64, e.g.
    a list of mpmath values converted with ``float``). Errors follow :func:`ulp_error`: equal
    infinities and NaNs count 0, a reference beyond the dtype's max must come out as that
    infinity, and where the backend flushes subnormals an input it reads as 0 may give
    ``fn(0)`` and a subnormal reference may come out flushed.

    Args:
      fn: the function under test.
      reference: high-precision ``phi`` on float64 inputs.
      dtypes: dtypes to check in (float64 is skipped unless x64 is enabled).
      ulps: allowed error in ulps of the result's dtype.
      points: inputs; default :func:`default_points` (or, for 16-bit dtypes, try
        :func:`all_finite_values` for an exhaustive check).
      name: label in the report.
      raise_on_failure: raise ``AssertionError`` with the report if any dtype fails.

    Returns:
      One :class:`CheckResult` per dtype.

    >>> import numpy as np, jax.numpy as jnp
    >>> from jaxact import accuracy
    >>> accuracy.check_values(jnp.tanh, np.tanh, dtypes=(jnp.float32,))[0].passed
    True
    """
    label = name or getattr(fn, "__name__", "fn")
    results = []
    for dtype in _as_dtype_list(dtypes):
        pts = _points(points, dtype)
        ref = np.asarray(reference(pts), np.float64).reshape(pts.shape)
        got = _eval(fn, pts, dtype)
        err = ulp_error(got, ref, dtype)
        daz = inputs_read_as_zero(pts, dtype)
        if daz.any():
            at_zero = float(np.asarray(reference(np.zeros(1)), np.float64).ravel()[0])
            err = np.where(daz, np.minimum(err, ulp_error(got, np.full_like(ref, at_zero),
                                                          dtype)), err)  # fmt: skip
        results.append(_worst(f"{label} vs reference", dtype, pts, got, ref, err, ulps))
    return raise_failures(results, raise_on_failure)
