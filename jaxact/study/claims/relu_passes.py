"""Claim 5: ReLU passes gradients through unchanged, or blocks them.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(:func:`plot_active_fraction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.activations import ACTIVATIONS
from jaxact.mlp import init_mlp, mlp_trace, trace_statistics
from jaxact.plotting import pyplot
from jaxact.study.context import Context
from jaxact.study.experiment import CAVEAT, NOT_SUPPORTED, Experiment
from jaxact.study.figures import save

ID = "relu_passes"
TITLE = "ReLU passes gradients through unchanged, or blocks them"
CLAIM = (
    "ReLU's gradient is either 0 or 1. Gradients pass through ReLU unchanged (for positive "
    "activations) or are blocked entirely."
)
RULE = (
    "supported with the blocking caveat (always stated) if phi'(h) takes only the values 0 and "
    "1 over every layer and input; otherwise not supported."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    return CAVEAT if [float(v) for v in numbers["derivative_values"]] == [0.0, 1.0] else (
        NOT_SUPPORTED)  # fmt: skip


def run(ctx: Context) -> Experiment:
    """phi'(h) over every layer of a 10-layer He-initialised ReLU net on 64 random inputs."""
    cfg = ctx.config
    p = init_mlp(jr.key(cfg.seed), depth=10, width=cfg.att_width, init="he")
    x = jr.normal(jr.key(cfg.seed + 3), (64, cfg.att_width), jnp.float32)
    trace = mlp_trace(p, x, "relu")
    d = ACTIVATIONS["relu"].derivative(trace.pre)
    values = sorted({float(v) for v in np.unique(np.asarray(d))})
    # Entries that pass the gradient: all but zero_grad's (jaxact.vocabulary).
    per_layer = (1.0 - np.asarray(trace_statistics(trace, "relu").zero_grad, np.float64)).tolist()
    active = float(np.mean(per_layer))  # every layer has the same number of entries
    numbers = {"derivative_values": values, "fraction_active": active,
               "fraction_active_per_layer": per_layer}  # fmt: skip
    fig = plot_active_fraction(per_layer, ctx.figure("relu_passes.png"))
    return Experiment(
        ID, TITLE, CLAIM, verdict(numbers),
        f"In a 10-layer He-initialised ReLU net (width {cfg.att_width}, 64 random inputs), "
        f"phi'(h) takes exactly the values {values}; {active:.0%} of the (unit, input) pairs "
        "pass the gradient. Caveat: about half are blocked at any time, which is why He init "
        "doubles the weight variance (sigma_w2 = 2) to keep the gradient's size - and a unit "
        "blocked on every input is dead (claim 8).",
        numbers, [fig.name], decided_by=RULE,
    )  # fmt: skip


def plot_active_fraction(per_layer: Sequence[float], path: Path) -> Path:
    """Fraction of ReLU units passing the gradient, per layer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    layers = np.arange(1, len(per_layer) + 1)
    ax.bar(layers, per_layer, color="C0", label="phi'(h) = 1: gradient passes")
    ax.bar(layers, 1 - np.asarray(per_layer), bottom=per_layer, color="0.8",
           label="phi'(h) = 0: gradient blocked")  # fmt: skip
    ax.set_xlabel("layer")
    ax.set_ylabel("fraction of (unit, input) pairs")
    ax.set_ylim(0, 1)
    ax.set_xticks(layers)
    # Below the axes: the stacked bars fill the whole panel.
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    ax.set_title("ReLU's gradient is exactly 0 or 1: about half pass", fontsize=11)
    return save(fig, path)
