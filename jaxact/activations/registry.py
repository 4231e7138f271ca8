"""The catalogue's registry: :class:`Activation` records by name, :data:`ACTIVATIONS`, how a
built-in is entered (:func:`register_builtin`), and a user's own activations
(:func:`register_activation`, :func:`unregister_activation`); :func:`get_activation`,
:func:`activation_fn`, :func:`activation_name` resolve a name, record or callable.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact import accuracy
from jaxact.activations.building import INF, elementwise
from jaxact.checks import check_finite_number

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
      jax_nn: the name of ``jax.nn``'s function that computes the same activation (``None`` for
        an activation of your own): a model that calls it is diagnosed as this activation, and
        the tests compare the two.
      jax_nn_kwargs: keyword arguments that make ``jax.nn``'s function this one
        (``{"approximate": False}`` for the exact GELU).
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
    jax_nn: str | None = None
    jax_nn_kwargs: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )

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
# Registry construction


_REGISTRY: dict[str, Activation] = {}


def register_builtin(
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
    jax_nn: str | None = None,
    jax_nn_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Enter a built-in activation in the registry (each family module does, for its own);
    the arguments are :class:`Activation`'s fields.

    Args:
      name: registry name.
      fn: the public function.
      derivative: its closed-form first derivative.
      second_derivative: its closed-form second derivative.
      output_range: as in :class:`Activation`.
      max_slope: as in :class:`Activation`.
      gain: as in :class:`Activation`.
      gain_source: as in :class:`Activation`.
      saturates_left: as in :class:`Activation`.
      saturates_right: as in :class:`Activation`.
      kinks: as in :class:`Activation`.
      curvature_kinks: as in :class:`Activation`.
      params: as in :class:`Activation`.
      elementwise: as in :class:`Activation`.
      doc: as in :class:`Activation`.
      jax_nn: as in :class:`Activation`.
      jax_nn_kwargs: as in :class:`Activation`.

    Returns:
      None; ``ACTIVATIONS[name]`` is the new record.
    """
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
        jax_nn=jax_nn,
        jax_nn_kwargs=types.MappingProxyType(dict(jax_nn_kwargs or {})),
    )


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

    checked, _ = elementwise(name, fn, derivative, second, defaults=defaults)
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
        low = -INF if moving[0] and v.min() == v[0] else float(v.min())
        high = INF if moving[1] and v.max() == v[-1] else float(v.max())
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
    register_builtin(name, value_fn, d1_fn, d2_fn, output_range=output_range,
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


def arrange_builtins(order) -> None:
    """List the built-ins in ``order`` first in the registry (each family registers its own as
    its module loads; :data:`ACTIVATIONS` keeps the catalogue's order: ``BUILTIN_ORDER``).

    Args:
      order: registry names, every built-in once.

    Returns:
      None; the registry is rearranged in place.
    """
    missing = [n for n in order if n not in _REGISTRY]
    if missing:
        raise ValueError(f"arrange_builtins: not registered: {missing}")
    rest = {k: v for k, v in _REGISTRY.items() if k not in order}
    arranged = {k: _REGISTRY[k] for k in order}
    _REGISTRY.clear()
    _REGISTRY.update(arranged)
    _REGISTRY.update(rest)
