"""Claim 4: vanishing gradients, measured beside mean-field theory and in float16/bfloat16.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figures
(the gradient norm per layer, drawn by :func:`jaxact.plotting.plot_attenuation`, and
:func:`plot_low_precision`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact import theory
from jaxact.attenuation import gradient_attenuation
from jaxact.mlp import init_mlp, mlp_forward
from jaxact.plotting import pyplot
from jaxact.study.context import Context
from jaxact.study.experiment import CAVEAT, NOT_SUPPORTED, Experiment
from jaxact.study.figures import STYLE, save

ID = "vanishing"
TITLE = "Vanishing gradients"
CLAIM = "Multiply 0.1 by itself ten times: you get 0.0000000001."
RULE = (
    "supported (with the initialisation caveat, which always applies) if the fitted per-layer "
    "factor is < 0.5 for sigmoid, < 0.95 for tanh and in (0.9, 1.1) for He-initialised ReLU; "
    "otherwise not supported."
)
#: Each activation's initialisation and sigma_w2 (sigma_b2 = 0.05 for all).
SETTINGS = {"sigmoid": ("glorot", 1.0), "tanh": ("glorot", 1.0), "relu": ("he", 2.0)}


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    rate = {k: float(v["measured_rate"]) for k, v in numbers["per_activation"].items()}
    vanish = rate["sigmoid"] < 0.5 and rate["tanh"] < 0.95
    return CAVEAT if vanish and 0.9 < rate["relu"] < 1.1 else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """Each activation's fitted per-layer gradient factor through ``att_depth`` layers, beside
    theory's ``sqrt(chi_1)``, and where float16 and bfloat16 lose the gradient."""
    from jaxact.plotting import plot_attenuation

    cfg = ctx.config
    x = jr.normal(jr.key(cfg.seed + 7), (64, cfg.att_width), jnp.float32)
    results, rows, nets = [], {}, {}
    for name, (init, s2) in SETTINGS.items():
        p = init_mlp(jr.key(cfg.seed), depth=cfg.att_depth, width=cfg.att_width, init=init,
                     sigma_b2=0.05)  # fmt: skip
        r = gradient_attenuation(p, x, name)
        predicted = math.sqrt(theory.chi1(name, s2, 0.05))
        results.append(r)
        nets[name] = p
        rows[name] = {"init": init, "sigma_w2": s2, "sigma_b2": 0.05, "measured_rate": r.rate,
                      "predicted_rate": predicted, "total": r.total,
                      "layers_to_1e-6": r.measured_depth_to(6)}  # fmt: skip
    low = _low_precision(ctx, nets, {r.activation: r.rate for r in results}, x)
    arithmetic = 0.1**10
    title = (
        f"Gradient norm through {cfg.att_depth} layers "
        f"(width {cfg.att_width}; sigmoid/tanh Glorot, ReLU He)"
    )
    fig = plot_attenuation(results, ctx.figure("vanishing.png"), title=title)
    low_fig = plot_low_precision(low, cfg.att_depth, ctx.figure("vanishing_low_precision.png"))
    sig, tanh_, relu = rows["sigmoid"], rows["tanh"], rows["relu"]
    theory_ok = all(abs(r["measured_rate"] / r["predicted_rate"] - 1) < 0.1 for r in rows.values())
    crit = theory.critical_sigma_w2("tanh", 0.05)
    numbers = {"arithmetic_0.1^10": arithmetic, "per_activation": rows,
               "theory_within_10_percent": theory_ok, "tanh_critical_sigma_w2": crit,
               "low_precision": low}  # fmt: skip
    return Experiment(
        ID, TITLE, CLAIM, verdict(numbers),
        f"0.1^10 = {arithmetic:.0e}. Per layer back, the gradient norm is multiplied by "
        f"{sig['measured_rate']:.3f} (sigmoid; theory {sig['predicted_rate']:.3f}), "
        f"{tanh_['measured_rate']:.3f} (tanh; theory {tanh_['predicted_rate']:.3f}) and "
        f"{relu['measured_rate']:.3f} (ReLU with He init; theory {relu['predicted_rate']:.3f}). "
        f"Caveat: how fast tanh vanishes depends on the initialisation - at sigma_w2 = {crit:.2f} "
        "(the edge of chaos for sigma_b2 = 0.05) it does not vanish at all. "
        + _low_precision_sentence(low),
        numbers, [fig.name, low_fig.name], decided_by=RULE,
    )  # fmt: skip


#: The smallest positive number each low-precision format keeps in a backward pass here:
#: float16's smallest subnormal; bfloat16's smallest normal (XLA on CPU flushes subnormals).
LOW_PRECISION_FLOOR = {"float16": 2.0**-24, "bfloat16": 2.0**-126}


