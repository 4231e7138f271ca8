"""Claim 9: sigmoid for binary outputs, softmax for multi-class.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figures
(the decision maps of a sigmoid head on two spirals and a softmax head on three sectors).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.datasets import Dataset
from jaxact.study.context import Context
from jaxact.study.experiment import NOT_SUPPORTED, SUPPORTED, Experiment
from jaxact.study.figures import plot_decisions
from jaxact.training import predict

ID = "outputs"
TITLE = "Sigmoid for binary outputs, softmax for multi-class"
CLAIM = (
    "Use sigmoid for binary classification output layers ... For multi-class classification "
    "output, use softmax instead."
)
RULE = (
    "supported if every sigmoid output lies in [0, 1] and every softmax row sums to 1 within "
    "1e-5 (float32); the accuracies show both heads can be trained."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    ok = (
        0 <= float(numbers["binary_prob_min"])
        and float(numbers["binary_prob_max"]) <= 1
        and float(numbers["multiclass_max_sum_error"]) < 1e-5
    )
    return SUPPORTED if ok else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """A 3-layer ReLU net with a sigmoid head on two spirals and one with a softmax head on
    three sectors of the plane."""
    cfg = ctx.config
    data = ctx.spirals()
    r = ctx.train_net("relu", 3)
    prob = predict(r.params, data.x, "relu", "binary")[:, 0]
    k = jr.key(cfg.seed + 11)
    x3 = jr.normal(k, (cfg.n_points, 2), jnp.float32)
    y3 = (jnp.arctan2(x3[:, 1], x3[:, 0]) + jnp.pi) // (2 * jnp.pi / 3)
    three = Dataset(x3, y3.astype(jnp.int32), "multiclass", "three sectors")
    r3 = ctx.train_net("relu", 3, data=three)
    p3 = predict(r3.params, x3, "relu", "multiclass")
    sums = jnp.abs(p3.sum(-1) - 1)
    numbers = {
        "binary_prob_min": float(prob.min()), "binary_prob_max": float(prob.max()),
        "binary_accuracy": r.final_accuracy, "multiclass_max_sum_error": float(sums.max()),
        "multiclass_accuracy": r3.final_accuracy,
    }  # fmt: skip
    fig = plot_decisions(
        [(f"sigmoid output: P(class 1), accuracy {r.final_accuracy:.0%}",
          lambda g: predict(r.params, jnp.asarray(g), "relu", "binary")[:, 0])],
        (np.asarray(data.x), np.asarray(data.y)), ctx.figure("outputs_binary.png"),
        "Binary output: one sigmoid unit (two spirals)")  # fmt: skip
    x3n, y3n = np.asarray(x3), np.asarray(y3)
    keep = np.abs(x3n).max(1) < 1.3
    fig3 = plot_decisions(
        [(f"softmax output: (P0, P1, P2) as RGB, accuracy {r3.final_accuracy:.0%}",
          lambda g: predict(r3.params, jnp.asarray(g), "relu", "multiclass"))],
        (x3n[keep], y3n[keep]), ctx.figure("outputs_softmax.png"),
        "Three classes: softmax rows are probabilities")  # fmt: skip
    return Experiment(
        ID, TITLE, CLAIM, verdict(numbers),
        f"Binary (two spirals, 3-layer ReLU net): sigmoid outputs in "
        f"[{numbers['binary_prob_min']:.3g}, {numbers['binary_prob_max']:.3g}], training "
        f"accuracy {r.final_accuracy:.0%}. Three classes: softmax rows sum to 1 within "
        f"{numbers['multiclass_max_sum_error']:.1e}, training accuracy {r3.final_accuracy:.0%}.",
        numbers, [fig.name, fig3.name], decided_by=RULE,
    )  # fmt: skip
