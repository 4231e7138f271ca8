"""Piecewise-linear activations and their relatives: identity, ReLU, leaky ReLU, ReLU6, the
hard sigmoid, tanh and SiLU, sparse plus and the sparse sigmoid - each function beside its
closed-form derivatives and its registry entry (kinks and the value the gradient takes there).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact.activations.building import INF, build, check_finite, ones, step, zeros
from jaxact.activations.registry import Interval, register_builtin

# identity -----------------------------------------------------------------------------------
_identity, _identity_d1, _identity_d2 = build("identity", lambda x: x, ones, zeros)


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


# relu ---------------------------------------------------------------------------------------
_relu, _relu_d1, _relu_d2 = build(
    "relu", lambda x: jnp.maximum(x, 0), lambda x: step(x > 0, x), zeros
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
    check_finite("leaky_relu", "negative_slope", negative_slope)


_leaky, _leaky_d1, _leaky_d2 = build(
    "leaky_relu",
    lambda x, negative_slope=0.01: jnp.where(x >= 0, x, negative_slope * x),
    lambda x, negative_slope=0.01: step(x >= 0, x, 1.0, negative_slope),
    zeros,
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


# hard sigmoid -------------------------------------------------------------------------------
_hard_sigmoid, _hard_sigmoid_d1, _hard_sigmoid_d2 = build(
    "hard_sigmoid",
    lambda x: jnp.clip(x + 3, 0, 6) / 6,
    lambda x: step((x > -3) & (x < 3), x, 1.0 / 6.0),
    zeros,
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
_hard_tanh, _hard_tanh_d1, _hard_tanh_d2 = build(
    "hard_tanh",
    lambda x: jnp.clip(x, -1, 1),
    lambda x: step((x >= -1) & (x <= 1), x),
    zeros,
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
_relu6, _relu6_d1, _relu6_d2 = build(
    "relu6",
    lambda x: jnp.clip(x, 0, 6),
    lambda x: step((x > 0) & (x < 6), x),
    zeros,
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


# hard silu ----------------------------------------------------------------------------------
_hard_silu, _hard_silu_d1, _hard_silu_d2 = build(
    "hard_silu",
    # x <= -3 gives 0 (not x * 0, which is NaN at -inf); x >= 3 gives x itself (x * 6 / 6 would
    # overflow near the largest float).
    lambda x: jnp.where(x <= -3, jnp.zeros_like(x), jnp.where(x >= 3, x, x * (x + 3) / 6)),
    lambda x: jnp.where(
        x <= -3, jnp.zeros_like(x), jnp.where(x >= 3, jnp.ones_like(x), (2 * x + 3) / 6)
    ),
    lambda x: step((x > -3) & (x < 3), x, 1.0 / 3.0),
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


_sparse_plus, _sparse_plus_d1, _sparse_plus_d2 = build(
    "sparse_plus",
    lambda x: jnp.where(x <= -1, jnp.zeros_like(x), jnp.where(x >= 1, x, (x + 1) ** 2 / 4)),
    _sparse_sigmoid_value,
    lambda x: step((x > -1) & (x < 1), x, 0.5),
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


_sparse_sigmoid, _sparse_sigmoid_d1, _sparse_sigmoid_d2 = build(
    "sparse_sigmoid",
    _sparse_sigmoid_value,
    # At -1 and 1 jax.nn's clip gives each side half the gradient: 0.25.
    lambda x: jnp.where(
        (x > -1) & (x < 1),
        jnp.full_like(x, 0.5),
        jnp.where((x == -1) | (x == 1), jnp.full_like(x, 0.25), jnp.zeros_like(x)),
    ),
    zeros,
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


# --------------------------------------------------------------------------------------------
# Registry entries. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.
register_builtin(
    "identity",
    identity,
    _identity_d1,
    _identity_d2,
    output_range=Interval(-INF, INF, False, False),
    max_slope=1.0,
    gain=1.0,
    gain_source="pytorch",
    saturates_left=False,
    saturates_right=False,
    doc="x: no non-linearity",
    jax_nn="identity",
)
register_builtin(
    "relu",
    relu,
    _relu_d1,
    _relu_d2,
    output_range=Interval(0.0, INF, True, False),
    max_slope=1.0,
    gain=math.sqrt(2.0),
    gain_source="pytorch",
    saturates_left=True,
    saturates_right=False,
    kinks={0.0: 0.0},
    doc="max(x, 0)",
    jax_nn="relu",
)
register_builtin(
    "leaky_relu",
    leaky_relu,
    _leaky_d1,
    _leaky_d2,
    output_range=Interval(-INF, INF, False, False),
    max_slope=1.0,
    gain=math.sqrt(2.0 / (1.0 + 0.01**2)),
    gain_source="pytorch",
    saturates_left=False,
    saturates_right=False,
    kinks={0.0: 1.0},
    params={"negative_slope": 0.01},
    doc="x if x >= 0 else 0.01 x",
    jax_nn="leaky_relu",
)
register_builtin(
    "hard_sigmoid",
    hard_sigmoid,
    _hard_sigmoid_d1,
    _hard_sigmoid_d2,
    output_range=Interval(0.0, 1.0, True, True),
    max_slope=1.0 / 6.0,
    gain=1.8978404247295589879,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=True,
    kinks={-3.0: 0.0, 3.0: 0.0},
    doc="relu6(x + 3) / 6",
    jax_nn="hard_sigmoid",
)
register_builtin(
    "hard_tanh",
    hard_tanh,
    _hard_tanh_d1,
    _hard_tanh_d2,
    output_range=Interval(-1.0, 1.0, True, True),
    max_slope=1.0,
    gain=1.3920361404483097513,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=True,
    kinks={-1.0: 1.0, 1.0: 1.0},
    doc="clip(x, -1, 1)",
    jax_nn="hard_tanh",
)
register_builtin(
    "relu6",
    relu6,
    _relu6_d1,
    _relu6_d2,
    output_range=Interval(0.0, 6.0, True, True),
    max_slope=1.0,
    gain=1.4142135650950736514,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=True,
    kinks={0.0: 0.0, 6.0: 0.0},
    doc="min(max(x, 0), 6)",
    jax_nn="relu6",
)
register_builtin(
    "hard_silu",
    hard_silu,
    _hard_silu_d1,
    _hard_silu_d2,
    output_range=Interval(-0.375, INF, True, False),
    max_slope=1.5,
    gain=1.7366572127665416197,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    kinks={-3.0: 0.0, 3.0: 1.0},
    doc="x relu6(x + 3) / 6, a.k.a. hard swish",
    jax_nn="hard_silu",
)
register_builtin(
    "sparse_plus",
    sparse_plus,
    _sparse_plus_d1,
    _sparse_plus_d2,
    output_range=Interval(0.0, INF, True, False),
    max_slope=1.0,
    gain=1.3803368628588103886,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    curvature_kinks={-1.0: 0.0, 1.0: 0.0},
    doc="0, (x + 1)^2 / 4 or x",
    jax_nn="sparse_plus",
)
register_builtin(
    "sparse_sigmoid",
    sparse_sigmoid,
    _sparse_sigmoid_d1,
    _sparse_sigmoid_d2,
    output_range=Interval(0.0, 1.0, True, True),
    max_slope=0.5,
    gain=1.6243215587888254836,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=True,
    kinks={-1.0: 0.25, 1.0: 0.25},
    doc="clip(x + 1, 0, 2) / 2",
    jax_nn="sparse_sigmoid",
)
