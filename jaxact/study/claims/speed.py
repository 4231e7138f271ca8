"""Claim 7: ReLU is cheaper to compute - where compute, not memory, is the bottleneck.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(:func:`plot_ratios`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.activations import ACTIVATIONS
from jaxact.mlp import init_mlp
from jaxact.plotting import pyplot
from jaxact.study.context import Context
from jaxact.study.experiment import CAVEAT, NOT_SUPPORTED, Experiment
from jaxact.study.figures import save

ID = "speed"
TITLE = "ReLU is cheaper to compute"
CLAIM = "Computing ReLU is a comparison ... one of the cheapest operations a processor can do."
RULE = (
    "supported with the bottleneck caveat (always stated) if the cache-resident sigmoid/ReLU "
    "time ratio is > 1.5; otherwise not supported."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    return CAVEAT if float(numbers["sigmoid_over_relu"]["resident"]) > 1.5 else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """Sigmoid against ReLU in alternating rounds: in cache, streaming from memory, and a whole
    MLP training step."""
    from jaxact.bench import activations as ba
    from jaxact.bench import mlp as bm
    from jaxact.bench.timing import compare

    cfg = ctx.config
    small = jr.normal(jr.key(0), (ba.RESIDENT_ELEMENTS // 128, 128), jnp.float32)
    big = jr.normal(jr.key(0), (cfg.bench_elements // 128, 128), jnp.float32)
    reps = {"repeats": 3, "min_time": 0.02} if cfg.mode == "quick" else {"repeats": 7}
    width, depth, batch = 256, 10, 128
    params = init_mlp(jr.key(0), depth=depth, width=width)
    xb, yb = bm.random_batch(width, batch)
    relu, sigmoid = ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]
    # (ReLU's program, the sigmoid's, their arguments): timed in alternating rounds, so that a
    # slow spell of the machine moves both sides of each ratio.
    pairs = {
        "resident": (ba.resident_kernel(relu, 50, False), ba.resident_kernel(sigmoid, 50, False),
                     (small,)),
        "memory": (ba.memory_kernel(relu, False), ba.memory_kernel(sigmoid, False), (big,)),
        "mlp_step": (bm.train_step_fn("relu"), bm.train_step_fn("sigmoid"), (params, xb, yb)),
    }  # fmt: skip
    t: dict[str, dict[str, float]] = {"sigmoid": {}, "relu": {}}
    ratio, spread = {}, {}
    for key, (fn_relu, fn_sigmoid, args) in pairs.items():
        c = compare(fn_relu, fn_sigmoid, *args, **reps)
        t["relu"][key], t["sigmoid"][key] = c.a.median, c.b.median
        ratio[key], spread[key] = c.ratio, [c.ratio_min, c.ratio_max]
    numbers = {"seconds": t, "sigmoid_over_relu": ratio, "sigmoid_over_relu_min_max": spread}
    mib = cfg.bench_elements * 4 // 2**20
    labels = ["data in cache (50 passes)", f"streaming {mib} MiB", f"MLP training step (depth "
              f"{depth}, width {width})"]  # fmt: skip
    fig = plot_ratios(labels, [ratio["resident"], ratio["memory"], ratio["mlp_step"]],
                      ctx.figure("speed.png"),
                      f"Median of per-round ratios\n{reps['repeats']} alternating rounds on "
                      f"{jax.devices()[0].device_kind}")  # fmt: skip

    def say(r):
        return "ReLU was faster" if r > 1 else "the sigmoid was faster" if r < 1 else "a tie"

    return Experiment(
        ID, TITLE, CLAIM, verdict(numbers),
        f"sigmoid time / ReLU time = {ratio['resident']:.1f} with data in cache "
        f"({say(ratio['resident'])}), "
        f"{ratio['memory']:.2f} streaming {mib} MiB from memory ({say(ratio['memory'])}), "
        f"{ratio['mlp_step']:.2f} for a whole MLP training step, depth {depth}, width {width} "
        f"({say(ratio['mlp_step'])}); each the median of the per-round ratios of "
        f"{reps['repeats']} rounds alternating the two on "
        f"{jax.devices()[0].device_kind}. Caveat: the difference shows only when the "
        "activation is the bottleneck; memory traffic and matmuls usually are.",
        numbers, [fig.name], decided_by=RULE,
    )  # fmt: skip


def plot_ratios(labels: Sequence[str], values: Sequence[float], path: Path, title: str) -> Path:
    """Horizontal bars of time ratios (sigmoid time / ReLU time), 1 marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(labels) + 1.4))
    ys = np.arange(len(labels))
    ax.barh(ys, values, color=["C3" if v > 1 else "C2" for v in values])
    for y, v in zip(ys, values, strict=True):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=9)
    ax.axvline(1, color="k", lw=1)
    ax.set_yticks(ys, labels)
    ax.set_xlabel("sigmoid time / ReLU time (> 1: ReLU faster)")
    ax.set_xlim(0, max(max(values) * 1.25, 1.5))
    ax.set_title(title, fontsize=11)
    return save(fig, path)
