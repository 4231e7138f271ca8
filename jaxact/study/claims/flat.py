"""Claim 3: sigmoid and tanh are flat at the extremes.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(:func:`plot_derivatives`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxact.activations import ACTIVATIONS, get_activation
from jaxact.plotting import pyplot
from jaxact.study.context import Context
from jaxact.study.experiment import NOT_SUPPORTED, SUPPORTED, Experiment
from jaxact.study.figures import STYLE, save

ID = "flat"
TITLE = "Sigmoid and tanh are flat at the extremes"
CLAIM = (
    "It's almost flat at the extremes. Very high or very low inputs produce near-zero gradients."
)
RULE = "supported if sigmoid'(10) < 1e-4 (1/2500 of its peak) and tanh'(10) < 1e-8."


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    table = numbers["derivatives"]
    ok = float(table["sigmoid"]["10.0"]) < 1e-4 and float(table["tanh"]["10.0"]) < 1e-8
    return SUPPORTED if ok else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """The closed-form derivatives at 0, +-5 and +-10."""
    pts = [-10.0, -5.0, 0.0, 5.0, 10.0]
    x = jnp.asarray(pts, jnp.float32)
    table = {n: dict(zip(map(str, pts), map(float, ACTIVATIONS[n].derivative(x)), strict=True))
             for n in ("sigmoid", "tanh", "relu")}  # fmt: skip
    fig = plot_derivatives(["sigmoid", "tanh", "relu"], [-10, -5, 5, 10], ctx.figure("flat.png"))
    return Experiment(
        ID, TITLE, CLAIM, verdict({"derivatives": table}),
        f"sigmoid'(+-5) = {table['sigmoid']['5.0']:.2e}, sigmoid'(+-10) = "
        f"{table['sigmoid']['10.0']:.2e} (its peak is 0.25); tanh'(+-5) = "
        f"{table['tanh']['5.0']:.2e}, tanh'(+-10) = {table['tanh']['10.0']:.2e} (peak 1); "
        f"relu'(10) = {table['relu']['10.0']:g}.",
        {"derivatives": table}, [fig.name], decided_by=RULE,
    )  # fmt: skip


def plot_derivatives(names: Sequence[str], points: Sequence[float], path: Path) -> Path:
    """|phi'(x)| on a log axis over [-12, 12], the points the claim names marked."""
    plt = pyplot()
    x = np.linspace(-12, 12, 2401)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for n in names:
        d = np.abs(np.asarray(get_activation(n).derivative(jnp.asarray(x, jnp.float32))))
        color = STYLE.get(n, ("C4", "x"))[0]
        ax.plot(x, np.where(d > 0, d, np.nan), color=color, label=n)
        for p in points:
            v = float(abs(get_activation(n).derivative(jnp.float32(p))))
            if v > 0:
                ax.plot([p], [v], "o", color=color, ms=4)
    for p in points:
        ax.axvline(p, color="0.85", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1e-10, 2)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$|\phi'(x)|$ (log scale)")
    ax.set_title("Slopes far from 0: sigmoid and tanh flatten, ReLU stays 1 (or 0)",
                 fontsize=11)  # fmt: skip
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save(fig, path)
