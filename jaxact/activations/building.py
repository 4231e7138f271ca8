"""How jaxact builds a built-in activation: the numerical building blocks every family shares.

Not the user API (``jaxact.activations`` is): the wrapper that turns three formulas (value,
``phi'``, ``phi''``) into a ``jax.nn``-compatible function whose ``custom_jvp`` tangents are the
closed forms (:func:`elementwise`, :func:`build`, :func:`with_closed_form_jvp`), the dtype
handling (16-bit computed in float32, integers promoted as ``jax.nn`` does), argument checks,
and the kernels two families share (the sigmoid and softplus formulas).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

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


def as_float_array(x: ArrayLike, name: str, *, weak: bool = True) -> jax.Array:
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
    return cast(out, dtype)


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


def compute_dtype(dtype) -> np.dtype:
    """float32 for the 16-bit types (computed wide, rounded once), otherwise the dtype itself."""
    return np.dtype(jnp.float32) if jnp.finfo(dtype).bits < 32 else np.dtype(dtype)


def cast(x: jax.Array, dtype) -> jax.Array:
    """``x`` in ``dtype``; no cast where it already is, so a weakly typed array (a Python
    scalar's) stays weak and cannot promote the arrays it meets."""
    return x if x.dtype == dtype else x.astype(dtype)


def _widened(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Evaluate an elementwise formula in the compute dtype and round the result back once."""

    @functools.wraps(fn)
    def wrapper(x, **params):
        return cast(fn(cast(x, compute_dtype(x.dtype)), **params), x.dtype)

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
    return cast(out, y.dtype)


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
# Elementwise formulas, in the compute dtype. Each takes x (float32 or float64).


def sigmoid_pair(x):
    """``(sigmoid(x), sigmoid(-x))``, both to about 1 ulp, from one exp of ``-|x|``."""
    # One division: e / (1 + e) as e * (1 / (1 + e)) costs one more rounding (under 2 ulp in
    # all), and keeps XLA from splitting the formula into several loops around two divisions.
    e = jnp.exp(-jnp.abs(x))
    big = 1 / (1 + e)
    small = e * big
    pos = x >= 0
    return jnp.where(pos, big, small), jnp.where(pos, small, big)


def sigmoid_value(x):
    return sigmoid_pair(x)[0]


def sigmoid_d1(x):
    s, t = sigmoid_pair(x)
    return s * t


def softplus_value(x):
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def zeros(x, **_):
    return jnp.zeros_like(x)


def ones(x, **_):
    return jnp.ones_like(x)


def step(cond, x, high=1.0, low=0.0):
    # full_like keeps x's dtype and weak type (jnp.asarray(high, x.dtype) would be strong).
    return jnp.where(cond, jnp.full_like(x, high), jnp.full_like(x, low))


def check_positive(name: str, param: str, value) -> None:
    if isinstance(value, (int, float)) and not value > 0:
        raise ValueError(f"{name}: {param} must be > 0, got {value!r}.")


def check_finite(name: str, param: str, value) -> None:
    if isinstance(value, (int, float)) and not math.isfinite(value):
        raise ValueError(f"{name}: {param} must be finite, got {value!r}.")


def _is_default(name: str, value, defaults: Mapping[str, Any]) -> bool:
    return type(value) in (int, float) and name in defaults and value == defaults[name]


def elementwise(name, value, first, second, *, validate=None, defaults=None):
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
            arr = as_float_array(raw, fn_name)
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


def build(name, value, first, second, validate=None):
    checked, _ = elementwise(name, value, first, second, validate=validate)
    return checked(name, "value"), checked(name, "d1"), checked(name, "d2")


INF = math.inf
