"""jaxact: activation functions and the vanishing-gradient problem, in JAX.

The activation catalogue with closed-form derivatives lives in :mod:`jaxact.activations`;
``import jaxact`` stays light (it does not import matplotlib).
"""

from jaxact.activations import (
    ACTIVATIONS,
    ALIASES,
    Activation,
    Interval,
    celu,
    elu,
    gelu,
    gelu_tanh,
    get_activation,
    hard_sigmoid,
    hard_tanh,
    identity,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    swish,
    tanh,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "Activation",
    "Interval",
    "__version__",
    "celu",
    "elu",
    "gelu",
    "gelu_tanh",
    "get_activation",
    "hard_sigmoid",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]
