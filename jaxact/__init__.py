"""jaxact: activation functions and the vanishing-gradient problem, in JAX.

The activation catalogue with closed-form derivatives lives in :mod:`jaxact.activations`;
:func:`jaxact.diagnose` measures gradients, saturation and dead units at every activation site
of any JAX model (:mod:`jaxact.diagnosis`); :mod:`jaxact.theory` predicts what wide random
networks do and :mod:`jaxact.shaping` turns it into activations that make plain deep networks
train.

``import jaxact`` is light: each name below is imported from its module on first use (PEP 562),
so ``jaxact --help`` starts without JAX, and ``import jaxact`` never pulls in matplotlib, flax,
equinox, optax or the application layer (training, sweeps, the study) until they are used.
``from jaxact import relu`` and ``jaxact.relu`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Where each public name lives: ``{module: names}``. jax.nn's helpers that are not
#: activations are re-exported so that ``import jaxact as nn`` can stand in for
#: ``import jax.nn as nn`` in model code.
_HOMES: dict[str, tuple[str, ...]] = {
    "jax.nn": ("log1mexp", "logsumexp", "one_hot", "standardize"),
    "jaxact.activations": (
        "ACTIVATIONS", "ALIASES", "Activation", "Interval", "activation_fn", "celu", "elu",
        "gelu", "gelu_exact", "gelu_tanh", "get_activation", "glu", "hard_sigmoid",
        "hard_silu", "hard_swish", "hard_tanh", "identity", "leaky_relu", "log_sigmoid",
        "log_softmax", "mish", "register_activation", "relu", "relu6", "selu", "sigmoid",
        "silu", "soft_sign", "softmax", "softplus", "softsign", "sparse_plus",
        "sparse_sigmoid", "squareplus", "swish", "tanh", "unregister_activation",
    ),
    "jaxact.attenuation": (
        "AttenuationResult", "GradientNorms", "JacobianNorms", "gradient_attenuation",
        "jacobian_norms", "layer_gradient_norms", "layer_jacobians",
    ),
    "jaxact.diagnosis": ("Diagnosis", "Site", "UnitActivity", "diagnose", "tap"),
    "jaxact.initializers": ("INITIALIZERS", "Initializer", "get_initializer", "init_weights"),
    "jaxact.mlp": (
        "MLPParams", "MLPTrace", "SGDState", "TraceStatistics", "init_mlp", "init_sgd",
        "make_sgd_step", "mlp_forward", "mlp_trace", "trace_statistics",
    ),
    "jaxact.precision": ("PrecisionCensus", "precision_census"),
    "jaxact.sweeps": ("sweep",),
    "jaxact.training": ("Dataset", "TrainResult", "TrainingDiverged", "train", "two_spirals"),
}  # fmt: skip
#: Public submodules offered as attributes (``jaxact.theory.q_star``).
_SUBMODULES = ("precision", "shaping", "theory", "vocabulary")
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = ["__version__", *_WHERE, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"jaxact.{name}")
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'jaxact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
