"""The exponential-linear family: ELU, SELU and CELU, each beside its closed-form derivatives
and its registry entry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact.activations.building import INF, build, check_finite, check_positive
from jaxact.activations.registry import Interval, register_builtin

# SELU's constants (Klambauer et al. 2017), to 34 digits.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# elu ----------------------------------------------------------------------------------------
def _validate_alpha(name):
    def validate(alpha=1.0):
        check_positive(name, "alpha", alpha)
        check_finite(name, "alpha", alpha)

    return validate


def _elu_value(x, alpha=1.0):
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


_elu, _elu_d1, _elu_d2 = build(
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
_selu, _selu_d1, _selu_d2 = build(
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
_celu, _celu_d1, _celu_d2 = build(
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


# --------------------------------------------------------------------------------------------
# Registry entries. Constants from mpmath at 40 digits (tools/constants.py); the tests
# recompute each one.
register_builtin(
    "elu",
    elu,
    _elu_d1,
    _elu_d2,
    output_range=Interval(-1.0, INF, False, False),
    max_slope=1.0,
    gain=1.245198300700706550,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    curvature_kinks={0.0: 1.0},
    params={"alpha": 1.0},
    doc="x if x > 0 else alpha (exp(x) - 1)",
    jax_nn="elu",
)
register_builtin(
    "selu",
    selu,
    _selu_d1,
    _selu_d2,
    output_range=Interval(-_SELU_SCALE_ALPHA, INF, False, False),
    max_slope=_SELU_SCALE_ALPHA,
    gain=0.75,
    gain_source="pytorch",
    saturates_left=True,
    saturates_right=False,
    kinks={0.0: _SELU_SCALE_ALPHA},
    doc="scale * elu(x, alpha)",
    jax_nn="selu",
)
register_builtin(
    "celu",
    celu,
    _celu_d1,
    _celu_d2,
    output_range=Interval(-1.0, INF, False, False),
    max_slope=1.0,
    gain=1.245198300700706550,
    gain_source="second-moment",
    saturates_left=True,
    saturates_right=False,
    curvature_kinks={0.0: 1.0},
    params={"alpha": 1.0},
    doc="x if x > 0 else alpha (exp(x / alpha) - 1)",
    jax_nn="celu",
)
