"""Claim 1: without activations, depth buys nothing.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(the decision maps of a 10-layer identity net and a 3-layer ReLU net on two spirals).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.mlp import init_mlp, mlp_forward
from jaxact.study.context import Context
from jaxact.study.experiment import NOT_SUPPORTED, SUPPORTED, Experiment
from jaxact.study.figures import plot_decisions
from jaxact.training import predict

ID = "linear"
TITLE = "Without activations, depth buys nothing"
CLAIM = "Linear combined with linear is still linear - regardless of how many layers you stack."
RULE = (
    "supported if the 10-layer identity net matches one affine map to a relative error < 1e-5, "
    "reaches < 70% on two spirals (a line gets ~65%) and the 3-layer ReLU net > 90%; otherwise "
    "not supported."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    ok = (
        float(numbers["one_matrix_relative_error"]) < 1e-5
        and float(numbers["identity_depth10_accuracy"]) < 0.7
        and float(numbers["relu_depth3_accuracy"]) > 0.9
    )
    return SUPPORTED if ok else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """A 10-layer identity net, multiplied out into one affine map and trained on two spirals
    beside a 3-layer ReLU net."""
    data = ctx.spirals()
    p = init_mlp(jr.key(1), depth=10, width=ctx.config.spiral_width, in_dim=2, out_dim=1,
                 init="lecun", sigma_b2=0.1)  # fmt: skip
    m, c = p.w_in, p.b_in
    for w, b in zip(p.weights, p.biases, strict=True):
        m, c = m @ w, c @ w + b
    m, c = m @ p.w_out, c @ p.w_out + p.b_out
    net = mlp_forward(p, data.x, "identity")
    one_matrix_err = float(jnp.max(jnp.abs(net - (data.x @ m + c))) / jnp.max(jnp.abs(net)))
    linear = ctx.train_net("identity", 10, init="lecun")
    relu = ctx.train_net("relu", 3)  # the same net as claim 9's: trained once
    acc_lin, acc_relu = linear.final_accuracy, relu.final_accuracy
    numbers = {"one_matrix_relative_error": one_matrix_err, "identity_depth10_accuracy": acc_lin,
               "relu_depth3_accuracy": acc_relu}  # fmt: skip
    nets = [(linear, "10 identity layers"), (relu, "3 ReLU layers")]
    panels = [(f"{label}: accuracy {r.final_accuracy:.0%}",
               lambda g, r=r: predict(r.params, jnp.asarray(g), r.activation, "binary")[:, 0])
              for r, label in nets]  # fmt: skip
    fig = plot_decisions(panels, (np.asarray(data.x), np.asarray(data.y)),
                         ctx.figure("linear_vs_relu.png"),
                         "Two spirals: predicted probability of class 1")  # fmt: skip
    return Experiment(
        ID, TITLE, CLAIM, verdict(numbers),
        f"A 10-layer identity net equals one affine map to {one_matrix_err:.1e} (relative "
        f"error, float32); trained on two spirals ({ctx.config.steps} Adam steps) it reaches "
        f"{acc_lin:.0%} training accuracy, a 3-hidden-layer ReLU net {acc_relu:.0%}.",
        numbers, [fig.name], decided_by=RULE,
    )  # fmt: skip