def _low_precision(ctx: Context, nets: dict, rates: dict, x) -> dict[str, Any]:
    """Claim 4 in float16 and bfloat16, on the claim's own nets (``nets`` and their fitted
    ``rates``, by activation): per activation, the fraction of each layer's dL/dh
    that is exactly 0 (:func:`jaxact.precision_census` at loss scale 1), the deepest layer
    where at least half of it is lost, and the layer the per-layer rate predicts: where the
    reference's RMS entry, ``e_L rate**(L - l)`` from the last layer's, falls below the
    format's floor (:data:`LOW_PRECISION_FLOOR`)."""
    from jaxact.precision import precision_census

    cfg = ctx.config
    u = jr.normal(jr.key(cfg.seed + 11), (cfg.att_width,), jnp.float32)
    u = u / jnp.linalg.norm(u)
    out: dict[str, Any] = {}
    for name, p in nets.items():
        ctx.stage(f"{name} in float16 and bfloat16")

        def loss(p, x, name=name):
            return jnp.mean(mlp_forward(p, x, name) @ u.astype(x.dtype))

        rate = rates[name]
        per = {}
        for dtype, floor in LOW_PRECISION_FLOOR.items():
            c = precision_census(loss, p, x, dtype=dtype, loss_scales=[1.0])
            lost = np.asarray(c.underflow, np.float64)[0]
            half = np.nonzero(lost >= 0.5)[0]
            entries = np.asarray([math.prod(s.shape) for s in c.sites], np.float64)
            rms = np.asarray(c.reference_norm, np.float64) / np.sqrt(entries)
            depth = len(lost)
            predicted = None
            if 0 < rate < 1 and rms[-1] > floor:
                back = math.log(floor / rms[-1]) / math.log(rate)  # layers back from the last
                layer = math.floor(depth - back)
                predicted = layer if layer >= 1 else None
            per[dtype] = {"lost_per_layer": lost.tolist(),
                          "layer_lost": int(half[-1]) + 1 if half.size else None,
                          "predicted_layer": predicted, "floor": floor,
                          "rms_last": float(rms[-1]), "rate": rate}  # fmt: skip
        out[name] = per
    return out


def _low_precision_sentence(low: dict[str, Any]) -> str:
    def where(r):
        if r["layer_lost"] is None:
            return "keeps it"
        pred = "not predicted" if r["predicted_layer"] is None else (
            f"predicted {r['predicted_layer']}")  # fmt: skip
        return f"loses it from layer {r['layer_lost']} down ({pred})"

    parts = []
    for dtype, floor in LOW_PRECISION_FLOOR.items():
        acts = ", ".join(f"{name} {where(per[dtype])}" for name, per in low.items())
        parts.append(f"in {dtype} (smallest number {floor:.1e}) {acts}")
    return (
        "At loss scale 1, " + "; ".join(parts) + " - layer numbers count from the input; "
        "'lost' is half or more of the layer's dL/dh exactly 0 while float32's is not."
    )


def plot_low_precision(low: dict[str, Any], depth: int, path: Path) -> Path:
    """Claim 4 in low precision: per format, the fraction of each layer's ``dL/dh`` that is
    exactly 0 at loss scale 1, per activation, with the layer the per-layer rate predicts
    (dotted)."""
    plt = pyplot()
    dtypes = list(next(iter(low.values())))
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5.2 * len(dtypes), 3.8), sharey=True)
    layers = np.arange(1, depth + 1)
    for ax, dtype in zip(np.atleast_1d(axes), dtypes, strict=True):
        worst = []  # each line's largest value: lines near 0 lie on top of each other
        for name, per in low.items():
            r = per[dtype]
            color, marker = STYLE.get(name, ("C7", "."))
            ax.plot(layers, r["lost_per_layer"], marker=marker, ms=3, color=color, label=name)
            if r["predicted_layer"] is not None:
                ax.axvline(r["predicted_layer"], color=color, ls=":", lw=1.2)
            worst.append(f"{name} {np.max(np.asarray(r['lost_per_layer'], np.float64)):.2g}")
        ax.text(0.5, 0.55, "largest fraction lost at any layer:\n" + ", ".join(worst),
                transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.9, "lw": 0})  # fmt: skip
        floor = next(iter(low.values()))[dtype]["floor"]
        ax.set_title(f"{dtype} (smallest number {floor:.1e})", fontsize=11)
        ax.set_xlabel("layer (input = 1)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of dL/dh exactly 0")
    np.atleast_1d(axes)[-1].legend(title="dotted: predicted", fontsize=9, loc="upper right")
    return save(fig, path)
