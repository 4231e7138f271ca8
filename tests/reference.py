"""High-precision references for the activations, written independently of ``jaxact``.

Each entry is the textbook formula in mpmath (50 significant digits). Derivatives are taken
numerically by ``mpmath.diff`` (high-order finite differences at 50 digits), so a slip in one of
the library's hand-written derivatives cannot hide behind the same slip here. Where a textbook
form cancels catastrophically even at 50 digits (``1 + tanh(u)`` for ``u << 0``) we use the exact
identity ``1 + tanh(u) = 2 / (1 + exp(-2u))`` instead.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np

mp.mp.dps = 50

SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")
SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")


def _gelu_tanh(x):
    u = mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)
    return x / (1 + mp.exp(-2 * u))


def _ncdf(x):
    # mpmath's erfc series overflows for astronomically large |x|; there Phi(x) is 0 or 1 to far
    # beyond 50 digits (the tail is below exp(-5e11)).
    if abs(x) > 1e6:
        return mp.mpf(1) if x > 0 else mp.mpf(0)
    return mp.ncdf(x)


MP_FUNCTIONS = {
    "identity": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
    "tanh": mp.tanh,
    "relu": lambda x: max(x, 0),
    "leaky_relu": lambda x: x if x >= 0 else mp.mpf("0.01") * x,
    "elu": lambda x: x if x > 0 else mp.expm1(x),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mp.expm1(x)),
    "celu": lambda x: x if x > 0 else mp.expm1(x),
    "gelu": lambda x: x * _ncdf(x),
    "gelu_tanh": _gelu_tanh,
    "softplus": lambda x: mp.log1p(mp.exp(x)),
    "silu": lambda x: x / (1 + mp.exp(-x)),
    "mish": lambda x: x * mp.tanh(mp.log1p(mp.exp(x))),
    "softsign": lambda x: x / (1 + abs(x)),
    "hard_sigmoid": lambda x: min(max(x + 3, 0), 6) / 6,
    "hard_tanh": lambda x: min(max(x, -1), 1),
    "relu6": lambda x: min(max(x, 0), 6),
    "log_sigmoid": lambda x: -mp.log1p(mp.exp(-x)),
    "hard_silu": lambda x: x * min(max(x + 3, 0), 6) / 6,
    "sparse_plus": lambda x: 0 if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4),
    "sparse_sigmoid": lambda x: min(max(x + 1, 0), 2) / 2,
    # For x < 0, (x + sqrt(x^2 + 4)) / 2 = 2 / (sqrt(x^2 + 4) - x): the textbook form would
    # cancel beyond 50 digits at |x| ~ 1e300.
    "squareplus": lambda x: (
        (x + mp.sqrt(x * x + 4)) / 2 if x >= 0 else 2 / (mp.sqrt(x * x + 4) - x)
    ),
}


def _to_float(v) -> float:
    """mpf -> float64 with overflow to +-inf (not an OverflowError)."""
    try:
        return float(v)
    except OverflowError:
        return math.copysign(math.inf, v)


@functools.cache
def values(name: str, points: tuple[float, ...]) -> np.ndarray:
    """``phi(x)`` at each point, rounded once to float64 (the reference for ulp errors)."""
    f = MP_FUNCTIONS[name]
    return np.array([_to_float(f(mp.mpf(p))) for p in points])


@functools.cache
def derivatives(name: str, points: tuple[float, ...], order: int) -> np.ndarray:
    """``phi^(order)(x)`` by mpmath's numerical differentiation at 50 digits."""
    f = MP_FUNCTIONS[name]
    return np.array([_to_float(mp.diff(f, mp.mpf(p), order)) for p in points])
