"""Helpers for the accuracy tests: ulp errors, test grids, and the backend's subnormal behaviour."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

FLOAT_DTYPES = (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64)


def finfo(dtype):
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == jnp.bfloat16 else np.finfo(dtype)


def flushes_subnormals(dtype) -> bool:
    """Whether this backend flushes subnormals of ``dtype`` (float32/float64) to zero.

    XLA:CPU runs with flush-to-zero and denormals-are-zero for both; we test rather than assume:
    ``exp(x)`` with ``x`` half-way into the subnormal range is an op the compiler cannot fold.
    """
    fi = np.finfo(dtype)
    x = np.asarray(np.log(float(fi.tiny)) - 2.0, dtype)
    return float(jax.jit(jnp.exp)(x)) == 0.0


def flush_threshold(dtype) -> float:
    """Magnitude below which a correct result may come out as 0 on this backend.

    bfloat16 (whose exponent range is float32's) is computed in float32 arithmetic; float16 is
    computed in float32 too, where its subnormals are normal numbers, so it keeps them.
    """
    if np.dtype(dtype) == np.dtype(jnp.float16):
        return 0.0
    compute = np.float64 if np.dtype(dtype) == np.dtype(np.float64) else np.float32
    return float(np.finfo(compute).tiny) if flushes_subnormals(compute) else 0.0


def inputs_read_as_zero(points: np.ndarray, dtype) -> np.ndarray:
    """Mask of inputs that a flushing backend reads as zero (subnormal in the compute dtype)."""
    return (np.abs(points) < flush_threshold(dtype)) & (points != 0)


def ulp_of(ref: np.ndarray, dtype) -> np.ndarray:
    """Spacing of ``dtype`` at each ``ref`` (float64 array): the size of one ulp there."""
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
    """Both signs of: 0, the smallest subnormal, the smallest normal, decades up to max, max."""
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
    """A dense grid through the interesting range, extended far enough to reach every tail."""
    lim = {2: 20.0, 4: 110.0, 8: 800.0}[np.dtype(dtype).itemsize]
    if np.dtype(dtype) == jnp.bfloat16:
        lim = 110.0
    core = np.linspace(-12.0, 12.0, n)
    tails = np.linspace(-lim, lim, n)
    pts = np.concatenate([core, tails]).astype(dtype).astype(np.float64)
    return np.unique(pts)


def all_finite_values(dtype) -> np.ndarray:
    """Every finite value of a 16-bit float type, as float64."""
    bits = np.arange(2**16, dtype=np.uint16)
    vals = bits.view(dtype)
    finite = np.isfinite(vals.astype(np.float32))
    return np.unique(vals[finite].astype(np.float64))
