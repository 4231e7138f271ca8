"""jaxact: activation functions and the vanishing-gradient problem, in JAX.

The activation catalogue with closed-form derivatives lives in :mod:`jaxact.activations`;
:func:`jaxact.diagnose` measures gradients, saturation and dead units at every activation site
of any JAX model (:mod:`jaxact.diagnosis`). ``import jaxact`` stays light (it does not import
matplotlib, flax or equinox).
"""

from jaxact import theory
from jaxact.activations import (
    ACTIVATIONS,
    ALIASES,
    Activation,
    Interval,
    activation_fn,
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
from jaxact.attenuation import (
    AttenuationResult,
    GradientNorms,
    JacobianNorms,
    gradient_attenuation,
    jacobian_norms,
    layer_gradient_norms,
    layer_jacobians,
)
from jaxact.diagnosis import Diagnosis, Site, diagnose, tap
from jaxact.initializers import INITIALIZERS, Initializer, get_initializer, init_weights
from jaxact.mlp import (
    MLPParams,
    MLPTrace,
    TraceStatistics,
    init_mlp,
    mlp_forward,
    mlp_trace,
    trace_statistics,
)
from jaxact.sweeps import sweep
from jaxact.training import Dataset, TrainingDiverged, TrainResult, train, two_spirals

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "INITIALIZERS",
    "Activation",
    "AttenuationResult",
    "GradientNorms",
    "JacobianNorms",
    "TraceStatistics",
    "Diagnosis",
    "Site",
    "diagnose",
    "tap",
    "Initializer",
    "MLPParams",
    "MLPTrace",
    "gradient_attenuation",
    "get_initializer",
    "init_mlp",
    "init_weights",
    "jacobian_norms",
    "layer_gradient_norms",
    "layer_jacobians",
    "mlp_forward",
    "mlp_trace",
    "trace_statistics",
    "Interval",
    "activation_fn",
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
    "theory",
    "Dataset",
    "TrainResult",
    "TrainingDiverged",
    "train",
    "two_spirals",
    "sweep",
]
