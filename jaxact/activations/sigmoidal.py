"""Saturating curves: the logistic sigmoid, tanh, softsign and log-sigmoid, each beside its
closed-form derivatives and its registry entry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact.activations.building import INF, build, sigmoid_d1, sigmoid_value, softplus_value
from jaxact.activations.registry import Interval, register_builtin


def _sigmoid_d2(x):
    # sigma'' = sigma' (1 - 2 sigma) = -sigma' tanh(x / 2), with no cancellation.
    return -sigmoid_d1(x) * jnp.tanh(0.5 * x)


def _sech2(x):
    """``sech(x)**2 = 4 e / (1 + e)**2``, ``e = exp(-2|x|)``: no ``1 - tanh**2`` cancellation."""
    e = jnp.exp(-2 * jnp.abs(x))
    return 4 * e / ((1 + e) * (1 + e))


def _softsign_value(x):
    return jnp.where(jnp.isinf(x), jnp.sign(x), x / (1 + jnp.abs(x)))


def _softsign_d1(x):
    d = 1 + jnp.abs(x)
    return 1 / (d * d)


def _softsign_d2(x):
    d = 1 + jnp.abs(x)
    return -2 * jnp.sign(x) / (d * d * d)


# sigmoid ------------------------------------------------------------------------------------
_sigmoid, _sigmoid_d1_pub, _sigmoid_d2_pub = build(
    "sigmoid", sigmoid_value, sigmoid_d1, _sigmoid_d2
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
_tanh, _tanh_d1, _tanh_d2 = build(
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


# softsign -----------------------------------------------------------------------------------
_softsign, _softsign_d1_pub, _softsign_d2_pub = build(
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


# log sigmoid --------------------------------------------------------------------------------
_log_sigmoid, _log_sigmoid_d1, _log_sigmoid_d2 = build(
    "log_sigmoid",
    lambda x: -softplus_value(-x),
    lambda x: sigmoid_value(-x),
    lambda x: -sigmoid_d1(x),
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


# --------------------------------------------------------------------------------------------
# Registry entries. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.
register_builtin(
    "sigmoid",
    sigmoid,
    _sigmoid_d1_pub,
    _sigmoid_d2_pub,
    output_range=Interval(0.0, 1.0, False, False),
    max_slope=0.25,
    gain=1.0,
    gain_source="pytorch",
    saturates_left=True,
    saturates_right=True,
    doc="1 / (1 + exp(-x))",
    jax_nn="sigmoid",
)
register_builtin(
    "tanh",
    tanh,
    _tanh_d1,
    _tanh_d2,
    output_range=Interval(-1.0, 1.0, False, False),
    max_slope=1.0,
    gain=5.0 / 3.0,
    gain_source="pytorch",
    saturates_left=True,
    saturates_right=True,
    doc="hyperbolic tangent",
    jax_nn="tanh",
)
register_builtin(
    "softsign",
    softsign,
    _softsign_d1_pub,
    _softsign_d2_pub,
    output_range=Interval(-1.0, 1.0, False, False),
    max_slope=1.0,
    gain=2.3375333631085396599,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=True,
    curvature_kinks={0.0: 0.0},
    doc="x / (1 + |x|)",
    jax_nn="soft_sign",
)
register_builtin(
    "log_sigmoid",
    log_sigmoid,
    _log_sigmoid_d1,
    _log_sigmoid_d2,
    output_range=Interval(-INF, 0.0, False, False),
    max_slope=1.0,
    gain=1.0418668355353017080,
    gain_source="second-moment",
    saturates_left=False,
    saturates_right=True,
    doc="log(sigmoid(x))",
    jax_nn="log_sigmoid",
)
