"""Activation functions with their closed-form first and second derivatives, and the registry.

Every activation here is a pure function with ``jax.nn``'s signature (hyperparameters by
position or keyword, with the same defaults): a floating-point array in, an array of the same
shape and dtype out. Beside each one
the registry (:data:`ACTIVATIONS`) keeps its derivative ``phi'`` and second derivative ``phi''``
written out by hand, so that automatic differentiation can be checked against them.

Numerics
--------
The functions are written to be accurate where ``jax.nn`` is not:

* 16-bit inputs (float16, bfloat16) are computed in float32 and rounded once at the end, so no
  16-bit intermediate overflows (``exp(12)`` is already past float16's maximum).
* Each function is a :func:`jax.custom_jvp` whose tangent is the closed-form derivative, and that
  derivative is itself a ``custom_jvp`` whose tangent is the closed-form second derivative. So
  ``grad``, ``jvp``, ``grad(grad(.))`` and ``jvp(grad(.))`` all evaluate stable formulas, never the
  derivative of a branch that ``jnp.where`` did not select (the classic NaN-gradient trap) and
  never ``s * (1 - s)`` (which loses the sigmoid derivative to cancellation in the right tail).
* The Gaussian tails of GELU use an exactly split ``x**2`` and a Chebyshev ``erfcx``
  (see :mod:`jaxact.special`); the tanh-GELU evaluates its cubic in double-word arithmetic and
  replaces ``1 + tanh(u)`` by ``2 * sigmoid(2u)``, which has no cancellation.
* ``+-inf`` gives the mathematical limit, NaN gives NaN (values and derivatives).

Subnormals: XLA on CPU flushes subnormal float32 and float64 results to zero and reads
subnormal inputs as zero (flush-to-zero / denormals-are-zero; GPUs do the same for float32). So a
float32, bfloat16 or float64 result whose magnitude lies below the smallest normal number of the
compute dtype (1.18e-38 for float32 and bfloat16, 2.2e-308 for float64) may come out as +-0, and
a subnormal input may be treated as 0. float16 keeps its subnormals, since it is computed in
float32 where they are normal numbers. Products whose factors underflow but whose result does not
(``x * exp(-big)`` in silu, mish and the GELUs) are computed scaled so they are not lost.

Kinks
-----
Where ``phi'`` jumps the library picks one side (or, with ``jax.nn.sparse_sigmoid``'s clip,
the mean of the two), following ``jax.nn``: ``relu'(0) = 0``,
``relu6'(0) = relu6'(6) = 0``, ``hard_sigmoid'(+-3) = 0``, ``hard_tanh'(+-1) = 1``,
``leaky_relu'(0) = 1``, ``elu'(0) = alpha``, ``selu'(0) = scale * alpha``, ``hard_silu'(-3) = 0``,
``hard_silu'(3) = 1``, ``sparse_sigmoid'(+-1) = 1/4``. Each record lists its
kinks with that value in :attr:`Activation.kinks`.

The catalogue is a package, one module per concept: ``registry`` (the
:class:`Activation` record, :data:`ACTIVATIONS`, :func:`register_activation`); the families,
each function beside its closed-form derivatives and its registry entry -
``piecewise``, ``exponential``,
``sigmoidal``, ``smooth``,
``outputs``; and ``building``, how a built-in is
built. Every public name is importable from ``jaxact.activations`` (and ``jaxact``).
"""

from __future__ import annotations

from jaxact.activations.building import JAXPR_NAME_PREFIX as JAXPR_NAME_PREFIX
from jaxact.activations.exponential import SELU_ALPHA as SELU_ALPHA
from jaxact.activations.exponential import SELU_SCALE as SELU_SCALE
from jaxact.activations.exponential import celu, elu, selu
from jaxact.activations.outputs import glu, log_softmax, softmax
from jaxact.activations.piecewise import (
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    relu,
    relu6,
    sparse_plus,
    sparse_sigmoid,
)
from jaxact.activations.registry import (
    ACTIVATIONS,
    ALIASES,
    Activation,
    Interval,
    activation_fn,
    activation_name,
    arrange_builtins,
    get_activation,
    register_activation,
    unregister_activation,
)
from jaxact.activations.sigmoidal import log_sigmoid, sigmoid, soft_sign, softsign, tanh
from jaxact.activations.smooth import (
    gelu,
    gelu_exact,
    gelu_tanh,
    mish,
    silu,
    softplus,
    squareplus,
    swish,
)

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "Activation",
    "Interval",
    "activation_fn",
    "activation_name",
    "get_activation",
    "register_activation",
    "unregister_activation",
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "gelu_exact",
    "gelu_tanh",
    "softplus",
    "silu",
    "swish",
    "mish",
    "softsign",
    "hard_sigmoid",
    "hard_tanh",
    "relu6",
    "log_sigmoid",
    "hard_silu",
    "hard_swish",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "soft_sign",
    "glu",
    "softmax",
    "log_softmax",
]

#: The order :data:`ACTIVATIONS` lists the built-ins in (the families register in theirs).
BUILTIN_ORDER = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "gelu_tanh",
    "softplus",
    "silu",
    "mish",
    "softsign",
    "hard_sigmoid",
    "hard_tanh",
    "relu6",
    "log_sigmoid",
    "hard_silu",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "softmax",
    "log_softmax",
)
arrange_builtins(BUILTIN_ORDER)
