"""Output functions along an axis: softmax and log-softmax (with ``where``), and the gated
linear unit; their registry entries carry the Jacobian and Hessian in closed form.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact.activations.building import INF, as_float_array, cast, compute_dtype
from jaxact.activations.registry import Interval, register_builtin
from jaxact.activations.sigmoidal import sigmoid


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
    arr = as_float_array(x, "glu")
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
        wide = cast(x, compute_dtype(x.dtype))
        core = _log_softmax_core if log else _softmax_core
        return cast(core(wide, axis, where), x.dtype)

    @f.defjvp
    def _jvp(primals, tangents):
        (x, where), (t, _) = primals, tangents
        y = f(x, where)
        # The softmax the tangent needs, from the value itself: exp(log_softmax) for log (its
        # relative error |y| eps weighs in as sum(s |y|) eps <= log(n) eps of the tangent).
        wide_y = cast(y, compute_dtype(x.dtype))
        s = jnp.exp(wide_y) if log else wide_y
        tw = cast(t, wide_y.dtype)
        if where is not None:
            tw = jnp.where(where, tw, 0)  # unselected entries do not move the result
        mean_t = jnp.sum(s * tw, axis=axis, keepdims=True)
        dt = tw - mean_t if log else s * (tw - mean_t)
        if where is not None:
            dt = jnp.where(where, dt, 0)
        return y, cast(dt, x.dtype)

    return f


@functools.cache
def _softmax_fn(axis: tuple[int, ...], log: bool):
    return _make_softmax(axis, log)


def _softmax_call(name: str, x, axis, where, log: bool) -> jax.Array:
    arr = as_float_array(x, name, weak=False)
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
    arr = as_float_array(x, name)
    ax = _normalize_axis(name, axis, arr.ndim)
    wide = jnp.moveaxis(arr.astype(compute_dtype(arr.dtype)), ax, -1)
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
# Registry entries. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.
register_builtin(
    "softmax",
    softmax,
    _softmax_jacobian,
    _softmax_hessian,
    output_range=Interval(0.0, 1.0, False, False),
    max_slope=0.25,
    gain=1.0,
    gain_source="pytorch",
    saturates_left=True,
    saturates_right=True,
    params={"axis": -1},
    elementwise=False,
    doc="exp(x_i) / sum_j exp(x_j), along an axis",
    jax_nn="softmax",
)
register_builtin(
    "log_softmax",
    log_softmax,
    _log_softmax_jacobian,
    _log_softmax_hessian,
    output_range=Interval(-INF, 0.0, False, False),
    max_slope=1.0,
    gain=1.0,
    gain_source="pytorch",
    saturates_left=False,
    saturates_right=True,
    params={"axis": -1},
    elementwise=False,
    doc="log softmax, along an axis",
    jax_nn="log_softmax",
)
