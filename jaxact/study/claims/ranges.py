"""Claim 2: the ranges and slopes of sigmoid, tanh and ReLU.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(the activations and their derivatives, drawn by :func:`jaxact.plotting.plot_activations`).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxact.activations import ACTIVATIONS
from jaxact.study.context import Context
from jaxact.study.experiment import NOT_SUPPORTED, SUPPORTED, Experiment

ID = "ranges"
TITLE = "Ranges and slopes"
CLAIM = "Sigmoid squashes to between 0 and 1; tanh to between -1 and 1; ReLU's gradient is 0 or 1."
RULE = (
    "supported if sigmoid stays in [0, 1] with max slope 0.25 (to 1e-6), tanh in [-1, 1] with "
    "max slope 1, and ReLU's slope takes only the values 0 and 1."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    sig, tanh, relu = numbers["sigmoid"], numbers["tanh"], numbers["relu"]
    ok = (
        float(sig["min"]) >= 0 and float(sig["max"]) <= 1
        and abs(float(sig["max_slope"]) - 0.25) < 1e-6
        and float(tanh["min"]) >= -1 and float(tanh["max"]) <= 1
        and abs(float(tanh["max_slope"]) - 1) < 1e-6
        and relu["slope_values"] == [0.0, 1.0]
    )  # fmt: skip
    return SUPPORTED if ok else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """Each function and its closed-form derivative on 240,001 points in [-60, 60]."""
    from jaxact.plotting import plot_activations

    x = jnp.linspace(-60.0, 60.0, 240_001, dtype=jnp.float32)
    out = {}
    for name in ("sigmoid", "tanh", "relu"):
        rec = ACTIVATIONS[name]
        v = rec.fn(x)
        d = rec.derivative(x)
        out[name] = {"min": float(v.min()), "max": float(v.max()),
                     "max_slope": float(jnp.abs(d).max()),
                     "slope_values": sorted({float(s) for s in np.unique(np.asarray(d))})[:5]
                     if name == "relu" else None,
                     "range": str(rec.output_range)}  # fmt: skip
    fig = plot_activations(ctx.figure("activations.png"), ["sigmoid", "tanh", "relu", "leaky_relu"],
                           cols=2, dpi=100)  # fmt: skip
    return Experiment(
        ID, TITLE, CLAIM, verdict(out),
        f"On 240,001 points in [-60, 60]: sigmoid in [{out['sigmoid']['min']:.3g}, "
        f"{out['sigmoid']['max']:.3g}] (the ends are float32 rounding of the open interval), max "
        f"slope {out['sigmoid']['max_slope']:.4g}; tanh max slope {out['tanh']['max_slope']:.4g}; "
        f"ReLU's slopes are exactly {out['relu']['slope_values']}.",
        out, [fig.name], decided_by=RULE,
    )  # fmt: skip
